"""Real Prometheus, scraping a real pipeline and RabbitMQ's plugin, answers every dashboard query and alert rule.

One scenario runs once for the module: the three services and `hookpipe admin` (its index a SQLite file in the
scenario's directory) as processes against a private RabbitMQ node with its Prometheus plugin, Prometheus
started from deploy/prometheus/prometheus.yml (targets and a 1 s interval swapped in) with
deploy/prometheus/alerts.yml, and traffic that exercises what the dashboards show: accepted events, rejections,
an unknown source, an unrouted event, a destination that answers 503 until its breaker opens (retries, a
backlog), one that answers 410 (a dead letter), a healthy one (end-to-end latency), and admin API requests with
the token, without it and with a wrong one (the archive and the delivery log give the index its records).
Then every panel query of every dashboard runs through Prometheus's HTTP API with fixed variable values.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
import urllib.request
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
import yaml
from aiohttp import web

from tests.deploy.conftest import unavailable
from tests.support import dashboards
from tests.support.pipeline import DESTINATION_SECRET, ingest_url, new_prefix, pipeline_config
from tests.support.processes import ServiceProcess, admin_process, admin_section
from tests.support.prometheus_server import PrometheusServer, PrometheusUnavailable, QueryFailed
from tests.support.rabbitmq_node import NodeUnavailable, PrivateRabbitMQ, start_private_rabbitmq
from tests.support.receiver import Receiver
from tests.support.service_set import SERVICES, ServiceSet

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"

#: Every hookpipe process of the scenario, each scraped as job hookpipe-{name}.
ALL_SERVICES = (*SERVICES, "admin")
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"

#: Scrape and rule evaluation interval (s): short, so the scenario shows up in seconds.
SCRAPE_INTERVAL = 1

#: What `$__rate_interval` becomes: Grafana's floor is 4 scrape intervals; a little more smooths the edges.
RATE_INTERVAL = "10s"

#: Seconds to wait for any one thing to show in Prometheus (a scrape is 1 s; a breaker needs a few attempts).
SHOW_TIMEOUT = 60.0

PARTNER_TOKEN = "observability-partner-token"
ADMIN_TOKEN = "observability-admin-token-0123456789"
#: Admin API requests refused in the scenario: no Authorization, not Bearer, a wrong token.
REFUSED_ADMIN_REQUESTS = 3
DEMO_EVENTS = 12
BAD_SIGNATURES = 4
BREAKER_FAILURES = 3

#: Stands for any 2xx answer of ingest.
ACCEPTED = 200

#: Panels that must return data after the scenario, per dashboard; every other panel must at least execute.
#: "Router dead letters" and "Replays" count nothing in the scenario: they show the 0s each service creates at
#: start for its configured names and reasons.
CORE_PANELS = {
    "hookpipe-overview.json": {
        "Ingest rate by source", "Rejects by reason", "Ingest publish latency", "Router outcomes",
        "Matches per route", "Router dead letters", "Replays", "End-to-end latency", "Delivery success ratio",
        "Delivery outcomes", "Attempt latency", "Retries scheduled", "Dead letters", "Deliveries in flight",
        "Breaker state", "Paused destinations", "Queue depth", "Queue consumers", "Dead-letter queues", "Retry rungs",
        "Targets up", "Broker links", "Admin API requests", "Admin API latency p99", "Refused admin tokens",
        "Index lag", "Records indexed", "Indexing replica",
    },
    "hookpipe-destination.json": {
        "Success ratio", "Attempts", "Breaker", "Paused", "Queue depth", "Attempts by outcome", "Routed to it",
        "Attempt latency", "Retries and dead letters", "Breaker state", "Queue", "In flight",
    },
}

T = TypeVar("T")


class BackgroundLoop:
    """An event loop in a thread: the receivers answer while the module's tests run synchronously."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def answer_503(_: web.Request, __: int) -> web.StreamResponse:
    return web.Response(status=503, text="down for maintenance")


async def answer_410(_: web.Request, __: int) -> web.StreamResponse:
    return web.Response(status=410, text="gone")


