"""Random patterns and events: the compiled matcher, and RouteMatcher over many routes, agree with a reference.

The reference below is the event-pattern semantics written as plainly as possible: patterns expanded into
their `$or` alternatives, events flattened into (dotted name, value, array membership) triples the way
event-ruler flattens them, and a recursive search per alternative. It shares no code with router/pattern*.py
or router/matcher.py, which are built for speed (indexes, fast paths, lazy field extraction).
"""

from __future__ import annotations

import itertools
import re
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router.matcher import RouteMatcher
from router.pattern import compile_pattern

# --- the reference interpreter -------------------------------------------------------------------------


def ref_matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    fields = ref_flatten(event)
    return any(ref_alternative_matches(alternative, fields) for alternative in ref_alternatives(pattern))


def ref_alternatives(pattern: dict[str, Any]) -> list[dict[str, list[Any]]]:
    """One {dotted name: list of items} per combination of `$or` branches; a later name replaces an earlier."""
    rules: list[dict[str, list[Any]]] = [{}]

    def walk(obj: dict[str, Any], prefix: list[str], rules: list[dict[str, list[Any]]]) -> None:
        for key, value in obj.items():
            if key == "$or":
                before = [dict(rule) for rule in rules]
                rules.clear()
                for branch in value:
                    branch_rules = [dict(rule) for rule in before]
                    walk(branch, prefix, branch_rules)
                    rules.extend(branch_rules)
            elif isinstance(value, dict):
                walk(value, [*prefix, key], rules)
            else:
                for rule in rules:
                    rule[".".join([*prefix, key])] = value

    walk(pattern, [], rules)
    return rules


Field = tuple[str, Any, dict[int, int]]


def ref_flatten(event: dict[str, Any]) -> list[Field]:
    """Every scalar with its dotted name and, for each array of objects or arrays it sits in, the element."""
    fields: list[Field] = []
    arrays = itertools.count()

    def visit(value: Any, path: list[str], membership: dict[int, int]) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                visit(child, [*path, key], membership)
        elif isinstance(value, list):
            array = next(arrays)
            for index, element in enumerate(value):
                inner = {**membership, array: index} if isinstance(element, dict | list) else membership
                visit(element, path, inner)
        else:
            fields.append((".".join(path), value, membership))

    visit(event, [], {})
    return fields


def consistent(membership: dict[int, int], chosen: dict[int, int]) -> bool:
    return all(chosen.get(array, index) == index for array, index in membership.items())


def ref_alternative_matches(alternative: dict[str, list[Any]], fields: list[Field]) -> bool:
    names = sorted(alternative, key=lambda name: name.encode("utf-16-be"))  # Java's string order

    def search(position: int, chosen: dict[int, int]) -> bool:
        if position == len(names):
            return True
        name = names[position]
        items = alternative[name]
        values = [(value, membership) for field, value, membership in fields if field == name]
        absent = not any(consistent(membership, chosen) for _, membership in values)
        if {"exists": False} in items and absent and search(position + 1, chosen):
            return True
        return any(consistent(membership, chosen) and any(ref_item(item, value, items) for item in items)
                   and search(position + 1, {**chosen, **membership})
                   for value, membership in ref_looked_up(values, chosen))

    return search(0, {})


def ref_looked_up(values: list[tuple[Any, dict[int, int]]], chosen: dict[int, int]) -> list[Any]:
    """event-ruler's StructuredFinder: within the first chosen array that holds some of the values, only the
    values of the chosen element; the others are not seen."""
    for array, index in chosen.items():
        inside = [(value, membership) for value, membership in values if array in membership]
        if inside:
            return [(value, membership) for value, membership in inside if membership[array] == index]
    return values


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def comparable(number: float) -> bool:
    """Whether the number's text is the shortest text of its double (every float drawn here is normal)."""
    try:
        return Decimal(repr(float(number))) == Decimal(repr(number) if isinstance(number, float) else number)
    except OverflowError:
        return False


