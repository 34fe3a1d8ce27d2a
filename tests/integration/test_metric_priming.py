"""Before any event, each service's /metrics already has a 0 for every configured source, route and destination
and every reason the dashboards show (gone deliveries, dead letters, replays, router dead letters...), so
panels read 0 instead of "No data"; a reload that adds a source, a route and a destination adds theirs too.

The services run in one process here and share the client library's registry, but each primes metric families
of its own (ingest the ingest_*, router the router_*, deliverer the delivery_*), so each listener's answer
shows that service's priming.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.pipeline import InProcessPipeline, load, ops_url, pipeline_config
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def two_of_each(prefix: str, receiver_url: str, tag: str) -> dict[str, Any]:
    """Sources, destinations and routes named after `tag`: no other test in this process counts them."""
    base = pipeline_config(prefix, receiver_url)
    source, destination = base["sources"]["demo"], base["destinations"]["receiver"]
    return pipeline_config(
        prefix, receiver_url,
        sources={f"shop-{tag}": source, f"crm-{tag}": {**source, "response": {"status": 202}}},
        destinations={f"billing-{tag}": destination, f"audit-{tag}": destination},
        routes=[{"name": f"orders-{tag}", "sources": [f"shop-{tag}"], "to": [f"billing-{tag}", f"audit-{tag}"]},
                {"name": f"contacts-{tag}", "sources": [f"crm-{tag}"], "to": [f"audit-{tag}"]}],
    )


async def scrape(config: dict[str, Any], service: str) -> Samples:
    async with aiohttp.ClientSession() as http, http.get(ops_url(config, service, "/metrics")) as response:
        assert response.status == 200
        text = await response.text()
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def missing_zeros(samples: Samples, expected: list[tuple[str, dict[str, str]]]) -> list[str]:
    """The expected samples that are absent or not 0."""
    return [f"{name}{labels}={samples.get((name, frozenset(labels.items())))}" for name, labels in expected
            if samples.get((name, frozenset(labels.items()))) != 0]


def ingest_series(config: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    series = []
    for name, source in config["sources"].items():
        status = str(source.get("response", {}).get("status", 200))
        series.append(("hookpipe_ingest_requests_total", {"source": name, "status": status}))
        series += [("hookpipe_ingest_rejections_total", {"source": name, "reason": reason})
                   for reason in ("bad_signature", "rate_limited", "too_large", "broker_unavailable")]
    return series


def router_series(config: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    series = [("hookpipe_route_matches_total", {"route": route["name"]}) for route in config["routes"]]
    return series + [("hookpipe_router_deliveries_total", {"destination": name}) for name in config["destinations"]]


def deliverer_series(config: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    series = []
    for name in config["destinations"]:
        series += [
            ("hookpipe_delivery_gone_total", {"destination": name}),
            ("hookpipe_retries_scheduled_total", {"destination": name}),
            ("hookpipe_delivery_attempts_total", {"destination": name, "outcome": "delivered", "status_class": "2xx"}),
            ("hookpipe_delivery_attempts_total", {"destination": name, "outcome": "failed", "status_class": "5xx"}),
            ("hookpipe_deliveries_in_flight", {"destination": name}),
        ]
        series += [("hookpipe_dead_letters_total", {"destination": name, "reason": reason})
                   for reason in ("exhausted", "expired", "dead_letter_on", "blocked_address")]
        series += [("hookpipe_replayed_delivery_attempts_total", {"destination": name, "outcome": outcome})
                   for outcome in ("delivered", "failed")]
    return series


#: Series labelled by a closed set only: present from the start (other tests in this process may have counted).
CLOSED_SET_SERIES = [
    *[("hookpipe_router_dead_letters_total", {"reason": reason})
      for reason in ("malformed", "bad_json", "transform_failed", "publish_failed")],
    *[("hookpipe_router_replayed_events_total", {"outcome": outcome}) for outcome in ("routed", "unmatched", "failed")],
    *[("hookpipe_router_events_total", {"outcome": outcome}) for outcome in ("routed", "unmatched", "failed")],
]


async def assert_primed(config: dict[str, Any]) -> None:
    samples = {service: await scrape(config, service) for service in ("ingest", "router", "deliverer")}
    assert not missing_zeros(samples["ingest"], ingest_series(config))
    assert not missing_zeros(samples["router"], router_series(config))
    assert not missing_zeros(samples["deliverer"], deliverer_series(config))
    absent = [f"{name}{labels}" for name, labels in CLOSED_SET_SERIES
              if (name, frozenset(labels.items())) not in samples["router"]]
    assert not absent, absent


async def test_every_configured_series_reads_0_before_the_first_event_and_after_a_reload_adds_names(
    prefix: str, receiver: Receiver, topology_cleanup: Callable[[dict[str, Any]], None]
) -> None:
    tag = uuid.uuid4().hex[:8]
    config = two_of_each(prefix, receiver.url, tag)
    topology_cleanup(config)
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    try:
        await assert_primed(config)

        grown = dict(config)
        grown["sources"] = {**config["sources"], f"forms-{tag}": config["sources"][f"shop-{tag}"]}
        grown["destinations"] = {**config["destinations"], f"crm-sync-{tag}": config["destinations"][f"audit-{tag}"]}
        grown["routes"] = [*config["routes"],
                           {"name": f"forms-{tag}", "sources": [f"forms-{tag}"], "to": [f"crm-sync-{tag}"]}]
        added = {"sources": {f"forms-{tag}": grown["sources"][f"forms-{tag}"]},
                 "destinations": {f"crm-sync-{tag}": grown["destinations"][f"crm-sync-{tag}"]},
                 "routes": grown["routes"][-1:]}
        topology_cleanup(grown)
        before = {service: await scrape(config, service) for service in ("ingest", "router", "deliverer")}
        for service, series in (("ingest", ingest_series), ("router", router_series),
                                ("deliverer", deliverer_series)):
            expected = series(added)
            assert len(missing_zeros(before[service], expected)) == len(expected), f"{service}: primed before"
        for service in ("ingest", "router", "deliverer"):
            await pipeline[service].reload(load(grown))
        await assert_primed(grown)
    finally:
        await pipeline.stop()
