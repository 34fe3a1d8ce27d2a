"""How a compiled pattern reads a document: the values of a field, and array-consistent matching.

A field is a dotted name (`body.data.object.amount`). Its values in a document are the scalars found by
following the name's segments through objects, where one object key may also stand for several segments
(`{"data.object": ...}`), and through arrays, whose elements are all visited (nested arrays flattened). Each
value remembers the element it came from in every array of objects or arrays it was reached through (its
array membership): the values one alternative of a pattern matches must agree on those elements, so
`{"items": {"sku": ["A"], "qty": [2]}}` needs one item with both, as in event-ruler.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from router.budget import UNLIMITED, MatchBudget

Membership = tuple[tuple[int, int], ...]  # (id() of the array, element index), outermost first
Leaf = tuple[Any, Membership]
ValueTest = Callable[[Any], bool]

_NO_MEMBERSHIP: Membership = ()
_SCALARS = (str, int, float, bool, type(None))
_MISSING = object()


class FieldPath:
    """Where a dotted field name's values are in a document."""

    __slots__ = ("_end", "_first", "_joined_first", "_rest", "_steps", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        segments = name.split(".")
        self._end = len(segments)
        # _steps[i]: the object keys that consume segments i..j-1, with j; the plain one-segment key first.
        self._steps = tuple(
            tuple((".".join(segments[start:stop]), stop) for stop in range(start + 1, len(segments) + 1))
            for start in range(len(segments))
        )
        # For the fast path: the plain key of each level, with the keys there that span several segments
        # (rare in events, so looked for in one go).
        self._first = segments[0]
        self._joined_first = tuple(key for key, _ in self._steps[0][1:])
        self._rest = tuple((segments[level], frozenset(key for key, _ in self._steps[level][1:]) or None)
                           for level in range(1, len(segments)))

    @property
    def top(self) -> str:
        """The first segment: the top-level key of a match document this field lives under."""
        return self._first

    def leaves(self, document: Mapping[str, Any], *, dotted_top: bool = True,
               budget: MatchBudget = UNLIMITED) -> list[Leaf]:
        """Every scalar value of the field, with its array membership. `dotted_top=False` promises that no
        top-level key of the document contains a dot. The array elements visited are spent from `budget`."""
        # Fast path: a chain of objects with plain keys, ending on a scalar (most fields of most events).
        if dotted_top and any(key in document for key in self._joined_first):
            return self._search(document, budget)
        first = self._first
        if first not in document:
            return []
        node = document[first]
        for key, joined in self._rest:
            if type(node) is not dict or (joined is not None and not node.keys().isdisjoint(joined)):
                return self._search(document, budget)
            node = node.get(key, _MISSING)
            if node is _MISSING:
                return []
        if isinstance(node, _SCALARS):
            return [(node, _NO_MEMBERSHIP)]
        return self._search(document, budget)

    def _search(self, document: Mapping[str, Any], budget: MatchBudget) -> list[Leaf]:
        """The general walk: arrays, keys spanning several segments, several ways to the same name."""
        found: list[Leaf] = []
        steps, end = self._steps, self._end
        pending: list[tuple[Any, int, Membership]] = [(document, 0, _NO_MEMBERSHIP)]
        while pending:
            node, segment, membership = pending.pop()
            if segment == end:
                if isinstance(node, _SCALARS):
                    found.append((node, membership))
                else:
                    _collect(node, membership, found, budget)
            elif type(node) is dict or (type(node) is not list and isinstance(node, Mapping)):
                for key, following in steps[segment]:
                    if key in node:
                        pending.append((node[key], following, membership))
            elif type(node) is list or type(node) is tuple:
                budget.spend(len(node))  # for the array at once: one pass over it costs little
                array = id(node)
                for index, element in enumerate(node):
                    if not isinstance(element, _SCALARS):  # a scalar in mid-path has no fields
                        pending.append((element, segment, (*membership, (array, index))))
        return found


@lru_cache(maxsize=65536)
def field_path(name: str) -> FieldPath:
    """The FieldPath of a name, shared by every pattern that names it (they are immutable)."""
    return FieldPath(name)


def _collect(node: Any, membership: Membership, found: list[Leaf], budget: MatchBudget) -> None:
    """The scalars at the end of a path: the node itself, or the elements of an array, nested arrays
    flattened. An object there has no value of its own (its fields are longer names)."""
    if isinstance(node, _SCALARS):
        found.append((node, membership))
    elif type(node) is list or type(node) is tuple:
        budget.spend(len(node))
        array = id(node)
        for index, element in enumerate(node):
            if isinstance(element, _SCALARS):  # scalars of an array share its membership, objects and arrays don't
                found.append((element, membership))
            elif type(element) is list or type(element) is tuple:
                _collect(element, (*membership, (array, index)), found, budget)


class DocumentFields:
    """The values of each field of one document, extracted on first use and shared by every pattern; the work
    that grows with the document is spent from `budget` (router/budget.py), which stops it past its limit."""

    __slots__ = ("_dotted_top", "_trees", "arrayed", "budget", "document", "known")

    def __init__(self, document: Mapping[str, Any], budget: MatchBudget = UNLIMITED) -> None:
        self.document = document
        self.budget = budget
        self.known: dict[str, list[Leaf]] = {}  # field name -> its values, for those read so far
        self.arrayed: set[str] = set()  # the fields read so far with a value in an array of objects or arrays
        self._dotted_top = any("." in key for key in document)  # the match document's five keys: never
        self._trees: dict[str, _FieldTree] = {}  # field name -> its values by array element, for array matching

    def leaves(self, path: FieldPath) -> list[Leaf]:
        found = self.known.get(path.name)
        if found is None:
            found = self.known[path.name] = path.leaves(self.document, dotted_top=self._dotted_top,
                                                                 budget=self.budget)
            for _, membership in found:
                if membership:
                    self.arrayed.add(path.name)
                    break
        return found

    def tree(self, path: FieldPath) -> _FieldTree:
        found = self._trees.get(path.name)
        if found is None:
            found = self._trees[path.name] = _FieldTree(self.leaves(path), self.budget)
        return found


@dataclass(frozen=True, slots=True)
class Condition:
    """One field of one alternative: the field must have a value that passes `test`, or (when `absent_ok`,
    from `{"exists": false}`) no value at all in the array elements matched so far."""

    path: FieldPath
    test: ValueTest | None  # None: the field's list holds only {"exists": false}
    absent_ok: bool


@dataclass(frozen=True, slots=True)
class Alternative:
    """Fields that must all match (a pattern, or one combination of its `$or` branches).

    `groups` splits the conditions by top-level key (no array spans two of them, so each group is solved on
    its own), keeping event-ruler's order within a group: conditions in name order, each `exists: false`
    checked against the array elements chosen by the names before it, each later value looked up within them.
    """

    groups: tuple[tuple[Condition, ...], ...]

    def without(self, names: Collection[str]) -> Alternative:
        """The same alternative less the conditions on `names`, for a caller that knows they hold and that
        their values lie in no array (then they choose no array element and leave the others unconstrained)."""
        groups = (tuple(condition for condition in group if condition.path.name not in names) for group in self.groups)
        return Alternative(tuple(group for group in groups if group))

    def matches(self, fields: DocumentFields) -> bool:
        # Condition by condition while no value lies in an array of objects (then any value will do); the full
        # search for a group as soon as one of its values does.
        known = fields.known
        for group in self.groups:
            for condition in group:
                path = condition.path
                leaves = known.get(path.name)
                if leaves is None:
                    leaves = fields.leaves(path)
                if not leaves:
                    if condition.absent_ok:
                        continue
                    return False
                if leaves[0][1] or (len(leaves) > 1 and any(membership for _, membership in leaves)):
                    if not _solve(group, fields):
                        return False
                    break
                test = condition.test
                if test is None:
                    return False
                if len(leaves) == 1:
                    if not test(leaves[0][0]):
                        return False
                    continue
                fields.budget.spend(len(leaves))
                for value, _ in leaves:
                    if test(value):
                        break
                else:
                    return False
        return True


def _solve(conditions: tuple[Condition, ...], fields: DocumentFields) -> bool:
    """Whether the conditions, in order, can all be met by values from consistent array elements: event-ruler's
    backtracking search, each condition choosing a value whose elements agree with those chosen before it.

    The search is memoised, so that it costs at most (conditions x body size), never combinations: whether the
    conditions from `position` on can be met depends only on the chosen elements of the arrays those conditions
    reach (`_relevant`), so a failed (position, those elements) is never searched twice. Conditions are in name
    order and an array sits at a prefix of the names it holds, so the arrays both earlier and later conditions
    reach lie on one path of nested arrays: one choice per element of the body, each looked up in its element
    through the field's tree (`_FieldTree`) rather than among all the field's values.
    """
    trees = [fields.tree(condition.path) for condition in conditions]
    spend = fields.budget.spend
    relevant: list[frozenset[int]] = [frozenset()] * (len(conditions) + 1)
    for position in range(len(conditions) - 1, -1, -1):
        relevant[position] = relevant[position + 1] | trees[position].arrays
    failed: set[tuple[int, tuple[tuple[int, int], ...]]] = set()

    def search(position: int, chosen: dict[int, int]) -> bool:
        if position == len(conditions):
            return True
        key = (position, tuple(chosen.items()))
        if key in failed:
            return False
        spend()
        condition, tree, keep = conditions[position], trees[position], relevant[position + 1]
        if (condition.absent_ok and not tree.any_consistent(chosen, spend)
                and search(position + 1, {array: index for array, index in chosen.items() if array in keep})):
            return True
        test = condition.test
        if test is not None:
            for node in tree.looked_up(chosen, spend):
                spend()
                if any(test(value) for value in node.values):
                    extended = {array: index for array, index in chosen.items() if array in keep}
                    for array, index in node.path:
                        if array in keep and array not in extended:
                            extended[array] = index
                    if search(position + 1, extended):
                        return True
        failed.add(key)
        return False

    return search(0, {})


class _Node:
    """The values of a field in the same array elements (`path`, outermost first), and the elements below."""

    __slots__ = ("children", "path", "values")

    def __init__(self, path: Membership) -> None:
        self.path = path
        self.values: list[Any] = []
        self.children: dict[int, dict[int, _Node]] = {}  # array -> element index -> node


class _FieldTree:
    """A field's values arranged by array membership: a tree whose edges are (array, element index), so that
    the values in given elements are found without looking at the others."""

    __slots__ = ("arrays", "elements", "root")

    def __init__(self, leaves: list[Leaf], budget: MatchBudget = UNLIMITED) -> None:
        spend = budget.spend
        self.root = _Node(_NO_MEMBERSHIP)
        # (array, index) -> the nodes reached through that element: one, unless the document shares a list
        # between two places (only a document built in Python can)
        self.elements: dict[tuple[int, int], list[_Node]] = {}
        for value, membership in leaves:
            spend()
            node = self.root
            for depth, (array, index) in enumerate(membership):
                elements = node.children.get(array)
                if elements is None:
                    elements = node.children[array] = {}
                child = elements.get(index)
                if child is None:
                    child = elements[index] = _Node(membership[:depth + 1])
                    self.elements.setdefault((array, index), []).append(child)
                node = child
            node.values.append(value)
        self.arrays = frozenset(array for array, _ in self.elements)

    def any_consistent(self, chosen: dict[int, int], spend: Callable[[], None]) -> bool:
        """Whether some value lies in the chosen element of every chosen array it is in (depth first: the
        first element of an array that is not chosen has one at once). `spend()` is called for each node."""
        pending = [iter((self.root,))]
        while pending:
            node = next(pending[-1], None)
            if node is None:
                pending.pop()
                continue
            spend()
            if node.values:
                return True
            for array, elements in node.children.items():
                index = chosen.get(array)
                if index is None:
                    pending.append(iter(elements.values()))
                elif index in elements:
                    pending.append(iter((elements[index],)))
        return False

    def looked_up(self, chosen: dict[int, int], spend: Callable[[], None]) -> list[_Node]:
        """The nodes holding the values a condition may use once array elements are chosen, as event-ruler's
        default finder (StructuredFinder) looks them up: for the first chosen array holding any of the field's
        values, only its values in the chosen element, consistent with every other choice; the field's values
        outside that array are not considered at all (so `{"a": [{"b": "x", ...}], "a.b": "W"}` hides "W" once
        an element of `a` is chosen). When no chosen array holds any of its values, all of them. `spend()` is
        called for each node visited."""
        starts = [self.root]
        for array, index in chosen.items():
            if array in self.arrays:
                starts = [node for node in self.elements.get((array, index), ())
                          if all(chosen.get(outer, at) == at for outer, at in node.path)]
                break
        found: list[_Node] = []
        while starts:
            spend()
            node = starts.pop()
            if node.values:
                found.append(node)
            for array, elements in node.children.items():
                picked = chosen.get(array)
                if picked is None:
                    starts.extend(elements.values())
                elif picked in elements:
                    starts.append(elements[picked])
        return found
