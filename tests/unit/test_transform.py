"""Route transforms (router/transform.py, router/rules.py): EventBridge input-transformer style, no code.

What a destination receives: the raw body untouched by default; with `{body: PATH}` one sub-document of the match
document as JSON; with `{paths, template}` the template with each `<name>` replaced: the value itself (any JSON
type) where a string is exactly the placeholder, the value's text inside a longer string, null or empty text for
a path the event lacks.
"""

from __future__ import annotations

import datetime
from typing import Any

import orjson
import pytest

from hookpipe.config import ConfigError, TransformConfig, parse_config
from hookpipe.event import Event
from router.rules import MatchDocument, RouteTable, UnparsableBody, compile_routes
from router.transform import TransformConfigError, TransformError, compile_transform

STRIPE_BODY = {
    "id": "evt_1",
    "type": "invoice.paid",
    "data": {"object": {"id": "in_1", "amount_paid": 2000, "rate": 12.5, "paid": True, "voided": False,
                        "memo": None, "lines": [{"sku": "A"}, {"sku": "B"}], "customer": {"id": "cus_1"},
                        "note": 'he said "hi"\nthen left \u00e9\u65e5\U0001f642'}},
}


def make_event(body: bytes | None = None, *, type: str | None = "invoice.paid",
               headers: dict[str, str] | None = None) -> Event:
    return Event(id="evt_1", source="stripe", type=type, received_at=1_700_000_000_000, verified=True,
                 content_type="application/x-www-form-urlencoded" if body is not None else "application/json",
                 body=orjson.dumps(STRIPE_BODY) if body is None else body,
                 headers={"x-stripe-kind": "live"} if headers is None else headers)


def render(transform: dict[str, Any], event: Event | None = None) -> Any:
    """The JSON value a transform gives for the event (the output is always valid JSON)."""
    compiled = compile_transform(TransformConfig.model_validate(transform))
    return orjson.loads(compiled.render(MatchDocument(event or make_event())))


def template(template: Any, **paths: str) -> dict[str, Any]:
    return {"paths": paths, "template": template}


def build_table(*routes: dict[str, Any]) -> RouteTable:
    loaded = parse_config(
        {
            "sources": {"stripe": {"verify": {"scheme": "bearer", "secrets": ["stripe-unit-test-token"]}}},
            "destinations": {name: {"url": f"https://{name}.example.com/", "signing": {"scheme": "none"}}
                             for name in ("billing", "audit")},
            "routes": list(routes),
        },
        environ={},
    )
    return compile_routes(loaded.config)


def transform_problems(transform: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        build_table({"name": "t", "transform": transform, "to": ["billing"]})
    return caught.value.problems


# --- the body form ---------------------------------------------------------------------------------------


def test_body_form_forwards_a_sub_document_as_json() -> None:
    assert render({"body": "$.body.data.object.customer"}) == {"id": "cus_1"}
    assert render({"body": "$.body.data.object"}) == STRIPE_BODY["data"]["object"]  # type: ignore[index]


def test_body_form_output_is_compact_json_from_orjson() -> None:
    compiled = compile_transform(TransformConfig(body="$.body.data.object.customer"))
    assert compiled.render(MatchDocument(make_event())) == b'{"id":"cus_1"}'


@pytest.mark.parametrize(
    ("path", "value"),
    [("$.id", "evt_1"), ("$.source", "stripe"), ("$.type", "invoice.paid"), ("$.headers", {"x-stripe-kind": "live"}),
     ("$.headers.x-stripe-kind", "live"), ("$.body", STRIPE_BODY), ("$.body.data.object.amount_paid", 2000),
     ("$.body.data.object.lines", [{"sku": "A"}, {"sku": "B"}])],
)
def test_body_form_reads_any_field_of_the_match_document(path: str, value: Any) -> None:
    assert render({"body": path}) == value


def test_body_form_dollar_alone_is_the_whole_match_document() -> None:
    assert render({"body": "$"}) == {"id": "evt_1", "source": "stripe", "type": "invoice.paid",
                                     "headers": {"x-stripe-kind": "live"}, "body": STRIPE_BODY}


@pytest.mark.parametrize("path", ["$.body.data.nothing", "$.body.id.deeper", "$.headers.x-absent",
                                  "$.body.data.object.lines.sku"])
def test_body_form_of_a_missing_path_is_null(path: str) -> None:
    assert render({"body": path}) is None


def test_an_event_without_type_has_a_null_type() -> None:
    assert render({"body": "$.type"}, make_event(type=None)) is None


# --- the template form -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value"),
    [("$.body.data.object.id", "in_1"), ("$.body.data.object.amount_paid", 2000), ("$.body.data.object.rate", 12.5),
     ("$.body.data.object.paid", True), ("$.body.data.object.voided", False), ("$.body.data.object.memo", None),
     ("$.body.data.object.customer", {"id": "cus_1"}), ("$.body.data.object.lines", [{"sku": "A"}, {"sku": "B"}])],
)
def test_exact_placeholder_becomes_the_value_with_its_json_type(path: str, value: Any) -> None:
    result = render(template({"value": "<v>", "nested": {"deeper": ["<v>"]}}, v=path))
    assert result == {"value": value, "nested": {"deeper": [value]}}
    assert type(result["value"]) is type(value)


