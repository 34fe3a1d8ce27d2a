"""Every series a dashboard or alert reads for a configured name or a closed-set value exists at 0 before the
first event, and the closed sets hookpipe/runtime/metrics.py primes are the values the services actually count."""

from __future__ import annotations

import ast
import re
import uuid
from enum import StrEnum
from pathlib import Path

import yaml
from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.metrics import MetricWrapperBase

from hookpipe.amqp.broker import PublishFailure
from hookpipe.config import Config
from hookpipe.outcomes import (
    DeadLetterReason,
    DeliveryOutcome,
    IngestRejection,
    RouterDeadLetterReason,
    RouterOutcome,
)
from hookpipe.runtime import metrics
from tests.support import dashboards
from tests.support.pipeline import load, pipeline_config

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"

#: Series a service sets from its own state rather than priming: breaker and pause gauges once it consumes,
#: broker links once they connect, reload results when the reloader starts.
SET_BY_THEIR_SERVICE = {
    "hookpipe_breaker_state", "hookpipe_destination_paused", "hookpipe_broker_connected",
    "hookpipe_config_reloads_total", "hookpipe_config_last_reload_successful",
    # one series per route template, method and status as they are answered: not primable in advance
    "hookpipe_admin_requests_total",
}


def unique_config() -> Config:
    """Two sources, two destinations and two routes with names no other test uses (the registry is global)."""
    tag = uuid.uuid4().hex[:8]
    base = pipeline_config("hp-unit", "http://127.0.0.1:9/")
    source = {**base["sources"]["demo"], "response": {"status": 202}}
    destination = base["destinations"]["receiver"]
    return load({
        **base,
        "sources": {f"in-a-{tag}": source, f"in-b-{tag}": base["sources"]["demo"]},
        "destinations": {f"out-a-{tag}": destination, f"out-b-{tag}": destination},
        "routes": [{"name": f"route-a-{tag}", "to": [f"out-a-{tag}"]},
                   {"name": f"route-b-{tag}", "to": [f"out-a-{tag}", f"out-b-{tag}"]}],
    }).config


def value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def prime_all(config: Config) -> None:
    metrics.prime_admin()
    metrics.prime_ingest(config)
    metrics.prime_router(config)
    metrics.prime_deliverer(config)


def test_ingest_primes_each_source_at_its_success_status_and_every_reject_reason() -> None:
    config = unique_config()
    first, second = config.sources
    assert value("hookpipe_ingest_requests_total", source=first, status="202") is None
    metrics.prime_ingest(config)
    assert value("hookpipe_ingest_requests_total", source=first, status="202") == 0
    assert value("hookpipe_ingest_requests_total", source=second, status="200") == 0
    for source in config.sources:
        assert value("hookpipe_ingest_duplicates_total", source=source) == 0
        for reason in metrics.INGEST_REJECT_REASONS:
            assert value("hookpipe_ingest_rejections_total", source=source, reason=reason) == 0


def test_router_primes_outcomes_dead_letter_reasons_routes_and_destinations() -> None:
    config = unique_config()
    metrics.prime_router(config)
    for outcome in ("routed", "unmatched", "failed"):
        assert value("hookpipe_router_events_total", outcome=outcome) is not None  # other tests may count
        assert value("hookpipe_router_replayed_events_total", outcome=outcome) is not None
    for reason in ("malformed", "bad_json", "transform_failed", "match_budget_exceeded", "publish_failed"):
        assert value("hookpipe_router_dead_letters_total", reason=reason) is not None
    for route in config.routes:
        assert value("hookpipe_route_matches_total", route=route.name) == 0
    for destination in config.destinations:
        assert value("hookpipe_router_deliveries_total", destination=destination) == 0


