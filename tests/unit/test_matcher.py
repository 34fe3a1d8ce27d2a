"""RouteMatcher (router/matcher.py): the routes that match a document, in route order, without trying them all.

Agreement with the pattern semantics on random routes is in test_pattern_properties.py; here, what the index
must guarantee: route order, visibility, evaluating only candidate routes, and reading the body only for them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from hookpipe.event import Event
from router.matcher import RouteMatcher, RoutePattern
from router.pattern import PatternError, compile_pattern
from router.rules import MatchDocument, UnparsableBody


class RecordingDict(dict[str, Any]):
    """A JSON object that remembers which keys were looked up in it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.looked_up: set[str] = set()

    def __contains__(self, key: object) -> bool:
        self.looked_up.add(str(key))
        return super().__contains__(key)

    def __getitem__(self, key: str) -> Any:
        self.looked_up.add(key)
        return super().__getitem__(key)


class GuardedDocument(Mapping[str, Any]):
    """A match document whose body must not be read."""

    def __init__(self, **fields: Any) -> None:
        self._fields = fields

    def __getitem__(self, key: str) -> Any:
        if key == "body":
            raise AssertionError("the body was read")
        return self._fields[key]

    def __contains__(self, key: object) -> bool:
        return key == "body" or key in self._fields

    def __iter__(self) -> Iterator[str]:
        return iter([*self._fields, "body"])

    def __len__(self) -> int:
        return len(self._fields) + 1


def test_matching_routes_come_back_in_route_order_with_their_keys() -> None:
    first, second = object(), object()
    routes: list[tuple[object, RoutePattern]] = [
        ("pushes", {"type": ["push"]}),
        (first, {"source": ["github"]}),
        ("issues", {"type": ["issues"]}),
        (second, None),
    ]
    matcher = RouteMatcher(routes)
    assert matcher.match({"source": "github", "type": "push"}) == ["pushes", first, second]
    assert matcher.match({"source": "stripe", "type": "issues"}) == ["issues", second]
    assert len(matcher) == 4


def test_a_route_matches_once_whichever_alternatives_match() -> None:
    matcher = RouteMatcher([("r", {"$or": [{"a": ["x"]}, {"b": ["y"]}, {"c": [{"exists": True}]}]})])
    assert matcher.match({"a": "x", "b": "y", "c": 1}) == ["r"]
    assert matcher.match({"b": "z"}) == []


def test_patterns_may_come_compiled_and_invalid_ones_raise() -> None:
    assert RouteMatcher([("r", compile_pattern({"a": ["x"]}))]).match({"a": "x"}) == ["r"]
    with pytest.raises(PatternError):
        RouteMatcher([("r", {"a": "x"})])


def test_routes_without_sources_see_verified_documents_only() -> None:
    matcher = RouteMatcher([("everything", None, None), ("demo", None, ["demo"]),
                            ("typed", {"type": ["t"]}, ["demo", "x"])])
    assert matcher.match({"source": "github", "type": "t"}) == ["everything"]
    assert matcher.match({"source": "demo", "type": "t"}, verified=False) == ["demo", "typed"]
    assert matcher.match({"source": "github", "type": "t"}, verified=False) == []


def test_only_candidate_routes_are_evaluated() -> None:
    # Each route reads its own body field: the fields looked up in the body name the routes evaluated.
    routes = [(number, {"type": [f"t{number}"], "body": {f"n{number}": [{"numeric": [">", 0]}]}})
              for number in range(2_000)]
    matcher = RouteMatcher(routes)
    body = RecordingDict({f"n{number}": 1 for number in range(2_000)})
    assert matcher.match({"type": "t7", "body": body}) == [7]
    assert body.looked_up == {"n7"}