def ref_item(item: Any, value: Any, items: list[Any]) -> bool:
    if not isinstance(item, dict):
        return ref_exact(item, value, items)
    (operator, argument), = item.items()
    if operator == "exists":
        return argument is True
    if operator == "anything-but":
        return not ref_excluded(argument, value)
    if operator == "numeric":
        return is_number(value) and comparable(value) and ref_numeric(argument, float(value))
    if operator == "cidr":
        digits = ref_digits(value, items)
        return digits is not None and ref_in_network(digits, argument)
    if not isinstance(value, str):
        return False
    if operator == "exactly":
        return bool(value == argument)
    if operator == "wildcard":
        return ref_wildcard(argument, value)
    if operator == "equals-ignore-case":
        return ref_ignore_case(argument, value, "equals")
    if isinstance(argument, dict):
        return ref_ignore_case(argument["equals-ignore-case"], value, operator)
    return value.startswith(argument) if operator == "prefix" else value.endswith(argument)


def ref_exact(item: Any, value: Any, items: list[Any]) -> bool:
    if item is None or isinstance(item, bool):
        return value is item
    if isinstance(item, str):
        if ref_address(item) is not None:  # an IP address matches the address, however written
            digits = ref_digits(value, items)
            return digits is not None and ref_hex_between(digits, ref_address(item), ref_address(item))  # type: ignore[arg-type]
        return isinstance(value, str) and value == item
    if not is_number(value):
        return False
    if comparable(item) and comparable(value):
        return float(item) == float(value)
    return not comparable(item) and not comparable(value) and type(item) is type(value) and item == value


def ref_excluded(argument: Any, value: Any) -> bool:
    if isinstance(argument, dict):
        (kind, texts), = argument.items()
        texts = texts if isinstance(texts, list) else [texts]
        if not isinstance(value, str):
            return False
        checks = {"prefix": lambda text: value.startswith(text), "suffix": lambda text: value.endswith(text),
                  "equals-ignore-case": lambda text: ref_ignore_case(text, value, "equals"),
                  "wildcard": lambda text: ref_wildcard(text, value)}
        return any(checks[kind](text) for text in texts)
    values = argument if isinstance(argument, list) else [argument]
    if all(isinstance(excluded, str) for excluded in values):
        return isinstance(value, str) and value in values
    return is_number(value) and comparable(value) and float(value) in {float(excluded) for excluded in values}


def ref_numeric(argument: list[Any], value: float) -> bool:
    checks = {"=": value.__eq__, "<": value.__lt__, "<=": value.__le__, ">": value.__gt__, ">=": value.__ge__}
    return all(checks[operator](float(bound)) for operator, bound in zip(argument[::2], argument[1::2], strict=True))


def ref_wildcard(pattern: str, value: str) -> bool:
    regex = "".join(".*" if token == "*" else re.escape(token[-1]) for token in re.findall(r"\\.|.", pattern))
    return re.fullmatch(regex, value, re.DOTALL) is not None


def ref_ignore_case(pattern: str, value: str, where: str) -> bool:
    """Each pattern character may be its lower or its upper case; one outside the BMP reads as '??'."""
    options = [{"??"} if ord(char) > 0xFFFF else {char.lower(), char.upper()} for char in pattern]

    def ends(position: int, start: int) -> list[int]:
        if position == len(options):
            return [start]
        return [end for option in options[position] if value.startswith(option, start)
                for end in ends(position + 1, start + len(option))]

    if where == "prefix":
        return bool(ends(0, 0))
    starts = range(len(value) + 1) if where == "suffix" else [0]
    return any(len(value) in ends(0, start) for start in starts)


