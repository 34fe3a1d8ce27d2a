"""Each closed set is a StrEnum of distinct lower_snake_case values, and the docs list exactly its values."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import pytest

from deliverer.outcomes import AttemptReason, Parked
from hookpipe.amqp.broker import PublishFailure
from hookpipe.outcomes import (
    BrokerDeadLetterReason,
    DeadLetterReason,
    DeliveryOutcome,
    IngestRejection,
    RouterDeadLetterReason,
    RouterOutcome,
)
from ingest.handshakes import Handshake

DOCS = Path(__file__).resolve().parents[2] / "docs"

CLOSED_SETS: list[type[StrEnum]] = [
    IngestRejection, RouterOutcome, RouterDeadLetterReason, DeliveryOutcome, DeadLetterReason,
    BrokerDeadLetterReason, PublishFailure, AttemptReason, Parked, Handshake,
]


@pytest.mark.parametrize("enum", CLOSED_SETS, ids=lambda enum: enum.__name__)
def test_values_are_distinct_lower_snake_case_and_spell_their_names(enum: type[StrEnum]) -> None:
    values = [member.value for member in enum]
    assert len(set(values)) == len(values) == len(enum.__members__), "an alias hides a value"
    for member in enum:
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", member.value), member
        assert member.name == member.value.upper(), member  # one spelling to grep for


def values(text: str) -> set[str]:
    """The lower_snake_case words `text` quotes in backticks (not paths, labels or headers)."""
    return {word for word in re.findall(r"`([^`]+)`", text) if re.fullmatch(r"[a-z][a-z0-9_]*", word)}


def meaning(metric: str) -> str:
    """The `meaning` column of `metric`'s row in docs/observability.md."""
    row = re.search(rf"^\| `{metric}` \|[^|]*\|[^|]*\| (.*) \|$", (DOCS / "observability.md").read_text(), re.MULTILINE)
    assert row is not None, metric
    return row.group(1)


def test_observability_lists_each_counted_set() -> None:
    assert values(meaning("hookpipe_ingest_rejections_total")) == set(IngestRejection)
    assert values(meaning("hookpipe_router_events_total")) == set(RouterOutcome)
    counted, uncounted = meaning("hookpipe_router_dead_letters_total").split(". Messages RabbitMQ itself", 1)
    assert values(counted) == set(RouterDeadLetterReason)
    assert values(uncounted) == set(BrokerDeadLetterReason)
    attempts = re.search(r"`outcome` is ([^;]*);", meaning("hookpipe_delivery_attempts_total"))
    assert attempts is not None and values(attempts.group(1)) == set(DeliveryOutcome)
    assert values(meaning("hookpipe_dead_letters_total")) == set(DeadLetterReason)


def test_operations_lists_the_reasons_each_dead_queue_holds() -> None:
    text = " ".join((DOCS / "operations.md").read_text().split("## Dead letters: hookpipe dlq", 1)[1].split())
    router = re.search(r"events it could not route: ([^)]*)\)", text)
    destination = re.search(r"Reasons: (.*?lettered by RabbitMQ itself\))", text)
    assert router is not None and destination is not None
    assert values(router.group(1)) == set(RouterDeadLetterReason) | set(BrokerDeadLetterReason)
    assert values(destination.group(1)) == set(DeadLetterReason) | set(BrokerDeadLetterReason)
