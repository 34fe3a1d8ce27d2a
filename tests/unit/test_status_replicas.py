"""Every deliverer replica's answer to `hookpipe status` (control.inquiry reads it, control.replicas merges it):
which replica delivers a destination, whose breaker shows, what is summed, and what is made of a malformed or
hostile answer."""

from __future__ import annotations

from typing import Any

import orjson

from control.inquiry import MAX_ANSWER_BYTES, MAX_ERROR_CHARS, Answers, ReplicaAnswer, read_answer
from control.replicas import dead_lettered, delivering, merge, merge_destination


def state(**fields: Any) -> dict[str, Any]:
    base = {"breaker": "closed", "consecutive_failures": 0, "paused": False, "consuming": False, "lease": False,
            "in_flight": 0, "last_error": None, "dead_lettered": {}}
    return {**base, **fields}


def error(at: int, reason: str = "timeout") -> dict[str, Any]:
    return {"reason": reason, "status": None, "error": "took too long", "at": at, "event_id": "e1"}


def test_the_lease_holder_delivers_and_its_breaker_is_the_destination_s() -> None:
    merged = merge_destination({
        "a:1": state(lease=False, breaker="closed"),
        "b:2": state(lease=True, consuming=False, breaker="open", consecutive_failures=5),  # open: not consuming
        "c:3": state(lease=False, breaker="closed"),
    })
    assert merged["delivered_by"] == ["b:2"]
    assert (merged["breaker"], merged["consecutive_failures"]) == ("open", 5)


def test_a_breaker_left_open_on_a_replica_that_lost_the_lease_is_not_the_destination_s() -> None:
    merged = merge_destination({"a:1": state(breaker="open", consecutive_failures=9),
                                "b:2": state(lease=True, consuming=True)})
    assert (merged["delivered_by"], merged["breaker"], merged["consecutive_failures"]) == (["b:2"], "closed", 0)


def test_without_lease_information_every_consuming_replica_delivers_and_the_worst_breaker_shows() -> None:
    """Replicas that do not say whether they hold a lease all deliver (competing consumers); one whose breaker
    opened has stopped consuming, and its breaker still shows."""
    states = {"a:1": state(lease=None, consuming=True, breaker="closed"),
              "b:2": state(lease=None, consuming=True, breaker="half_open", consecutive_failures=3),
              "c:3": state(lease=None, consuming=False, breaker="closed")}
    assert delivering(states) == ["a:1", "b:2"]
    assert merge_destination(states)["breaker"] == "half_open"
    states["c:3"] = state(lease=None, consuming=False, breaker="open", consecutive_failures=4)
    assert (merge_destination(states)["breaker"], merge_destination(states)["consecutive_failures"]) == ("open", 4)


def test_with_no_deliverer_the_worst_breaker_of_all_shows() -> None:
    """Paused everywhere, or between a holder's death and its successor: nobody delivers, the state still shows."""
    merged = merge_destination({"a:1": state(paused=True), "b:2": state(paused=True, breaker="open")})
    assert (merged["delivered_by"], merged["breaker"], merged["paused"]) == ([], "open", True)


def test_in_flight_is_summed_and_the_latest_error_kept() -> None:
    merged = merge_destination({"a:1": state(in_flight=2, last_error=error(1_000)),
                                "b:2": state(in_flight=3, last_error=error(5_000, "http_status"), lease=True),
                                "c:3": state(in_flight=None, last_error=None)})
    assert merged["in_flight"] == 5
    assert merged["last_error"]["reason"] == "http_status"


def test_paused_and_consuming_are_true_when_one_replica_says_so_and_unknown_when_none_knows() -> None:
    assert merge_destination({"a:1": state(paused=False), "b:2": state(paused=True)})["paused"] is True
    assert merge_destination({"a:1": state(paused=None)})["paused"] is None
    nobody = merge_destination({})
    assert (nobody["breaker"], nobody["paused"], nobody["in_flight"], nobody["delivered_by"]) == (
        None, None, None, [])


