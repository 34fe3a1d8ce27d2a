"""What `make run` checks and prints before it starts anything (scripts/run_plan.py, scripts/broker_check.py):
the line about a held port names it, what wants it and how to move it; the banner follows the config used; the
broker probe tells a broker from a mute or foreign server; the install hint fits the platform."""

from __future__ import annotations

import errno
import importlib.util
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from hookpipe.config import Config, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "pipeline.yaml"


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


run_plan = _script("run_plan")
broker_check = _script("broker_check")


def example(environ: dict[str, str] | None = None) -> tuple[Config, Any]:
    raw = yaml.safe_load(EXAMPLE.read_text())
    return load_config(EXAMPLE, environ=environ or {}).config, raw


@pytest.fixture
def held_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock.getsockname()[1]


# --- ports ------------------------------------------------------------------------------------------------


def test_example_reads_every_port_from_its_own_variable() -> None:
    config, raw = example()
    found = {listener.key.split(",")[0]: listener for listener in run_plan.listeners(config, raw)}
    assert {key: (listener.port, listener.variable) for key, listener in found.items()} == {
        "ingest.listen": (8080, "HOOKPIPE_INGEST_LISTEN"),
        "ingest.ops": (9101, "HOOKPIPE_INGEST_OPS"),
        "router.ops": (9102, "HOOKPIPE_ROUTER_OPS"),
        "deliverer.ops": (9103, "HOOKPIPE_DELIVERER_OPS"),
        "destinations.receiver.url": (9000, "RECEIVER_URL"),
    }


def test_receiver_url_moves_the_demo_receiver() -> None:
    config, _ = example({"RECEIVER_URL": "http://127.0.0.1:9500/hooks"})
    assert run_plan.demo_receiver(config) == ("127.0.0.1", 9500, "/hooks")


def test_a_remote_receiver_destination_starts_no_demo_receiver() -> None:
    config, _ = example({"RECEIVER_URL": "https://hooks.example.com/in"})
    assert run_plan.demo_receiver(config) is None


def test_a_held_port_gives_one_line_with_the_port_the_key_and_the_variable(held_port: int) -> None:
    config, raw = example({"HOOKPIPE_ROUTER_OPS": f"127.0.0.1:{held_port}"})
    problem = run_plan.port_problem(run_plan.listeners(config, raw), "examples/pipeline.yaml", True)
    assert problem is not None and "\n" not in problem
    assert problem.startswith(f"port {held_port} (router.ops) is in use: stop what holds it, or choose another: "
                              f"HOOKPIPE_ROUTER_OPS=127.0.0.1:")
    assert problem.endswith(" make run (or copy examples/pipeline.yaml and run HOOKPIPE_CONFIG=my.yaml make run)")
    suggested = int(problem.split("HOOKPIPE_ROUTER_OPS=127.0.0.1:")[1].split()[0])
    assert suggested != held_port
    assert run_plan.bind_error("127.0.0.1", suggested) is None


def test_a_held_receiver_port_suggests_a_whole_receiver_url(held_port: int) -> None:
    config, raw = example({"RECEIVER_URL": f"http://127.0.0.1:{held_port}/webhooks"})
    problem = run_plan.port_problem(run_plan.listeners(config, raw), "examples/pipeline.yaml", True)
    assert problem is not None
    assert problem.startswith(f"port {held_port} (destinations.receiver.url, the demo receiver) is in use")
    assert "RECEIVER_URL=http://127.0.0.1:" in problem and "/webhooks make run" in problem


def test_a_config_of_ones_own_without_variables_is_named_to_be_edited(held_port: int) -> None:
    config = parse_config({"ingest": {"listen": f"127.0.0.1:{held_port}"}}, environ={}).config
    raw = {"ingest": {"listen": f"127.0.0.1:{held_port}"}}
    problem = run_plan.port_problem(run_plan.listeners(config, raw), "my.yaml", False)
    assert problem is not None
    assert f"port {held_port} (ingest.listen) is in use" in problem
    assert "change ingest.listen in my.yaml (e.g. to 127.0.0.1:" in problem
    assert "make run" not in problem


