"""The small JSON path subset (`$.a.b`, object keys only) used to pick ids, types and sub-documents."""

from __future__ import annotations

from typing import Any

import pytest

from hookpipe.jsonpath import lookup, parse_path

STRIPE = {"id": "evt_1", "type": "invoice.paid", "data": {"object": {"id": "in_1", "amount_paid": 0, "memo": None}}}


@pytest.mark.parametrize(
    ("path", "keys"),
    [("$", ()), ("$.type", ("type",)), ("$.data.object", ("data", "object")), ("$.x-github-event", ("x-github-event",)),
     ("$.a.b.c.d", ("a", "b", "c", "d"))],
)
def test_parse_path_splits_object_keys(path: str, keys: tuple[str, ...]) -> None:
    assert parse_path(path) == keys


@pytest.mark.parametrize("path", ["", "type", "$.", "$..type", "$.data.", "data.object", ".type", "$type", "@.type"])
def test_parse_path_refuses_anything_else_with_an_example(path: str) -> None:
    with pytest.raises(ValueError, match=r"expected a path such as \$\.type"):
        parse_path(path)


@pytest.mark.parametrize(
    ("path", "value"),
    [("$.type", "invoice.paid"), ("$.data.object.id", "in_1"), ("$.data.object.amount_paid", 0), ("$", STRIPE)],
)
def test_lookup_finds_the_value_at_a_path(path: str, value: Any) -> None:
    assert lookup(STRIPE, parse_path(path)) == value


@pytest.mark.parametrize("path", ["$.missing", "$.data.missing.id", "$.type.inner", "$.data.object.id.deeper"])
def test_lookup_of_a_path_that_does_not_exist_gives_the_default(path: str) -> None:
    assert lookup(STRIPE, parse_path(path)) is None
    assert lookup(STRIPE, parse_path(path), default="fallback") == "fallback"


def test_lookup_of_a_present_null_is_null_not_the_default() -> None:
    assert lookup(STRIPE, parse_path("$.data.object.memo"), default="fallback") is None


def test_lookup_never_indexes_into_arrays() -> None:
    document = {"items": [{"id": "a"}], "0": "zero"}
    assert lookup(document, ("items", "0"), default="none") == "none"
    assert lookup(document, ("0",)) == "zero"


@pytest.mark.parametrize("document", [None, "text", 5, ["type"], b'{"type": "x"}'])
def test_lookup_in_a_document_that_is_not_an_object_gives_the_default(document: Any) -> None:
    assert lookup(document, ("type",), default="fallback") == "fallback"


def test_lookup_keys_are_exact_strings() -> None:
    assert lookup({"Type": "x", "1": "one"}, ("type",), default="fallback") == "fallback"
    assert lookup({1: "int key"}, ("1",), default="fallback") == "fallback"