def scenario_config(prefix: str, broker_url: str, urls: dict[str, str], directory: Path) -> dict[str, Any]:
    def destination(name: str, **extra: Any) -> dict[str, Any]:
        return {"url": urls[name], "timeout": "5s", "concurrency": 4, "allow_private_network": ["127.0.0.0/8"],
                "signing": {"scheme": "standard-webhooks", "secrets": [DESTINATION_SECRET]},
                "retry": {"schedule": ["200ms", "500ms"], "max_age": "1h"}, **extra}

    return pipeline_config(
        prefix, urls["receiver"], broker_url=broker_url,
        sources={
            "demo": {"verify": {"scheme": "none"}, "unverified": True, "id": {"header": "x-test-id"}, "dedup": "off"},
            "partner": {"verify": {"scheme": "bearer", "secrets": [PARTNER_TOKEN]}, "id": {"header": "x-test-id"}},
            "stray": {"verify": {"scheme": "none"}, "unverified": True},  # no route names it: unmatched
        },
        destinations={
            "receiver": destination("receiver"),
            # Its breaker opens after a few 503s: retries scheduled, then a backlog in its queue.
            "flaky": destination("flaky", breaker={"failures": BREAKER_FAILURES, "cooldown": "10m"}),
            "gone": destination("gone"),  # 410 is in dead_letter_on by default: a dead letter at once
        },
        routes=[
            {"name": "demo-everywhere", "sources": ["demo"], "to": ["receiver", "flaky", "gone"]},
            {"name": "partner-to-receiver", "sources": ["partner"], "to": ["receiver"]},
        ],
        # The archive and the delivery log (on by default) are the streams admin indexes.
        archive={"max_age": "1h", "max_bytes": "1GiB"},
        admin=admin_section(ADMIN_TOKEN, directory),
    )


def prometheus_config(targets: dict[str, str]) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with its targets replaced by this run's and a 1 s interval."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == set(targets), f"prometheus.yml scrapes {sorted(jobs)}; dashboards and alerts use {sorted(targets)}"
    config["global"] = {"scrape_interval": f"{SCRAPE_INTERVAL}s", "evaluation_interval": f"{SCRAPE_INTERVAL}s"}
    config["rule_files"] = [str(ALERTS)]
    for job in config["scrape_configs"]:
        job.pop("dns_sd_configs", None)
        job.pop("file_sd_configs", None)  # the cluster overlay's other RabbitMQ nodes
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    return config


async def call_admin(config: dict[str, Any]) -> None:
    """The admin API: answered with the token, refused without it, not Bearer, and with a wrong one."""
    url = f"http://{config['admin']['listen']}/api/v1/events"
    answers = {f"Bearer {ADMIN_TOKEN}": 200, "": 401, "Basic YWRtaW46YWRtaW4=": 401, "Bearer not-the-token": 401}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        for authorization, expected in answers.items():
            headers = {"Authorization": authorization} if authorization else {}
            async with http.get(url, headers=headers) as response:
                assert response.status == expected, f"{authorization!r}: {response.status} {await response.text()}"


async def send_traffic(config: dict[str, Any]) -> None:
    await call_admin(config)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:

        async def post(source: str, headers: dict[str, str], expected: int) -> None:
            async with http.post(ingest_url(config, source), data=b'{"type": "order.created", "n": 1}',
                                 headers={"Content-Type": "application/json", **headers}) as response:
                status = response.status
                assert status == expected or (expected == ACCEPTED and 200 <= status < 300), (
                    f"{source}: {status} {await response.text()}")

        for n in range(DEMO_EVENTS):
            await post("demo", {"x-test-id": f"demo-{n}"}, ACCEPTED)
        for n in range(3):
            await post("partner", {"x-test-id": f"partner-{n}", "Authorization": f"Bearer {PARTNER_TOKEN}"}, ACCEPTED)
        for _ in range(BAD_SIGNATURES):
            await post("partner", {"Authorization": "Bearer wrong-token"}, 401)
        await post("nosuch", {}, 404)
        await post("stray", {}, ACCEPTED)


