"""What one event value is, for the pattern language: numbers, IP addresses, and the string operators.

Everything here follows aws/event-ruler (the matcher EventBridge is built on), whose choices are sometimes
surprising; each function says which rule it implements and why.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from ipaddress import IPv6Address

# --- numbers -------------------------------------------------------------------------------------------

EXACT_INT_LIMIT = 2**53  # every int within ±2**53 is a double exactly, and prints back as itself
MIN_NORMAL_DOUBLE = 2.2250738585072014e-308  # below it, doubles lose precision and may not print back


def number_key(value: object) -> float | None:
    """The double a JSON number compares as, or None when event-ruler cannot compare it.

    event-ruler compares numbers as doubles, and only numbers whose decimal text equals the shortest text of
    their double (Java's `Double.toString`): 9007199254740993 (rounds to ...992), 2**60 (prints as
    1.152921504606847E18) and 5e-324 (prints as 4.9E-324) cannot be compared. In a pattern they are invalid in
    `numeric` and `anything-but`; in an event they never match a numeric comparison (they still match an exact
    value written the same way). A float's text is taken to be its `repr`, which is how JSON parsers write it.
    Booleans are not numbers.
    """
    if type(value) is int:
        if -EXACT_INT_LIMIT <= value <= EXACT_INT_LIMIT:
            return float(value)
        try:
            double = float(value)
        except OverflowError:
            return None
        return double if _java_shortest(double) == value else None
    if type(value) is float:
        double = value
        if double != double or double in (math.inf, -math.inf):
            return None
        if double == 0.0 or abs(double) >= MIN_NORMAL_DOUBLE:
            return double + 0.0  # -0.0 is 0.0: event-ruler reads numbers as BigDecimal, which has no -0
        return double if _java_shortest(double) == Decimal(repr(double)) else None
    return None


def _java_shortest(double: float) -> Decimal:
    """The value of Java's `Double.toString(double)` (JDK 19+): Python's shortest repr, except that a one-digit
    result is replaced by the closest two-digit decimal that still reads back as the same double (Java always
    prints a digit after the point). The two differ only for the least precise subnormals."""
    shortest = Decimal(repr(double))
    if len(shortest.normalize().as_tuple().digits) == 1:
        two_digits = f"{double:.1e}"
        if float(two_digits) == double:
            return Decimal(two_digits)
    return shortest


def is_number(value: object) -> bool:
    return type(value) is int or type(value) is float


# --- IP addresses --------------------------------------------------------------------------------------

_IPV4_TEXT = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6_TEXT = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")

IpKey = tuple[int, int]  # (4 or 16 bytes, the address as an integer)


MAX_IPV4_TEXT = 15  # Java refuses longer dotted IPv4 literals (leading zeros are otherwise allowed)


def ip_key(text: str) -> IpKey | None:
    """The address a string names, or None. Only the plain forms event-ruler recognises, read as Java reads
    them: dotted IPv4 (decimal parts, leading zeros allowed: `10.0.0.01` is 10.0.0.1) and hexadecimal IPv6 (no
    embedded IPv4, no zone). An IPv4-mapped IPv6 address is the IPv4 address."""
    if ":" in text:
        if not _IPV6_TEXT.fullmatch(text):
            return None
        # Java reads a group of any length whose value fits 16 bits ("::00001" is ::1); Python wants 4 digits.
        groups = [group.lstrip("0") or "0" if len(group) > 4 else group for group in text.split(":")]
        try:
            address6 = IPv6Address(":".join(groups))
        except ValueError:
            return None
        mapped = address6.ipv4_mapped
        return (4, int(mapped)) if mapped is not None else (16, int(address6))
    if len(text) > MAX_IPV4_TEXT or not _IPV4_TEXT.fullmatch(text):
        return None
    address = 0
    for part in map(int, text.split(".")):
        if part > 255:
            return None
        address = address << 8 | part
    return (4, address)


@dataclass(frozen=True, slots=True)
class HexRange:
    """Addresses from `low` to `high` as event-ruler matches them: on hexadecimal digit strings (8 for IPv4,
    32 for IPv6, upper case), compared digit by digit until a digit decides. A value of another length is
    decided by its first digits, so an IPv6 value can fall in an IPv4 network (`a10::1` in 10.0.0.0/8); and
    a number, whose JSON text event-ruler feeds to the same comparison, can fall in a wide network (`123` in
    ::/1) unless the field also has numeric patterns. event-ruler does this; so do we, to agree with it."""

    low: str
    low_inclusive: bool
    high: str
    high_inclusive: bool

    def holds(self, digits: str) -> bool:
        low, high = self.low, self.high
        if len(digits) == len(low):
            return (low < digits or (self.low_inclusive and low == digits)) and (
                digits < high or (self.high_inclusive and digits == high))
        return _decided_within(digits, self)


_HEX_DIGITS = "0123456789ABCDEF"


def _decided_within(digits: str, bounds: HexRange) -> bool:
    """The digit-by-digit walk for a value whose length differs from the bounds': it must follow the common
    prefix of both bounds, then either fall strictly between them at the first differing position, or follow
    one bound until a digit lands on the inner side of it (or on its last digit, when inclusive)."""
    low, high, last = bounds.low, bounds.high, len(bounds.low) - 1
    fork = 0
    while low[fork] == high[fork]:
        if fork >= len(digits) or digits[fork] != low[fork]:
            return False
        fork += 1
    if fork >= len(digits) or digits[fork] not in _HEX_DIGITS:
        return False
    if low[fork] < digits[fork] < high[fork]:
        return True
    for edge, inclusive, beyond in ((low, bounds.low_inclusive, str.__gt__), (high, bounds.high_inclusive, str.__lt__)):
        if digits[fork] != edge[fork]:
            continue
        if fork == last:
            return inclusive
        for position in range(fork + 1, last + 1):
            if position >= len(digits) or digits[position] not in _HEX_DIGITS:
                return False
            if digits[position] != edge[position]:
                return beyond(digits[position], edge[position])
        return inclusive
    return False


def ip_digits(key: IpKey) -> str:
    size, address = key
    return f"{address:0{size * 2}X}"


def address_range(key: IpKey) -> HexRange:
    """An exact IP address in a pattern, as the range event-ruler makes of it: its digits, and the digits with
    the last one stepped by one, one bound open (same verdicts for addresses, and for other values too)."""
    digits = ip_digits(key)
    last = _HEX_DIGITS.index(digits[-1])
    if last == 15:
        return HexRange(digits[:-1] + _HEX_DIGITS[14], False, digits, True)
    return HexRange(digits, True, digits[:-1] + _HEX_DIGITS[last + 1], False)


def number_text(value: float) -> str:
    """A JSON number as written: an int's digits, a float's shortest repr (what JSON encoders write)."""
    return repr(value) if type(value) is float else str(value)


def parse_cidr(text: str) -> HexRange:
    """`10.0.0.0/24` or `2001:db8::/32`, as event-ruler reads it: the mask is required and must leave at least
    one bit free (`/32` and `/128` are refused: write the address as an exact value instead), and a network
    that is not aligned (`10.0.0.7/24`) stands for the network its prefix names. Raises ValueError."""
    parts = text.split("/")
    while parts and not parts[-1]:  # Java's String.split drops trailing empty strings
        parts.pop()
    if len(parts) != 2:
        raise ValueError("a CIDR needs exactly one '/', as in \"10.0.0.0/24\"")
    if not re.fullmatch(r"[+-]?[0-9]+", parts[1]):
        raise ValueError("the mask length after '/' must be an integer")
    bits = int(parts[1])
    if bits < 0:
        raise ValueError("the mask length must not be negative")
    key = ip_key(parts[0])
    if key is None:
        raise ValueError(f"{parts[0]!r} is not an IPv4 or IPv6 address")
    size, address = key
    width = size * 8
    if bits >= width:
        raise ValueError(f"an IPv{4 if size == 4 else 6} mask must be shorter than {width} bits "
                         "(match a single address with an exact value)")
    free = width - bits
    first = address >> free << free
    return HexRange(ip_digits((size, first)), True, ip_digits((size, first | ((1 << free) - 1))), True)


# --- strings -------------------------------------------------------------------------------------------

StringTest = Callable[[str], bool]


def parse_wildcard(text: str) -> tuple[str, ...]:
    """The literal pieces between the `*`s of a wildcard (one more piece than there are `*`). `\\*` is a literal
    star and `\\\\` a literal backslash; any other backslash, and `**`, are refused (ValueError)."""
    pieces: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "*":
            if text.startswith("*", index + 1):
                raise ValueError(f"consecutive '*' at position {index} (one '*' already matches any run)")
            pieces.append("".join(current))
            current = []
        elif char == "\\":
            following = text[index + 1: index + 2]
            if following not in ("*", "\\"):
                raise ValueError(f"invalid escape at position {index}: only \\* and \\\\ are escapes")
            current.append(following)
            index += 1
        else:
            current.append(char)
        index += 1
    pieces.append("".join(current))
    return tuple(pieces)


def wildcard_test(pieces: tuple[str, ...]) -> StringTest:
    """A string matches when it is the pieces in order with anything (also nothing) between them."""
    if len(pieces) == 1:
        exact = pieces[0]
        return exact.__eq__
    first, middle, last = pieces[0], pieces[1:-1], pieces[-1]
    fixed = len(first) + len(last)

    def test(value: str) -> bool:
        if len(value) < fixed or not value.startswith(first) or not value.endswith(last):
            return False
        position, end = len(first), len(value) - len(last)
        for piece in middle:  # leftmost placement of each piece is optimal when `*` is the only operator
            found = value.find(piece, position, end)
            if found < 0:
                return False
            position = found + len(piece)
        return True

    return test


def _case_variants(text: str) -> list[tuple[str, ...]]:
    """Per character of the pattern, the strings event-ruler accepts in its place: the character's lower-case
    and upper-case forms (Java, root locale, one UTF-16 unit at a time). Not Unicode case folding: "STRASSE"
    does not match "straße", but "ß" matches "SS"; a character outside the BMP is two lone surrogates to Java,
    each encoded as "?"."""
    variants: list[tuple[str, ...]] = []
    for char in text:
        if ord(char) > 0xFFFF:
            variants.append(("??",))
        elif 0xD800 <= ord(char) <= 0xDFFF:
            variants.append(("?",))
        else:
            lower, upper = char.lower(), char.upper()
            variants.append((lower,) if lower == upper else (lower, upper))
    return variants


def ignore_case_test(text: str, where: str) -> StringTest:
    """`equals-ignore-case` (where="equals"), or its `prefix` / `suffix` forms ("prefix", "suffix")."""
    if text.isascii():
        # Fast path: for ASCII the accepted variants of a character are exactly its lower and upper case.
        folded, size = text.lower(), len(text)
        if where == "equals":
            return lambda value: len(value) == size and value.isascii() and value.lower() == folded
        if size == 0:
            return lambda value: True
        if where == "prefix":
            return lambda value: value[:size].isascii() and value[:size].lower() == folded
        return lambda value: value[-size:].isascii() and value[-size:].lower() == folded
    body = "".join("(?:" + "|".join(re.escape(option) for option in options) + ")"
                   for options in _case_variants(text))
    if where == "equals":
        whole = re.compile(body, re.DOTALL)
        return lambda value: whole.fullmatch(value) is not None
    if where == "prefix":
        start = re.compile(body, re.DOTALL)
        return lambda value: start.match(value) is not None
    end = re.compile(f"(?:{body})\\Z", re.DOTALL)
    return lambda value: end.search(value) is not None
