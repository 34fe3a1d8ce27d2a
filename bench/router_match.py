"""Route matching alone: events/s on one core for 1 to 10,000 routes (router/matcher.py, no broker, no I/O).

Match documents `{id, source, type, headers, body}` are built from the real GitHub and Stripe payloads in
tests/corpus/webhooks/payloads/. Routes are generated from those payloads with a mix of exact, prefix,
numeric, anything-but and exists conditions, so that each event matches at most 10 routes whatever the number
of routes: live routes name values an event really has; the others name the same fields with values no event
has, as the routes of many tenants would. Runs of each route count are interleaved over several rounds, and
the medians reported. See bench/README.md ("bench/router_match.py").

    .venv/bin/python bench/router_match.py                 # about a minute
    .venv/bin/python bench/router_match.py --rounds 3 --seconds 0.3 --json

`--arrays` measures instead one route against adversarial bodies: 1 to 3 conditions under arrays of 1,000 to
20,000 objects (two arrays, nested arrays), where no element holds every field a condition group needs, and
prints the time per event and per array element for each N, which stays flat when matching is linear.

    .venv/bin/python bench/router_match.py --arrays               # about 30 s
    .venv/bin/python bench/router_match.py --arrays --sizes 1000,2000
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from hookpipe.event import Event  # noqa: E402
from router.matcher import RouteMatcher  # noqa: E402
from router.rules import MatchDocument  # noqa: E402

PAYLOADS = ROOT / "tests" / "corpus" / "webhooks" / "payloads"
ROUTE_COUNTS = (1, 100, 1_000, 10_000)
MAX_MATCHES_PER_EVENT = 10  # the rule mix is generated so that no event matches more routes than this
LIVE_PER_EVENT = 10  # live routes generated per event before the cap above trims them
NEAR_MISS_EVERY = 4  # one live route in this many gets a condition its event fails: evaluated, not matched
KINDS = ("exact", "prefix", "numeric", "anything-but", "exists")
# The fields routes select on, as webhook consumers write them: who, which repository or object, how much.
SELECTIVE_FIELDS = (
    "body.action", "body.repository.full_name", "body.repository.name", "body.repository.id",
    "body.sender.login", "body.organization.login", "body.installation.id", "body.ref",
    "body.data.object.id", "body.data.object.customer", "body.data.object.currency", "body.data.object.status",
    "body.data.object.payment_intent", "body.data.object.subscription",
)
NUMERIC_FIELDS = ("body.repository.stargazers_count", "body.repository.size", "body.repository.open_issues_count",
                  "body.sender.id", "body.data.object.amount", "body.data.object.created", "body.created")
OTHER_FIELDS = ("body.sender.type", "body.repository.visibility", "body.repository.default_branch",
                "body.data.object.object", "body.data.object.livemode", "body.data.object.description",
                "body.repository.description", "body.data.object.metadata.order_id", "body.installation.node_id")


# --- the events ----------------------------------------------------------------------------------------


def load_documents(payloads: Path) -> list[dict[str, Any]]:
    """One match document per webhook payload (the Stripe fixtures aggregate is not one event: skipped)."""
    manifest = json.loads((payloads.parent / "payloads.manifest.json").read_text())
    documents = []
    for number, item in enumerate(manifest):
        if item["provider"] == "stripe" and item["event_type"].startswith("aggregate"):
            continue
        payload = json.loads((payloads / item["file"]).read_text())
        if item["provider"] == "github":
            kind = item["event_type"].split(".")[0]
            delivery = f"6b6b2c00-0000-4000-8000-{number:012d}"
            headers = {"x-github-event": kind, "x-github-delivery": delivery, "content-type": "application/json",
                       "user-agent": "GitHub-Hookshot/8f5e6a1"}
            documents.append({"id": delivery, "source": "github", "type": kind, "headers": headers, "body": payload})
        else:
            kind = f"{item['event_type']}.updated"
            event_id = f"evt_1Bench{number:08d}"
            body = {"id": event_id, "object": "event", "api_version": "2024-06-20", "created": 1_700_000_000 + number,
                    "livemode": False, "pending_webhooks": 1, "type": kind, "data": {"object": payload}}
            headers = {"content-type": "application/json; charset=utf-8", "user-agent": "Stripe/1.0"}
            documents.append({"id": event_id, "source": "stripe", "type": kind, "headers": headers, "body": body})
    return documents


def scalar_fields(value: Any, path: tuple[str, ...] = ("body",), depth: int = 0) -> Iterator[tuple[str, Any]]:
    """(dotted name, value) of the scalars of a body outside arrays."""
    if isinstance(value, dict) and depth < 5:
        for key, child in value.items():
            if "." not in key:
                yield from scalar_fields(child, (*path, key), depth + 1)
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        yield ".".join(path), value


# --- the routes ----------------------------------------------------------------------------------------


def nest(name: str, rule: list[Any]) -> dict[str, Any]:
    pattern: dict[str, Any] = {}
    node = pattern
    *parents, last = name.split(".")
    for parent in parents:
        node = node.setdefault(parent, {})
    node[last] = rule
    return pattern


def merge(into: dict[str, Any], pattern: dict[str, Any]) -> dict[str, Any]:
    for key, value in pattern.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value
    return into


def make_route(document: dict[str, Any], kind: str, number: int, picker: random.Random, *, live: bool,
               near_miss: bool) -> dict[str, Any]:
    """A pattern shaped after `document`: its source and type, one selective field (an id, a URL, a name),
    and one more condition of `kind`. A dead route names a value no event has in its selective field."""
    fields = dict(scalar_fields(document["body"]))
    selective = [(name, fields[name]) for name in SELECTIVE_FIELDS if name in fields]
    numbers = [(name, fields[name]) for name in NUMERIC_FIELDS if isinstance(fields.get(name), int | float)]
    strings = [(name, fields[name]) for name in OTHER_FIELDS if isinstance(fields.get(name), str)]
    if not selective:  # an event without any of them: its first fields by name
        selective = sorted(fields.items())[:3]
    strings = strings or selective
    name, value = picker.choice(selective)
    if not live:  # same field, a value nobody sends
        value = f"{value}~{number}" if isinstance(value, str) else value + 1_000_000_007 + number
    pattern: dict[str, Any] = {"source": [document["source"]], "type": [document["type"]]}
    if kind == "prefix" and isinstance(value, str):
        merge(pattern, nest(name, [{"prefix": value[: max(3, len(value) * 2 // 3)] if live else value}]))
    else:
        merge(pattern, nest(name, [value]))
    if kind == "numeric" and numbers:
        other, amount = picker.choice(numbers)
        bounds = [">", amount + 10, "<=", amount + 20] if near_miss else [">=", amount - 1, "<", amount + 1]
        merge(pattern, nest(other, [{"numeric": bounds}]))
    elif kind == "anything-but":
        other, text = picker.choice(strings)
        merge(pattern, nest(other, [{"anything-but": [text if near_miss else "zz-never-sent"]}]))
    elif kind == "exists":
        other = picker.choice(strings + numbers)[0]
        merge(pattern, nest(other + (".missing" if near_miss else ""), [{"exists": True}]))
    elif near_miss:
        merge(pattern, {"headers": {"user-agent": [{"prefix": "curl/"}]}})
    return pattern


def make_routes(documents: list[dict[str, Any]], count: int, seed: int) -> list[tuple[int, dict[str, Any]]]:
    """`count` routes: up to LIVE_PER_EVENT live routes per event first (round robin over events and kinds),
    then dead ones; live routes are dropped where an event would match more than MAX_MATCHES_PER_EVENT."""
    picker = random.Random(seed)
    patterns = []
    for number in range(count):
        document = documents[number % len(documents)]
        kind = KINDS[(number // len(documents)) % len(KINDS)]
        live = number < LIVE_PER_EVENT * len(documents)
        patterns.append(make_route(document, kind, number, picker, live=live,
                                   near_miss=live and number % NEAR_MISS_EVERY == NEAR_MISS_EVERY - 1))
    routes = list(enumerate(patterns))
    while True:
        matcher = RouteMatcher(routes)
        counts = [matcher.match(document) for document in documents]
        crowded = next((keys for keys in counts if len(keys) > MAX_MATCHES_PER_EVENT), None)
        if crowded is None:
            return routes
        drop = crowded[-1]
        routes[drop] = (drop, make_route(documents[drop % len(documents)], "exact", drop, picker, live=False,
                                         near_miss=False))


# --- adversarial arrays -------------------------------------------------------------------------------

ARRAY_SIZES = (1_000, 2_000, 5_000, 10_000, 20_000)  # elements per array, N


def _items(n: int, *elements: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(element) for element in elements for _ in range(n)]


def array_shapes(n: int) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """(pattern, body) per shape, with arrays of about `n` elements; no body matches."""
    return {
        "1 condition, 1 array": ({"body": {"items": {"sku": ["A"]}}}, {"items": _items(n, {"sku": "B"})}),
        "2 conditions, 1 array": ({"body": {"items": {"sku": ["A"], "qty": [2]}}},
                                  {"items": _items(n, {"qty": 2}, {"sku": "A"})}),
        "3 conditions, 1 array": ({"body": {"items": {"sku": ["A"], "qty": [2], "tax": [{"numeric": [">", 0]}]}}},
                                  {"items": _items(n, {"qty": 2, "sku": "A"}, {"sku": "A", "tax": 1})}),
        "2+2 conditions, 2 arrays": ({"body": {"a": {"x": [1], "y": [2]}, "b": {"x": [1], "y": [2]}}},
                                     {"a": [{"x": 1, "y": 2}, *_items(n, {"x": 1})],
                                      "b": _items(n, {"x": 1}, {"y": 2})}),
        "3 conditions, nested arrays": (
            {"body": {"orders": {"id": [{"exists": True}], "lines": {"sku": ["A"], "qty": [2]}}}},
            {"orders": [{"id": k, "lines": [{"qty": 2}, {"sku": "A"}]} for k in range(n)]}),
        "exists:false + anything-but": (
            {"body": {"items": {"qty": [2], "sku": [{"exists": False}], "tag": [{"anything-but": ["x"]}]}}},
            {"items": _items(n, {"qty": 2, "sku": "A", "tag": "y"}, {"qty": 2, "tag": "x"})}),
    }


def array_elements(value: Any) -> int:
    if isinstance(value, dict):
        return sum(array_elements(child) for child in value.values())
    if isinstance(value, list):
        return len(value) + sum(array_elements(child) for child in value)
    return 0


def time_arrays(sizes: list[int], rounds: int) -> list[dict[str, Any]]:
    """The best CPU time of `rounds` matches of each shape and size, on a body parsed from JSON (no shared
    objects, as the router sees it)."""
    results = []
    for shape in array_shapes(1):
        for n in sizes:
            pattern, body = array_shapes(n)[shape]
            raw = orjson.dumps(body)
            document = {"id": "evt", "source": "bench", "type": "t", "headers": {}, "body": orjson.loads(raw)}
            matcher = RouteMatcher([(0, pattern)])
            best = math.inf
            for _ in range(rounds):
                gc.collect()
                cpu = time.thread_time()
                matched = matcher.match(document)
                best = min(best, time.thread_time() - cpu)
            assert not matched, shape
            elements = array_elements(body)
            results.append({"shape": shape, "n": n, "kib": round(len(raw) / 1024), "elements": elements,
                            "ms_per_event": round(best * 1e3, 2), "us_per_element": round(best * 1e6 / elements, 3)})
    return results


def print_arrays(results: list[dict[str, Any]]) -> None:
    print("one route, one event: best CPU time of the rounds (matching only, body already parsed)")
    print(f"{'shape':>28} {'N':>7} {'KiB':>6} {'elements':>9} {'ms/event':>9} {'us/element':>11}")
    for result in results:
        print(f"{result['shape']:>28} {result['n']:>7} {result['kib']:>6} {result['elements']:>9} "
              f"{result['ms_per_event']:>9} {result['us_per_element']:>11}")


# --- measuring -----------------------------------------------------------------------------------------


def lazy_documents(documents: list[dict[str, Any]]) -> list[Event]:
    """The same events as the router sees them: raw body bytes, parsed by MatchDocument on first use."""
    return [Event(id=document["id"], source=document["source"], type=document["type"], received_at=0, verified=True,
                  content_type="application/json", body=orjson.dumps(document["body"]), headers=document["headers"])
            for document in documents]


def time_pass(matcher: RouteMatcher[int], documents: list[dict[str, Any]] | list[Event], seconds: float,
              *, parse: bool) -> tuple[float, float]:
    """Events per CPU second of this thread, and per wall-clock second, over passes through `documents` for
    at least `seconds` of CPU time. CPU time leaves out the time other processes took the core meanwhile."""
    gc.collect()
    events = 0
    wall, cpu = time.perf_counter(), time.thread_time()
    used = 0.0
    while used < seconds:
        if parse:
            for event in documents:
                matcher.match(MatchDocument(event))  # type: ignore[arg-type]
        else:
            for document in documents:
                matcher.match(document)  # type: ignore[arg-type]
        events += len(documents)
        used = time.thread_time() - cpu
    return events / used, events / (time.perf_counter() - wall)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (the median is reported)")
    parser.add_argument("--seconds", type=float, default=0.5, help="minimum time per run")
    parser.add_argument("--routes", default=",".join(map(str, ROUTE_COUNTS)), help="route counts to measure")
    parser.add_argument("--seed", type=int, default=20240611, help="seed of the route generator and run order")
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this CPU")
    parser.add_argument("--payloads", type=Path, default=PAYLOADS, help="the webhook payloads folder")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    parser.add_argument("--arrays", action="store_true", help="adversarial array bodies instead (see above)")
    parser.add_argument("--sizes", default=",".join(map(str, ARRAY_SIZES)), help="array sizes N for --arrays")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    if args.arrays:
        array_results = time_arrays([int(size) for size in args.sizes.split(",")], min(args.rounds, 3))
        if args.json:
            print(json.dumps({"arrays": array_results}, indent=2))
        else:
            print_arrays(array_results)
        return 0
    if not args.payloads.is_dir():
        print(f"no payloads at {args.payloads}", file=sys.stderr)
        return 2

    documents = load_documents(args.payloads)
    events = lazy_documents(documents)
    sizes = [int(size) for size in args.routes.split(",")]
    matchers: dict[int, RouteMatcher[int]] = {}
    matches: dict[int, list[int]] = {}
    build_seconds: dict[int, float] = {}
    for size in sizes:
        routes = make_routes(documents, size, args.seed)
        started = time.perf_counter()
        matchers[size] = RouteMatcher(routes)
        build_seconds[size] = time.perf_counter() - started
        matches[size] = [len(matchers[size].match(document)) for document in documents]

    rates: dict[tuple[int, bool], list[float]] = {(size, parse): [] for size in sizes for parse in (False, True)}
    wall_rates: dict[int, list[float]] = {size: [] for size in sizes}
    order = random.Random(args.seed)
    for _ in range(args.rounds):
        runs = list(rates)
        order.shuffle(runs)  # interleaved: drift on a shared machine touches every run alike
        for size, parse in runs:
            rate, wall_rate = time_pass(matchers[size], events if parse else documents, args.seconds, parse=parse)
            rates[size, parse].append(rate)
            if not parse:
                wall_rates[size].append(wall_rate)

    results: list[dict[str, Any]] = []
    for size in sizes:
        rate, rate_parsed = statistics.median(rates[size, False]), statistics.median(rates[size, True])
        results.append({
            "routes": size,
            "events_per_s": round(rate),
            "us_per_event": round(1e6 / rate, 2),
            "events_per_s_min_max": [round(min(rates[size, False])), round(max(rates[size, False]))],
            "events_per_s_wall": round(statistics.median(wall_rates[size])),
            "events_per_s_with_parse": round(rate_parsed),
            "matches_per_event": round(statistics.mean(matches[size]), 2),
            "max_matches_per_event": max(matches[size]),
            "build_s": round(build_seconds[size], 3),
        })
    by_size = {result["routes"]: result for result in results}
    ratio = (by_size[10_000]["us_per_event"] / by_size[100]["us_per_event"]
             if 100 in by_size and 10_000 in by_size else None)
    summary = {"events": len(documents), "rounds": args.rounds, "results": results,
               "cost_10000_vs_100": None if ratio is None else round(ratio, 2)}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{len(documents)} events (GitHub and Stripe payloads), median of {args.rounds} interleaved rounds, "
          "events per CPU second of one core")
    print(f"{'routes':>7} {'events/s':>10} {'us/event':>9} {'(min-max)':>17} {'wall ev/s':>10} {'with parse':>11} "
          f"{'matches/ev':>10} {'max':>4} {'build s':>8}")
    for result in results:
        low, high = result["events_per_s_min_max"]
        print(f"{result['routes']:>7} {result['events_per_s']:>10} {result['us_per_event']:>9} "
              f"{f'({low}-{high})':>17} {result['events_per_s_wall']:>10} {result['events_per_s_with_parse']:>11} "
              f"{result['matches_per_event']:>10} {result['max_matches_per_event']:>4} {result['build_s']:>8}")
    if ratio is not None:
        print(f"cost per event, 10,000 routes vs 100: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