class ObservedPipeline:
    """Everything the scenario needs, started in order and stopped in reverse."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.loop = BackgroundLoop()
        self.node: PrivateRabbitMQ | None = None
        self.receivers = {"receiver": Receiver(), "flaky": Receiver(answer_503), "gone": Receiver(answer_410)}
        self.prefix = new_prefix()
        self.services: ServiceSet | None = None
        self.admin: ServiceProcess | None = None
        self.prometheus: PrometheusServer | None = None
        self.started_at = time.time()

    def start(self) -> None:
        self.node = start_private_rabbitmq()
        urls = {name: self.loop.run(receiver.start()) for name, receiver in self.receivers.items()}
        self.config = scenario_config(self.prefix, self.node.amqp_url, urls, self.directory)
        self.services = ServiceSet(self.config, self.directory)
        self.loop.run(self.services.start())
        self.admin = admin_process(self.services.config_path, self.config, self.directory)
        self.admin.start()
        self.loop.run(self.admin.wait_ready(60))
        self.prometheus = PrometheusServer(prometheus_config({
            **{f"hookpipe-{name}": self.config[name]["ops"] for name in ALL_SERVICES},
            "rabbitmq": self.node.prometheus_address,
        }))
        self.prometheus.start()
        self.started_at = time.time()
        self.loop.run(send_traffic(self.config))

    def stop(self) -> None:
        if self.prometheus is not None:
            self.prometheus.stop()
        if self.admin is not None:
            try:
                self.admin.terminate()
            finally:
                self.admin.kill()
        if self.services is not None:
            try:
                self.loop.run(self.services.stop())
            finally:
                self.services.kill_all()
        for receiver in self.receivers.values():
            self.loop.run(receiver.stop())
        self.loop.close()
        if self.node is not None:
            self.node.stop()

    def wait_for_scenario(self) -> None:
        """Until Prometheus shows the scenario's outcomes (each is an event the services report)."""
        assert self.prometheus is not None
        prom, queue = self.prometheus, f'"{self.prefix}.deliver.flaky"'
        expectations = {
            "all five targets up": ('count(up == 1)', lambda v: v == 5),
            "every delivery to the healthy receiver": (
                'sum(hookpipe_end_to_end_seconds_count{destination="receiver"})', lambda v: v >= DEMO_EVENTS + 3),
            "the breaker of flaky open": ('hookpipe_breaker_state{destination="flaky"}', lambda v: v == 1),
            "a dead letter to gone": (
                'sum(hookpipe_dead_letters_total{destination="gone", reason="dead_letter_on"})', lambda v: v >= 1),
            "the 410s counted": ('sum(hookpipe_delivery_gone_total{destination="gone"})', lambda v: v >= 1),
            "bad signatures rejected": (
                'sum(hookpipe_ingest_rejections_total{reason="bad_signature"})', lambda v: v == BAD_SIGNATURES),
            "an unmatched event": ('sum(hookpipe_router_events_total{outcome="unmatched"})', lambda v: v >= 1),
            "flaky's backlog in RabbitMQ": (f"sum(rabbitmq_queue_messages{{queue={queue}}})", lambda v: v > 0),
            "flaky's queue without consumers": (f"sum(rabbitmq_queue_consumers{{queue={queue}}})", lambda v: v == 0),
            "admin's refusals": ("sum(hookpipe_admin_unauthorized_total)", lambda v: v == REFUSED_ADMIN_REQUESTS),
            "admin indexing": ("sum(hookpipe_admin_index_active)", lambda v: v == 1),
            "every accepted event in the index": (
                'sum(hookpipe_admin_index_records_total{kind="archived"})', lambda v: v >= DEMO_EVENTS + 3),
            "delivery attempts in the index": (
                'sum(hookpipe_admin_index_records_total{kind="attempt"})', lambda v: v >= DEMO_EVENTS + 3),
        }
        for description, (expr, holds) in expectations.items():
            prom.wait_for(description, lambda e=expr, h=holds: (v := prom.value(e)) is not None and h(v),
                          SHOW_TIMEOUT)


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObservedPipeline]:
    pipeline = ObservedPipeline(tmp_path_factory.mktemp("observed"))
    try:
        try:
            pipeline.start()
        except (NodeUnavailable, PrometheusUnavailable) as error:
            unavailable(str(error))
        pipeline.wait_for_scenario()
        yield pipeline
    except BaseException:
        if pipeline.services is not None:
            for name, text in pipeline.services.logs(4000).items():
                print(f"--- {name} log ---\n{text}")
        if pipeline.admin is not None and pipeline.admin.log_path.exists():
            print(f"--- admin log ---\n{pipeline.admin.log_path.read_text(errors='replace')[-4000:]}")
        if pipeline.prometheus is not None:
            print(f"--- prometheus log ---\n{pipeline.prometheus.log_tail()}")
        raise
    finally:
        pipeline.stop()


def variables(observed: ObservedPipeline, dashboard: str) -> dict[str, str]:
    """Fixed values for the dashboards' variables: "All" on the overview, the failing destination alone on
    the drill-down, and this run's topology prefix."""
    return {"datasource": "prometheus", "__rate_interval": RATE_INTERVAL, "source": ".*", "prefix": observed.prefix,
            "destination": "flaky" if dashboard == "hookpipe-destination.json" else ".*"}


def run_panels(observed: ObservedPipeline) -> tuple[dict[tuple[str, str], bool], list[str]]:
    """Every panel target through query_range over the scenario: (dashboard, panel) -> any data; errors."""
    assert observed.prometheus is not None
    has_data: dict[tuple[str, str], bool] = {}
    errors = []
    for name, board in dashboards.load_all().items():
        values = variables(observed, name)
        for target in dashboards.targets(name, board):
            expr = dashboards.substitute(target.expr, values)
            key = (name, target.panel)
            try:
                result = observed.prometheus.query_range(expr, observed.started_at - 5, time.time())
            except QueryFailed as error:
                errors.append(f"{name} / {target.panel} / {target.ref_id}: {error}\n  {expr}")
                continue
            has_data[key] = has_data.get(key, False) or bool(result)
    return has_data, errors


