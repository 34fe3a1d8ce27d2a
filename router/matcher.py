"""Which routes match a document, without trying every route on every event.

Built once per config load. Each alternative of each route's pattern (its `$or` combinations) is an **entry**,
indexed under an **anchor**: a field it requires, with the exact values or prefixes that field must have, or
failing those, the field's presence; of the fields it offers, the one whose buckets are shared with the fewest
other entries. An entry with fields both outside the body and in it gets one anchor of each, and is a
candidate only when both hold (its body anchor is kept in a small index inside the bucket of the other). A
route's `sources` count as an exact anchor on `source`. Entries with no anchor at all (every field
`{"exists": false}`, or no pattern) are kept in a residual list and always evaluated.

For an event, the matcher reads each anchor field once (values are shared with the patterns through
DocumentFields), looks the values up in dictionaries, and evaluates only the candidate entries, in route order,
less the conditions their anchors already proved. The cost per event grows with the number of anchor fields
and of candidates, not with the number of routes.

The body is parsed lazily by the match document and never touched unless a route that can see the event needs
it: body anchors are looked up only once the other anchor of a visible route holds, or a visible route has
fields in the body alone; a candidate's own fields outside the body are checked before those in it. An
unparsable body then raises from the document (router.rules.UnparsableBody).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from router.budget import UNLIMITED, MatchBudget
from router.pattern import BODY, CompiledPattern, PatternField, compile_pattern
from router.pattern_events import Alternative, DocumentFields, FieldPath, Leaf, field_path

K = TypeVar("K")
RoutePattern = Mapping[str, Any] | CompiledPattern | None  # a pattern, compiled or not; None matches everything

SOURCE = "source"  # the match document field a route's `sources` restricts
PRESENCE_COST_FACTOR = 4  # a field's mere presence is a weaker anchor than any of its values, all else equal

_EXACT, _PREFIX, _PRESENCE = 0, 1, 2  # anchor kinds, strongest first


@dataclass(frozen=True, slots=True)
class _Anchor:
    name: str
    kind: int
    keys: tuple[tuple[str, Any], ...]  # (tag, value): "s" string, "n" number, "c" constant, "p" prefix

    @property
    def in_body(self) -> bool:
        return self.name == BODY or self.name.startswith(BODY + ".")

    @property
    def proves(self) -> bool:
        """Whether a hit proves the condition it came from (for values in no array): strings, constants and
        prefixes are looked up exactly as the condition tests them; numbers are not (2**60 and 2.0**60)."""
        return self.kind != _PRESENCE and all(tag != "n" for tag, _ in self.keys)


@dataclass(eq=False, slots=True)
class _Bucket:
    """The entries behind one value (or prefix, or presence) of an anchor field."""

    entries: list[int] = field(default_factory=list)  # anchored here, and nowhere else
    inside: _Index | None = None  # anchored here and in the body: by their anchor in the body
    # who can see the entries of `inside`: any route without sources (when verified), or these sources
    inside_unrestricted: bool = False
    inside_sources: set[str] = field(default_factory=set)

    def sees(self, source: Any, verified: bool) -> bool:
        return (verified and self.inside_unrestricted) or source in self.inside_sources


@dataclass(slots=True)
class _FieldIndex:
    """The buckets of one anchor field, by the values or prefixes that lead to them."""

    path: FieldPath
    strings: dict[str, _Bucket] = field(default_factory=dict)
    numbers: dict[float, _Bucket] = field(default_factory=dict)  # an int value finds its equal float
    constants: dict[bool | None, _Bucket] = field(default_factory=dict)
    prefixes: dict[str, _Bucket] = field(default_factory=dict)
    prefix_lengths: tuple[int, ...] = ()  # the lengths of the prefixes, shortest first
    present: _Bucket | None = None

    def buckets(self, anchor: _Anchor) -> list[_Bucket]:
        """The buckets of `anchor`, made on first use."""
        if anchor.kind == _PRESENCE:
            if self.present is None:
                self.present = _Bucket()
            return [self.present]
        tables: dict[str, dict[Any, _Bucket]] = {
            "s": self.strings, "n": self.numbers, "c": self.constants, "p": self.prefixes}
        found = [tables[tag].setdefault(value, _Bucket()) for tag, value in anchor.keys]
        lengths = {len(value) for tag, value in anchor.keys if tag == "p"}
        if not lengths <= set(self.prefix_lengths):
            self.prefix_lengths = tuple(sorted(lengths.union(self.prefix_lengths)))
        return found

    def hits(self, leaves: list[Leaf], found: set[_Bucket]) -> None:
        if not leaves:
            return
        if self.present is not None:
            found.add(self.present)
        strings, numbers, constants, prefixes = self.strings, self.numbers, self.constants, self.prefixes
        for value, _ in leaves:
            kind = type(value)
            if kind is str:
                bucket = strings.get(value)
                if bucket is not None:
                    found.add(bucket)
                for length in self.prefix_lengths:
                    if length > len(value):
                        break
                    bucket = prefixes.get(value[:length])
                    if bucket is not None:
                        found.add(bucket)
            elif kind is int or kind is float:
                bucket = numbers.get(value)
                if bucket is not None:
                    found.add(bucket)
            elif kind is bool or value is None:
                bucket = constants.get(value)
                if bucket is not None:
                    found.add(bucket)


class _Index:
    """Anchor fields, each with its buckets."""

    def __init__(self) -> None:
        self.fields: dict[str, _FieldIndex] = {}

    def buckets(self, anchor: _Anchor) -> list[_Bucket]:
        index = self.fields.get(anchor.name)
        if index is None:
            index = self.fields[anchor.name] = _FieldIndex(field_path(anchor.name))
        return index.buckets(anchor)

    def add(self, anchor: _Anchor, entry: int) -> None:
        for bucket in self.buckets(anchor):
            bucket.entries.append(entry)

    def hits(self, fields: DocumentFields, found: set[_Bucket]) -> None:
        for index in self.fields.values():
            index.hits(fields.leaves(index.path), found)

    def entries(self, fields: DocumentFields, found: set[int]) -> None:
        buckets: set[_Bucket] = set()
        for index in self.fields.values():
            index.hits(fields.leaves(index.path), buckets)
        for bucket in buckets:
            found.update(bucket.entries)


class RouteMatcher(Generic[K]):
    """Match many routes against one document at a time; built once per config load.

    `routes` is a sequence of `(key, pattern)` or `(key, pattern, sources)`: `key` is anything naming the route
    (returned as given), `pattern` an event pattern (a Mapping, compiled here: PatternError propagates), a
    CompiledPattern from router.pattern.compile_pattern, or None to match every document; `sources`, when given
    and not None, restricts the route to documents whose `source` field is one of them.

    `match(document, verified=..., budget=...)` returns the keys of the matching routes in route order; the work
    that grows with the document is spent from `budget` (router.budget), which raises MatchBudgetExceeded past
    it. A route without `sources` sees a document only when `verified` is true (routes that name no sources see
    only verified sources, docs/configuration.md `routes[]`); a route with `sources` sees documents from those
    sources, verified or not.
    """

    def __init__(self, routes: Iterable[tuple[K, RoutePattern] | tuple[K, RoutePattern, Collection[str] | None]],
                 ) -> None:
        self._keys: list[K] = []
        self._sources: list[frozenset[str] | None] = []
        entry_routes: list[int] = []  # alternative entry -> route position
        entry_anchors: list[list[_Anchor]] = []  # the anchors each entry could be indexed under
        self._entry_full: list[Alternative | None] = []  # None: a route without pattern
        for position, route in enumerate(routes):
            key, pattern = route[0], route[1]
            sources = route[2] if len(route) == 3 else None
            compiled = None if pattern is None else (
                pattern if isinstance(pattern, CompiledPattern) else compile_pattern(pattern))
            names = None if sources is None else frozenset(_as_strings(sources))
            self._keys.append(key)
            self._sources.append(names)
            source_anchor = [] if names is None else [_Anchor(SOURCE, _EXACT, tuple(("s", name) for name in names))]
            if compiled is None:
                entry_routes.append(position)
                entry_anchors.append(source_anchor)
                self._entry_full.append(None)
                continue
            for fields, evaluator in zip(compiled.alternatives, compiled.evaluators, strict=True):
                entry_routes.append(position)
                entry_anchors.append(source_anchor + [anchor for item in fields for anchor in _anchors(item)])
                self._entry_full.append(evaluator)
        self._entry_routes = entry_routes
        self._build(entry_anchors)

    def _build(self, entry_anchors: list[list[_Anchor]]) -> None:
        """Choose each entry's anchors, outside the body and in it: each the one whose buckets will hold the
        fewest other entries. An entry with both is found by the first, then by the second within its buckets."""
        load: Counter[tuple[str, int, Any]] = Counter()
        for anchors in entry_anchors:
            for anchor in set(anchors):
                for key in anchor.keys or (None,):
                    load[anchor.name, anchor.kind, key] += 1

        def cost(anchor: _Anchor) -> tuple[int, bool, int]:
            spread = sum(load[anchor.name, anchor.kind, key] for key in anchor.keys or (None,))
            if anchor.kind == _PRESENCE:
                spread *= PRESENCE_COST_FACTOR
            # at equal spread, any field rather than `source`: a pipeline has a handful of sources
            return (spread, anchor.name == SOURCE, anchor.kind)

        self._outside = _Index()  # entries by their anchor outside the body
        self._body_only = _Index()  # entries with fields in the body alone (never restricted to sources)
        self._residual: list[int] = []  # entries with no anchor: always evaluated
        # An entry found through its anchors need not test again the conditions they prove: `_entry_reduced`
        # is its alternative without them, valid when their fields' values lie in no array (`_entry_proven`).
        self._entry_proven: list[tuple[str, ...]] = []
        self._entry_reduced: list[Alternative | None] = []
        for entry, anchors in enumerate(entry_anchors):
            outside = [anchor for anchor in anchors if not anchor.in_body]
            inside = [anchor for anchor in anchors if anchor.in_body]
            chosen = [min(group, key=cost) for group in (outside, inside) if group]
            full = self._entry_full[entry]
            proven = tuple(anchor.name for anchor in chosen if anchor.proves and anchor.name != SOURCE)
            self._entry_proven.append(proven)
            self._entry_reduced.append(full.without(proven) if full is not None and proven else full)
            if not outside:
                if inside:
                    self._body_only.add(chosen[0], entry)
                else:
                    self._residual.append(entry)
                continue
            buckets = self._outside.buckets(chosen[0])
            if not inside:
                for bucket in buckets:
                    bucket.entries.append(entry)
                continue
            sources = self._sources[self._entry_routes[entry]]
            for bucket in buckets:
                if bucket.inside is None:
                    bucket.inside = _Index()
                bucket.inside.add(chosen[1], entry)
                if sources is None:
                    bucket.inside_unrestricted = True
                else:
                    bucket.inside_sources |= sources

    def match(self, document: Mapping[str, Any], *, verified: bool = True,
              budget: MatchBudget = UNLIMITED) -> list[K]:
        fields = DocumentFields(document, budget)
        source = document.get(SOURCE)
        found: set[int] = set(self._residual)
        buckets: set[_Bucket] = set()
        self._outside.hits(fields, buckets)
        waiting: list[_Bucket] = []  # buckets whose entries also need their anchor in the body
        insides: list[_Index] = []
        for bucket in buckets:
            found.update(bucket.entries)
            if bucket.inside is not None:
                waiting.append(bucket)
                insides.append(bucket.inside)
        if any(bucket.sees(source, verified) for bucket in waiting):
            for inside in insides:
                inside.entries(fields, found)  # reads the body
        if verified and self._body_only.fields:
            self._body_only.entries(fields, found)  # reads the body
        # Entries are numbered in route order: the first matching alternative of a route decides it.
        matched = []
        routes, keys, full, reduced, proven = (self._entry_routes, self._keys, self._entry_full,
                                               self._entry_reduced, self._entry_proven)
        route_sources, arrayed = self._sources, fields.arrayed
        decided = -1
        for entry in sorted(found):
            position = routes[entry]
            if position == decided:
                continue
            sources = route_sources[position]
            if not (verified if sources is None else source in sources):
                continue
            # its anchors proved some of its conditions, unless a value of theirs lies in an array
            alternative = full[entry] if arrayed and not arrayed.isdisjoint(proven[entry]) else reduced[entry]
            if alternative is None or alternative.matches(fields):
                matched.append(keys[position])
                decided = position
        return matched

    def __len__(self) -> int:
        return len(self._keys)


def _as_strings(sources: Collection[Any]) -> list[str]:
    if isinstance(sources, str):
        raise TypeError("sources must be a collection of source names, not a string")
    return [str(source) for source in sources]


def _anchors(item: PatternField) -> list[_Anchor]:
    """The anchors one field of an alternative offers: its values or prefixes, and its presence."""
    field_test = item.field_test
    if field_test.test is None or field_test.absent_ok:
        return []  # satisfied by absence: nothing is required of the document
    anchors = [_Anchor(item.name, _PRESENCE, ())]
    if field_test.anchor_strings is not None:
        keys = (*(("s", value) for value in field_test.anchor_strings),
                *(("n", value) for value in field_test.anchor_numbers),
                *(("c", value) for value in field_test.anchor_constants),
                *(("p", prefix) for prefix in field_test.anchor_prefixes))
        anchors.append(_Anchor(item.name, _PREFIX if field_test.anchor_prefixes else _EXACT, keys))
    return anchors
