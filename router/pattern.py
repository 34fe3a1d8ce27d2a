"""EventBridge event patterns, compiled once into a matcher of match documents (no I/O).

The full event-pattern language with the semantics of aws/event-ruler (the open-source matcher EventBridge is
built on), checked case by case against its verdicts (tests/corpus/eventbridge):

- A pattern is an object of fields. Fields are ANDed; a field's list of values and operators is ORed. Key
  paths join with `.`, so `{"a.b": ...}` and `{"a": {"b": ...}}` name the same field, in patterns and events.
- Exact values: strings, numbers (by value: `5` matches `5.0`; large integers stay exact), `true`, `false`,
  `null`; a string never matches a number. A string that is an IP address matches the same address written
  another way (`2001:DB8::2` matches `2001:db8:0:0:0:0:0:2`).
- Operators, one per object: `prefix`, `suffix` (each also `{"equals-ignore-case": ...}`), `equals-ignore-case`,
  `wildcard`, `anything-but` (a value, a list, or `prefix` / `suffix` / `equals-ignore-case` / `wildcard`),
  `numeric`, `exists`, `cidr`, and `exactly` (an exact string, never read as an IP address).
- `$or`: a list of at least two objects, any of which may match, at any level of the pattern.
- Event arrays match when any element does, nested arrays flattened; the values one alternative matches must
  come from the same element of every array of objects they share (see router/pattern_events.py).

Invalid patterns raise PatternError naming where and why. event-ruler accepts a few invalid patterns through a
legacy fallback (an operator used as a field name inside `$or`, a `$or` that is not a list); those are refused
here with a message saying how to write what was meant.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from router.pattern_events import Alternative, Condition, DocumentFields, ValueTest, field_path
from router.pattern_values import (
    HexRange,
    StringTest,
    address_range,
    ignore_case_test,
    ip_digits,
    ip_key,
    is_number,
    number_key,
    number_text,
    parse_cidr,
    parse_wildcard,
    wildcard_test,
)

Matcher = Callable[[Mapping[str, Any]], bool]

MAX_ALTERNATIVES = 1024  # `$or`s multiply into alternatives; past this many a pattern is refused as too costly
MAX_DOUBLE = 1.7976931348623157e308  # numeric ranges are bounded by ±the largest double, as in event-ruler

OPERATORS = ("prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists", "cidr",
             "exactly")
# Names event-ruler refuses as field names inside `$or` (its operators, and words it keeps for future ones).
RESERVED_IN_OR = frozenset((*OPERATORS, "=", "<", "<=", ">", ">=", "regex", "not-wildcard",
                            "not-equals-ignore-case", "date-after", "date-on-or-after", "date-before",
                            "date-on-or-before", "in-date-range", "ip-address-in-range", "ip-address-not-in-range"))
BODY = "body"  # the top-level field a match document parses lazily: conditions on it are checked last


class PatternError(ValueError):
    """An invalid pattern. `path` is where in the pattern, e.g. `body.data.amount`."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.path = path
        self.problem = problem


class _Unsupported(PatternError):
    """Well-formed, but event-ruler fails when it adds it to its machine: refused only if the field is still in
    the pattern once later spellings of the same field have replaced earlier ones."""


@dataclass(frozen=True, slots=True)
class FieldTest:
    """What a field's list of values and operators accepts, and what the route index may key it on."""

    test: ValueTest | None  # whether one value matches an item of the list; None when the list is only exists:false
    absent_ok: bool  # the list has {"exists": false}
    unsupported: PatternError | None = None  # raised if the field remains in the pattern
    # When every item is an exact value or a plain prefix, a value can only match by being one of these:
    anchor_strings: frozenset[str] | None = None  # None: not anchorable
    anchor_numbers: frozenset[float | int] = frozenset()
    anchor_constants: tuple[bool | None, ...] = ()
    anchor_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PatternField:
    """One field of one alternative of a compiled pattern."""

    name: str
    condition: Condition
    field_test: FieldTest