@pytest.mark.parametrize(
    ("path", "text"),
    [("$.body.data.object.id", "in_1"), ("$.body.data.object.amount_paid", "2000"),
     ("$.body.data.object.rate", "12.5"), ("$.body.data.object.paid", "true"),
     ("$.body.data.object.voided", "false"), ("$.body.data.object.memo", "null"),
     ("$.body.data.object.customer", '{"id":"cus_1"}'), ("$.body.data.object.lines", '[{"sku":"A"},{"sku":"B"}]')],
)
def test_placeholder_inside_a_longer_string_is_replaced_by_the_value_text(path: str, text: str) -> None:
    assert render(template({"message": "value: <v>."}, v=path)) == {"message": f"value: {text}."}


def test_missing_path_is_null_as_a_value_and_empty_inside_a_string() -> None:
    result = render(template({"whole": "<gone>", "inside": "[<gone>]", "list": ["<gone>"]}, gone="$.body.nothing"))
    assert result == {"whole": None, "inside": "[]", "list": [None]}


def test_several_placeholders_in_one_string_including_repeats_and_neighbours() -> None:
    result = render(template("<id>/<amount>/<id><amount>", id="$.id", amount="$.body.data.object.amount_paid"))
    assert result == "evt_1/2000/evt_12000"


def test_values_with_quotes_newlines_and_unicode_stay_valid_json() -> None:
    note = STRIPE_BODY["data"]["object"]["note"]  # type: ignore[index]
    assert render(template({"exact": "<n>", "inside": "note: <n>"}, n="$.body.data.object.note")) == {
        "exact": note, "inside": f"note: {note}",
    }


def test_literal_parts_of_the_template_are_kept_as_written() -> None:
    literal = {"text": "a < b > c, <not a placeholder>, <>", "number": 1.5, "flag": False, "none": None,
               "list": [1, "two", {"three": 3}], "empty": {}}
    assert render(template({**literal, "id": "<id>"}, id="$.id")) == {**literal, "id": "evt_1"}


@pytest.mark.parametrize("value", ["plain text", 42, 4.5, True, [1, 2], {"fixed": "object"}])
def test_template_without_placeholders_is_a_constant(value: Any) -> None:
    assert render({"paths": {}, "template": value}) == value


def test_template_that_is_one_string_gives_a_json_string() -> None:
    assert render(template("<id> is <kind>", id="$.id", kind="$.headers.x-stripe-kind")) == "evt_1 is live"


def test_every_document_field_can_fill_a_template() -> None:
    result = render(template(
        {"id": "<id>", "source": "<source>", "type": "<type>", "kind": "<kind>", "amount": "<amount>"},
        id="$.id", source="$.source", type="$.type", kind="$.headers.x-stripe-kind",
        amount="$.body.data.object.amount_paid",
    ))
    assert result == {"id": "evt_1", "source": "stripe", "type": "invoice.paid", "kind": "live", "amount": 2000}


