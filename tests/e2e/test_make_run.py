"""`make run` (scripts/run-pipeline) as a user runs it, with real processes: it either runs the whole pipeline and
says where, or stops before starting anything with one line saying why (a held port, a mute broker, no broker to
start), and Ctrl-C leaves no process behind.

Every run uses free ports through the example config's variables, a prefix of its own, and its own process
group, which the test stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hookpipe.config import expand_variables
from tests.support.pipeline import AMQP_URL, delete_topology, free_port, new_prefix

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
RUN_PIPELINE = REPO / "scripts" / "run-pipeline"
ENSURE_RABBITMQ = REPO / "scripts" / "ensure-rabbitmq"
EXAMPLE = REPO / "examples" / "pipeline.yaml"

#: Bound on a run that must fail before starting anything (config check, plan, broker probe: a few seconds).
FAIL_TIMEOUT = 120

#: Bound on start-up, on an event's way to the receiver, and on stopping: generous for a 2-core machine.
WAIT_TIMEOUT = 120.0

PORT_VARIABLES = ["HOOKPIPE_INGEST_LISTEN", "HOOKPIPE_INGEST_OPS", "HOOKPIPE_ROUTER_OPS", "HOOKPIPE_DELIVERER_OPS",
                  "HOOKPIPE_ADMIN_LISTEN", "HOOKPIPE_ADMIN_OPS"]

ADMIN_TOKEN = "make-run-test-admin-token-0123456789"

INSTALL_COMMANDS = ["sudo apt-get install rabbitmq-server", "sudo dnf install rabbitmq-server",
                    "brew install rabbitmq && brew services start rabbitmq", "https://www.rabbitmq.com/docs/download"]


def run_environ(**overrides: str) -> dict[str, str]:
    """The caller's environment with every port of the example moved to a free one and a prefix of its own."""
    environ = {key: value for key, value in os.environ.items() if key != "HOOKPIPE_CONFIG"}
    environ.update({variable: f"127.0.0.1:{free_port()}" for variable in PORT_VARIABLES})
    environ["RECEIVER_URL"] = f"http://127.0.0.1:{free_port()}/webhooks"
    environ["HOOKPIPE_PREFIX"] = new_prefix()
    environ["AMQP_URL"] = AMQP_URL
    # hookpipe admin runs too: a token of the test's (make run would keep one in the repository's folder) and an
    # index of its own
    environ["HOOKPIPE_ADMIN_TOKEN"] = ADMIN_TOKEN
    environ["HOOKPIPE_ADMIN_INDEX"] = str(Path(tempfile.mkdtemp(prefix="hp-make-run-")) / "index.sqlite3")
    environ.update(overrides)
    return environ


def live_members(group: int) -> list[str]:
    """`pid command` of every process of the group that is not a zombie (a reaped child is gone)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        state, _, pgrp = stat.rpartition(")")[2].split()[:3]
        if int(pgrp) == group and state != "Z":
            found.append(f"{entry.name} {command}")
    return found


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """End the run and everything in its process group: SIGTERM, then SIGKILL."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(WAIT_TIMEOUT)
    if live_members(process.pid):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(10)