def ref_address(text: str) -> str | None:
    """The address's hexadecimal digits, if `text` is a plain IPv4 or IPv6 address (IPv4-mapped: IPv4)."""
    try:
        if re.fullmatch(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*", text):
            # Java reads a group of any length that fits 16 bits
            address = IPv6Address(":".join(group if len(group) <= 4 else group.lstrip("0") or "0"
                                           for group in text.split(":")))
            if address.ipv4_mapped is not None:
                return f"{int(address.ipv4_mapped):08X}"
            return f"{int(address):032X}"
        if re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+", text) and len(text) <= 15:
            parts = [int(part) for part in text.split(".")]
            return f"{int(IPv4Address(bytes(parts))):08X}" if max(parts) <= 255 else None
    except ValueError:
        pass
    return None


def ref_digits(value: Any, items: list[Any]) -> str | None:
    """What event-ruler compares with IP ranges: an address's digits, or a number's own text when the field
    has no numeric pattern or cannot compare the number."""
    if isinstance(value, str):
        return ref_address(value)
    if not is_number(value):
        return None
    numeric = any(is_number(item) and comparable(item) for item in items) or any(
        isinstance(item, dict) and ("numeric" in item or (
            "anything-but" in item and not isinstance(item["anything-but"], dict | str)
            and not (isinstance(item["anything-but"], list) and all(isinstance(x, str) for x in item["anything-but"]))))
        for item in items)
    if numeric and comparable(value):
        return None
    return repr(value) if isinstance(value, float) else str(value)


def ref_in_network(digits: str, network: str) -> bool:
    address, bits = network.split("/")
    hex_digits = ref_address(address)
    assert hex_digits is not None
    width = len(hex_digits) * 4
    free = width - int(bits)
    low = int(hex_digits, 16) >> free << free
    high = low | ((1 << free) - 1)
    return ref_hex_between(digits, f"{low:0{len(hex_digits)}X}", f"{high:0{len(hex_digits)}X}")


def ref_hex_between(digits: str, low: str, high: str) -> bool:
    """Digit by digit, as a trie of the range: the first digits that leave both bounds decide."""
    on_low = on_high = True
    for position in range(len(low)):
        if position >= len(digits) or digits[position] not in "0123456789ABCDEF":
            return False
        digit = digits[position]
        if (on_low and digit < low[position]) or (on_high and digit > high[position]):
            return False
        on_low, on_high = on_low and digit == low[position], on_high and digit == high[position]
        if not on_low and not on_high:
            return True
    return True


# --- random patterns and events ------------------------------------------------------------------------

KEYS = ["a", "b", "a.b", "body", "body.a"]
STRINGS = ["", "x", "X", "xy", "ab", "aB", "10.0.0.1", "10.0.0.01", "10.0.0.9", "::a00:1", "2001:db8::1", "ß", "SS",
           "a*b"]
NUMBERS = [0, 1, -1, 5, 5.0, 0.5, -2.5, 2**53, 123]
ODD_NUMBERS = [2**60, 9007199254740993]  # not comparable as doubles: valid as exact values only
CONSTANTS = [None, True, False]
WILDCARDS = ["*", "x*", "*y", "a*b", "a\\*b", "*b*"]
NETWORKS = ["10.0.0.0/8", "10.0.0.0/31", "::/1", "2001:db8::/32", "0.0.0.0/0"]

strings = st.sampled_from(STRINGS)
numbers = st.sampled_from(NUMBERS)
scalars = st.sampled_from(STRINGS + NUMBERS + ODD_NUMBERS + CONSTANTS)
some = st.integers(min_value=1, max_value=3)


@st.composite
def numeric_bounds(draw: st.DrawFn) -> list[Any]:
    low, high = sorted(draw(st.lists(numbers, min_size=2, max_size=2, unique_by=float)), key=float)
    form = draw(st.sampled_from(["=", "<", "<=", ">", ">=", "range"]))
    if form == "range":
        return [draw(st.sampled_from([">", ">="])), low, draw(st.sampled_from(["<", "<="])), high]
    return [form, low]


def one_or_list(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return values | st.lists(values, min_size=1, max_size=3)


operators = st.one_of(
    st.builds(lambda text: {"prefix": text}, strings),
    st.builds(lambda text: {"suffix": text}, strings),
    st.builds(lambda text: {"prefix": {"equals-ignore-case": text}}, strings),
    st.builds(lambda text: {"suffix": {"equals-ignore-case": text}}, strings),
    st.builds(lambda text: {"equals-ignore-case": text}, strings),
    st.builds(lambda text: {"exactly": text}, strings),
    st.builds(lambda text: {"wildcard": text}, st.sampled_from(WILDCARDS)),
    st.builds(lambda value: {"anything-but": value}, one_or_list(strings) | one_or_list(numbers)),
    st.builds(lambda kind, value: {"anything-but": {kind: value}}, st.sampled_from(["prefix", "suffix"]),
              one_or_list(strings.filter(bool))),
    st.builds(lambda value: {"anything-but": {"equals-ignore-case": value}}, one_or_list(strings)),
    st.builds(lambda value: {"anything-but": {"wildcard": value}}, one_or_list(st.sampled_from(WILDCARDS))),
    st.builds(lambda bounds: {"numeric": bounds}, numeric_bounds()),
    st.builds(lambda value: {"exists": value}, st.booleans()),
    st.builds(lambda value: {"exists": value}, st.booleans()),
    st.builds(lambda value: {"exists": value}, st.booleans()),
    st.builds(lambda network: {"cidr": network}, st.sampled_from(NETWORKS)),
)
leaf_lists = st.lists(scalars | operators, min_size=1, max_size=2)


@st.composite
def patterns(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    pattern: dict[str, Any] = {}
    for _ in range(draw(some)):
        kind = draw(st.sampled_from(["leaf", "leaf", "object", "or"] if depth < 2 else ["leaf"]))
        if kind == "or":
            pattern["$or"] = draw(st.lists(patterns(depth + 1), min_size=2, max_size=3))
        elif kind == "object":
            pattern[draw(st.sampled_from(KEYS))] = draw(patterns(depth + 1))
        else:
            pattern[draw(st.sampled_from(KEYS))] = draw(leaf_lists)
    return pattern


def value_for(draw: st.DrawFn, item: Any) -> Any:
    """A value that may well match `item` (or not)."""
    if not isinstance(item, dict) or draw(st.integers(0, 5)) == 0:
        return item if not isinstance(item, dict) else draw(scalars)
    (operator, argument), = item.items()
    if isinstance(argument, dict):
        argument = next(iter(argument.values()))
    if isinstance(argument, list):
        argument = draw(st.sampled_from(argument)) if argument and operator != "numeric" else argument
    text = argument if isinstance(argument, str) else ""
    if operator == "numeric":
        return argument[1] if draw(st.booleans()) else draw(numbers)
    if operator == "cidr":
        return draw(st.sampled_from(["10.0.0.1", "10.1.2.3", "2001:db8::7", "::1", "11.0.0.1", 123, 5]))
    if operator == "wildcard" or "*" in text:
        return text.replace("\\*", "\x00").replace("*", draw(strings)).replace("\x00", "*")
    return draw(st.sampled_from([text, text.upper(), text.lower(), text + draw(strings), draw(strings) + text,
                                 argument]))


@st.composite
def events_like(draw: st.DrawFn, pattern: dict[str, Any]) -> dict[str, Any]:
    """An event shaped after the pattern: its fields, sometimes in arrays (of objects, nested), values drawn
    from what the pattern names; some fields left out."""
    event: dict[str, Any] = {}
    for key, value in pattern.items():
        if key == "$or":
            for branch in value:
                if draw(st.booleans()):
                    event.update(draw(events_like(branch)))
            continue
        if draw(st.integers(0, 3)) == 0:
            continue
        if isinstance(value, dict):
            shape = draw(st.sampled_from(["object", "array", "array", "nested"]))
            elements = draw(st.lists(events_like(value), min_size=1 if shape == "object" else 2, max_size=3))
            if shape == "object":
                event[key] = elements[0]
            elif shape == "array":
                event[key] = elements
            else:
                event[key] = [elements[:1], elements[1:]]
        else:
            chosen = value_for(draw, draw(st.sampled_from(value)))
            event[key] = chosen if draw(st.booleans()) else [draw(scalars), chosen]
    return event


json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(KEYS), children, max_size=3),
    max_leaves=10,
)
events = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=4)


