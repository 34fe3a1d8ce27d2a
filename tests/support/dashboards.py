"""The Grafana dashboards in deploy/grafana/dashboards, read as JSON: their panels and PromQL targets."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DASHBOARDS = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"

_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass(frozen=True)
class Target:
    dashboard: str  # file name
    panel: str  # panel title
    ref_id: str
    expr: str


def load_all() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside (collapsed) rows; rows themselves are not yielded."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def targets(name: str, dashboard: dict[str, Any]) -> Iterator[Target]:
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            yield Target(name, panel["title"], target["refId"], target["expr"])


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace Grafana's `$name` and `${name}` as Grafana would with these values; KeyError for an unknown one."""
    return _VARIABLE.sub(lambda m: values[m.group(1) or m.group(2)], expr)