class CompiledPattern:
    """A compiled pattern: call it on a match document (any Mapping) to know whether it matches.

    `alternatives` lists the pattern's `$or` combinations, each as its fields; `fields` is the set of top-level
    fields the pattern reads. The body (field "body") is only read once the other fields of an alternative match.
    """

    __slots__ = ("alternatives", "evaluators", "fields", "matches")

    def __init__(self, alternatives: tuple[tuple[PatternField, ...], ...]) -> None:
        self.alternatives = alternatives
        self.evaluators = tuple(_alternative(fields) for fields in alternatives)  # the same, ready to match
        self.fields = frozenset(item.condition.path.top for fields in alternatives for item in fields)
        # matches(fields): match with field values shared with other patterns (see router/matcher.py)
        self.matches: Callable[[DocumentFields], bool] = (
            self.evaluators[0].matches if len(self.evaluators) == 1 else self._any_matches)

    def __call__(self, document: Mapping[str, Any]) -> bool:
        return self.matches(DocumentFields(document))

    def _any_matches(self, fields: DocumentFields) -> bool:
        return any(alternative.matches(fields) for alternative in self.evaluators)


def _alternative(fields: tuple[PatternField, ...]) -> Alternative:
    groups: dict[str, list[Condition]] = {}
    for item in fields:  # already in event-ruler's order
        groups.setdefault(item.condition.path.top, []).append(item.condition)
    ordered = sorted(groups.items(), key=lambda group: group[0] == BODY)  # stable: body last
    return Alternative(tuple(tuple(conditions) for _, conditions in ordered))


def compile_pattern(pattern: Mapping[str, Any]) -> CompiledPattern:
    """Compile a pattern (a JSON object) into a matcher of match documents; raises PatternError."""
    if not isinstance(pattern, Mapping):
        raise PatternError("", "a pattern must be an object")
    if not pattern:
        raise PatternError("", "an empty pattern is not allowed (leave the filter out to match everything)")
    rules: list[dict[str, FieldTest]] = [{}]
    _parse_object(pattern, (), "", rules, in_or=False)
    for rule in rules:
        for field_test in rule.values():
            if field_test.unsupported is not None:
                raise field_test.unsupported
    return CompiledPattern(tuple(_fields(rule) for rule in rules))


def _fields(rule: dict[str, FieldTest]) -> tuple[PatternField, ...]:
    # event-ruler visits a rule's names sorted as Java strings (UTF-16 code units); the order decides which
    # array elements an {"exists": false} is checked against.
    names = sorted(rule, key=lambda name: name.encode("utf-16-be"))
    return tuple(
        PatternField(name, Condition(field_path(name), rule[name].test, rule[name].absent_ok), rule[name])
        for name in names
    )


def needs_field(pattern: Mapping[str, Any], field: str) -> bool:
    """Whether the pattern looks into a top-level field (the router parses the body only when one does): a key
    naming it, a dotted key starting with it, or either inside a `$or` alternative."""
    for key, value in pattern.items():
        if key == "$or" and isinstance(value, list):
            if any(isinstance(branch, Mapping) and needs_field(branch, field) for branch in value):
                return True
        elif key == field or (isinstance(key, str) and key.startswith(field + ".")):
            return True
    return False


# --- the object structure ------------------------------------------------------------------------------


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _parse_object(pattern: Mapping[str, Any], prefix: tuple[str, ...], where: str,
                  rules: list[dict[str, FieldTest]], *, in_or: bool) -> None:
    """Add the fields of `pattern` (found under `prefix`) to every rule being built. A later occurrence of the
    same field name replaces an earlier one, as in event-ruler (`{"a.b": ..., "a": {"b": ...}}`)."""
    for key, value in pattern.items():
        if not isinstance(key, str):
            raise PatternError(where, f"field names must be strings, not {key!r}")
        here = _join(where, key)
        if key == "$or":
            _parse_or(value, prefix, here, rules)
            continue
        if in_or and key in RESERVED_IN_OR:
            raise PatternError(here, f"'{key}' is an operator, not a field name: each $or alternative is an object "
                               "of fields (to accept several operators on one field, list them in the field's list "
                               "instead, as in \"amount\": [{\"numeric\": [\"<\", 0]}, {\"numeric\": [\">\", 9]}])")
        if isinstance(value, Mapping):
            if not value:
                raise PatternError(here, "an empty object matches nothing")
            _parse_object(value, (*prefix, key), here, rules, in_or=in_or)
        elif isinstance(value, list):
            field_test = _compile_values(value, here)
            name = ".".join((*prefix, key))
            for rule in rules:
                rule[name] = field_test
        else:
            raise PatternError(here, "a leaf must be a list of values, such as [\"invoice.paid\"]")


