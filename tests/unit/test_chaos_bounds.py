"""The chaos runs' duplicate bound follows the config and the services' own prefetch rules."""

from __future__ import annotations

from router.service import PREFETCH as ROUTER_PREFETCH
from tests.chaos.pipeline import chaos_config, unconfirmed_windows
from tests.chaos.scenarios import SCENARIOS


def test_windows_come_from_load_concurrency_router_prefetch_and_destination_prefetch():
    config = chaos_config("hp-unit", "http://127.0.0.1:9/webhooks", "amqp://guest:guest@127.0.0.1:5672/")
    windows = unconfirmed_windows(config, load_concurrency=32)
    assert (windows.ingest, windows.router, windows.deliverer) == (32, ROUTER_PREFETCH, 20)


def test_ingest_window_is_capped_by_its_in_flight_limit_and_deliverer_window_by_the_rate_limit():
    config = chaos_config("hp-unit", "http://127.0.0.1:9/webhooks", "amqp://guest:guest@127.0.0.1:5672/")
    config["ingest"]["max_in_flight"] = {"requests": 16}
    config["destinations"]["receiver"]["rate_limit"] = "10/m"  # a minute at 10/min: prefetch 10
    windows = unconfirmed_windows(config, load_concurrency=1000)
    assert (windows.ingest, windows.deliverer) == (16, 10)


def test_each_scenario_bounds_duplicates_by_kills_times_what_it_broke():
    config = chaos_config("hp-unit", "http://127.0.0.1:9/webhooks", "amqp://guest:guest@127.0.0.1:5672/")
    windows = unconfirmed_windows(config, load_concurrency=32)
    bounds = {scenario.name: scenario.bound(3, windows) for scenario in SCENARIOS}
    assert bounds == {
        "kill-ingest": 3 * 32, "kill-router": 3 * ROUTER_PREFETCH, "kill-deliverer": 3 * 20,
        "broker-restart": 3 * (32 + ROUTER_PREFETCH + 20), "proxy-cut": 3 * (32 + ROUTER_PREFETCH + 20),
        "kill-cluster-node": 3 * (32 + ROUTER_PREFETCH + 20),
        "flapping-receiver": 0,
    }