def test_one_port_wanted_twice_is_refused_before_anything_binds() -> None:
    config, raw = example({"HOOKPIPE_ROUTER_OPS": "127.0.0.1:9101"})
    problem = run_plan.port_problem(run_plan.listeners(config, raw), "examples/pipeline.yaml", True)
    assert problem is not None
    assert problem.startswith("port 9101 is wanted by both ingest.ops and router.ops: choose another: "
                              "HOOKPIPE_ROUTER_OPS=127.0.0.1:")


def test_variable_of_is_only_a_value_that_is_one_variable() -> None:
    raw = {"a": {"b": "${X:-1}", "c": "http://${HOST}:80", "d": 5}}
    assert run_plan.variable_of(raw, "a", "b") == "X"
    assert run_plan.variable_of(raw, "a", "c") is None
    assert run_plan.variable_of(raw, "a", "d") is None
    assert run_plan.variable_of(raw, "a", "missing") is None


# --- the banner ---------------------------------------------------------------------------------------------


def test_banner_names_the_ports_and_the_demo_source_of_the_config_used() -> None:
    config, _ = example({"HOOKPIPE_INGEST_LISTEN": "127.0.0.1:18080", "HOOKPIPE_ROUTER_OPS": "127.0.0.1:19102"})
    text = run_plan.banner(config, "examples/pipeline.yaml")
    assert "  ingest:   http://127.0.0.1:18080/ingest/{source}" in text
    assert "  ops:      http://127.0.0.1:9101/metrics (ingest), :19102 (router), :9103 (deliverer)" in text
    assert "  receiver: http://127.0.0.1:9000/webhooks" in text
    assert "curl -X POST http://127.0.0.1:18080/ingest/demo " in text
    assert "8080/" not in text.replace("18080/", "")


def test_banner_without_an_unsigned_source_lists_the_sources() -> None:
    config = parse_config({"ingest": {"listen": "0.0.0.0:7000"}, "sources": {
        "partner": {"verify": {"scheme": "bearer", "secrets": ["a-partner-token-of-some-length"]}},
        "stripe": {"verify": {"scheme": "stripe", "secrets": ["whsec_c3RyaXBlLWRlbW8tc2VjcmV0"]}},
    }}, environ={}).config
    text = run_plan.banner(config, "my.yaml")
    assert "  ingest:   http://127.0.0.1:7000/ingest/{source}" in text
    assert "curl" not in text and "receiver:" not in text
    assert "Sources: partner, stripe" in text


def test_shell_plan_is_shell_that_sets_the_readiness_urls() -> None:
    config, _ = example({"HOOKPIPE_DELIVERER_OPS": "127.0.0.1:19103"})
    plan = run_plan.shell_plan(config, "examples/pipeline.yaml")
    assert "ready_urls=(http://127.0.0.1:9101/readyz http://127.0.0.1:9102/readyz http://127.0.0.1:19103/readyz)" \
        in plan.splitlines()
    assert "receiver_args=(--host 127.0.0.1 --port 9000 --path /webhooks)" in plan.splitlines()


# --- the broker probe ------------------------------------------------------------------------------------------