def test_routes_anchored_in_the_body_are_found_by_their_values() -> None:
    routes = [(number, {"body": {"repository": {"id": [number]}, "n": [{"numeric": [">", 0]}]}})
              for number in range(2_000)]
    matcher = RouteMatcher(routes)
    assert matcher.match({"body": {"repository": {"id": 1234}, "n": 5}}) == [1234]
    assert matcher.match({"body": {"repository": {"id": 1234.0}, "n": 5}}) == [1234]
    assert matcher.match({"body": {"repository": {"id": 1234}, "n": 0}}) == []


def test_prefix_anchors() -> None:
    routes: list[tuple[str, RoutePattern]] = [("features", {"ref": [{"prefix": "refs/heads/feature/"}]}),
                                              ("heads", {"ref": [{"prefix": "refs/heads/"}, "HEAD"]}),
                                              ("tags", {"ref": [{"prefix": "refs/tags/"}]})]
    matcher = RouteMatcher(routes)
    assert matcher.match({"ref": "refs/heads/feature/x"}) == ["features", "heads"]
    assert matcher.match({"ref": "HEAD"}) == ["heads"]
    assert matcher.match({"ref": "refs/tags"}) == []


def test_numbers_are_found_by_value_but_a_large_integer_only_by_itself() -> None:
    routes: list[tuple[str, RoutePattern]] = [("five", {"n": [5]}), ("big", {"n": [2**60]}), ("true", {"n": [True]})]
    matcher = RouteMatcher(routes)
    assert matcher.match({"n": 5.0}) == ["five"]
    assert matcher.match({"n": 2**60}) == ["big"]
    assert matcher.match({"n": float(2**60)}) == []  # a double: another number to event-ruler
    assert matcher.match({"n": 1}) == []


def test_an_anchor_in_an_array_of_objects_still_needs_one_element_for_every_field() -> None:
    matcher = RouteMatcher([("same element", {"d": {"a": ["x"], "b": ["y"]}})])
    assert matcher.match({"d": [{"a": "x"}, {"b": "y"}]}) == []
    assert matcher.match({"d": [{"a": "x"}, {"a": "x", "b": "y"}]}) == ["same element"]


def test_the_body_is_not_read_when_the_other_fields_rule_every_route_out() -> None:
    routes: list[tuple[str, RoutePattern, list[str] | None]] = [
        ("push to main", {"type": ["push"], "body": {"ref": ["refs/heads/main"]}}, None),
        ("big issue", {"type": [{"prefix": "issue"}], "body": {"n": [{"numeric": [">", 5]}]}}, None),
        ("stripe only", {"body": {"ref": ["x"]}}, ["stripe"]),
        ("typed", {"type": ["deploy"]}, None),
    ]
    matcher = RouteMatcher(routes)
    assert matcher.match(GuardedDocument(source="github", type="deploy")) == ["typed"]


def test_a_route_with_fields_in_the_body_alone_reads_it_for_every_event_it_can_see() -> None:
    matcher = RouteMatcher([("main", {"body": {"ref": ["main"]}})])
    with pytest.raises(AssertionError, match="the body was read"):
        matcher.match(GuardedDocument(source="github", type="push"))
    assert matcher.match(GuardedDocument(source="demo", type="push"), verified=False) == []


def make_event(body: bytes, type: str = "push") -> Event:
    return Event(id="evt-1", source="github", type=type, received_at=0, verified=True,
                 content_type="application/json", body=body, headers={})


def test_an_unparsable_body_raises_only_when_a_candidate_route_needs_it() -> None:
    routes: list[tuple[str, RoutePattern]] = [
        ("pushes", {"type": ["push"]}), ("issues in the body", {"type": ["issues"], "body": {"action": ["opened"]}})]
    matcher = RouteMatcher(routes)
    assert matcher.match(MatchDocument(make_event(b"<xml/>"))) == ["pushes"]
    with pytest.raises(UnparsableBody):
        matcher.match(MatchDocument(make_event(b"<xml/>", type="issues")))
    assert matcher.match(MatchDocument(make_event(b'{"action": "opened"}', type="issues"))) == ["issues in the body"]