def run_to_end(command: Path, environ: dict[str, str], log: Path) -> tuple[int, str]:
    """Run `command` in a process group of its own until it exits; (status, stdout and stderr)."""
    with log.open("wb") as out:
        process = subprocess.Popen([str(command)], cwd=REPO, env=environ, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        status = process.wait(FAIL_TIMEOUT)
    finally:
        stop_group(process)
    return status, log.read_text()


def delete_example_topology(environ: dict[str, str]) -> None:
    config = expand_variables(yaml.safe_load(EXAMPLE.read_text()), environ)
    asyncio.run(delete_topology(config))


def tool_path(directory: Path, tools: list[str]) -> str:
    """A PATH of symlinks to `tools` only (so rabbitmq-server and docker are not on it)."""
    directory.mkdir(exist_ok=True)
    for tool in tools:
        found = shutil.which(tool)
        assert found is not None, f"{tool} is needed to run the scripts"
        (directory / tool).symlink_to(found)
    return str(directory)


@pytest.fixture
def held_socket() -> Iterator[socket.socket]:
    """A listener on a free port of 127.0.0.1, as another program holding a port would be."""
    with socket.create_server(("127.0.0.1", free_port())) as sock:
        yield sock


# --- failing before anything starts -----------------------------------------------------------------------------


@pytest.mark.parametrize("variable", [*PORT_VARIABLES, "RECEIVER_URL"])
def test_a_held_port_stops_the_run_with_one_line_naming_the_port_and_its_variable(
    variable: str, held_socket: socket.socket, tmp_path: Path
) -> None:
    port = held_socket.getsockname()[1]
    value = f"http://127.0.0.1:{port}/webhooks" if variable == "RECEIVER_URL" else f"127.0.0.1:{port}"
    status, output = run_to_end(RUN_PIPELINE, run_environ(**{variable: value}), tmp_path / "run.log")
    assert status != 0, output
    lines = [line for line in output.splitlines() if f"port {port}" in line]
    assert len(lines) == 1, output
    assert f"{variable}=" in lines[0] and "is in use" in lines[0], lines[0]
    assert "hookpipe is running" not in output
    assert "[router]" not in output and "[receiver]" not in output, "nothing may start"


def test_a_mute_broker_stops_the_run_naming_host_and_port_but_not_the_password(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", free_port())) as mute:  # the kernel accepts; nobody ever answers
        port = mute.getsockname()[1]
        environ = run_environ(AMQP_URL=f"amqp://guest:not-this-pa55word@127.0.0.1:{port}/")
        status, output = run_to_end(RUN_PIPELINE, environ, tmp_path / "run.log")
    assert status != 0, output
    assert [line for line in output.splitlines() if f"127.0.0.1:{port}" in line], output
    assert "AMQP handshake" in output
    assert "not-this-pa55word" not in output
    assert "hookpipe is running" not in output and "[router]" not in output


def test_no_broker_and_none_to_start_prints_the_install_command(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there
    path = tool_path(tmp_path / "bin", ["bash", "dirname", "env", "python3", "sleep"])
    environ = run_environ(AMQP_URL=f"amqp://guest:guest@127.0.0.1:{closed}/", PATH=path)
    status, output = run_to_end(RUN_PIPELINE, environ, tmp_path / "run.log")
    assert status != 0, output
    assert any(command in output for command in INSTALL_COMMANDS), output
    assert f"127.0.0.1:{closed}" in output
    assert "hookpipe is running" not in output and "[router]" not in output


#: A stand-in for the RabbitMQ container: answers every connection's protocol header with Connection.Start.
FAKE_BROKER = """
import socket, sys
CONNECTION_START = b"\\x01\\x00\\x00\\x00\\x00\\x01\\xf4\\x00\\x0a\\x00\\x0a\\x00\\x09"
with socket.create_server(("127.0.0.1", int(sys.argv[1]))) as listener:
    while True:
        connection, _ = listener.accept()
        with connection:
            connection.recv(8)
            connection.sendall(CONNECTION_START)
"""

#: A `docker` whose daemon answers and whose `run` starts the stand-in on the port the broker URL names.
FAKE_DOCKER = """#!/bin/bash
echo "$*" >> "$FAKE_DOCKER_LOG"
case "$1" in
  info) exit 0 ;;
  run) "$FAKE_PYTHON" "$FAKE_BROKER" "$FAKE_BROKER_PORT" </dev/null >/dev/null 2>&1 & echo 0123456789ab ;;
  *) exit 1 ;;
esac
"""


def test_without_rabbitmq_server_a_running_docker_daemon_runs_the_compose_files_rabbitmq(tmp_path: Path) -> None:
    port = free_port()
    path = tool_path(tmp_path / "bin", ["bash", "dirname", "env", "python3", "sleep"])
    docker = tmp_path / "bin" / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    (tmp_path / "broker.py").write_text(FAKE_BROKER)
    environ = run_environ(AMQP_URL=f"amqp://guest:guest@127.0.0.1:{port}/", PATH=path,
                          FAKE_DOCKER_LOG=str(tmp_path / "docker.log"), FAKE_PYTHON=sys.executable,
                          FAKE_BROKER=str(tmp_path / "broker.py"), FAKE_BROKER_PORT=str(port))
    status, output = run_to_end(ENSURE_RABBITMQ, environ, tmp_path / "run.log")
    assert status == 0, output
    calls = (tmp_path / "docker.log").read_text().splitlines()
    assert calls[0] == "info"
    image = next(line.split()[-1] for line in (REPO / "deploy" / "docker-compose.yml").read_text().splitlines()
                 if "image: rabbitmq:" in line)
    assert calls[1] == f"run -d --rm --name hookpipe-rabbitmq -p 127.0.0.1:{port}:5672 {image}"
    assert f"RabbitMQ is up on 127.0.0.1:{port}" in output
    assert "docker stop hookpipe-rabbitmq" in output


# --- the happy path --------------------------------------------------------------------------------------------


def wait_for_text(log: Path, text: str, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        output = log.read_text()
        if text in output:
            return output
        assert process.poll() is None, f"the run exited ({process.returncode}) before printing {text!r}:\n{output}"
        assert time.monotonic() < deadline, f"no {text!r} within {WAIT_TIMEOUT}s:\n{output}"
        time.sleep(0.2)


def test_make_run_on_chosen_ports_delivers_the_demo_event_and_ctrl_c_leaves_nothing_running(tmp_path: Path) -> None:
    environ = run_environ()
    ingest, ops = environ["HOOKPIPE_INGEST_LISTEN"], environ["HOOKPIPE_INGEST_OPS"]
    router_port = environ["HOOKPIPE_ROUTER_OPS"].rpartition(":")[2]
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(RUN_PIPELINE)], cwd=REPO, env=environ, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        output = wait_for_text(log, "hookpipe is running", process)
        banner = output[output.index("hookpipe is running"):]
        assert f"  ingest:   http://{ingest}/ingest/{{source}}" in banner
        assert f"http://{ops}/metrics (ingest), :{router_port} (router)" in banner
        assert f"  receiver: {environ['RECEIVER_URL']}" in banner
        assert f"curl -X POST http://{ingest}/ingest/demo" in banner
        admin = environ["HOOKPIPE_ADMIN_LISTEN"]
        assert f"  admin:    http://{admin}/api/v1 (bearer token: " in banner

        marker = uuid.uuid4().hex
        request = urllib.request.Request(f"http://{ingest}/ingest/demo", data=f'{{"marker":"{marker}"}}'.encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        output = wait_for_text(log, marker, process)
        event_lines = [line for line in output.splitlines() if line.startswith("event ")]
        assert event_lines and "source=demo" in event_lines[-1] and "signature=ok" in event_lines[-1]
        events = urllib.request.Request(f"http://{admin}/api/v1/events?source=demo",
                                        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        with urllib.request.urlopen(events, timeout=30) as response:
            assert response.status == 200  # what it lists depends on how far the index has read yet

        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert process.wait(WAIT_TIMEOUT) == 0, log.read_text()
        deadline = time.monotonic() + 10  # the log prefixers end as the pipes they read close
        while live_members(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert live_members(process.pid) == [], log.read_text()
    finally:
        stop_group(process)
        delete_example_topology(environ)


def start_run(environ: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([str(RUN_PIPELINE)], cwd=REPO, env=environ, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def wait_for_group_to_empty(group: int) -> list[str]:
    deadline = time.monotonic() + 10  # the log prefixers end as the pipes they read close
    while live_members(group) and time.monotonic() < deadline:
        time.sleep(0.1)
    return live_members(group)


def test_a_service_that_dies_after_start_stops_the_others_and_the_run_fails(tmp_path: Path) -> None:
    environ = run_environ()
    log = tmp_path / "run.log"
    process = start_run(environ, log)
    try:
        wait_for_text(log, "hookpipe is running", process)
        (deliverer,) = [int(member.split()[0]) for member in live_members(process.pid) if "-m deliverer" in member]
        os.kill(deliverer, signal.SIGKILL)
        status = process.wait(WAIT_TIMEOUT)
        output = log.read_text()
        assert status != 0, output
        assert output.rstrip().splitlines()[-1].startswith("hookpipe: deliverer exited (status 137)"), output
        assert "[deliverer] log lines above" in output
        assert wait_for_group_to_empty(process.pid) == [], output
    finally:
        stop_group(process)
        delete_example_topology(environ)


def test_services_that_are_not_ready_in_time_fail_the_run_without_a_banner(tmp_path: Path) -> None:
    """A broker that answers but refuses the login: the services never get ready, so no banner, one line."""
    wrong = AMQP_URL.replace("guest:guest@", "guest:not-the-password@")
    assert wrong != AMQP_URL
    environ = run_environ(AMQP_URL=wrong, HOOKPIPE_READY_TIMEOUT="10")
    status, output = run_to_end(RUN_PIPELINE, environ, tmp_path / "run.log")
    assert status != 0, output
    assert "hookpipe is running" not in output
    last = output.rstrip().splitlines()[-1]
    assert last.startswith("hookpipe: ") and "log lines above" in last, output
    assert "not-the-password" not in output


def test_a_service_that_exits_while_starting_fails_the_run_naming_it(tmp_path: Path) -> None:
    """The ingest port is free when checked, then taken before the services start: the broker's greeting to the
    probe (the last step before they start) is held back until the test has taken it."""
    environ = run_environ()
    listen_port = int(environ["HOOKPIPE_INGEST_LISTEN"].rpartition(":")[2])
    taken: list[socket.socket] = []
    broker = socket.create_server(("127.0.0.1", free_port()))

    def greet_once() -> None:
        connection, _ = broker.accept()
        with connection:
            connection.recv(8)
            taken.append(socket.create_server(("127.0.0.1", listen_port)))
            connection.sendall(b"\x01\x00\x00\x00\x00\x01\xf4\x00\x0a\x00\x0a\x00\x09")  # Connection.Start
        # the services' connections wait in the backlog, unanswered

    greeter = threading.Thread(target=greet_once, daemon=True)
    greeter.start()
    environ["AMQP_URL"] = f"amqp://guest:guest@127.0.0.1:{broker.getsockname()[1]}/"
    try:
        status, output = run_to_end(RUN_PIPELINE, environ, tmp_path / "run.log")
    finally:
        broker.close()
        for sock in taken:
            sock.close()
    assert taken, output
    assert status != 0, output
    last = output.rstrip().splitlines()[-1]
    assert last.startswith("hookpipe: ingest exited while starting (status "), output
    assert last.endswith("see its [ingest] log lines above")
    assert "hookpipe is running" not in output
