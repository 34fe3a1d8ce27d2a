"""A private RabbitMQ node, for tests that need what the shared broker lacks or must not have done to it.

The machine's shared broker (127.0.0.1:5672) has no plugins and must not be reconfigured or restarted, so this
starts a second node of the installed rabbitmq-server: its own directory, a unique node name, ports chosen free
at run time (below 32768), bound to 127.0.0.1 only, with the plugins asked for (Prometheus, management). It can
be stopped in order and started again on the same data (`stop_vm()`, then `start()`): quorum queues and their
persistent messages come back as after a real broker restart (the chaos suite). `kill_vm()` is the crash
instead: SIGKILL to its Erlang VM. `stop()` ends it by the PID (and process group) it was started with and
removes its directory; nothing else is touched. Nodes given one `cookie` can form a cluster
(tests.support.rabbitmq_cluster), driven through `ctl()`, the node's own rabbitmqctl.
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

#: Seconds one rabbitmqctl command may take (it boots an Erlang VM of its own: under a second when idle).
CTL_TIMEOUT = 60.0


class NodeUnavailable(Exception):
    """The node cannot run here (not installed, or it did not boot); the message says why."""


class PrivateRabbitMQ:
    """`start()` boots the node; `amqp_url` (and the plugins' addresses) are then usable; `stop()` ends it.

    `plugins`: any of "prometheus" and "management" (none boots fastest); `cookie`: the Erlang cookie, which
    nodes of one cluster share (by default Erlang makes one of the node's own)."""

    def __init__(self, name_prefix: str = "hp-obs", plugins: tuple[str, ...] = ("prometheus",),
                 cookie: str | None = None) -> None:
        self.node_name = f"{name_prefix}-{os.getpid()}-{uuid.uuid4().hex[:6]}@localhost"
        self.plugins = plugins
        self.cookie = cookie
        self.amqp_port = free_port()
        self.prometheus_port = free_port() if "prometheus" in plugins else 0
        self.management_port = free_port() if "management" in plugins else 0
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
    def management_url(self) -> str:
        return f"http://guest:guest@127.0.0.1:{self.management_port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.out"

    def start(self) -> None:
        """Boot the node (the first time, or again after stop_vm() on the same data) until every listener
        answers."""
        server = RABBITMQ_SCRIPTS / "rabbitmq-server"
        if not server.exists():
            raise NodeUnavailable(f"{server} not found: install the Debian rabbitmq-server package")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(server)], env=self._environment(), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() ends the node and its helpers only
            )
        ports = [port for port in (self.amqp_port, self.prometheus_port, self.management_port) if port]
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise NodeUnavailable(f"rabbitmq-server exited with {self.process.returncode}:\n{self.log_tail()}")
            if all(_answers(port) for port in ports):
                return
            time.sleep(0.25)
        self.stop()
        raise NodeUnavailable(f"node {self.node_name} did not boot within {BOOT_TIMEOUT}s:\n{self.log_tail()}")

    def stop_vm(self) -> None:
        """An orderly shutdown, as `rabbitmqctl stop` or a service manager does, but at once: SIGTERM to the
        Erlang VM (the CLI alone takes seconds to boot on a busy machine); SIGKILL if it has not exited within
        STOP_TIMEOUT. Its data stays for start()."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        pid = _vm_pid(self.directory / "rabbitmq.pid")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid if pid is not None else process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    @property
    def vm_pid(self) -> int | None:
        """The Erlang VM's PID while the node runs (the started process is the script that runs it)."""
        if self.process is None or self.process.poll() is not None:
            return None
        return _vm_pid(self.directory / "rabbitmq.pid")

    def kill_vm(self) -> None:
        """A crash: SIGKILL to the Erlang VM (the script around it then exits). Its data stays for start()."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        pid = self.vm_pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid if pid is not None else process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):  # helpers of the dead VM (erl_child_setup)
            os.killpg(process.pid, signal.SIGKILL)

    def ctl(self, *arguments: str, tool: str = "rabbitmqctl", timeout: float = CTL_TIMEOUT) -> str:
        """Run one of the node's CLI tools (rabbitmqctl, rabbitmq-queues, ...) against this node, with its
        environment (name, cookie); returns its output, raises NodeUnavailable with its output if it fails."""
        command = [str(RABBITMQ_SCRIPTS / tool), *arguments]
        try:
            done = subprocess.run(command, env=self._environment(), capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as error:
            raise NodeUnavailable(f"{tool} {' '.join(arguments)}: no answer within {timeout}s") from error
        if done.returncode != 0:
            raise NodeUnavailable(f"{tool} {' '.join(arguments)} exited with {done.returncode}:\n"
                                  f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return done.stdout

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
            + (f"prometheus.tcp.ip = 127.0.0.1\nprometheus.tcp.port = {self.prometheus_port}\n"
               if self.prometheus_port else "")
            + (f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {self.management_port}\n"
               if self.management_port else "")
        )
        plugins = ", ".join(f"rabbitmq_{plugin}" for plugin in self.plugins)
        (d / "enabled_plugins").write_text(f"[{plugins}].\n")
        (d / "rabbitmq-env.conf").write_text("")  # not the system's /etc/rabbitmq/rabbitmq-env.conf
        cookie_file = d / "home" / ".erlang.cookie"
        if self.cookie is not None and not cookie_file.exists():
            cookie_file.write_text(self.cookie)
            cookie_file.chmod(0o400)  # Erlang refuses a cookie others can read
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


def start_private_rabbitmq(name_prefix: str = "hp-obs", plugins: tuple[str, ...] = ("prometheus",)) -> PrivateRabbitMQ:
    """A started node. A port found free can be taken by another process before the node binds it (other
    tests start nodes too), so a failed boot is retried once on fresh ports."""
    first = PrivateRabbitMQ(name_prefix, plugins)
    try:
        first.start()
        return first
    except NodeUnavailable:
        first.stop()
        if not (RABBITMQ_SCRIPTS / "rabbitmq-server").exists():
            raise
    second = PrivateRabbitMQ(name_prefix, plugins)
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


def _vm_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