def test_deliverer_primes_every_destination_counter_and_leaves_latency_to_its_first_attempt() -> None:
    config = unique_config()
    metrics.prime_deliverer(config)
    for destination in config.destinations:
        assert value("hookpipe_delivery_attempts_total", destination=destination, outcome="delivered",
                     status_class="2xx") == 0
        assert value("hookpipe_delivery_attempts_total", destination=destination, outcome="failed",
                     status_class="none") == 0
        for outcome in ("delivered", "failed"):
            assert value("hookpipe_replayed_delivery_attempts_total", destination=destination, outcome=outcome) == 0
        for reason in ("exhausted", "expired", "dead_letter_on", "blocked_address", "malformed"):
            assert value("hookpipe_dead_letters_total", destination=destination, reason=reason) == 0
        assert value("hookpipe_delivery_gone_total", destination=destination) == 0
        assert value("hookpipe_retries_scheduled_total", destination=destination) == 0
        assert value("hookpipe_deliveries_in_flight", destination=destination) == 0
        assert value("hookpipe_end_to_end_seconds_count", destination=destination) is None


def test_priming_again_keeps_what_was_counted() -> None:
    config = unique_config()
    destination = next(iter(config.destinations))
    metrics.prime_deliverer(config)
    metrics.DEAD_LETTERS.labels(destination=destination, reason="exhausted").inc()
    metrics.prime_deliverer(config)  # a reload
    assert value("hookpipe_dead_letters_total", destination=destination, reason="exhausted") == 1


# --- every panel and alert reads primed series ---------------------------------------------------------


def queried_metrics() -> set[str]:
    """Every hookpipe metric a dashboard panel or an alert rule reads."""
    exprs = [t.expr for name, board in dashboards.load_all().items() for t in dashboards.targets(name, board)]
    exprs += [rule["expr"] for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]
    return {name for expr in exprs for name in re.findall(r"\bhookpipe_\w+", expr)}


def by_name() -> dict[str, MetricWrapperBase]:
    """Exported name (`_total` for counters) -> metric, for every metric in hookpipe/runtime/metrics.py."""
    return {value._name + ("_total" if isinstance(value, Counter) else ""): value
            for value in vars(metrics).values() if isinstance(value, MetricWrapperBase)}


def test_every_labelled_counter_and_gauge_a_panel_or_alert_reads_is_primed_for_each_configured_name() -> None:
    config = unique_config()
    prime_all(config)
    configured = set(config.sources) | set(config.destinations) | {route.name for route in config.routes}
    known = by_name()
    unprimed = []
    for name in sorted(queried_metrics()):
        metric = known.get(name.removesuffix("_bucket").removesuffix("_count"))
        assert metric is not None, f"{name}: read by a dashboard or alert but not defined in hookpipe.runtime.metrics"
        if isinstance(metric, Histogram) or not metric._labelnames or name in SET_BY_THEIR_SERVICE:
            continue
        samples = [sample for family in metric.collect() for sample in family.samples]
        names_labelled = {"source", "destination", "route"} & set(metric._labelnames)
        if names_labelled:
            ok = any(set(sample.labels.values()) & configured and sample.value == 0 for sample in samples)
        else:  # labelled by a closed set only (outcome, reason)
            ok = bool(samples)
        if not ok:
            unprimed.append(name)
    assert not unprimed, f"read by a panel or alert but not primed for the config: {unprimed}"


# --- the closed sets are the values the code counts ----------------------------------------------------
#
# Each set is a StrEnum (hookpipe.outcomes, or the broker's PublishFailure) and every place that gives a value
# names a member: a string literal there would let a value escape its set, so it fails here (and in mypy).
# Every member must be given somewhere, so a set never primes a series nothing counts.


def python_files(*paths: str) -> list[Path]:
    return [file for path in paths
            for file in (sorted((ROOT / path).rglob("*.py")) if (ROOT / path).is_dir() else [ROOT / path])]


