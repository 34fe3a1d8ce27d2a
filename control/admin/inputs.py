"""Reading what a request gives: query parameters, path parameters and JSON bodies, each checked, every problem a
400 (ApiError) that names the parameter or field.

Query parameters are strict: one value each, none the endpoint does not know. Bodies are one JSON object, read
up to MAX_BODY_BYTES (413 past it), checked by a pydantic model that forbids unknown keys and converts nothing
(`"5"` is not a number, `1` is not true). No text may hold a NUL or another control character: such a value
names nothing hookpipe has, and some stores (PostgreSQL) cannot even be asked about it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from aiohttp import web
from multidict import MultiMapping
from pydantic import BaseModel, ConfigDict, ValidationError

from control.admin.errors import ApiError, ErrorReason, bad_request
from hookpipe.config.units import parse_moment

#: Characters no parameter or name may hold: C0 controls (NUL among them) and DEL.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

M = TypeVar("M", bound=BaseModel)


class Body(BaseModel):
    """A request body: unknown keys refused, nothing converted (strict)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def query_parameters(request: web.Request, known: Collection[str]) -> dict[str, str]:
    """The query as a dict, every name known and given once, every value clean text."""
    return single_values(request.query, known)


def single_values(query: MultiMapping[str], known: Collection[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in query.items():
        if name not in known:
            expected = ", ".join(sorted(known)) or "none"
            raise bad_request(f"unknown query parameter '{clean(name, 'a query parameter name')}'; "
                              f"this endpoint takes: {expected}")
        if name in values:
            raise bad_request(f"query parameter '{name}' given more than once")
        values[name] = clean(value, f"query parameter '{name}'")
    return values


def clean(value: str, what: str) -> str:
    """`value` if it holds no control character, else a 400 naming `what` (never repeating the value)."""
    if CONTROL_CHARACTERS.search(value):
        raise bad_request(f"{what} must not contain control characters")
    return value


def path_parameter(request: web.Request, name: str) -> str:
    return clean(request.match_info[name], f"path parameter '{name}'")


def integer(values: Mapping[str, str], name: str, *, default: int, low: int, high: int) -> int:
    """A query parameter holding a whole number in [low, high]."""
    text = values.get(name)
    if text is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", text):
        raise bad_request(f"{name} must be a whole number from {low} to {high}")
    number = int(text)
    if not low <= number <= high:
        raise bad_request(f"{name} must be a whole number from {low} to {high}")
    return number


def boolean(values: Mapping[str, str], name: str) -> bool:
    """A query parameter holding `true` or `false` (absent: false)."""
    text = values.get(name, "false")
    if text not in ("true", "false"):
        raise bad_request(f"{name} must be true or false")
    return text == "true"


def moment(text: str, name: str, now: datetime) -> datetime:
    """A point in time as `hookpipe replay` takes one: RFC 3339 with a zone, or a duration back from `now`."""
    try:
        found = parse_moment(text, now)
        found.timestamp()  # a time too far out for the platform fails here, not later
    except (ValueError, OverflowError) as error:
        why = str(error) if isinstance(error, ValueError) else "out of range"
        raise bad_request(f"{name}: {clean(why, name)}") from None
    return found


def moment_ms(text: str, name: str, now: datetime) -> int:
    return int(moment(text, name, now).timestamp() * 1000)


def utc_now() -> datetime:
    return datetime.now(UTC)


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; an empty body is `{}`. 413 past the app's client_max_size (MAX_BODY_BYTES)."""
    raw = await request.read()  # aiohttp raises 413 (HTTPRequestEntityTooLarge) past client_max_size
    if not raw:  # an action without options; whitespace alone is not JSON, and refused as such
        return {}
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(ErrorReason.BAD_JSON, "the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise ApiError(ErrorReason.BAD_JSON, "the body must be a JSON object")
    return document


async def body(request: web.Request, model: type[M]) -> M:
    """The body read into `model`; its first problem a 400 naming the field."""
    document = await json_object(request)
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise bad_request(describe_validation(error)) from None


def describe_validation(error: ValidationError) -> str:
    """A pydantic error as one line: `field: problem` (the values themselves are never repeated)."""
    first = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    return CONTROL_CHARACTERS.sub("?", f"{where}: {message}")
