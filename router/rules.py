"""Routes compiled from the config: which destinations an event goes to, and with which payload.

Compiled once per config load. A route without `sources` sees only verified sources, so a catch-all route
never forwards (and re-signs) unauthenticated input; a route that names an unverified source sees it.
A destination reached by several matching routes gets one delivery, shaped by the first of them: the raw
body, untouched, unless that route has a transform (router/transform.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from hookpipe.config import Config, ConfigError
from hookpipe.event import Event
from router.budget import UNLIMITED, MatchBudget
from router.matcher import RouteMatcher
from router.pattern import CompiledPattern, PatternError, compile_pattern
from router.transform import Transform, TransformConfigError, TransformError, compile_transform

#: The content type of a transformed delivery (a transform's output is always JSON).
TRANSFORMED_CONTENT_TYPE = "application/json"


_NOWHERE: frozenset[str] = frozenset()


class UnparsableBody(ValueError):
    """A route needs to look into the body, and the body is not JSON."""


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    sources: frozenset[str] | None
    matcher: CompiledPattern | None  # None: no filter, every eligible event matches
    destinations: tuple[str, ...]
    transform: Transform | None = None  # None: the destination receives the raw body


@dataclass(frozen=True, slots=True)
class Delivery:
    destination: str
    body: bytes  # the payload the destination receives (the raw body unless a transform changes it)
    route: str = ""  # the route that shaped this delivery
    content_type: str | None = None  # None: the event's own; a transform's output is application/json


class MatchDocument(Mapping[str, Any]):
    """`{id, source, type, headers, body}` for one event; the body is parsed on first access, at most once, and
    `budget` checked once it is (a parse cannot be stopped midway, but a large one is not followed by matching
    when it alone used the budget up)."""

    __slots__ = ("_body", "_body_parsed", "_budget", "_event")

    def __init__(self, event: Event, budget: MatchBudget = UNLIMITED) -> None:
        self._event = event
        self._budget = budget
        self._body: Any = None
        self._body_parsed = False

    def _parsed_body(self) -> Any:
        if not self._body_parsed:
            try:
                self._body = orjson.loads(self._event.body)
            except orjson.JSONDecodeError:
                raise UnparsableBody("the body is not JSON") from None
            self._body_parsed = True
            self._budget.check()
        return self._body

    def __getitem__(self, key: str) -> Any:
        event = self._event
        if key == "id":
            return event.id
        if key == "source":
            return event.source
        if key == "type":
            return event.type  # null when the provider sends no type (docs/architecture.md, "What flows")
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
    """The compiled routes of one config, behind an index (router.matcher) whose cost per event does not grow
    with every route."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes
        self.index: RouteMatcher[int] = RouteMatcher(
            (position, route.matcher, route.sources) for position, route in enumerate(routes)
        )
        # The destinations each source's events can reach, for `reachable`.
        self._unrestricted = frozenset(name for route in routes if route.sources is None for name in route.destinations)
        by_source: dict[str, set[str]] = {}
        for route in routes:
            for source in route.sources or ():
                by_source.setdefault(source, set()).update(route.destinations)
        self._by_source = {source: frozenset(names) for source, names in by_source.items()}
        self._by_verified_source = {source: names | self._unrestricted for source, names in self._by_source.items()}

    def reachable(self, event: Event) -> frozenset[str]:
        """Every destination this event could be delivered to, whatever its body: those of the routes that can
        see it (looked up, without matching)."""
        if event.verified:
            return self._by_verified_source.get(event.source, self._unrestricted)
        return self._by_source.get(event.source, _NOWHERE)

    def match(self, event: Event, budget: MatchBudget = UNLIMITED) -> tuple[list[str], list[Delivery]]:
        """The names of the matching routes, and one delivery per destination (first route wins).

        A replayed event may be restricted (hookpipe replay): `replay_route` evaluates that route alone,
        `replay_destination` keeps only the delivery to that destination. Raises UnparsableBody when a filter
        looks into a body that is not JSON, TransformError when a transform cannot be applied, and
        MatchBudgetExceeded when the work takes more than `budget` (router.budget): in each case nothing of this
        event is delivered.
        """
        document = MatchDocument(event, budget)
        matched: list[str] = []
        deliveries: dict[str, Delivery] = {}
        for position in self.index.match(document, verified=event.verified, budget=budget):
            route = self.routes[position]
            if not _replay_considers(event, route):
                continue
            matched.append(route.name)
            new = [destination for destination in route.destinations if destination not in deliveries]
            if event.replay_destination is not None:
                new = [destination for destination in new if destination == event.replay_destination]
            if not new:
                continue  # an earlier route shapes every delivery of this one: its transform is not needed
            body, content_type = _payload(route, event, document)
            if route.transform is not None:
                budget.check()
            for destination in new:
                deliveries[destination] = Delivery(destination, body, route.name, content_type)
        return matched, list(deliveries.values())


def _replay_considers(event: Event, route: Route) -> bool:
    """False for a route a restricted replay leaves out: not the route asked for, or not to the destination."""
    if event.replay_route is not None and route.name != event.replay_route:
        return False
    return event.replay_destination is None or event.replay_destination in route.destinations


def _payload(route: Route, event: Event, document: MatchDocument) -> tuple[bytes, str | None]:
    if route.transform is None:
        return event.body, None
    try:
        return route.transform.render(document), TRANSFORMED_CONTENT_TYPE
    except (UnparsableBody, TransformError) as error:
        raise TransformError(f"route '{route.name}': {error}") from None


def compile_routes(config: Config) -> RouteTable:
    """Compile every route; raises ConfigError naming the route and the problem."""
    routes = []
    problems = []
    for index, route in enumerate(config.routes):
        where = f"routes[{index}]"
        matcher: CompiledPattern | None = None
        transform: Transform | None = None
        failed = False
        if route.filter is not None:
            try:
                matcher = compile_pattern(route.filter)
            except PatternError as error:
                problems.append(f"{where}.filter.{error.path}: {error.problem} (route '{route.name}')")
                failed = True
        if route.transform is not None:
            try:
                transform = compile_transform(route.transform)
            except TransformConfigError as error:
                problems.append(f"{where}.transform.{error.where}: {error.problem} (route '{route.name}')")
                failed = True
        if failed:
            continue
        routes.append(
            Route(
                name=route.name,
                sources=frozenset(route.sources) if route.sources is not None else None,
                matcher=matcher,
                destinations=tuple(route.to),
                transform=transform,
            )
        )
    if problems:
        raise ConfigError(problems)
    return RouteTable(routes)