def test_placeholder_names_may_hold_dots_dashes_and_underscores() -> None:
    assert render(template("<event.id>|<x-y_z>", **{"event.id": "$.id", "x-y_z": "$.source"})) == "evt_1|stripe"


# --- bodies that are not JSON ----------------------------------------------------------------------------


def test_transform_reading_the_body_of_a_non_json_event_fails_naming_the_route() -> None:
    table = build_table({"name": "objects", "transform": {"body": "$.body.data.object"}, "to": ["billing"]})
    with pytest.raises(TransformError, match=r"^route 'objects': the body is not JSON$"):
        table.match(make_event(b"amount=2000&currency=eur"))


def test_transform_failure_is_not_mistaken_for_a_filter_on_a_non_json_body() -> None:
    table = build_table({"name": "objects", "transform": template({"x": "<x>"}, x="$.body.x"), "to": ["billing"]})
    with pytest.raises(TransformError) as caught:
        table.match(make_event(b"<xml/>"))
    assert not isinstance(caught.value, UnparsableBody)


def test_transform_that_never_reads_the_body_works_on_any_body() -> None:
    body = b"\x00\xff not json"
    table = build_table({"name": "meta", "transform": template({"id": "<id>", "kind": "<kind>"}, id="$.id",
                                                               kind="$.headers.x-stripe-kind"), "to": ["billing"]})
    _, deliveries = table.match(make_event(body))
    assert orjson.loads(deliveries[0].body) == {"id": "evt_1", "kind": "live"}


def test_a_path_the_template_does_not_use_is_never_read() -> None:
    table = build_table({"name": "meta", "transform": template({"id": "<id>"}, id="$.id", unused="$.body.x"),
                         "to": ["billing"]})
    _, deliveries = table.match(make_event(b"not json"))
    assert deliveries[0].body == b'{"id":"evt_1"}'


# --- in the route table ----------------------------------------------------------------------------------


def test_without_a_transform_the_raw_body_goes_out_untouched() -> None:
    body = b'{ "amount" :  2000 }\n'
    _, deliveries = build_table({"name": "all", "to": ["billing"]}).match(make_event(body))
    assert deliveries[0].body is body
    assert deliveries[0].content_type is None  # the event's own content type is kept


def test_transformed_delivery_is_json_and_names_its_route() -> None:
    table = build_table({"name": "objects", "transform": {"body": "$.body.data.object.customer"}, "to": ["billing"]})
    _, deliveries = table.match(make_event())
    assert (deliveries[0].destination, deliveries[0].route) == ("billing", "objects")
    assert deliveries[0].content_type == "application/json"
    assert deliveries[0].body == b'{"id":"cus_1"}'


def test_each_route_shapes_its_own_destinations_and_the_first_route_wins_a_shared_one() -> None:
    table = build_table(
        {"name": "customer", "transform": {"body": "$.body.data.object.customer"}, "to": ["billing"]},
        {"name": "raw", "to": ["billing", "audit"]},
    )
    matched, deliveries = table.match(make_event())
    assert matched == ["customer", "raw"]
    assert {d.destination: (d.route, d.body) for d in deliveries} == {
        "billing": ("customer", b'{"id":"cus_1"}'),
        "audit": ("raw", orjson.dumps(STRIPE_BODY)),
    }


def test_transform_of_a_route_whose_destinations_are_all_taken_is_not_applied() -> None:
    table = build_table(
        {"name": "raw", "to": ["billing"]},
        {"name": "objects", "transform": {"body": "$.body.data.object"}, "to": ["billing"]},
    )
    matched, deliveries = table.match(make_event(b"not json"))  # the second transform would fail
    assert matched == ["raw", "objects"]
    assert [(d.route, d.body) for d in deliveries] == [("raw", b"not json")]


