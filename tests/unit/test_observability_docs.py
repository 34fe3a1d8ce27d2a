"""docs/observability.md lists every metric hookpipe exports, with its type and labels as defined."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from hookpipe.runtime import metrics

DOC = Path(__file__).resolve().parents[2] / "docs" / "observability.md"

_TYPES = {Counter: "counter", Gauge: "gauge", Histogram: "histogram"}


def defined() -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (type, labels) of every metric in hookpipe/runtime/metrics.py."""
    found = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            name = value._name + ("_total" if isinstance(value, Counter) else "")
            found[name] = (_TYPES[type(value)], tuple(value._labelnames))
    return found


def documented() -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (type, labels) of each metric row of the doc's tables."""
    rows = {}
    for match in re.finditer(r"^\| `(hookpipe_\w+)` \| (\w+) \| ([^|]*) \|", DOC.read_text(), re.MULTILINE):
        labels = tuple(re.findall(r"`(\w+)`", match.group(3)))
        rows[match.group(1)] = (match.group(2), labels)
    return rows


def test_every_metric_is_documented_with_its_type_and_labels() -> None:
    assert len(defined()) >= 20
    assert documented() == defined()