# --- the properties ------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern=patterns(), data=st.data())
def test_compiled_pattern_agrees_with_the_reference(pattern: dict[str, Any], data: st.DataObject) -> None:
    compiled = compile_pattern(pattern)
    for event in data.draw(st.lists(events_like(pattern) | events, min_size=1, max_size=4)):
        assert compiled(event) is ref_matches(pattern, event), (pattern, event)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    routes=st.lists(st.tuples(patterns() | st.none(), st.none() | st.just(["s1"]) | st.just(["s1", "s2"])),
                    min_size=1, max_size=25),
    data=st.data(),
)
def test_route_matcher_agrees_with_the_reference_route_by_route(
        routes: list[tuple[dict[str, Any] | None, list[str] | None]], data: st.DataObject) -> None:
    matcher = RouteMatcher([(number, pattern, sources) for number, (pattern, sources) in enumerate(routes)])
    shaped = [events_like(pattern) for pattern, _ in routes if pattern is not None]
    event_list = data.draw(st.lists(st.tuples(st.one_of(events, *shaped), st.sampled_from(["s1", "s2", "s3"]),
                                              st.booleans()), min_size=1, max_size=5))
    for event, source, verified in event_list:
        document = {**event, "source": source}
        expected = [number for number, (pattern, sources) in enumerate(routes)
                    if (verified if sources is None else source in sources)
                    and (pattern is None or ref_matches(pattern, document))]
        assert matcher.match(document, verified=verified) == expected, (routes, document, verified)