def _serve_once(reply: bytes) -> tuple[socket.socket, int]:
    """A listener that answers the first connection's first 8 bytes with `reply`, then closes it."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(8)
            connection.sendall(reply)

    threading.Thread(target=answer, daemon=True).start()
    return listener, listener.getsockname()[1]


#: The start of a real Connection.Start frame: type 1, channel 0, size, class 10, method 10, version 0-9.
CONNECTION_START = b"\x01\x00\x00\x00\x00\x01\xf4\x00\x0a\x00\x0a\x00\x09"


def test_probe_accepts_a_connection_start_frame() -> None:
    listener, port = _serve_once(CONNECTION_START)
    with listener:
        assert broker_check.probe(f"amqp://guest:guest@127.0.0.1:{port}/")[0] == 0


def test_probe_of_a_mute_server_names_host_and_port_but_not_the_password() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:  # accepts (backlog), never answers
        port = listener.getsockname()[1]
        status, line = broker_check.probe(f"amqp://guest:pa55word@127.0.0.1:{port}/", timeout=0.5)
    assert status == broker_check.EXIT_NOT_AMQP
    assert f"127.0.0.1:{port}" in line and "no AMQP handshake" in line
    assert "pa55word" not in line


@pytest.mark.parametrize(("reply", "words"), [(b"HTTP/1.1 400 Bad Request\r\n\r\n", "HTTP"),
                                              (b"AMQP\x00\x00\x09\x00", "another AMQP protocol version"),
                                              (b"", "closed the connection")])
def test_probe_of_a_foreign_server_says_what_answered(reply: bytes, words: str) -> None:
    listener, port = _serve_once(reply)
    with listener:
        status, line = broker_check.probe(f"amqp://127.0.0.1:{port}/", timeout=2)
    assert status == broker_check.EXIT_NOT_AMQP
    assert words in line and f"127.0.0.1:{port}" in line


def test_probe_of_a_closed_port_says_nothing_listens() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    assert broker_check.probe(f"amqp://127.0.0.1:{port}/")[0] == broker_check.EXIT_NOTHING_LISTENS


def test_where_uses_amqps_default_port_and_knows_local_hosts() -> None:
    assert broker_check.where("amqps://u:p@broker.example.com/") == ("broker.example.com", 5671, False)
    assert broker_check.where("amqp://localhost/") == ("localhost", 5672, True)


# --- starting a broker -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("system", "os_release", "command"), [
    ("Linux", 'ID=debian\nVERSION_ID="12"\n', "sudo apt-get install rabbitmq-server"),
    ("Linux", "ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n", "sudo apt-get install rabbitmq-server"),
    ("Linux", 'ID="rocky"\nID_LIKE="rhel centos fedora"\n', "sudo dnf install rabbitmq-server"),
    ("Linux", "ID=fedora\n", "sudo dnf install rabbitmq-server"),
    ("Darwin", "", "brew install rabbitmq && brew services start rabbitmq"),
    ("Linux", "ID=alpine\n", None),
])
def test_install_command_fits_the_platform(system: str, os_release: str, command: str | None) -> None:
    assert broker_check.install_command(system, os_release) == command


def test_the_container_runs_the_image_the_compose_file_runs() -> None:
    compose = (REPO / "deploy" / "docker-compose.yml").read_text()
    image = broker_check.compose_image(compose)
    assert image is not None and image.startswith("rabbitmq:3.")
    assert f"image: {image}" in compose


def test_a_localhost_listener_is_checked_on_every_address_localhost_has() -> None:
    addresses = {info[4][0] for info in socket.getaddrinfo("localhost", 0, type=socket.SOCK_STREAM)}
    if "::1" not in addresses:
        pytest.skip("localhost has no IPv6 address here")
    with socket.socket(socket.AF_INET6) as held:
        held.bind(("::1", 0))
        held.listen()
        port = held.getsockname()[1]
        error = run_plan.bind_error("localhost", port)
    assert error is not None and error.errno == errno.EADDRINUSE


def test_with_an_admin_token_the_plan_runs_admin_and_checks_its_ports() -> None:
    config, raw = example({"HOOKPIPE_ADMIN_TOKEN": "a-run-plan-admin-token", "HOOKPIPE_ADMIN_OPS": "127.0.0.1:19104"})
    assert {listener.key for listener in run_plan.listeners(config, raw)} >= {"admin.listen", "admin.ops"}
    plan = run_plan.shell_plan(config, "examples/pipeline.yaml")
    assert "ready_services=(ingest router deliverer admin)" in plan
    assert "http://127.0.0.1:19104/readyz" in plan
    assert "  admin:    http://127.0.0.1:8090/api/v1 (bearer token: .hookpipe-admin-token" in plan
    assert "  console:  http://127.0.0.1:8090/ (sign in with the same token)" in plan


def test_without_an_admin_token_admin_does_not_run() -> None:
    config, raw = example({})
    assert "admin.listen" not in {listener.key for listener in run_plan.listeners(config, raw)}
    assert "ready_services=(ingest router deliverer)" in run_plan.shell_plan(config, "examples/pipeline.yaml")
