"""The admin API's OpenAPI document: valid OpenAPI 3.1, kept in the repository as control/admin/openapi.py builds
it, and describing exactly the app's endpoints, each with its errors, its bodies closed to unknown keys."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from control.admin.app import ENDPOINTS, build_app
from control.admin.context import AdminContext, AdminState
from control.admin.openapi import DOCUMENT, build_document, render
from hookpipe.amqp.broker import Publisher
from tests.support.pipeline import load, pipeline_config

METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method.upper(), path): operation for path, item in document["paths"].items()
            for method, operation in item.items() if method in METHODS}


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = document["components"][kind][name]
    return node


def test_the_kept_document_is_the_one_the_code_builds() -> None:
    assert DOCUMENT.read_bytes() == render(), "run: python -m control.admin.openapi"


def test_the_document_is_valid_openapi_3_1() -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    document = orjson.loads(DOCUMENT.read_bytes())
    assert document["openapi"].startswith("3.1")
    validator.validate(document)


def test_every_route_of_the_app_is_in_the_document_and_nothing_else() -> None:
    config = load(pipeline_config("hp-unit", "http://127.0.0.1:9/hook", admin={"token": "x" * 16})).config
    publisher = Publisher("amqp://127.0.0.1:1/", name="unit", heartbeat=2, timeout=1)

    async def nothing(*_: Any) -> None:
        return None

    app = build_app(AdminContext(AdminState.of(config), index=None, publisher=publisher,  # type: ignore[arg-type]
                                 read_archived=nothing, token=lambda: "x" * 16))
    routes = {(route.method, route.resource.canonical) for route in app.router.routes() if route.resource}
    assert routes == set(operations(build_document()))
    assert routes == {(endpoint.method, endpoint.path) for endpoint in ENDPOINTS}


def test_every_endpoint_but_healthz_needs_the_bearer_token_and_says_so() -> None:
    document = build_document()
    assert document["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "admin.token from the config."}
    for (method, path), operation in operations(document).items():
        if path == "/healthz":
            assert operation["security"] == [] and "401" not in operation["responses"]
            continue
        assert "security" not in operation, (method, path)
        unauthorized = resolve(document, operation["responses"]["401"])
        assert "WWW-Authenticate" in unauthorized["headers"]
        assert {"400", "500"} <= set(operation["responses"]), (method, path)


def test_every_error_answer_is_the_error_shape_with_its_reasons() -> None:
    document = build_document()
    for (method, path), operation in operations(document).items():
        for status, response in operation["responses"].items():
            schema = resolve(document, resolve(document, response)["content"]["application/json"]["schema"])
            if int(status) < 400:
                continue
            assert schema["required"] == ["error", "detail"] and schema["additionalProperties"] is False
            assert schema["properties"]["error"]["enum"], (method, path, status)


def test_every_request_body_refuses_unknown_keys() -> None:
    document = build_document()
    bodies = 0
    for operation in operations(document).values():
        if "requestBody" in operation:
            bodies += 1
            schema = resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])
            assert schema["additionalProperties"] is False and schema["type"] == "object"
    assert bodies == 7


def test_every_object_of_every_schema_is_closed() -> None:
    """Answers list every key they hold: an object schema either closes its keys or is a map of one kind."""
    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node["additionalProperties"] is False, where
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for number, value in enumerate(node):
                walk(value, f"{where}/{number}")

    walk(build_document()["components"]["schemas"], "#/components/schemas")
