"""What a new config changes for the deliverer (deliverer.reload): destinations added, removed and changed, the
rungs still to declare, what renews a breaker or a consumer, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from deliverer.reload import config_change, destination_change
from hookpipe.config import Config, ConfigError, DestinationConfig, parse_config


def destination(**settings: Any) -> dict[str, Any]:
    return {"url": "https://example.com/h", "signing": {"scheme": "none"}, "retry": {"schedule": ["1s"]},
            **settings}


def config(**destinations: dict[str, Any]) -> Config:
    return parse_config({"destinations": destinations}, environ={}).config


def test_destinations_added_removed_and_changed_and_only_undeclared_rungs_to_declare() -> None:
    old = config(a=destination(), b=destination(), c=destination())
    new = config(a=destination(), c=destination(url="https://other.example/h"),
                 d=destination(retry={"schedule": ["1s", "30s"]}))
    change = config_change(old, new, declared_rungs=[800, 900, 1000, 1100, 1200])
    assert (change.added, change.removed, change.changed) == (["d"], ["b"], ["c"])
    assert change.new_rungs == [24000, 27000, 30000, 33000, 36000]
    assert set(change.new_rungs) < set(change.rungs)


def test_changing_ordering_or_the_ops_address_is_refused_naming_each() -> None:
    old = config(a=destination())
    new = parse_config({"destinations": {"a": destination(ordering="fifo")}, "deliverer": {"ops": "127.0.0.1:1"}},
                       environ={}).config
    with pytest.raises(ConfigError) as refused:
        config_change(old, new, declared_rungs=[])
    assert [problem.split(":")[0] for problem in refused.value.problems] == [
        "deliverer.ops", "destinations.a.ordering"]


def settings(**changes: Any) -> DestinationConfig:
    return DestinationConfig.model_validate(destination(**changes))


def test_a_new_destination_gets_a_breaker_and_no_consumer_restart() -> None:
    assert destination_change(None, settings()) == destination_change(None, settings(concurrency=3))
    first = destination_change(None, settings())
    assert (first.new_breaker, first.restart_consumer) == (True, False)


def test_new_breaker_settings_renew_the_breaker_and_its_consumer() -> None:
    change = destination_change(settings(), settings(breaker={"failures": 9}))
    assert (change.new_breaker, change.restart_consumer) == (True, True)


def test_a_new_prefetch_restarts_the_consumer_only() -> None:
    change = destination_change(settings(concurrency=20), settings(concurrency=3))
    assert (change.new_breaker, change.restart_consumer) == (False, True)


def test_a_new_url_keeps_breaker_and_consumer() -> None:
    change = destination_change(settings(), settings(url="https://other.example/h"))
    assert (change.new_breaker, change.restart_consumer) == (False, False)