def test_body_is_parsed_once_for_filters_and_transforms(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_loads = orjson.loads

    def counting_loads(data: bytes) -> Any:
        calls.append(data)
        return real_loads(data)

    monkeypatch.setattr("router.rules.orjson.loads", counting_loads)
    table = build_table(
        {"name": "paid", "filter": {"body": {"type": ["invoice.paid"]}}, "transform": {"body": "$.body.data"},
         "to": ["billing"]},
        {"name": "summary", "transform": template({"amount": "<a>"}, a="$.body.data.object.amount_paid"),
         "to": ["audit"]},
    )
    table.match(make_event())
    assert len(calls) == 1


# --- invalid transforms are config errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("transform", "problem"),
    [
        ({"body": "$.data.object"},
         "routes[0].transform.body: paths start at the match document: $.id, $.source, $.type, $.headers.NAME or "
         "$.body... (the provider's payload is under $.body)"),
        ({"body": "data.object"},
         "routes[0].transform.body: expected a path such as $.body.data.object, $.type or $.headers.x-github-event"),
        ({"body": "$.body..x"},
         "routes[0].transform.body: expected a path such as $.body.data.object, $.type or $.headers.x-github-event"),
        ({"body": "$.type.name"}, "routes[0].transform.body: $.type is a string: a path cannot go below it"),
        ({"body": "$.headers.a.b"}, "routes[0].transform.body: a header is one string: use $.headers.NAME"),
        ({"body": "$.headers.X-GitHub-Event"},
         "routes[0].transform.body: header names are lower-case in the match document, such as "
         "$.headers.x-github-event"),
        ({"body": "$.body", "template": {"a": 1}},
         "routes[0].transform.template: is only used with 'paths' (the 'body' form takes none)"),
        (template({"a": "<b>"}, a="$.id"), "routes[0].transform.template.a: <b> is not one of the names in 'paths'"),
        (template({"<a>": 1}, a="$.id"),
         "routes[0].transform.template.<a>: a placeholder cannot be used as an object key"),
        (template({"a": [1, float("inf")]}, a="$.id"),
         "routes[0].transform.template.a[1]: not a JSON number (infinity and NaN have no JSON form)"),
        (template({"a": {"when": datetime.date(2024, 1, 2)}}, a="$.id"),
         "routes[0].transform.template.a.when: not a JSON value (quote dates and timestamps to keep them as text)"),
        (template({1: "x"}, a="$.id"), "routes[0].transform.template.1: object keys must be strings (quote it)"),
        (template("<a b>", **{"a b": "$.id"}),
         "routes[0].transform.paths.a b: a name is letters, digits, '_', '-' and '.' (at most 100)"),
        (template("<a>", a="$.body.x", b="$.nowhere"),
         "routes[0].transform.paths.b: paths start at the match document: $.id, $.source, $.type, $.headers.NAME "
         "or $.body... (the provider's payload is under $.body)"),
    ],
)
def test_invalid_transform_is_a_config_error_naming_where(transform: dict[str, Any], problem: str) -> None:
    assert transform_problems(transform) == [f"{problem} (route 't')"]


def test_a_value_in_the_wrong_place_is_never_echoed() -> None:
    secret = "S3CRET-VALUE-XYZ"
    for transform in ({"body": secret}, template("<a>", a=secret), template({"a": f"Bearer {secret}"}, a=secret)):
        problems = transform_problems(transform)
        assert problems and all(secret not in problem for problem in problems)


def test_bad_filter_and_bad_transform_of_one_route_are_both_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        build_table({"name": "t", "filter": {"type": "x"}, "transform": {"body": "$.x"}, "to": ["billing"]})
    assert [problem.split(":")[0] for problem in caught.value.problems] == [
        "routes[0].filter.type", "routes[0].transform.body",
    ]


def test_compile_transform_raises_its_own_error_with_a_relative_path() -> None:
    with pytest.raises(TransformConfigError) as caught:
        compile_transform(TransformConfig.model_validate(template({"a": ["<zz>"]}, a="$.id")))
    assert (caught.value.where, caught.value.problem) == ("template.a[0]", "<zz> is not one of the names in 'paths'")
