"""The README, followed as a new user would: on a fresh clone, with nothing but what it spells out.

The steps are read from README.md itself, not copied here, so a README that forgets a step (activating the
venv, a file a command needs) fails this test. One `make run` serves the module: the quick start's second
terminal, then every `hookpipe` and `curl` command of README.md and docs/ against that live pipeline, then
Ctrl-C. Everything runs under a topology prefix of its own, on the ports the README names.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.pipeline import delete_topology, new_prefix

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]

#: Seconds `make run` may take on a fresh clone: creating .venv and installing every dependency comes first.
FIRST_RUN_TIMEOUT = 600.0

#: Seconds the pipeline may take to stop after Ctrl-C.
STOP_TIMEOUT = 60.0

#: Seconds one documented command may take.
COMMAND_TIMEOUT = 60.0

#: The ports the README's quick start names: ingest, the admin API, the four ops listeners and the demo receiver.
QUICK_START_PORTS = (8080, 8090, 9101, 9102, 9103, 9104, 9000)

#: Subcommands that run until stopped (the services themselves): documented, but not run here.
LONG_RUNNING = {"ingest", "router", "deliverer", "admin"}

#: Documents whose commands must run as written.
DOCUMENTS = ("README.md", *sorted(str(path.relative_to(REPO)) for path in (REPO / "docs").glob("*.md")))


def shell_blocks(markdown: str) -> list[str]:
    """The blocks of a markdown text that hold commands, in order (indented ones too): ```sh blocks, and
    transcripts (a fenced block of any kind whose commands follow a `$ ` prompt)."""
    blocks = re.findall(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```", markdown, re.M | re.S)
    return [block for kind, block in blocks if kind in ("sh", "bash") or re.search(r"^[ \t]*\$ ", block, re.M)]


def commands_of(block: str) -> list[str]:
    """The command lines of a block: continuation lines joined; in a transcript, only the `$ ` lines."""
    lines = [line.strip() for line in block.replace("\\\n", " ").splitlines()]
    if any(line.startswith("$ ") for line in lines):
        lines = [line[2:] for line in lines if line.startswith("$ ")]
    return [line for line in lines if line and not line.startswith("#")]


def quick_start_blocks() -> list[list[str]]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [commands_of(block) for block in shell_blocks(section)]


@dataclass(slots=True)
class Documented:
    """A command as a document writes it, and where."""

    document: str
    command: str

    def runnable(self) -> bool:
        """hookpipe commands, curl lines to the local pipeline and the echo lines that write their input files;
        not the services themselves, nor other tools (docker, kubectl, make). A pipe into a tool this machine
        lacks (promtool outside `make check-deploy`'s machines) is left out too."""
        words = shlex.split(self.command, comments=True)
        if not words:
            return False
        if any(shutil.which(program) is None for program in re.findall(r"\|\s*(\S+)", self.command)):
            return False
        if words[0] == "hookpipe":
            return len(words) > 1 and words[1] not in LONG_RUNNING and "--help" not in words
        if words[0] == "echo":
            return ">" in words
        return words[0] == "curl" and any(re.search(r"(localhost|127\.0\.0\.1):\d+", word) for word in words)


def documented_commands() -> list[Documented]:
    found = []
    for document in DOCUMENTS:
        text = (REPO / document).read_text()
        for block in shell_blocks(text):
            found += [Documented(document, command) for command in commands_of(block)]
    return [command for command in found if command.runnable()]