def calls(name: str, *paths: str) -> list[ast.Call]:
    """Every call of a function or method called `name` in the Python files under `paths` (files or folders)."""
    return [node for file in python_files(*paths) for node in ast.walk(ast.parse(file.read_text()))
            if isinstance(node, ast.Call)
            and (node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)) == name]


def given(name: str, position: int, *paths: str) -> list[str]:
    """The source of the argument at `position` (or named `reason`) of each call of `name` that has one."""
    found = []
    for call in calls(name, *paths):
        if len(call.args) > position:
            found.append(ast.unparse(call.args[position]))
        found += [ast.unparse(keyword.value) for keyword in call.keywords if keyword.arg == "reason"]
    return found


def members(expressions: list[str], enum: type[StrEnum], where: str) -> set[StrEnum]:
    """The members of `enum` the `expressions` name (`Enum.NAME`), failing on anything else (a literal)."""
    prefix = enum.__name__ + "."
    strays = [expression for expression in expressions if not expression.startswith(prefix)]
    assert expressions and not strays, f"{where}: give a member of {enum.__name__}, not {strays}"
    return {enum[expression.removeprefix(prefix)] for expression in expressions}


def test_ingest_refuses_only_with_members_of_ingest_rejection_and_with_every_one() -> None:
    refused = given("Rejected", 0, "ingest", "control")
    assert members(refused, IngestRejection, "Rejected(...)") == set(IngestRejection), "a reason ingest never gives"
    sourceless = {IngestRejection.UNKNOWN_SOURCE, IngestRejection.NOT_FOUND}  # only ever source="_unknown"
    assert set(metrics.INGEST_REJECT_REASONS) == set(IngestRejection) - sourceless


def test_router_dead_letters_and_counts_only_with_members_and_with_every_one() -> None:
    dead = given("_dead_letter", 1, "router/service.py")
    assert members(dead, RouterDeadLetterReason, "_dead_letter(...)") == set(RouterDeadLetterReason)
    counted = given("_count", 1, "router/service.py")
    assert members(counted, RouterOutcome, "_count(...)") == set(RouterOutcome)


def test_deliverer_dead_letters_only_with_members_and_with_every_one() -> None:
    reasons = given("Decision", 99, "deliverer") + given("dead_letter", 2, "deliverer")
    assert "decision.reason" in reasons, "the deliverer no longer dead-letters what retry decides"
    reasons = [expression for expression in reasons if expression != "decision.reason"]
    assert members(reasons, DeadLetterReason, "dead_letter(...)") == set(DeadLetterReason), "a reason no code gives"


def test_deliverer_counts_attempts_by_delivery_outcome_only() -> None:
    counters = ("metrics.DELIVERY_ATTEMPTS", "metrics.REPLAYED_DELIVERY_ATTEMPTS")
    counted = [ast.unparse(call.args[2]) for call in calls("labelled", "deliverer")
               if ast.unparse(call.args[0]) in counters]
    assert counted == ["outcome", "outcome"], counted
    source = (ROOT / "deliverer/attempts.py").read_text()
    assert "outcome = DeliveryOutcome.DELIVERED if result.delivered else DeliveryOutcome.FAILED" in source
    assert {outcome for outcome, _ in metrics.ATTEMPT_RESULTS} == set(DeliveryOutcome)


def test_publish_fails_only_with_members_of_publish_failure_and_with_every_one() -> None:
    raised = given("PublishFailed", 0, "hookpipe", "ingest", "router", "deliverer", "control")
    assert members(raised, PublishFailure, "PublishFailed(...)") == set(PublishFailure), "a reason never raised"


def test_no_metric_label_of_a_closed_set_is_a_string_literal() -> None:
    literal = [f"{keyword.arg}={ast.unparse(keyword.value)}"
               for call in calls("labels", "hookpipe", "ingest", "router", "deliverer", "control")
               for keyword in call.keywords
               if keyword.arg in ("reason", "outcome") and isinstance(keyword.value, ast.Constant)]
    assert not literal, f"name the enum member instead: {literal}"
