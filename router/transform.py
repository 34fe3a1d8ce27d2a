"""Route transforms, EventBridge input-transformer style: data picked out of the match document, no code.

Two forms (docs/configuration.md, "transforms"):

- `{body: "$.body.data.object"}`: the delivery is the value at one path, as JSON;
- `{paths: {name: "$.body.x.y", ...}, template: <any JSON value>}`: each path is read once, then placed into the
  template wherever `<name>` appears. A string that is exactly `"<name>"` becomes the value itself, of any JSON
  type; `<name>` inside a longer string is replaced by the value's text (a string as it is, anything else as
  compact JSON). Placeholders are replaced in values, never in object keys, as in EventBridge.

Paths start at the match document `{id, source, type, headers, body}`: `$.id`, `$.type`,
`$.headers.x-github-event`, `$.body.data.object`, or `$` for the whole document. A path that does not exist in
the event gives null (empty text inside a longer string), as EventBridge does. Only a path into the body parses
the body, and a body that is not JSON makes the transform fail for that event: the router dead-letters it
(`transform_failed`). The result is serialised with orjson, so it is always valid JSON.

Pure functions and small classes, no I/O: `compile_transform` once per config load, `Transform.render` per event.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from hookpipe.config import TransformConfig
from hookpipe.jsonpath import lookup, parse_path

#: The top-level fields of the match document (docs/configuration.md, "transforms"); every path starts with one of them.
DOCUMENT_FIELDS = ("id", "source", "type", "headers", "body")

#: Fields holding one string (or null): a path cannot go below them.
_SCALAR_FIELDS = frozenset({"id", "source", "type"})

#: A placeholder name: letters, digits, `_`, `-` and `.`, as EventBridge's own (`aws.events.rule-name`).
_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}"
NAME_PATTERN = re.compile(_NAME)
PLACEHOLDER = re.compile(rf"<({_NAME})>")

_MISSING = object()


class TransformError(ValueError):
    """A transform that cannot be applied to this event (it reads the body, and the body is not JSON)."""


# --- paths ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DocumentPath:
    """A path into the match document: its first key is a document field, the rest go inside it."""

    text: str
    keys: tuple[str, ...]

    @property
    def reads_body(self) -> bool:
        return not self.keys or self.keys[0] == "body"

    def read(self, document: Mapping[str, Any]) -> Any:
        """The value at this path, or `_MISSING`. Reading the body may raise what the document raises."""
        if not self.keys:
            return {field: document[field] for field in DOCUMENT_FIELDS}
        return lookup(document[self.keys[0]], self.keys[1:], _MISSING)


def parse_document_path(text: object) -> DocumentPath:
    """Check a path against the match document's shape; ValueError says what is wrong (never echoing it)."""
    if not isinstance(text, str):
        raise ValueError("a path is written as text, such as $.body.data.object")
    try:
        keys = parse_path(text)
    except ValueError:
        raise ValueError("expected a path such as $.body.data.object, $.type or $.headers.x-github-event") from None
    if keys:
        field, below = keys[0], keys[1:]
        if field not in DOCUMENT_FIELDS:
            raise ValueError("paths start at the match document: $.id, $.source, $.type, $.headers.NAME or "
                             "$.body... (the provider's payload is under $.body)")
        if field in _SCALAR_FIELDS and below:
            raise ValueError(f"$.{field} is a string: a path cannot go below it")
        if field == "headers" and len(below) > 1:
            raise ValueError("a header is one string: use $.headers.NAME")
        if field == "headers" and below and below[0] != below[0].lower():
            raise ValueError("header names are lower-case in the match document, such as $.headers.x-github-event")
    return DocumentPath(text, keys)


# --- templates -----------------------------------------------------------------------------------------

Values = Mapping[str, Any]  # placeholder name -> the value read from the event, or _MISSING
Build = Callable[[Values], Any]


@dataclass(frozen=True, slots=True)
class _Constant:
    """A part of the template without placeholders: built once, at compile time."""

    value: Any

    def __call__(self, _: Values) -> Any:
        return self.value