# Arrays of objects, where array consistency, `exists: false` order and the lookup within chosen elements
# decide: one parent field "d", a few child fields, and values that collide a lot.
CHILDREN = ["a", "b", "c"]
small_values = st.sampled_from(["x", "y", 1])
child_items = st.sampled_from([
    "x", "y", 1, {"exists": True}, {"exists": False}, {"exists": False}, {"anything-but": "x"}, {"prefix": "x"},
])
array_patterns = st.fixed_dictionaries(
    {"d": st.dictionaries(st.sampled_from(CHILDREN), st.lists(child_items, min_size=1, max_size=2), min_size=1,
                          max_size=3)},
    optional={"d.a": st.lists(child_items, min_size=1, max_size=2), "$or": st.lists(
        st.fixed_dictionaries({"d": st.dictionaries(st.sampled_from(CHILDREN), st.lists(child_items, min_size=1,
                                                                                        max_size=2), min_size=1)}),
        min_size=2, max_size=2)},
)
elements = st.dictionaries(st.sampled_from(CHILDREN), small_values | st.lists(small_values, max_size=2), max_size=3)
array_events = st.fixed_dictionaries(
    {"d": st.lists(elements | st.lists(elements, min_size=1, max_size=2), min_size=1, max_size=3) | elements},
    optional={"d.a": small_values, "d.b": small_values},
)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern_list=st.lists(array_patterns, min_size=1, max_size=6), event_list=st.lists(array_events, max_size=4))
def test_array_consistency_agrees_with_the_reference(pattern_list: list[dict[str, Any]],
                                                     event_list: list[dict[str, Any]]) -> None:
    matcher = RouteMatcher(list(enumerate(pattern_list)))
    compiled = [compile_pattern(pattern) for pattern in pattern_list]
    for event in event_list:
        expected = [number for number, pattern in enumerate(pattern_list) if ref_matches(pattern, event)]
        assert [number for number, pattern in enumerate(compiled) if pattern(event)] == expected, event
        assert matcher.match(event) == expected, event


