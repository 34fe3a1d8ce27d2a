"""The cluster overlay (deploy/docker-compose.cluster.yml) and the RabbitMQ settings it mounts.

The real Docker Compose binary merges docker-compose.yml with the overlay and renders it; the rendering must run
three RabbitMQ nodes that share one Erlang cookie and the single broker's plugins and settings, ingest, router,
deliverer and admin must each read a config (loaded by hookpipe's own loader) that lists all three nodes with the
broker's password (admin keeping its index volume), and Prometheus must find all three. Without the overlay,
docker-compose.yml must render as before. Finally the cluster settings (deploy/rabbitmq/cluster.conf) boot three
real RabbitMQ nodes that form a cluster by peer discovery alone, with only the node names rewritten to private
ones.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from hookpipe.config import load_config
from tests.deploy.conftest import unavailable
from tests.deploy.test_artefacts import assert_passes, compose_binary, tool
from tests.support.rabbitmq_node import RABBITMQ_SCRIPTS, PrivateRabbitMQ

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BASE = "deploy/docker-compose.yml"
OVERLAY = "deploy/docker-compose.cluster.yml"
CLUSTER_CONF = DEPLOY / "rabbitmq" / "cluster.conf"

NODES = {"rabbitmq", "rabbitmq-2", "rabbitmq-3"}
HOOKPIPE_SERVICES = ("ingest", "router", "deliverer", "admin")

#: Variables of the developer's shell that compose would read into the rendering; each test sets its own.
COMPOSE_VARIABLES = ("RABBITMQ_PASSWORD", "RABBITMQ_ERLANG_COOKIE", "HOOKPIPE_ADMIN_TOKEN", "COMPOSE_FILE",
                     "COMPOSE_PROFILES")


def compose(*files: str, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`docker-compose -f FILE... config --format json` with only `environ` of the variables above set."""
    env = {key: value for key, value in os.environ.items() if key not in COMPOSE_VARIABLES}
    arguments = [part for file in files for part in ("-f", file)]
    return subprocess.run([compose_binary(), *arguments, "config", "--format", "json"], env={**env, **(environ or {})},
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def rendered(*files: str, environ: dict[str, str] | None = None) -> dict[str, Any]:
    result = compose(*files, environ=environ)
    assert_passes(result)
    services: dict[str, Any] = json.loads(result.stdout)["services"]
    return services


def cluster(environ: dict[str, str] | None = None) -> dict[str, Any]:
    return rendered(BASE, OVERLAY, environ=environ)


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Target path -> source (a host path for a bind mount, the volume's name for a volume)."""
    return {volume["target"]: volume["source"] for volume in service.get("volumes", [])}


def conf_entries(text: str) -> dict[str, str]:
    """rabbitmq.conf's `key = value` lines."""
    entries = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            entries[key.strip()] = value.strip()
    return entries


# --- the overlay, rendered --------------------------------------------------------------------------------


def test_the_overlay_passes_docker_compose_config() -> None:
    result = subprocess.run([compose_binary(), "-f", BASE, "-f", OVERLAY, "config", "-q"], capture_output=True,
                            text=True, timeout=120, cwd=ROOT)
    assert_passes(result)


def test_three_nodes_share_one_cookie_and_the_single_brokers_plugins_and_settings() -> None:
    for environ, cookie in (({}, None), ({"RABBITMQ_ERLANG_COOKIE": "SETBYTHEOPERATOR"}, "SETBYTHEOPERATOR")):
        services = cluster(environ)
        nodes = {name: s for name, s in services.items() if s["image"].startswith("rabbitmq:")}
        assert set(nodes) == NODES
        cookies = {node["environment"]["RABBITMQ_ERLANG_COOKIE"] for node in nodes.values()}
        assert len(cookies) == 1 and cookies != {""}, cookies
        if cookie is not None:
            assert cookies == {cookie}, "the cookie comes from RABBITMQ_ERLANG_COOKIE"
        images = {node["image"] for node in nodes.values()}
        assert images == {services["rabbitmq"]["image"]}, "one RabbitMQ version across the cluster"
        data = set()
        for name, node in nodes.items():
            assert node["hostname"] == name, "the node name rabbit@<hostname> is how the others reach it"
            mounted = mounts(node)
            assert mounted["/etc/rabbitmq/enabled_plugins"] == str(DEPLOY / "rabbitmq" / "enabled_plugins")
            assert mounted["/etc/rabbitmq/conf.d/20-hookpipe.conf"] == str(DEPLOY / "rabbitmq" / "rabbitmq.conf")
            assert mounted["/etc/rabbitmq/conf.d/30-cluster.conf"] == str(CLUSTER_CONF)
            data.add(mounted["/var/lib/rabbitmq"])
            assert node["environment"]["RABBITMQ_DEFAULT_USER"] == "hookpipe"
            assert node["healthcheck"]["test"][:2] == ["CMD", "rabbitmq-diagnostics"]
            published = node.get("ports", [])
            assert name == "rabbitmq" or not published, f"{name} publishes a port"
        assert len(data) == 3, "each node keeps its own data volume"
    plugins = (DEPLOY / "rabbitmq" / "enabled_plugins").read_text()
    assert "rabbitmq_management" in plugins and "rabbitmq_prometheus" in plugins


def test_the_joiners_discover_the_seed_once_it_is_healthy() -> None:
    services = cluster()
    entries = conf_entries(CLUSTER_CONF.read_text())
    assert entries["cluster_formation.peer_discovery_backend"] == "classic_config"
    listed = {value for key, value in entries.items() if key.startswith("cluster_formation.classic_config.nodes.")}
    assert listed == {"rabbit@rabbitmq"}, "peer discovery lists the seed alone"
    assert not set(services["rabbitmq"].get("depends_on", {})) & NODES, "the seed waits for no other node"
    for joiner in NODES - {"rabbitmq"}:
        assert services[joiner]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    assert entries["cluster_partition_handling"] == "pause_minority"


def test_every_hookpipe_service_lists_every_node_with_the_brokers_password() -> None:
    services = cluster({"RABBITMQ_PASSWORD": "set-by-the-operator"})
    nodes = {services[name]["hostname"] for name in NODES}
    for name in HOOKPIPE_SERVICES:
        service = services[name]
        source = mounts(service)["/etc/hookpipe/pipeline.yaml"]
        assert source == str(DEPLOY / "pipeline.cluster.yaml"), name
        assert ("HOOKPIPE_ADMIN_TOKEN" in service["environment"]) == (name == "admin"), "admin's token: its alone"
        urls = load_config(source, environ=service["environment"]).config.broker.url
        parts = [urlsplit(url) for url in urls]
        assert {(part.hostname, part.port) for part in parts} == {(node, 5672) for node in nodes}, (name, urls)
        assert len(urls) == len(nodes), urls
        assert {(part.username, part.password) for part in parts} == {("hookpipe", "set-by-the-operator")}
        for node in NODES:
            assert service["depends_on"][node]["condition"] == "service_healthy", (name, node)
    assert services["deliverer"]["depends_on"]["receiver"]["condition"] == "service_started"


def test_admin_keeps_its_index_volume_and_api_port_on_the_cluster() -> None:
    single, clustered = rendered(BASE)["admin"], cluster()["admin"]
    index = mounts(single)["/var/lib/hookpipe"]
    assert mounts(clustered)["/var/lib/hookpipe"] == index, "the same index: only the config file changes"
    assert set(mounts(clustered)) == set(mounts(single))
    assert clustered["ports"] == single["ports"] and clustered["command"] == ["admin"]
    token = load_config(mounts(clustered)["/etc/hookpipe/pipeline.yaml"],
                        environ=clustered["environment"]).config.admin.token
    assert token == clustered["environment"]["HOOKPIPE_ADMIN_TOKEN"]


def test_the_cluster_pipeline_differs_from_the_single_one_only_in_its_broker_list() -> None:
    single = yaml.safe_load((DEPLOY / "pipeline.yaml").read_text())
    clustered = yaml.safe_load((DEPLOY / "pipeline.cluster.yaml").read_text())
    assert isinstance(single["broker"].pop("url"), str) and len(clustered["broker"].pop("url")) == 3
    assert clustered == single


def rabbitmq_targets(prometheus: dict[str, Any]) -> set[str]:
    """The `rabbitmq` job's targets as the Prometheus container sees them: its static ones, and those of every
    file-discovery file that the service mounts."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = (job for job in config["scrape_configs"] if job["job_name"] == "rabbitmq")
    targets = {target for group in job["static_configs"] for target in group["targets"]}
    patterns = [f"/etc/prometheus/{pattern}" for sd in job.get("file_sd_configs", []) for pattern in sd["files"]]
    for target, source in mounts(prometheus).items():
        if any(fnmatch.fnmatch(target, pattern) for pattern in patterns):
            targets |= {address for group in yaml.safe_load(Path(source).read_text()) for address in group["targets"]}
    return targets


def test_prometheus_scrapes_every_node_with_the_overlay_and_the_one_broker_without() -> None:
    services = cluster()
    assert rabbitmq_targets(services["prometheus"]) == {f"{services[n]['hostname']}:15692" for n in NODES}
    assert rabbitmq_targets(rendered(BASE)["prometheus"]) == {"rabbitmq:15692"}


def test_promtool_checks_the_node_files_the_overlay_mounts(tmp_path: Path) -> None:
    """`promtool check config` (test_artefacts) reads rabbitmq-nodes.yml beside prometheus.yml: a broken one
    fails it, so the real file passing means something."""
    promtool = tool("promtool")
    shutil.copytree(DEPLOY / "prometheus", tmp_path / "prometheus")
    assert_passes(subprocess.run([promtool, "check", "config", str(tmp_path / "prometheus" / "prometheus.yml")],
                                 capture_output=True, text=True, timeout=60))
    (tmp_path / "prometheus" / "rabbitmq-nodes.yml").write_text("- target: [rabbitmq-2:15692]\n")
    broken = subprocess.run([promtool, "check", "config", str(tmp_path / "prometheus" / "prometheus.yml")],
                            capture_output=True, text=True, timeout=60)
    assert broken.returncode != 0


def test_without_the_overlay_the_compose_file_runs_one_broker_as_before() -> None:
    services = rendered(BASE, environ={"RABBITMQ_ERLANG_COOKIE": "IGNORED"})
    assert {name for name, s in services.items() if s["image"].startswith("rabbitmq:")} == {"rabbitmq"}
    assert "RABBITMQ_ERLANG_COOKIE" not in services["rabbitmq"]["environment"]
    assert "/etc/rabbitmq/conf.d/30-cluster.conf" not in mounts(services["rabbitmq"])
    for name in HOOKPIPE_SERVICES:
        assert mounts(services[name])["/etc/hookpipe/pipeline.yaml"] == str(DEPLOY / "pipeline.yaml")
        assert set(services[name]["depends_on"]) <= {"rabbitmq", "receiver"}


# --- the cluster settings, on real nodes --------------------------------------------------------------------


class ConfiguredNode(PrivateRabbitMQ):
    """A private node whose rabbitmq.conf also holds `extra` (deploy/rabbitmq/cluster.conf, names rewritten)."""

    def __init__(self, cookie: str, extra: str = "") -> None:
        super().__init__("hp-deploy-cluster", plugins=(), cookie=cookie)
        self.extra = extra

    def _environment(self) -> dict[str, str]:
        environment = super()._environment()
        conf = self.directory / "rabbitmq.conf"
        conf.write_text(conf.read_text() + self.extra)
        return environment


@pytest.fixture
def nodes() -> Iterator[list[ConfiguredNode]]:
    started: list[ConfiguredNode] = []
    yield started
    for node in started:
        node.stop()


def running_nodes(node: PrivateRabbitMQ) -> set[str]:
    return set(json.loads(node.ctl("cluster_status", "--formatter", "json")).get("running_nodes", []))


@pytest.mark.e2e
def test_the_cluster_settings_form_a_cluster_of_three_by_peer_discovery(nodes: list[ConfiguredNode]) -> None:
    """The seed boots alone (discovery lists only itself), then two blank nodes boot side by side and join it
    with no rabbitmqctl: the settings as shipped, on the installed rabbitmq-server (node names rewritten). A
    node that does not boot fails the test: the settings may be what it refused."""
    if not (RABBITMQ_SCRIPTS / "rabbitmq-server").exists():
        unavailable("rabbitmq-server not installed (apt-get install rabbitmq-server)")
    cookie = "HOOKPIPEDEPLOYTEST" + os.urandom(8).hex().upper()
    seed = ConfiguredNode(cookie)
    seed.extra = CLUSTER_CONF.read_text().replace("rabbit@rabbitmq", seed.node_name)
    joiners = [ConfiguredNode(cookie, seed.extra) for _ in range(2)]
    nodes.extend([seed, *joiners])
    seed.start()
    assert running_nodes(seed) == {seed.node_name}
    with ThreadPoolExecutor(2) as pool:
        for booted in [pool.submit(node.start) for node in joiners]:
            booted.result()
    expected = {node.node_name for node in nodes}
    assert running_nodes(seed) == expected
    assert running_nodes(joiners[1]) == expected