def _value_text(value: Any) -> str:
    """The text a value takes inside a longer string: a string as it is, anything else as compact JSON."""
    if value is _MISSING:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _compile_template(node: Any, names: frozenset[str], where: str) -> Build:
    """A function building the output from the placeholder values; TransformConfigError for what is not JSON."""
    if isinstance(node, str):
        return _compile_string(node, names, where)
    if isinstance(node, Mapping):
        items = []
        for key, value in node.items():
            inner = f"{where}.{key}"
            if not isinstance(key, str):
                raise TransformConfigError(inner, "object keys must be strings (quote it)")
            if any(match.group(1) in names for match in PLACEHOLDER.finditer(key)):
                raise TransformConfigError(inner, "a placeholder cannot be used as an object key")
            items.append((key, _compile_template(value, names, inner)))
        if all(isinstance(build, _Constant) for _, build in items):
            return _Constant(dict(node))
        return lambda values: {key: build(values) for key, build in items}
    if isinstance(node, list):
        builds = [_compile_template(item, names, f"{where}[{index}]") for index, item in enumerate(node)]
        if all(isinstance(build, _Constant) for build in builds):
            return _Constant(list(node))
        return lambda values: [build(values) for build in builds]
    if node is None or isinstance(node, bool | int):
        return _Constant(node)
    if isinstance(node, float):
        if not math.isfinite(node):
            raise TransformConfigError(where, "not a JSON number (infinity and NaN have no JSON form)")
        return _Constant(node)
    raise TransformConfigError(where, "not a JSON value (quote dates and timestamps to keep them as text)")


def _compile_string(text: str, names: frozenset[str], where: str) -> Build:
    for match in PLACEHOLDER.finditer(text):
        if match.group(1) not in names:
            raise TransformConfigError(where, f"<{match.group(1)}> is not one of the names in 'paths'")
    whole = PLACEHOLDER.fullmatch(text)
    if whole is not None:
        name = whole.group(1)
        return lambda values: None if values[name] is _MISSING else values[name]
    parts = PLACEHOLDER.split(text)  # literal, name, literal, name, ..., literal
    if len(parts) == 1:
        return _Constant(text)
    literals, placeholders = parts[0::2], parts[1::2]

    def build(values: Values) -> str:
        out = [literals[0]]
        for name, literal in zip(placeholders, literals[1:], strict=True):
            out.append(_value_text(values[name]))
            out.append(literal)
        return "".join(out)

    return build


# --- the transform -------------------------------------------------------------------------------------

#: The `body` form is the template form with one path, `{value: PATH}`, and the template `"<value>"`.
_BODY_FORM_NAME = "value"


class TransformConfigError(ValueError):
    """An invalid transform. `where` is inside the transform (`paths.amount`), `problem` says what is wrong."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Transform:
    """A compiled transform: `render(document)` gives the delivery's JSON bytes."""

    paths: tuple[tuple[str, DocumentPath], ...]  # (placeholder name, path), each read once per event
    build: Build

    @property
    def reads_body(self) -> bool:
        return any(path.reads_body for _, path in self.paths)

    def render(self, document: Mapping[str, Any]) -> bytes:
        """The payload for one event. Reading the body of an event whose body is not JSON raises what the
        document raises (the router names that case); TransformError when the result has no JSON form."""
        values = {name: path.read(document) for name, path in self.paths}
        try:
            return orjson.dumps(self.build(values))
        except orjson.JSONEncodeError as error:
            raise TransformError(f"the result cannot be written as JSON: {error}") from None


def compile_transform(config: TransformConfig) -> Transform:
    """Compile a route's transform once per config load; raises TransformConfigError naming where inside the
    transform (`body`, `paths.amount`, `template.data[0]`) and never echoing a configured value."""
    if config.body is not None:
        if config.template is not None:
            raise TransformConfigError("template", "is only used with 'paths' (the 'body' form takes none)")
        path = _path_or_error(config.body, "body")
        return Transform(paths=((_BODY_FORM_NAME, path),),
                         build=_compile_string(f"<{_BODY_FORM_NAME}>", frozenset({_BODY_FORM_NAME}), "body"))
    assert config.paths is not None  # TransformConfig requires one of the two forms
    paths = []
    for name, text in config.paths.items():
        if not NAME_PATTERN.fullmatch(name):
            raise TransformConfigError(f"paths.{name}", "a name is letters, digits, '_', '-' and '.' (at most 100)")
        paths.append((name, _path_or_error(text, f"paths.{name}")))
    build = _compile_template(config.template, frozenset(config.paths), "template")
    used = set(_placeholders(config.template))  # a path the template never uses is never read
    return Transform(paths=tuple((name, path) for name, path in paths if name in used), build=build)


def _placeholders(node: Any) -> Iterator[str]:
    """The names of the placeholders in a template's values."""
    if isinstance(node, str):
        yield from (match.group(1) for match in PLACEHOLDER.finditer(node))
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _placeholders(value)
    elif isinstance(node, list):
        for item in node:
            yield from _placeholders(item)


def _path_or_error(text: object, where: str) -> DocumentPath:
    try:
        return parse_document_path(text)
    except ValueError as error:
        raise TransformConfigError(where, str(error)) from None
