"""A private RabbitMQ node for the broker-restart scenario, and the queue look-ups every scenario needs.

The node is ours alone: its own name (`hp-chaos-<pid>@localhost`), its own AMQP and distribution ports picked
free below the ephemeral range at run time (another engineer may run a private node at the same moment), its
own temp dir for config, mnesia and logs. A restart is `stop_vm()` (SIGTERM to the Erlang VM's PID: an orderly
shutdown) then `start()` on the same mnesia dir, so quorum queues and their persistent messages come back as
after a real broker restart. `stop()` at the end stops it by its PID and removes its dir; the machine's shared
broker is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import aio_pika
import aiormq

from tests.support.pipeline import free_port

#: Where Debian's rabbitmq-server package keeps its scripts (rabbitmq-server, rabbitmqctl).
RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")

#: Seconds a node gets to boot (it usually takes 3-8 s on this machine) and to stop.
BOOT_TIMEOUT = 90
STOP_TIMEOUT = 60


class NodeUnavailable(Exception):
    """The private node cannot run here; the message says why (the scenario is skipped with it)."""


class PrivateRabbit:
    """One private RabbitMQ node on 127.0.0.1: `start()`, `stop_vm()`, `start()` again, `stop()`; `url`."""

    def __init__(self) -> None:
        self.node = f"hp-chaos-{os.getpid()}@localhost"
        self.amqp_port = free_port()
        self.dist_port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="hookpipe-chaos-rmq-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/"

    def _env(self) -> dict[str, str]:
        d = self.dir
        return {
            **os.environ,
            "HOME": str(d / "home"),  # the Erlang cookie is created here, not in the real home
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_PID_FILE": str(d / "rabbit.pid"),
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "PATH": f"{RABBITMQ_BIN}:{os.environ.get('PATH', '')}",
        }

    def _prepare(self) -> None:
        if not (RABBITMQ_BIN / "rabbitmq-server").exists():
            raise NodeUnavailable("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
        for sub in ("home", "mnesia", "log"):
            (self.dir / sub).mkdir(exist_ok=True)
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}\n"
            "loopback_users.guest = true\n"
        )
        (self.dir / "enabled_plugins").write_text("[].\n")  # no plugins: faster boot, no extra listeners
        (self.dir / "rabbitmq-env.conf").touch()

    async def start(self) -> None:
        """Boot the node (first time or after stop) and wait until it accepts AMQP connections."""
        if self.process is None:
            self._prepare()
        self.process = self._spawn()
        waited = await asyncio.to_thread(
            subprocess.run, [str(RABBITMQ_BIN / "rabbitmqctl"), "wait", "--timeout", str(BOOT_TIMEOUT),
                             str(self.dir / "rabbit.pid")],
            env=self._env(), capture_output=True, timeout=BOOT_TIMEOUT + 30,
        )
        if waited.returncode != 0 or not await self._answers():
            tail = (self.dir / "server.out").read_text(errors="replace")[-1500:]
            await self.stop()
            raise NodeUnavailable(f"the private node did not boot: {waited.stderr.decode()[-500:]} {tail}")

    def _spawn(self) -> subprocess.Popen[bytes]:
        with (self.dir / "server.out").open("ab") as log:
            # Its own session: a Ctrl-C at the terminal reaches only the harness, whose clean-up then stops the
            # node in order (rabbitmqctl stop, then its PID).
            return subprocess.Popen([str(RABBITMQ_BIN / "rabbitmq-server")], env=self._env(), stdout=log,
                                    stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)

    async def _answers(self) -> bool:
        for _ in range(50):
            with contextlib.suppress(Exception):
                connection = await aio_pika.connect(self.url, timeout=5)
                await connection.close()
                return True
            await asyncio.sleep(0.2)
        return False

    async def stop_vm(self) -> None:
        """SIGTERM to the VM's PID: an orderly shutdown, as `rabbitmqctl stop` or a service manager does, but
        at once (the CLI alone needs seconds to boot on a busy machine, and the stop would land late). SIGKILL
        if it has not exited within STOP_TIMEOUT."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        pid = _beam_pid(self.dir / "rabbit.pid")
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            process.kill()
            await asyncio.to_thread(process.wait, 10)

    async def stop(self) -> None:
        """Stop the node by its PID and remove its directory."""
        with contextlib.suppress(Exception):
            await self.stop_vm()
        shutil.rmtree(self.dir, ignore_errors=True)


def _beam_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


async def queue_depth(url: str, queue: str) -> int:
    """Ready messages in `queue` (0 if it does not exist)."""
    connection = await aio_pika.connect(url, timeout=10)
    async with connection:
        channel = await connection.channel()
        try:
            declared = await channel.declare_queue(queue, passive=True)
        except aiormq.exceptions.ChannelNotFoundEntity:
            return 0
        return int(declared.declaration_result.message_count or 0)


async def message_ids(url: str, queue: str) -> list[str]:
    """The message ids of every message in `queue`, read without removing them (all are requeued when the
    channel closes)."""
    ids: list[str] = []
    connection = await aio_pika.connect(url, timeout=10)
    async with connection:
        channel = await connection.channel()
        try:
            declared = await channel.declare_queue(queue, passive=True)
        except aiormq.exceptions.ChannelNotFoundEntity:
            return ids
        while (message := await declared.get(no_ack=False, fail=False, timeout=10)) is not None:
            ids.append(message.message_id or "")
    return ids