def test_merge_keeps_each_replica_s_state_and_only_the_configured_destinations() -> None:
    answers = [ReplicaAnswer("a:1", "a:1", {"d": state(lease=True), "e": state()}),
               ReplicaAnswer("b:2", "b:2", {"d": state(), "e": state(lease=True)})]
    merged = merge(answers, ["d", "e", "f"])
    assert set(merged) == {"d", "e", "f"}
    assert (merged["d"]["delivered_by"], merged["e"]["delivered_by"]) == (["a:1"], ["b:2"])
    assert set(merged["d"]["replicas"]) == {"a:1", "b:2"}
    assert merged["f"]["replicas"] == {} and merged["f"]["breaker"] is None


def test_dead_letters_are_summed_once_per_process() -> None:
    """Two replicas in one process share its counters: counted once; another process adds its own."""
    counts = {"exhausted": 2, "dead_letter_on": 1}
    answers = [ReplicaAnswer("h:1", "h:1", {"d": state(dead_lettered=counts)}),
               ReplicaAnswer("h:1/2", "h:1", {"d": state(dead_lettered=counts)}),
               ReplicaAnswer("h:2", "h:2", {"d": state(dead_lettered={"exhausted": 5})})]
    assert dead_lettered(answers, "d") == {"dead_letter_on": 1, "exhausted": 7}
    assert dead_lettered(answers, "e") is None
    assert dead_lettered([ReplicaAnswer("h:1", "h:1", {"d": state(dead_lettered=None)})], "d") is None


def answer(**fields: Any) -> bytes:
    return orjson.dumps({"replica": "h:1", "process": "h:1", "destinations": {"d": state()}, **fields})


def test_a_well_formed_answer_is_read_whole() -> None:
    read = read_answer(answer(destinations={"d": state(lease=True, in_flight=4, last_error=error(7))}), {"d"})
    assert read is not None and (read.replica, read.process) == ("h:1", "h:1")
    assert read.destinations["d"] == state(lease=True, in_flight=4, last_error=error(7))


def test_malformed_answers_are_dropped() -> None:
    for body in (b"", b"not json", b"[]", b"null", orjson.dumps({"destinations": {}}),
                 answer(replica=""), answer(replica=7), answer(destinations=[]), answer(destinations="d"),
                 b" " * (MAX_ANSWER_BYTES + 1) + answer()):
        assert read_answer(body, {"d"}) is None, body[:80]


def test_fields_of_the_wrong_type_read_as_unknown_and_strings_are_cut() -> None:
    hostile = {"breaker": "exploded", "consecutive_failures": -1, "paused": "yes", "consuming": 1, "lease": "true",
               "in_flight": True, "last_error": {"reason": ["x"], "status": "500", "error": "e" * 10_000, "at": 3,
                                                 "event_id": {"id": 1}},
               "dead_lettered": {"exhausted": "many", "expired": 2, "x" * 1000: 1}}
    read = read_answer(answer(replica="r" * 1000, process=5, destinations={"d": hostile, "e": state(),
                                                                          "f": "not a dict"}), {"d", "f"})
    assert read is not None
    assert len(read.replica) == 255 and read.process == read.replica  # a process that is not a string: the replica
    assert set(read.destinations) == {"d"}  # e is not configured, f is not a state
    d = read.destinations["d"]
    assert [d[key] for key in ("breaker", "consecutive_failures", "paused", "consuming", "lease", "in_flight")] == [
        None] * 6
    assert d["last_error"] == {"reason": "", "status": None, "error": "e" * MAX_ERROR_CHARS, "at": 3, "event_id": None}
    assert d["dead_lettered"] == {"expired": 2, "x" * 255: 1}


def test_a_last_error_without_its_time_is_dropped() -> None:
    read = read_answer(answer(destinations={"d": state(last_error={"reason": "timeout", "at": "yesterday"})}), {"d"})
    assert read is not None and read.destinations["d"]["last_error"] is None


def test_the_answers_are_complete_once_every_replica_counted_has_answered() -> None:
    one, two = (ReplicaAnswer(f"h:{n}", f"h:{n}", {}) for n in (1, 2))
    assert Answers(heard=False).complete  # no deliverer runs: nothing to wait for
    assert not Answers([one], heard=True, running=2).complete
    assert Answers([one, two], heard=True, running=2).complete
    assert not Answers([one, two], heard=True, running=None).complete  # not counted: wait the deadline out
    assert not Answers([], heard=True, running=0).complete  # someone hears the exchange: a count of 0 is stale