def _parse_or(value: Any, prefix: tuple[str, ...], where: str, rules: list[dict[str, FieldTest]]) -> None:
    if not isinstance(value, list):
        raise PatternError(where, "$or takes a list of at least two objects, each a set of fields that must all "
                           "match, as in \"$or\": [{\"type\": [\"a\"]}, {\"source\": [\"b\"]}]")
    before = [dict(rule) for rule in rules]
    rules.clear()
    for index, branch in enumerate(value):
        at = f"{where}[{index}]"
        if not isinstance(branch, Mapping):
            raise PatternError(at, "each $or alternative must be an object of fields")
        if not branch:
            raise PatternError(at, "an empty object matches nothing")
        branch_rules = [dict(rule) for rule in before]
        _parse_object(branch, prefix, at, branch_rules, in_or=True)
        rules.extend(branch_rules)
        if len(rules) > MAX_ALTERNATIVES:
            raise PatternError(where, f"the $or combinations of this pattern exceed {MAX_ALTERNATIVES} alternatives")
    if len(value) < 2:
        raise PatternError(where, "$or needs at least two alternatives (with one, write its fields directly)")


# --- a field's list of values and operators ------------------------------------------------------------


@dataclass
class _FieldTestBuilder:
    """The items of one field's list, sorted by kind, then composed into one test."""

    strings: set[str] = field(default_factory=set)
    addresses: list[HexRange] = field(default_factory=list)  # exact IP addresses and cidr networks
    numbers: set[float] = field(default_factory=set)  # comparable numbers, as doubles
    literal_numbers: set[float | int] = field(default_factory=set)  # others: equal only to the same JSON number
    constants: list[bool | None] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    suffixes: list[str] = field(default_factory=list)
    string_tests: list[StringTest] = field(default_factory=list)  # equals-ignore-case, wildcard, ...
    ranges: list[tuple[float, bool, float, bool]] = field(default_factory=list)  # low, inclusive, high, inclusive
    anything_buts: list[ValueTest] = field(default_factory=list)  # each: whether it excludes a value
    numeric_anything_but: bool = False
    exists: bool = False
    absent_ok: bool = False
    anchorable: bool = True  # only exact values and plain prefixes so far
    unsupported: PatternError | None = None

    def build(self) -> FieldTest:
        test = self._test()
        if not self.anchorable or self.absent_ok or self.exists or self.addresses or self.unsupported:
            return FieldTest(test, self.absent_ok, self.unsupported)
        return FieldTest(test, False, None, frozenset(self.strings), frozenset(self.numbers | self.literal_numbers),
                         tuple(self.constants), tuple(self.prefixes))

    def _test(self) -> ValueTest | None:
        """One function for the whole list, specialised for the common lists (it runs for every value)."""
        if self.exists:
            return _any_value
        kinds = {kind for kind, present in (
            ("strings", self.strings), ("prefixes", self.prefixes), ("anything-but", self.anything_buts),
            ("numbers", self.numbers or self.ranges), ("other", self.addresses or self.literal_numbers
                                                       or self.constants or self.suffixes or self.string_tests),
        ) if present}
        strings, prefixes = frozenset(self.strings), tuple(self.prefixes)
        if not kinds:
            return None
        if kinds == {"strings"}:
            return strings.__contains__  # a non-string is never equal to a string
        if kinds <= {"strings", "prefixes"}:
            return lambda value: type(value) is str and (value in strings or value.startswith(prefixes))
        if kinds == {"anything-but"} and len(self.anything_buts) == 1:
            excludes = self.anything_buts[0]
            return lambda value: not excludes(value)
        if kinds == {"numbers"}:
            return _numeric_test(frozenset(self.numbers), tuple(self.ranges))
        return _compose(self)


