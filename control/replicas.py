"""The deliverer replicas' answers (control.inquiry) merged into one view per destination.

Every replica answers for every destination, but one delivers it: the holder of its lease (`lease` true). The
merged view takes the breaker from the holder; with no holder (between a holder's end and its successor's
start), or from replicas that do not say whether they hold it (each then delivers the destination: competing
consumers, listed while consuming its queue), the worst breaker of all shows: an open breaker stops its
replica consuming. Attempts in flight are summed, the latest failed attempt kept, and a destination counts as
paused when a replica says so. Dead-letter counts are per process (a process's metrics), so they are summed
once per process, however many replicas it runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from control.inquiry import ReplicaAnswer

#: Breaker states from best to worst: with several deliverers of one destination, the worst is shown.
BREAKER_ORDER = ("closed", "half_open", "open")


def delivering(states: Mapping[str, dict[str, Any]]) -> list[str]:
    """The replicas that deliver a destination, given each replica's state of it: its lease holders when any
    replica says whether it holds the lease, else those consuming its queue."""
    if any(state.get("lease") is not None for state in states.values()):
        return [replica for replica, state in states.items() if state.get("lease")]
    return [replica for replica, state in states.items() if state.get("consuming")]


def merge_destination(states: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """One destination's view from each replica's state of it (`states` by replica id; empty: none answered)."""
    deliverers = delivering(states)
    leased = any(state.get("lease") for state in states.values())
    deciding = [states[replica] for replica in deliverers] if leased else list(states.values())
    breakers = [state for state in deciding if state.get("breaker") in BREAKER_ORDER]
    worst = max(breakers, key=lambda state: BREAKER_ORDER.index(state["breaker"]), default=None)
    counts = [state["in_flight"] for state in states.values() if state.get("in_flight") is not None]
    errors = [state["last_error"] for state in states.values() if state.get("last_error")]
    return {
        "delivered_by": deliverers,
        "breaker": None if worst is None else worst["breaker"],
        "consecutive_failures": None if worst is None else worst.get("consecutive_failures"),
        "paused": _any(state.get("paused") for state in states.values()),
        "consuming": _any(state.get("consuming") for state in states.values()),
        "in_flight": sum(counts) if counts else None,
        "last_error": max(errors, key=lambda error: error["at"], default=None),
    }


def merge(answers: Iterable[ReplicaAnswer], destinations: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per destination: the merged view, plus `replicas`, each replica's own state of it."""
    answered = list(answers)
    merged = {}
    for name in destinations:
        states = {answer.replica: answer.destinations[name] for answer in answered if name in answer.destinations}
        merged[name] = {**merge_destination(states), "replicas": states}
    return merged


def dead_lettered(answers: Iterable[ReplicaAnswer], destination: str) -> dict[str, int] | None:
    """A destination's dead letters by reason since each deliverer process started, summed over processes (one
    answer each: replicas in one process share its counters); None when no answer counts them."""
    per_process: dict[str, dict[str, int]] = {}
    for answer in answers:
        counts = answer.destinations.get(destination, {}).get("dead_lettered")
        if counts is not None:
            per_process.setdefault(answer.process, counts)
    if not per_process:
        return None
    total: dict[str, int] = {}
    for counts in per_process.values():
        for reason, count in counts.items():
            total[reason] = total.get(reason, 0) + count
    return dict(sorted(total.items()))


def _any(values: Iterable[bool | None]) -> bool | None:
    """True when one is true, False when all known ones are false, None when none is known."""
    known = [value for value in values if value is not None]
    return any(known) if known else None
