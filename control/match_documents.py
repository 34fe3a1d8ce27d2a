"""The events `hookpipe routes test` routes: match documents (JSON files, or one per line on stdin), or a raw
body as a provider posts it, made into the event ingest would publish for it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from hookpipe.event import Event
    from ingest.app import Source

#: The keys of a match document given to `routes test`; `verified` is optional and true by default.
EVENT_KEYS = ("id", "source", "type", "headers", "body", "verified")

#: A match document's keys as the messages of `routes test` show them.
MATCH_DOCUMENT = "{" + ", ".join(f'"{key}"' for key in EVENT_KEYS) + "}"

#: Content type of a raw body given to `routes test --body` without a `--header content-type=...`.
RAW_BODY_CONTENT_TYPE = "application/json"


def read_events(arguments: list[str]) -> Iterator[tuple[str, Event | None]]:
    """(label, event) per event in input order; None, after printing why, for one that cannot be read."""
    for argument in arguments:
        if argument == "-":
            for number, line in enumerate(sys.stdin.buffer, start=1):
                if line.strip():
                    yield parse_event(f"<stdin>:{number}", line)
            continue
        try:
            data = Path(argument).read_bytes()
        except OSError as error:
            print(f"hookpipe: cannot read event {argument}: {error.strerror}", file=sys.stderr)
            yield argument, None
            continue
        yield parse_event(argument, data)


def parse_event(label: str, data: bytes) -> tuple[str, Event | None]:
    try:
        return label, event_from_document(orjson.loads(data))
    except orjson.JSONDecodeError as error:
        problem = f"not JSON ({error})"
    except NotAMatchDocument as error:  # most likely a provider's payload, given as it was posted
        body = "FILE" if label.startswith("<stdin>") else label
        problem = (f"{error}: an EVENT is a match document, {MATCH_DOCUMENT} with the provider's payload under "
                   f"\"body\"; to test a raw payload as the provider posts it, give --source NAME --body {body}")
    except ValueError as error:
        problem = str(error)
    print(f"hookpipe: cannot read event {label}: {problem}", file=sys.stderr)
    return label, None


class NotAMatchDocument(ValueError):
    """A JSON object with keys a match document does not have."""


def event_from_document(document: Any) -> Event:
    """The event a match document describes; the raw body is the document's body as compact JSON. Raises
    ValueError saying what is wrong (NotAMatchDocument for a key a match document does not have)."""
    from hookpipe.event import Event, now_ms

    if not isinstance(document, dict):
        raise ValueError("expected a JSON object with id, source, type, headers and body")
    unknown = sorted(set(document).difference(EVENT_KEYS))
    if unknown:
        raise NotAMatchDocument(f"unknown key '{unknown[0]}'")
    for key in ("id", "source", "body"):
        if key not in document:
            raise ValueError(f"'{key}' is required")
    if not isinstance(document["id"], str) or not document["id"]:
        raise ValueError("'id' must be a non-empty string")
    if not isinstance(document["source"], str) or not document["source"]:
        raise ValueError("'source' must be a non-empty string")
    if not isinstance(document.get("type"), str | None):
        raise ValueError("'type' must be a string or null")
    headers = document.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(value, str) for value in headers.values()):
        raise ValueError("'headers' must be an object of strings")
    verified = document.get("verified", True)
    if not isinstance(verified, bool):
        raise ValueError("'verified' must be true or false")
    return Event(
        id=document["id"], source=document["source"], type=document.get("type"), received_at=now_ms(),
        verified=verified, content_type="application/json", body=orjson.dumps(document["body"]),
        headers={name.lower(): value for name, value in headers.items()},
    )


def raw_event(args: argparse.Namespace, source: Source) -> tuple[str, Event | None]:
    """The event ingest would publish for a request to `source` with this body and these headers: the id and
    type found where ingest finds them (unless given), the headers ingest keeps, the body byte for byte."""
    import time

    from hookpipe.event import Event, now_ms
    from ingest.app import identify
    from ingest.verify import InboundRequest, Rejected

    label = "<stdin>" if args.body == "-" else args.body
    try:
        body = sys.stdin.buffer.read() if args.body == "-" else Path(args.body).read_bytes()
    except OSError as error:
        print(f"hookpipe: cannot read body {label}: {error.strerror}", file=sys.stderr)
        return label, None
    headers: dict[str, str] = {}
    for name, value in args.header:  # a repeated header's values joined, as ingest joins them
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    request = InboundRequest(method="POST", query_string="", headers=headers, body=body, now=time.time())
    try:
        event_id, event_type, _ = identify(source, request)
    except Rejected as rejection:  # ingest would answer 400
        print(f"hookpipe: cannot read body {label}: ingest would refuse it ({rejection.reason})", file=sys.stderr)
        return label, None
    kept = {name: value for name, value in headers.items()
            if name not in source.dropped_headers and not name.startswith("x-hookpipe-")}
    return label, Event(
        id=args.id or event_id, source=source.name, type=args.type or event_type, received_at=now_ms(),
        verified=not source.config.unverified, content_type=headers.get("content-type", RAW_BODY_CONTENT_TYPE),
        body=body, headers=kept,
    )


def header(text: str) -> tuple[str, str]:
    """`--header NAME=VALUE` (or `NAME: VALUE`) as a lower-case name and a value."""
    cut = min((text.index(mark) for mark in "=:" if mark in text), default=-1)
    name, value = text[:cut].strip().lower(), text[cut + 1:].strip()
    if cut < 0 or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got '{text}'")
    return name, value
