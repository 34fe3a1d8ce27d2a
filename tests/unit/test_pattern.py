"""Routing (router/pattern.py, router/rules.py): EventBridge exact values and the route table.

`fixtures/eventbridge_exact.jsonl` holds the exact-value cases of tests/corpus/eventbridge/cases.jsonl
(verdicts computed by aws/event-ruler): every case whose operators are all `exact-*`, minus event-ruler quirks.
The operators are tested in test_pattern_operators.py, the whole corpus in test_pattern_corpus.py, random
patterns against a reference interpreter in test_pattern_properties.py, the route index in test_matcher.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from hookpipe.config import ConfigError, parse_config
from hookpipe.event import Event
from router.pattern import PatternError, compile_pattern, needs_field
from router.rules import MatchDocument, RouteTable, UnparsableBody, compile_routes

FIXTURES = Path(__file__).parent / "fixtures"


def matches(pattern: Mapping[str, Any], document: Mapping[str, Any]) -> bool:
    return compile_pattern(pattern)(document)


# --- exact values --------------------------------------------------------------------------------------


def test_strings_match_exactly() -> None:
    pattern = {"type": ["invoice.paid"]}
    assert matches(pattern, {"type": "invoice.paid"})
    assert not matches(pattern, {"type": "Invoice.paid"})
    assert not matches(pattern, {"type": "invoice.paid "})
    assert not matches(pattern, {"type": "invoice"})


def test_values_in_a_list_are_alternatives() -> None:
    pattern = {"type": ["invoice.paid", "invoice.voided"]}
    assert matches(pattern, {"type": "invoice.voided"})
    assert not matches(pattern, {"type": "invoice.created"})


def test_fields_must_all_match() -> None:
    pattern = {"source": ["stripe"], "type": ["invoice.paid"]}
    assert matches(pattern, {"source": "stripe", "type": "invoice.paid"})
    assert not matches(pattern, {"source": "github", "type": "invoice.paid"})


@pytest.mark.parametrize(("allowed", "value"), [(5, 5.0), (5.0, 5), (0, -0.0), (1e2, 100), (-3, -3.0)])
def test_numbers_match_by_value(allowed: float, value: float) -> None:
    assert matches({"amount": [allowed]}, {"amount": value})


def test_different_numbers_do_not_match() -> None:
    assert not matches({"amount": [5]}, {"amount": 5.5})
    assert not matches({"amount": [5]}, {"amount": 50})


def test_strings_never_match_numbers() -> None:
    assert not matches({"amount": [5]}, {"amount": "5"})
    assert not matches({"amount": ["5"]}, {"amount": 5})


@pytest.mark.parametrize(("allowed", "value"), [(True, 1), (1, True), (False, 0), (0, False), (True, "true")])
def test_booleans_are_not_numbers_or_strings(allowed: object, value: object) -> None:
    assert not matches({"flag": [allowed]}, {"flag": value})


def test_booleans_match_booleans() -> None:
    assert matches({"flag": [True]}, {"flag": True})
    assert matches({"flag": [False]}, {"flag": False})
    assert not matches({"flag": [True]}, {"flag": False})


def test_null_matches_null_only() -> None:
    assert matches({"memo": [None]}, {"memo": None})
    others: tuple[object, ...] = ("", "null", 0, False, [], {})
    for other in others:
        assert not matches({"memo": [None]}, {"memo": other})


@pytest.mark.parametrize("allowed", [["x"], [None], [0], [False]])
def test_missing_field_never_matches(allowed: list[object]) -> None:
    assert not matches({"memo": allowed}, {"other": "x"})
    assert not matches({"data": {"memo": allowed}}, {"data": {}})
    assert not matches({"data": {"memo": allowed}}, {})


def test_event_array_matches_when_any_element_does() -> None:
    pattern = {"tags": ["urgent"]}
    assert matches(pattern, {"tags": ["billing", "urgent"]})
    assert not matches(pattern, {"tags": ["billing"]})
    assert not matches(pattern, {"tags": []})


def test_nested_objects_match_field_by_field() -> None:
    pattern = {"body": {"data": {"object": {"status": ["paid"], "currency": ["eur", "usd"]}}}}
    assert matches(pattern, {"body": {"data": {"object": {"status": "paid", "currency": "usd", "x": 1}}}})
    assert not matches(pattern, {"body": {"data": {"object": {"status": "paid"}}}})
    assert not matches(pattern, {"body": {"data": {"object": {"status": "open", "currency": "usd"}}}})


def test_object_pattern_does_not_match_a_scalar_and_value_pattern_does_not_match_an_object() -> None:
    assert not matches({"data": {"status": ["paid"]}}, {"data": "paid"})
    assert not matches({"data": ["paid"]}, {"data": {"status": "paid"}})


def test_array_of_objects_matches_when_one_element_matches_every_field() -> None:
    pattern = {"items": {"sku": ["A"], "qty": [2]}}
    assert matches(pattern, {"items": [{"sku": "B", "qty": 1}, {"sku": "A", "qty": 2}]})
    # sku from one element and qty from another is not a match (array consistency)
    assert not matches(pattern, {"items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]})
    assert not matches(pattern, {"items": ["A", 2]})


def test_nested_event_arrays_flatten() -> None:
    assert matches({"a": ["x"]}, {"a": [["y", "x"], ["z"]]})


def test_nested_arrays_of_objects_flatten() -> None:
    assert matches({"employees": {"firstName": ["Anna"]}},
                   {"employees": [[{"firstName": "John"}, {"firstName": "Anna"}], [{"firstName": "Peter"}]]})


@pytest.mark.parametrize(
    ("pattern", "event"),
    [({"detail": {"state.status": ["running"]}}, {"detail": {"state": {"status": "running"}}}),
     ({"detail": {"state": {"status": ["running"]}}}, {"detail": {"state.status": "running"}})],
)
def test_dotted_keys_are_the_same_field_as_nesting(pattern: dict[str, Any], event: dict[str, Any]) -> None:
    assert matches(pattern, event)


def test_large_integers_compare_exactly() -> None:
    assert not matches({"id": [9007199254740992]}, {"id": 9007199254740993})


def test_pattern_object_compiles_once_and_matches_many_documents() -> None:
    matcher = compile_pattern({"type": ["a", "b"]})
    assert [matcher({"type": t}) for t in ("a", "b", "c")] == [True, True, False]


def _corpus() -> list[Any]:
    lines = (FIXTURES / "eventbridge_exact.jsonl").read_text().splitlines()
    return [pytest.param(case, id=case["name"]) for case in map(json.loads, lines)]


@pytest.mark.parametrize("case", _corpus())
def test_exact_values_agree_with_event_ruler(case: dict[str, Any]) -> None:
    if case["expected"] == "invalid":
        with pytest.raises(PatternError):
            compile_pattern(case["pattern"])
    else:
        assert compile_pattern(case["pattern"])(case["event"]) is case["expected"]


# --- invalid patterns ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "problem"),
    [
        ({"type": "invoice.paid"}, "type", "a leaf must be a list of values"),
        ({"body": {"amount": 5}}, "body.amount", "a leaf must be a list of values"),
        ({"body": {"amount": None}}, "body.amount", "a leaf must be a list of values"),
        ({"type": []}, "type", "an empty list matches nothing"),
        ({"body": {"data": {}}}, "body.data", "an empty object matches nothing"),
        ({"body": {"tags": [["a"]]}}, "body.tags", "nested lists are not allowed"),
        ({"body": {"amount": [{"numeric": [">", "0"]}]}}, "body.amount", "numeric: '0' is not a number"),
        ({"type": [{"prefix": 5}]}, "type", "prefix takes a string"),
        ({"type": ["a", {"anything-but": None}]}, "type", "anything-but takes strings or numbers"),
        ({"body": {"ip": [{"cidr": "10.0.0.0/32"}]}}, "body.ip", "cidr '10.0.0.0/32': an IPv4 mask must be shorter"),
        ({"type": [{"regex": "a.*"}]}, "type", "unknown operator 'regex'"),
        ({"$or": [{"type": ["a"]}]}, "$or", "$or needs at least two alternatives"),
        ({"$or": [{"type": ["a"]}, {"numeric": [">", 0]}]}, "$or[1].numeric", "'numeric' is an operator, not a field"),
    ],
)
def test_invalid_pattern_names_the_path_and_the_problem(pattern: dict[str, Any], path: str, problem: str) -> None:
    with pytest.raises(PatternError) as caught:
        compile_pattern(pattern)
    assert caught.value.path == path
    assert caught.value.problem.startswith(problem)
    assert str(caught.value).startswith(f"{path}: {problem}")


def test_pattern_must_be_an_object() -> None:
    with pytest.raises(PatternError, match="a pattern must be an object"):
        compile_pattern(["type"])  # type: ignore[arg-type]


def test_empty_pattern_is_refused() -> None:
    with pytest.raises(PatternError):
        compile_pattern({})


def test_needs_field_tells_whether_the_body_is_looked_into() -> None:
    assert needs_field({"type": ["a"], "body": {"x": [1]}}, "body")
    assert not needs_field({"type": ["a"], "headers": {"x": ["1"]}}, "body")


def test_needs_field_sees_dotted_keys_and_or_alternatives() -> None:
    assert needs_field({"body.data.amount": [1]}, "body")
    assert needs_field({"$or": [{"type": ["a"]}, {"body": {"x": [1]}}]}, "body")
    assert needs_field({"type": ["a"], "$or": [{"source": ["s"]}, {"body.x": [1]}]}, "body")
    assert not needs_field({"bodyguard": ["x"], "$or": [{"type": ["a"]}, {"source": ["s"]}]}, "body")


# --- the route table -----------------------------------------------------------------------------------


def build_table(*routes: dict[str, Any]) -> RouteTable:
    loaded = parse_config(
        {
            "sources": {
                "github": {"verify": {"scheme": "bearer", "secrets": ["github-unit-test-token"]}},
                "stripe": {"verify": {"scheme": "bearer", "secrets": ["stripe-unit-test-token"]}},
                "demo": {"verify": {"scheme": "none"}, "unverified": True},
            },
            "destinations": {name: {"url": f"https://{name}.example.com/", "signing": {"scheme": "none"}}
                             for name in ("billing", "audit", "ops")},
            "routes": list(routes),
        },
        environ={},
    )
    return compile_routes(loaded.config)


def make_event(source: str = "github", type: str | None = "push", body: bytes = b'{"ref": "main"}',
               verified: bool | None = None) -> Event:
    return Event(id="evt-1", source=source, type=type, received_at=1_700_000_000_000,
                 verified=source != "demo" if verified is None else verified, content_type="application/json",
                 body=body, headers={"x-github-event": "push"})


def test_route_without_sources_sees_only_verified_events() -> None:
    table = build_table({"name": "everything", "to": ["audit"]})
    assert table.match(make_event("github"))[0] == ["everything"]
    assert table.match(make_event("demo")) == ([], [])


def test_route_naming_an_unverified_source_sees_it() -> None:
    table = build_table({"name": "demo-audit", "sources": ["demo"], "to": ["audit"]})
    matched, deliveries = table.match(make_event("demo"))
    assert matched == ["demo-audit"]
    assert [delivery.destination for delivery in deliveries] == ["audit"]
    assert table.match(make_event("github")) == ([], [])


def test_route_sees_only_the_sources_it_names() -> None:
    table = build_table({"name": "stripe-only", "sources": ["stripe"], "to": ["billing"]})
    assert table.match(make_event("stripe"))[0] == ["stripe-only"]
    assert table.match(make_event("github"))[0] == []


def test_route_fans_out_to_each_destination() -> None:
    table = build_table({"name": "wide", "to": ["billing", "audit", "ops"]})
    _, deliveries = table.match(make_event())
    assert [delivery.destination for delivery in deliveries] == ["billing", "audit", "ops"]


def test_two_routes_to_one_destination_give_one_delivery() -> None:
    table = build_table(
        {"name": "pushes", "filter": {"type": ["push"]}, "to": ["audit"]},
        {"name": "from-github", "filter": {"source": ["github"]}, "to": ["audit", "ops"]},
    )
    matched, deliveries = table.match(make_event())
    assert matched == ["pushes", "from-github"]
    assert [delivery.destination for delivery in deliveries] == ["audit", "ops"]


def test_delivery_body_is_the_raw_body() -> None:
    body = b'{ "ref" :  "main" }\n'
    _, deliveries = build_table({"name": "all", "to": ["audit"]}).match(make_event(body=body))
    assert deliveries[0].body is body


def test_filter_selects_events() -> None:
    table = build_table({"name": "main-pushes", "filter": {"type": ["push"], "body": {"ref": ["main"]}},
                         "to": ["ops"]})
    assert table.match(make_event())[0] == ["main-pushes"]
    assert table.match(make_event(body=b'{"ref": "dev"}'))[0] == []
    assert table.match(make_event(type="issues"))[0] == []


def test_filter_sees_id_source_and_headers() -> None:
    table = build_table({"name": "r", "filter": {"id": ["evt-1"], "source": ["github"],
                                                 "headers": {"x-github-event": ["push"]}}, "to": ["ops"]})
    assert table.match(make_event())[0] == ["r"]


def test_event_without_type_has_a_null_type() -> None:
    table = build_table({"name": "typed", "filter": {"type": ["push"]}, "to": ["ops"]})
    assert table.match(make_event(type=None))[0] == []
    document = MatchDocument(make_event(type=None))
    assert "type" in document
    assert document["type"] is None
    untyped = build_table({"name": "untyped", "filter": {"type": [None]}, "to": ["ops"]})
    assert untyped.match(make_event(type=None))[0] == ["untyped"]


def test_non_json_body_still_matches_a_filter_on_type_only() -> None:
    table = build_table({"name": "pushes", "filter": {"type": ["push"]}, "to": ["ops"]})
    matched, deliveries = table.match(make_event(body=b"payload=%7B%22ref%22%7D"))
    assert matched == ["pushes"]
    assert deliveries[0].body == b"payload=%7B%22ref%22%7D"


def test_non_json_body_raises_unparsable_body_when_a_filter_looks_into_it() -> None:
    table = build_table(
        {"name": "pushes", "filter": {"type": ["push"]}, "to": ["ops"]},
        {"name": "main", "filter": {"body": {"ref": ["main"]}}, "to": ["audit"]},
    )
    with pytest.raises(UnparsableBody):
        table.match(make_event(body=b"<xml/>"))


def test_body_filter_of_a_route_that_cannot_see_the_event_never_parses_it() -> None:
    table = build_table({"name": "stripe-main", "sources": ["stripe"], "filter": {"body": {"ref": ["main"]}},
                         "to": ["audit"]})
    assert table.match(make_event("github", body=b"not json")) == ([], [])


def test_body_is_parsed_at_most_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_loads = orjson.loads

    def counting_loads(data: bytes) -> Any:
        calls.append(data)
        return real_loads(data)

    monkeypatch.setattr("router.rules.orjson.loads", counting_loads)
    table = build_table(
        {"name": "a", "filter": {"body": {"ref": ["main"]}}, "to": ["audit"]},
        {"name": "b", "filter": {"body": {"ref": ["main", "dev"]}}, "to": ["ops"]},
        {"name": "c", "filter": {"type": ["push"]}, "to": ["billing"]},
    )
    assert table.match(make_event())[0] == ["a", "b", "c"]
    assert len(calls) == 1
    calls.clear()
    build_table({"name": "c", "filter": {"type": ["push"]}, "to": ["billing"]}).match(make_event())
    assert calls == []


def test_invalid_filter_is_a_config_error_naming_route_and_path() -> None:
    with pytest.raises(ConfigError) as caught:
        build_table(
            {"name": "ok", "filter": {"type": ["push"]}, "to": ["ops"]},
            {"name": "paid", "filter": {"body": {"amount": [{"numeric": [">", "0"]}]}}, "to": ["billing"]},
            {"name": "bare", "filter": {"type": "push"}, "to": ["ops"]},
        )
    assert caught.value.problems == [
        "routes[1].filter.body.amount: numeric: '0' is not a number (route 'paid')",
        "routes[2].filter.type: a leaf must be a list of values, such as [\"invoice.paid\"] (route 'bare')",
    ]