def _numeric_test(numbers: frozenset[float], ranges: tuple[tuple[float, bool, float, bool], ...]) -> ValueTest:
    def test(value: Any) -> bool:
        key = number_key(value)
        if key is None:
            return False
        if key in numbers:
            return True
        for low, low_inclusive, high, high_inclusive in ranges:
            if (low < key or (low_inclusive and low == key)) and (key < high or (high_inclusive and key == high)):
                return True
        return False

    return test


def _any_value(value: Any) -> bool:
    return True


def _compose(parts: _FieldTestBuilder) -> ValueTest:
    strings = frozenset(parts.strings)
    prefixes, suffixes = tuple(parts.prefixes), tuple(parts.suffixes)
    string_tests = tuple(parts.string_tests)
    addresses = tuple(parts.addresses)
    numbers, literal_numbers = frozenset(parts.numbers), frozenset(parts.literal_numbers)
    ranges = tuple(parts.ranges)
    reads_number = bool(numbers or literal_numbers or ranges)
    # event-ruler reads a number's JSON text as hex digits against IP ranges, unless the field also has numeric
    # patterns and the number is one it can compare (see HexRange)
    compares_numbers = bool(numbers or ranges or parts.numeric_anything_but)
    constants = tuple(parts.constants)
    anything_buts = tuple(parts.anything_buts)

    def test(value: Any) -> bool:
        kind = type(value)
        if kind is str:
            if value in strings or value.startswith(prefixes) or value.endswith(suffixes):
                return True
            for string_test in string_tests:
                if string_test(value):
                    return True
            if addresses:
                address = ip_key(value)
                if address is not None:
                    digits = ip_digits(address)
                    if any(bounds.holds(digits) for bounds in addresses):
                        return True
        elif kind is int or kind is float:
            if reads_number:
                key = number_key(value)
                if key is None:  # only the same JSON number, written alike, matches it
                    if value in literal_numbers:
                        return True
                elif key in numbers:
                    return True
                else:
                    for low, low_inclusive, high, high_inclusive in ranges:
                        if (low < key or (low_inclusive and low == key)) and (
                                key < high or (high_inclusive and key == high)):
                            return True
            if addresses and (not compares_numbers or number_key(value) is None):
                digits = number_text(value)
                if any(bounds.holds(digits) for bounds in addresses):
                    return True
        elif kind is bool or value is None:
            for constant in constants:
                if value is constant:
                    return True
        return any(not excludes(value) for excludes in anything_buts)

    return test


def _compile_values(items: list[Any], where: str) -> FieldTest:
    if not items:
        raise PatternError(where, "an empty list matches nothing")
    parts = _FieldTestBuilder()
    for item in items:
        if isinstance(item, Mapping):
            try:
                _add_operator(parts, item, where)
            except _Unsupported as problem:
                parts.unsupported = parts.unsupported or problem
                parts.anchorable = False
        elif isinstance(item, list):
            raise PatternError(where, "nested lists are not allowed in a pattern")
        elif item is None or isinstance(item, bool):
            parts.constants.append(item)
        elif isinstance(item, int | float):
            _add_exact_number(parts, item, where)
        elif isinstance(item, str):
            address = ip_key(item)
            if address is not None:
                parts.addresses.append(address_range(address))  # event-ruler compares addresses, not spellings
            else:
                parts.strings.add(item)
        else:
            raise PatternError(where, f"a value must be a string, number, true, false or null, not {item!r}")
    return parts.build()


def _add_exact_number(parts: _FieldTestBuilder, number: float, where: str) -> None:
    if isinstance(number, float) and not math.isfinite(number):
        raise PatternError(where, f"{number} is not a JSON number")
    key = number_key(number)
    if key is not None:
        parts.numbers.add(key)
    else:  # e.g. an account number beyond 2**53: matched exactly as written
        parts.literal_numbers.add(number)


