"""Reading the services' ops listeners from the CLI: Prometheus samples from /metrics, JSON from the others.

A service that does not answer is not an error here: the operations commands print what they can and mark
the rest unknown, so every reader returns None instead of raising.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from prometheus_client.parser import text_string_to_metric_families

from hookpipe.runtime.ops_listener import ops_base_url

#: Time allowed for one request to an ops listener (s): they answer from memory, on a private address.
OPS_TIMEOUT = 3.0

Labels = tuple[tuple[str, str], ...]


@dataclass(slots=True)
class Samples:
    """One scrape: sample values by metric name, then by their sorted label pairs."""

    values: dict[str, dict[Labels, float]] = field(default_factory=lambda: defaultdict(dict))

    def get(self, name: str, **labels: str) -> float:
        """The sum of the samples of `name` whose labels include `labels` (0 when there is none)."""
        wanted = set(labels.items())
        return sum(value for key, value in self.values.get(name, {}).items() if wanted <= set(key))

    def by(self, name: str, label: str, **labels: str) -> dict[str, float]:
        """The samples of `name` that include `labels`, summed per value of `label`."""
        wanted = set(labels.items())
        totals: dict[str, float] = defaultdict(float)
        for key, value in self.values.get(name, {}).items():
            pairs = dict(key)
            if wanted <= set(key) and label in pairs:
                totals[pairs[label]] += value
        return dict(totals)


def parse_samples(text: str) -> Samples:
    samples = Samples()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.values[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return samples


async def scrape(session: aiohttp.ClientSession, address: str) -> Samples | None:
    """The service's /metrics, or None when it does not answer."""
    text = await _get(session, address, "/metrics")
    return None if text is None else parse_samples(text.decode("utf-8", "replace"))


async def get_json(session: aiohttp.ClientSession, address: str, path: str) -> Any | None:
    """A JSON ops endpoint's document, whatever its status (/readyz answers 503 with a body); None when the
    service does not answer or the body is not JSON."""
    body = await _get(session, address, path)
    if body is None:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


async def _get(session: aiohttp.ClientSession, address: str, path: str) -> bytes | None:
    try:
        async with session.get(ops_base_url(address) + path, timeout=aiohttp.ClientTimeout(total=OPS_TIMEOUT)) as r:
            if r.status == 404:
                return None
            return await r.read()
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
        return None


def ops_session() -> aiohttp.ClientSession:
    """A session for ops listeners: never through a proxy from the environment (they are private addresses)."""
    return aiohttp.ClientSession(trust_env=False)