# Array-heavy events: arrays of objects holding arrays of objects, nested lists, keys spanning two segments
# ("e.a"), and patterns with several conditions, `$or`s, `exists: false` and `anything-but` under the same
# arrays, so that the memoised search of router/pattern_events.py meets the choices it must not merge.
TREE_KEYS = ["a", "b", "e", "e.a"]
tree_keys = st.sampled_from(TREE_KEYS)
tree_items = st.sampled_from([
    "x", "y", 1, {"exists": True}, {"exists": False}, {"exists": False}, {"anything-but": "x"},
    {"anything-but": ["x", "y"]}, {"prefix": "x"}, {"numeric": [">", 0]},
])


@st.composite
def tree_patterns(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    pattern: dict[str, Any] = {}
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        kind = draw(st.sampled_from(["leaf", "leaf", "object", "object", "or"] if depth < 2 else ["leaf"]))
        if kind == "or":
            pattern["$or"] = draw(st.lists(tree_patterns(depth + 1), min_size=2, max_size=2))
        elif kind == "object":
            pattern[draw(tree_keys)] = draw(tree_patterns(depth + 1))
        else:
            pattern[draw(tree_keys)] = draw(st.lists(tree_items, min_size=1, max_size=2))
    return pattern


@st.composite
def tree_values(draw: st.DrawFn, depth: int) -> Any:
    kind = draw(st.sampled_from(["scalar", "scalars", "objects", "objects", "nested"] if depth < 3
                                else ["scalar", "scalars"]))
    if kind == "scalar":
        return draw(small_values)
    if kind == "scalars":
        return draw(st.lists(small_values, max_size=3))
    objects = st.lists(tree_objects(depth + 1), min_size=1, max_size=3)
    if kind == "objects":
        return draw(objects)
    return draw(st.lists(objects, min_size=1, max_size=2))


def tree_objects(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(tree_keys, tree_values(depth), max_size=3)


tree_events = st.fixed_dictionaries({"d": st.lists(tree_objects(1), min_size=1, max_size=4) | tree_objects(1)})
tree_scalars = st.sampled_from(["x", "y", "xy", 1, 2])


@st.composite
def tree_events_like(draw: st.DrawFn, pattern: dict[str, Any]) -> dict[str, Any]:
    """An object shaped after the pattern, each of its objects mostly an array of 1 to 3 such objects (or
    nested lists of them), fields left out at random, values colliding a lot."""
    event: dict[str, Any] = {}
    for key, value in pattern.items():
        if key == "$or":
            for branch in value:
                event.update(draw(tree_events_like(branch)))
        elif isinstance(value, dict):
            shape = draw(st.sampled_from(["object", "array", "array", "array", "nested"]))
            elements = draw(st.lists(tree_events_like(value), min_size=1 if shape == "object" else 2, max_size=3))
            if shape == "object":
                event[key] = elements[0]
            elif shape == "array":
                event[key] = elements
            else:
                event[key] = [elements[:1], elements[1:]]
        elif draw(st.integers(0, 3)):
            event[key] = draw(tree_scalars | st.lists(tree_scalars, max_size=2))
    return event


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern_list=st.lists(st.builds(lambda pattern: {"d": pattern}, tree_patterns()), min_size=1, max_size=4),
       data=st.data())
def test_nested_array_matching_agrees_with_the_reference(pattern_list: list[dict[str, Any]],
                                                         data: st.DataObject) -> None:
    matcher = RouteMatcher(list(enumerate(pattern_list)))
    compiled = [compile_pattern(pattern) for pattern in pattern_list]
    shaped = [tree_events_like(pattern) for pattern in pattern_list]
    for event in data.draw(st.lists(st.one_of(tree_events, *shaped), min_size=1, max_size=4)):
        expected = [number for number, pattern in enumerate(pattern_list) if ref_matches(pattern, event)]
        assert [number for number, pattern in enumerate(compiled) if pattern(event)] == expected, event
        assert matcher.match(event) == expected, event