# --- operators -----------------------------------------------------------------------------------------


def _add_operator(parts: _FieldTestBuilder, item: Mapping[str, Any], where: str) -> None:
    if len(item) != 1:
        if not item:
            raise PatternError(where, "an operator object needs an operator, such as {\"prefix\": \"inv\"}")
        raise PatternError(where, f"one operator per object: {sorted(map(str, item))} are several "
                           "(list them as separate objects to accept any of them)")
    operator, argument = next(iter(item.items()))
    if operator == "exactly":
        parts.strings.add(_string_argument(argument, where, "exactly"))
    elif operator in ("prefix", "suffix"):
        _add_prefix_or_suffix(parts, operator, argument, where)
    elif operator == "equals-ignore-case":
        text = _string_argument(argument, where, "equals-ignore-case")
        parts.string_tests.append(ignore_case_test(text, "equals"))
        parts.anchorable = False
    elif operator == "wildcard":
        parts.string_tests.append(wildcard_test(_wildcard_argument(argument, where, "wildcard")))
        parts.anchorable = False
    elif operator == "anything-but":
        excludes, numeric = _anything_but(argument, where)
        parts.anything_buts.append(excludes)
        parts.numeric_anything_but |= numeric
        parts.anchorable = False
    elif operator == "numeric":
        _add_numeric(parts, argument, where)
        parts.anchorable = False
    elif operator == "exists":
        if argument is True:
            parts.exists = True
        elif argument is False:
            parts.absent_ok = True
        else:
            raise PatternError(where, f"exists takes true or false, not {argument!r}")
    elif operator == "cidr":
        text = _string_argument(argument, where, "cidr")
        try:
            parts.addresses.append(parse_cidr(text))
        except ValueError as error:
            raise PatternError(where, f"cidr {text!r}: {error}") from None
        parts.anchorable = False
    else:
        raise PatternError(where, f"unknown operator {operator!r} (operators: {', '.join(OPERATORS)})")


def _string_argument(argument: Any, where: str, operator: str) -> str:
    if not isinstance(argument, str):
        raise PatternError(where, f"{operator} takes a string, not {argument!r}")
    return argument


def _wildcard_argument(argument: Any, where: str, operator: str) -> tuple[str, ...]:
    text = _string_argument(argument, where, operator)
    try:
        return parse_wildcard(text)
    except ValueError as error:
        raise PatternError(where, f"{operator} {text!r}: {error}") from None


def _add_prefix_or_suffix(parts: _FieldTestBuilder, operator: str, argument: Any, where: str) -> None:
    if isinstance(argument, Mapping):
        if list(argument) != ["equals-ignore-case"]:
            raise PatternError(where, f"{operator} takes a string or {{\"equals-ignore-case\": \"...\"}}")
        text = _string_argument(argument["equals-ignore-case"], where, f"{operator} equals-ignore-case")
        parts.string_tests.append(ignore_case_test(text, operator))
        parts.anchorable = False
        return
    text = _string_argument(argument, where, operator)
    if operator == "prefix":
        parts.prefixes.append(text)
    else:
        parts.suffixes.append(text)
        parts.anchorable = False


_ANYTHING_BUT_KINDS = ("prefix", "suffix", "equals-ignore-case", "wildcard")


