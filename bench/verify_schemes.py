"""What each signature scheme's check costs, on the webhook corpus's accepted requests.

For every scheme with a corpus, every accepted case is verified (and identified) over and over in this process,
with no HTTP and no broker: the figure is the scheme's own CPU per request, beside which ingest's HTTP and publish
cost (`make bench-ingest`) can be read. SNS runs with its certificates pinned, so nothing is fetched. Prints
µs per request, median of `--rounds` rounds, per scheme.

    .venv/bin/python -m bench.verify_schemes [--rounds 5] [--seconds 0.2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from typing import Any

from ingest.verify import InboundRequest, Scheme, build_scheme
from tests.support.corpus import inbound, load_cases, scheme_of, verify_config


def accepted_cases() -> dict[str, list[dict[str, Any]]]:
    """Scheme -> its accepted corpus cases whose source can be built here (SNS only when its certificates are
    pinned: a fetched one would need a server)."""
    by_scheme: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case in load_cases():
        if case["expected"]["verdict"] != "accept" or case.get("prior_requests"):
            continue
        if scheme_of(case) == "sns" and not case["receiver"].get("certificates"):
            continue
        by_scheme[scheme_of(case)].append(case)
    return by_scheme


def microseconds_per_request(scheme: Scheme, requests: list[InboundRequest], seconds: float) -> float:
    """Verify and identify the requests in turn for about `seconds`; µs per request. Each pass takes a new
    request object, so a JSON body is parsed again, as it is for every request ingest gets."""
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for request in requests:
            fresh = InboundRequest(method=request.method, query_string=request.query_string,
                                   headers=request.headers, body=request.body, now=request.now)
            scheme.verify(fresh)
            scheme.identify(fresh)
        done += len(requests)
    return (time.perf_counter() - started) / done * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.2, help="per scheme and round")
    args = parser.parse_args()
    results = {}
    for name, cases in sorted(accepted_cases().items()):
        scheme = build_scheme(verify_config(cases[0]))
        # Cases of one scheme may differ in their receiver (secrets, URL): keep those the first one's source takes.
        same = [case for case in cases if case["receiver"] == cases[0]["receiver"]]
        requests = [inbound(case) for case in same]
        rounds = [microseconds_per_request(scheme, requests, args.seconds) for _ in range(args.rounds)]
        results[name] = (statistics.median(rounds), min(rounds), max(rounds), len(same))
    print(f"{'scheme':<20}{'µs/request':>12}{'(min-max)':>18}{'cases':>7}")
    for name, (median, low, high, count) in sorted(results.items(), key=lambda item: item[1][0]):
        print(f"{name:<20}{median:>12.1f}{f'({low:.1f}-{high:.1f})':>18}{count:>7}")


if __name__ == "__main__":
    main()