def test_prometheus_scrapes_every_service_and_rabbitmq_per_queue(observed: ObservedPipeline) -> None:
    assert observed.prometheus is not None
    targets = observed.prometheus.api("targets")["activeTargets"]
    assert {(t["labels"]["job"], t["health"]) for t in targets} == {
        ("hookpipe-ingest", "up"), ("hookpipe-router", "up"), ("hookpipe-deliverer", "up"), ("hookpipe-admin", "up"),
        ("rabbitmq", "up")}
    queues = {r["metric"]["queue"] for r in observed.prometheus.query("rabbitmq_queue_messages")}
    assert f"{observed.prefix}.deliver.flaky" in queues, "the plugin's per-object endpoint gives one series per queue"


def test_every_dashboard_query_runs_and_core_panels_show_the_scenario(observed: ObservedPipeline) -> None:
    assert observed.prometheus is not None
    has_data, errors = run_panels(observed)
    assert not errors, "queries Prometheus refused:\n" + "\n".join(errors)
    for name, core in CORE_PANELS.items():
        titles = {panel for board, panel in has_data if board == name}
        assert core <= titles, f"{name}: core panels missing from the dashboard: {sorted(core - titles)}"
    # Rates need two samples in a window: poll until every core panel has data, or name those that never do.
    deadline = time.monotonic() + SHOW_TIMEOUT
    while True:
        empty = sorted(f"{board} / {panel}" for board, core in CORE_PANELS.items() for panel in core
                       if not has_data.get((board, panel)))
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(1)
        has_data, _ = run_panels(observed)
    assert not empty, f"core panels without data after the scenario: {empty}"


def test_dashboard_variables_list_the_pipeline_labels(observed: ObservedPipeline) -> None:
    assert observed.prometheus is not None
    for board in dashboards.load_all().values():
        for variable in board["templating"]["list"]:
            if variable["type"] != "query":
                continue
            # label_values(metric, label) is Grafana's; Prometheus's label API answers the same question.
            metric, label = variable["query"].removeprefix("label_values(").removesuffix(")").split(", ")
            values = set(observed.prometheus.api(f"label/{label}/values", **{"match[]": metric}))
            expected = {"demo", "partner"} if label == "source" else {"receiver", "flaky", "gone"}
            assert expected <= values, f"{variable['name']}: {sorted(values)}"


def test_alert_rules_evaluate_against_real_series(observed: ObservedPipeline) -> None:
    assert observed.prometheus is not None
    prom = observed.prometheus
    never = "0001-01-01T00:00:00Z"  # Prometheus's lastEvaluation before a rule's first evaluation
    prom.wait_for("every alert rule evaluated", lambda: all(
        rule["lastEvaluation"] != never for group in prom.api("rules")["groups"] for rule in group["rules"]),
        SHOW_TIMEOUT)
    rules = [rule for group in prom.api("rules")["groups"] for rule in group["rules"]]
    assert len(rules) == len([r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]])
    broken = [f"{rule['name']}: {rule.get('lastError')}" for rule in rules if rule["health"] != "ok"]
    assert not broken, broken
    # The scenario's dead letter fires an alert at the next evaluation (the rule has no `for`).
    def active() -> set[tuple[str, str | None]]:
        return {(a["labels"]["alertname"], a["labels"].get("destination")) for a in prom.api("alerts")["alerts"]
                if a["state"] == "firing"}

    prom.wait_for("HookpipeDeadLettersGrowing firing for gone",
                  lambda: ("HookpipeDeadLettersGrowing", "gone") in active(), SHOW_TIMEOUT)
    assert ("HookpipeDeadLettersGrowing", "receiver") not in active(), "the healthy destination dead-letters nothing"
    # admin runs, is linked and indexes: none of its alerts is even pending (absent() and the joins see it).
    admin_alerts = {"HookpipeAdminDown", "HookpipeIndexLagging", "HookpipeIndexNotActive"}
    pending = [a["labels"] for a in prom.api("alerts")["alerts"] if a["labels"]["alertname"] in admin_alerts]
    assert not pending, pending


def test_service_metrics_pass_promtool_check_metrics(observed: ObservedPipeline) -> None:
    for name in ALL_SERVICES:
        with urllib.request.urlopen(f"http://{observed.config[name]['ops']}/metrics", timeout=10) as response:
            exposition = response.read()
        assert b"hookpipe_" in exposition
        checked = subprocess.run(["promtool", "check", "metrics"], input=exposition, capture_output=True, timeout=60)
        assert checked.returncode == 0, f"{name}: {checked.stdout.decode()}{checked.stderr.decode()}"