def _anything_but(argument: Any, where: str) -> tuple[ValueTest, bool]:
    """What one `anything-but` excludes, and whether it excludes numbers. It matches every other value, of any
    type: `{"anything-but": "x"}` matches null, 5 and true; on an event array, when some element is not
    excluded."""
    if isinstance(argument, Mapping):
        if len(argument) != 1 or next(iter(argument)) not in _ANYTHING_BUT_KINDS:
            raise PatternError(where, "anything-but takes a value, a list, or one of "
                               + ", ".join(f"{{\"{kind}\": ...}}" for kind in _ANYTHING_BUT_KINDS))
        kind, value = next(iter(argument.items()))
        texts = value if isinstance(value, list) else [value]
        if not texts:  # event-ruler crashes on it
            raise _Unsupported(where, f"anything-but {kind} needs at least one string")
        for text in texts:
            _string_argument(text, where, f"anything-but {kind}")
            if kind in ("prefix", "suffix") and not text:
                raise PatternError(where, f"anything-but {kind} must not be empty (it would exclude every string)")
        return _excluding_strings(kind, tuple(texts), where), False
    values = argument if isinstance(argument, list) else [argument]
    if not values:
        raise PatternError(where, "anything-but needs at least one value")
    if all(isinstance(value, str) for value in values):
        excluded = frozenset(values)
        return (lambda value: type(value) is str and value in excluded), False
    if all(is_number(value) for value in values):
        keys = set()
        for value in values:
            key = number_key(value)
            if key is None:
                raise PatternError(where, f"anything-but {value!r}: the number cannot be compared exactly "
                                   "(it does not round-trip through a double)")
            keys.add(key)
        excluded_numbers = frozenset(keys)
        return (lambda value: number_key(value) in excluded_numbers), True
    raise PatternError(where, "anything-but takes strings or numbers, all of one type (not true, false, null, "
                       "objects or a mix)")


def _excluding_strings(kind: str, texts: tuple[str, ...], where: str) -> ValueTest:
    if kind == "prefix":
        return lambda value: type(value) is str and value.startswith(texts)
    if kind == "suffix":
        return lambda value: type(value) is str and value.endswith(texts)
    if kind == "equals-ignore-case":
        tests = tuple(ignore_case_test(text, "equals") for text in texts)
    else:
        tests = tuple(wildcard_test(_wildcard_argument(text, where, "anything-but wildcard")) for text in texts)
    return lambda value: type(value) is str and any(test(value) for test in tests)


_NUMERIC_USAGE = "numeric takes [op, number] or [\">\" or \">=\", low, \"<\" or \"<=\", high], ops = < <= = >= >"


def _add_numeric(parts: _FieldTestBuilder, argument: Any, where: str) -> None:
    if not isinstance(argument, list) or not argument:
        raise PatternError(where, _NUMERIC_USAGE)
    operator = argument[0]
    if operator not in ("=", "<", "<=", ">", ">=") or len(argument) not in (2, 4):
        raise PatternError(where, _NUMERIC_USAGE)
    first = _numeric_bound(argument[1], where)
    if operator == "=":
        if len(argument) != 2:
            raise PatternError(where, _NUMERIC_USAGE)
        parts.numbers.add(first)
        return
    if operator in ("<", "<="):
        if len(argument) != 2:
            raise PatternError(where, "numeric: give the lower bound first, as in [\">\", 0, \"<=\", 100]")
        if first == -MAX_DOUBLE:  # event-ruler crashes on this range
            raise _Unsupported(where, f"numeric: a range ending at the lowest double ({argument[1]!r}) is not "
                               "supported (use \"=\" for that number)")
        parts.ranges.append((-MAX_DOUBLE, True, first, operator == "<="))
        return
    if len(argument) == 2:
        if first == MAX_DOUBLE:  # event-ruler crashes on this range
            raise _Unsupported(where, f"numeric: a range starting at the highest double ({argument[1]!r}) is not "
                               "supported (use \"=\" for that number)")
        parts.ranges.append((first, operator == ">=", MAX_DOUBLE, True))
        return
    upper = argument[2]
    if upper not in ("<", "<="):
        raise PatternError(where, "numeric: a range is a lower bound (> or >=) then an upper bound (< or <=)")
    second = _numeric_bound(argument[3], where)
    if not first < second:
        raise PatternError(where, f"numeric: the lower bound {argument[1]!r} must be below the upper bound "
                           f"{argument[3]!r}")
    parts.ranges.append((first, operator == ">=", second, upper == "<="))


def _numeric_bound(value: Any, where: str) -> float:
    if not is_number(value):
        raise PatternError(where, f"numeric: {value!r} is not a number")
    key = number_key(value)
    if key is None:
        raise PatternError(where, f"numeric: {value!r} cannot be compared exactly (it does not round-trip "
                           "through a double)")
    return key
