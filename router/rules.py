"""Routes compiled from the config: which destinations an event goes to, and with which payload.

Compiled once per config load. A route without `sources` sees only verified sources, so a catch-all route
never forwards (and re-signs) unauthenticated input; a route that names an unverified source sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from hookpipe.config import Config, ConfigError
from hookpipe.event import Event
from router.pattern import Matcher, PatternError, compile_pattern, needs_field


class UnparsableBody(ValueError):
    """A route needs to look into the body, and the body is not JSON."""


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    sources: frozenset[str] | None
    matcher: Matcher | None  # None: no filter, every eligible event matches
    needs_body: bool
    destinations: tuple[str, ...]

    def sees(self, event: Event) -> bool:
        return event.source in self.sources if self.sources is not None else event.verified


@dataclass(frozen=True, slots=True)
class Delivery:
    destination: str
    body: bytes  # the payload the destination receives (the raw body unless a transform changes it)


class MatchDocument(Mapping[str, Any]):
    """`{id, source, type, headers, body}` for one event; the body is parsed on first access, at most once."""

    __slots__ = ("_body", "_body_parsed", "_event")

    def __init__(self, event: Event) -> None:
        self._event = event
        self._body: Any = None
        self._body_parsed = False

    def _parsed_body(self) -> Any:
        if not self._body_parsed:
            try:
                self._body = orjson.loads(self._event.body)
            except orjson.JSONDecodeError:
                raise UnparsableBody("the body is not JSON") from None
            self._body_parsed = True
        return self._body

    def __getitem__(self, key: str) -> Any:
        event = self._event
        if key == "id":
            return event.id
        if key == "source":
            return event.source
        if key == "type":
            return event.type  # null when the provider sends no type (DESIGN.md §1)
        if key == "headers":
            return event.headers
        if key == "body":
            return self._parsed_body()
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in ("id", "source", "type", "headers", "body")

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(("id", "source", "type", "headers", "body"))

    def __len__(self) -> int:
        return 5


class RouteTable:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes

    def match(self, event: Event) -> tuple[list[str], list[Delivery]]:
        """The names of the matching routes, and one delivery per destination (first route wins)."""
        document = MatchDocument(event)
        matched: list[str] = []
        deliveries: dict[str, Delivery] = {}
        for route in self.routes:
            if not route.sees(event):
                continue
            if route.matcher is not None and not route.matcher(document):
                continue
            matched.append(route.name)
            for destination in route.destinations:
                deliveries.setdefault(destination, Delivery(destination, event.body))
        return matched, list(deliveries.values())


def compile_routes(config: Config) -> RouteTable:
    """Compile every route; raises ConfigError naming the route and the problem."""
    routes = []
    problems = []
    for index, route in enumerate(config.routes):
        matcher = None
        if route.filter is not None:
            try:
                matcher = compile_pattern(route.filter)
            except PatternError as error:
                problems.append(f"routes[{index}].filter.{error.path}: {error.problem} (route '{route.name}')")
                continue
        if route.transform is not None:
            problems.append(f"routes[{index}].transform: transforms are not supported yet (route '{route.name}')")
            continue
        routes.append(
            Route(
                name=route.name,
                sources=frozenset(route.sources) if route.sources is not None else None,
                matcher=matcher,
                needs_body=needs_field(route.filter or {}, "body"),
                destinations=tuple(route.to),
            )
        )
    if problems:
        raise ConfigError(problems)
    return RouteTable(routes)
