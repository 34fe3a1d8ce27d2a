"""A private RabbitMQ node with its Prometheus plugin, for tests that need what the shared broker lacks.

The machine's shared broker (127.0.0.1:5672) has no Prometheus plugin and must not be reconfigured, so this
starts a second node of the installed rabbitmq-server: its own directory, a unique node name, ports chosen free
at run time (below 32768), bound to 127.0.0.1 only. It is stopped by the PID (and process group) it was
started with, and its directory removed; nothing else is touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests.support.pipeline import free_port

#: The Debian package's own scripts, which run the node as the calling user (the /usr/sbin wrappers switch
#: to the rabbitmq user, who could not write our directory).
RABBITMQ_SCRIPTS = Path("/usr/lib/rabbitmq/bin")

#: Seconds a node may take to boot: a few on an idle machine, more when tests run in parallel.
BOOT_TIMEOUT = 90.0

#: Seconds a node may take to stop after SIGTERM before it is killed.
STOP_TIMEOUT = 30.0


class NodeUnavailable(Exception):
    """The node cannot run here (not installed, or it did not boot); the message says why."""


class PrivateRabbitMQ:
    """`start()` boots the node; `amqp_url` and `prometheus_address` are then usable; `stop()` ends it."""

    def __init__(self, name_prefix: str = "hp-obs") -> None:
        self.node_name = f"{name_prefix}-{os.getpid()}-{uuid.uuid4().hex[:6]}@localhost"
        self.amqp_port = free_port()
        self.prometheus_port = free_port()
        self.dist_port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="hp-rabbitmq-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/"

    @property
    def prometheus_address(self) -> str:
        return f"127.0.0.1:{self.prometheus_port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.out"

    def start(self) -> None:
        server = RABBITMQ_SCRIPTS / "rabbitmq-server"
        if not server.exists():
            raise NodeUnavailable(f"{server} not found: install the Debian rabbitmq-server package")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(server)], env=self._environment(), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() ends the node and its helpers only
            )
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise NodeUnavailable(f"rabbitmq-server exited with {self.process.returncode}:\n{self.log_tail()}")
            if _answers(self.amqp_port) and _answers(self.prometheus_port):
                return
            time.sleep(0.25)
        self.stop()
        raise NodeUnavailable(f"node {self.node_name} did not boot within {BOOT_TIMEOUT}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        if self.process is not None:
            # Helpers left in the group (erl_child_setup, inet_gethost) once the node has gone.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        shutil.rmtree(self.directory, ignore_errors=True)

    def log_tail(self, size: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-size:] if self.log_path.exists() else "(no log)"

    def _environment(self) -> dict[str, str]:
        d = self.directory
        for sub in ("home", "mnesia", "log"):
            (d / sub).mkdir(exist_ok=True)
        (d / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}\n"
            f"prometheus.tcp.ip = 127.0.0.1\n"
            f"prometheus.tcp.port = {self.prometheus_port}\n"
        )
        (d / "enabled_plugins").write_text("[rabbitmq_prometheus].\n")
        (d / "rabbitmq-env.conf").write_text("")  # not the system's /etc/rabbitmq/rabbitmq-env.conf
        return {
            "PATH": f"{RABBITMQ_SCRIPTS}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(d / "home"),  # the Erlang cookie is created here
            "LANG": "C.UTF-8",
            "RABBITMQ_NODENAME": self.node_name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_PID_FILE": str(d / "rabbitmq.pid"),
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }


def start_private_rabbitmq() -> PrivateRabbitMQ:
    """A started node. A port found free can be taken by another process before the node binds it (other
    tests start nodes too), so a failed boot is retried once on fresh ports."""
    first = PrivateRabbitMQ()
    try:
        first.start()
        return first
    except NodeUnavailable:
        first.stop()
        if not (RABBITMQ_SCRIPTS / "rabbitmq-server").exists():
            raise
    second = PrivateRabbitMQ()
    try:
        second.start()
    except NodeUnavailable:
        second.stop()
        raise
    return second


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