@dataclass(slots=True)
class RunningQuickStart:
    """`make run` started from the README in a fresh clone, and the environment its user has."""

    clone: Path
    environ: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def shell(self, script: str) -> subprocess.CompletedProcess[str]:
        """Run lines in one bash, as the user's second terminal (so `. .venv/bin/activate` carries)."""
        return subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script], cwd=self.clone, env=self.environ, text=True,
            capture_output=True, timeout=COMMAND_TIMEOUT, stdin=subprocess.DEVNULL,
        )

    def wait_for_output(self, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.output():
            if self.process.poll() is not None:
                pytest.fail(f"`make run` exited ({self.process.returncode}) before printing {needle!r}:\n"
                            f"{self.output()[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"`make run` did not print {needle!r} within {timeout:.0f} s:\n{self.output()[-4000:]}")
            time.sleep(0.2)


def user_environment(prefix: str) -> dict[str, str]:
    """This machine's environment as a new user's shell has it: no virtualenv active, our own prefix."""
    environ = {name: value for name, value in os.environ.items() if not name.startswith(("PYTEST", "HOOKPIPE_"))}
    environ.pop("VIRTUAL_ENV", None)
    environ["PATH"] = os.pathsep.join(
        part for part in environ.get("PATH", "").split(os.pathsep) if "/.venv/" not in part + "/"
    )
    environ["HOOKPIPE_PREFIX"] = prefix
    return environ


def port_is_listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def quick_start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningQuickStart]:
    busy = [port for port in QUICK_START_PORTS if port_is_listening(port)]
    assert not busy, f"the quick start's ports {busy} are taken on this machine: stop what holds them"
    clone = tmp_path_factory.mktemp("fresh") / "hookpipe"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True, timeout=120)

    first = quick_start_blocks()[0]
    assert first == ["make run"], f"the quick start should open with `make run`, found {first}"
    prefix = new_prefix()
    log = clone.parent / "make-run.log"
    with log.open("wb") as sink:
        # A session of its own, as a terminal's foreground job: Ctrl-C goes to the whole group.
        process = subprocess.Popen(
            ["bash", "-c", first[0]], cwd=clone, env=user_environment(prefix), stdout=sink,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    running = RunningQuickStart(clone, user_environment(prefix), process, log)
    try:
        running.wait_for_output("hookpipe is running", FIRST_RUN_TIMEOUT)
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        config = yaml.safe_load((REPO / "examples" / "pipeline.yaml").read_text())
        config["broker"]["prefix"] = prefix
        asyncio.run(delete_topology(config))


def test_the_quick_start_delivers_the_curl_event_and_status_answers(quick_start: RunningQuickStart) -> None:
    second_terminal = quick_start_blocks()[1]
    assert any(line.startswith("curl ") for line in second_terminal), second_terminal

    result = quick_start.shell("\n".join(second_terminal))

    assert result.returncode == 0, f"the quick start's second terminal failed:\n{result.stdout}\n{result.stderr}"
    assert '"id"' in result.stdout, result.stdout  # ingest's answer to the curl line
    assert "receiver" in result.stdout, result.stdout  # `hookpipe status` lists the demo destination
    quick_start.wait_for_output('"hello"', timeout=30)  # the demo receiver prints the event it got


def test_every_documented_command_runs_as_written(quick_start: RunningQuickStart) -> None:
    commands = documented_commands()
    assert len(commands) >= 15, [command.command for command in commands]
    # The events the documents look up, sent first through the demo source (its id header names the event).
    for event_id in sorted({found for c in commands for found in re.findall(r"\bevt_\w+", c.command)}):
        sent = quick_start.shell(f"curl -fsS -X POST localhost:8080/ingest/demo -H 'x-demo-id: {event_id}' -d '{{}}'")
        assert sent.returncode == 0, sent.stderr
    failures = []
    for documented in commands:
        # As a user's shell after the quick start: the venv active, the config and admin token their docs assume.
        result = quick_start.shell(
            ". .venv/bin/activate\nexport HOOKPIPE_CONFIG=examples/pipeline.yaml\n"
            f"export HOOKPIPE_ADMIN_TOKEN=$(cat .hookpipe-admin-token)\n{documented.command}"
        )
        if result.returncode != 0 or "Traceback" in result.stderr:
            failures.append(f"{documented.document}: {documented.command}\n  exit {result.returncode}: "
                            f"{(result.stderr or result.stdout).strip()[-600:]}")
    assert not failures, "\n".join(failures)


def test_ctrl_c_stops_every_process_and_frees_every_port(quick_start: RunningQuickStart) -> None:
    os.killpg(quick_start.process.pid, signal.SIGINT)
    try:
        quick_start.process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`make run` did not stop within {STOP_TIMEOUT:.0f} s of Ctrl-C:\n{quick_start.output()[-4000:]}")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(quick_start.process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("processes of `make run` outlived Ctrl-C")
    assert [port for port in QUICK_START_PORTS if port_is_listening(port)] == []
    assert "Traceback" not in quick_start.output(), quick_start.output()[-4000:]
