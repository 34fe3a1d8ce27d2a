"""Helpers the load harnesses share (bench/e2e.py, bench/ingest.py): ports, processes, /proc figures, the load.

Everything here targets 127.0.0.1 only. Importing this module puts the repository root on `sys.path`, so a
harness run as a script (`.venv/bin/python bench/NAME.py`) from anywhere can import the services' packages.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import ipaddress
import math
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: the services' packages live at the root
    sys.path.insert(0, str(ROOT))

#: Seconds a started service gets to become ready, and to exit after SIGTERM.
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

#: Seconds one ingest request may take before the harness counts it as an error.
REQUEST_TIMEOUT = 60.0

#: Seconds a harness's broker connect may take, TCP and AMQP handshake: a broker that accepts TCP but never
#: answers fails the run instead of hanging it.
CONNECT_TIMEOUT = 10.0

#: At a fixed offered rate, a request sent this many seconds behind its schedule counts as late (every slot of
#: the concurrency was busy): timer jitter on a busy machine stays below it.
LATE_AFTER = 0.05


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- loopback only ---------------------------------------------------------------------------------------


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_picked_ports: set[int] = set()


def free_port() -> int:
    """A port free on 127.0.0.1, below the kernel's ephemeral range where possible.

    Port 0 hands out ephemeral ports, the same ones outgoing connections and every other test's "free port"
    use, so a port picked that way can be taken before the service binds it. Below the range, only
    deliberate listeners compete.
    """
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        port = secrets.randbelow(max(1, low - 20000)) + 20000 if low > 20100 else 0
        if port in _picked_ports:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            port = int(sock.getsockname()[1])
        _picked_ports.add(port)
        return port
    raise SetupFailed("no free port on 127.0.0.1")


# --- the services (--start) ------------------------------------------------------------------------------


@dataclass
class ProcessStats:
    cpu_s: float  # user + system CPU seconds since the process started
    rss_peak_kib: int  # VmHWM
    rss_kib: int  # VmRSS


def read_process_stats(pid: int) -> ProcessStats | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime and stime: fields 14 and 15 of stat(5)
    memory = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            memory[key] = int(value.split()[0])
    return ProcessStats(cpu, memory.get("VmHWM", 0), memory.get("VmRSS", 0))


def find_broker_pids(port: int = 5672) -> list[int]:
    """The local RabbitMQ's Erlang VM (`beam.smp`), found read-only in /proc: its CPU is part of the picture.

    Only the VM listening on `port` (the broker the harnesses use): other engineers' tests may start brokers
    of their own on other ports meanwhile. Falls back to every RabbitMQ VM if the sockets cannot be read."""
    candidates = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "beam.smp" and b"rabbit" in (
                        entry / "cmdline").read_bytes():
                    candidates.append(int(entry.name))
    listening = _listening_inodes(port)
    if not listening:
        return candidates
    owners = []
    for pid in candidates:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in listening:
                        owners.append(pid)
                        break
    return owners or candidates


def _listening_inodes(port: int) -> set[str]:
    """`socket:[inode]` of every TCP socket listening on `port`, from /proc/net/tcp and tcp6."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    return inodes


def machine_cpu() -> tuple[float, float, float]:
    """(busy, steal, total) CPU seconds of the whole machine since boot, from /proc/stat.

    busy excludes idle, iowait and steal (time the hypervisor gave to another guest)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0, 0.0
    fields += [0] * (8 - len(fields))
    ticks = os.sysconf("SC_CLK_TCK")
    idle, steal = fields[3] + fields[4], fields[7]
    total = sum(fields[:8])  # guest time is already counted in user
    return (total - idle - steal) / ticks, steal / ticks, total / ticks


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM if the harness dies without cleaning up (SIGKILL, crash)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ServiceProcess:
    """`python -m {service} --config FILE`, stdout and stderr to `{log_dir}/{service}.log`.

    `command`, when given, is run instead (`python COMMAND...`: the bare baselines of bench/bare.py); it must
    answer `GET http://{ops}/readyz` with 200 once ready, as the services do."""

    def __init__(self, service: str, config_path: Path | None, ops: str, log_dir: Path,
                 command: list[str] | None = None) -> None:
        self.service = service
        self.config_path = config_path
        self.command = command
        self.ops = ops
        self.log_path = log_dir / f"{service}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.at_load_start: ProcessStats | None = None
        self.at_load_end: ProcessStats | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        with self.log_path.open("ab") as log_file:
            argv = self.command or ["-m", self.service, "--config", str(self.config_path)]
            self.process = subprocess.Popen(
                [sys.executable, *argv],
                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=die_with_parent,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    async def wait_ready(self, session: aiohttp.ClientSession, deadline: float) -> None:
        url = f"http://{self.ops}/readyz"
        last = "no answer"
        while time.monotonic() < deadline:
            if not self.alive():
                raise SetupFailed(f"{self.service} exited with status {self.process and self.process.returncode}"
                                  f"; its log ends with:\n{self.log_tail()}")
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                    if response.status == 200:
                        return
                    last = f"HTTP {response.status}: {(await response.text())[:200]}"
            except (aiohttp.ClientError, TimeoutError) as error:
                last = type(error).__name__
            await asyncio.sleep(0.1)
        raise SetupFailed(f"{self.service} not ready on {url} in time ({last}); its log ends with:\n"
                          f"{self.log_tail()}")

    def snapshot(self) -> ProcessStats | None:
        return read_process_stats(self.process.pid) if self.alive() and self.process else None

    def terminate(self) -> None:
        """SIGTERM to this PID only."""
        if self.alive() and self.process is not None:
            self.process.send_signal(signal.SIGTERM)

    async def wait_exit(self, timeout: float) -> int | None:
        if self.process is None:
            return None
        try:
            return await asyncio.to_thread(self.process.wait, timeout)
        except subprocess.TimeoutExpired:
            log(f"{self.service} (pid {self.process.pid}) ignored SIGTERM for {timeout:.0f}s: SIGKILL")
            self.process.kill()
            return await asyncio.to_thread(self.process.wait, 10)


class SetupFailed(Exception):
    pass



async def delete_topology(config: Any) -> dict[str, int]:
    """Delete every queue and exchange of the config's prefix; returns the messages each non-empty queue held
    (a queue never declared, such as the unrouted one, is skipped)."""
    import aio_pika

    from hookpipe.amqp.topology import all_exchange_names, all_queue_names

    left = await delete_queues(config.broker.url[0], all_queue_names(config))
    connection = await aio_pika.connect(config.broker.url[0], timeout=CONNECT_TIMEOUT)
    async with connection:
        channel = await connection.channel()
        for exchange in all_exchange_names(config):
            await channel.exchange_delete(exchange)
    return left


async def declare_quorum_queues(url: str, queues: list[str]) -> None:
    """Durable quorum queues, as hookpipe's router and deliver queues are (the bare baselines use these)."""
    import aio_pika

    connection = await aio_pika.connect(url, timeout=CONNECT_TIMEOUT)
    async with connection:
        channel = await connection.channel()
        for queue in queues:
            await channel.declare_queue(queue, durable=True, arguments={"x-queue-type": "quorum"})


async def delete_queues(url: str, queues: list[str]) -> dict[str, int]:
    """Delete the named queues; returns the messages each non-empty one held."""
    import aio_pika
    import aiormq

    left: dict[str, int] = {}
    connection = await aio_pika.connect(url, timeout=CONNECT_TIMEOUT)
    async with connection:
        for queue in queues:
            channel = await connection.channel()
            try:
                declared = await channel.declare_queue(queue, passive=True)
                count = int(declared.declaration_result.message_count or 0)
                if count:
                    left[queue] = count
                await channel.queue_delete(queue)
            except aiormq.exceptions.ChannelNotFoundEntity:
                pass  # never declared (the unrouted queue, a service that did not start)
            finally:
                if not channel.is_closed:
                    await channel.close()
    return left


# --- command lines ---------------------------------------------------------------------------------------


def check_amqp_url(parser: argparse.ArgumentParser, url: str) -> None:
    if not is_loopback(urlsplit(url).hostname):
        parser.error("--amqp-url must be on 127.0.0.1: the harness targets only the local machine")


def check_load_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--events, --concurrency, --body-size, --timeout and --rate (those a harness has) make sense."""
    if getattr(args, "events", 1) < 1 or getattr(args, "concurrency", 1) < 1:
        parser.error("--events and --concurrency must be at least 1")
    if getattr(args, "body_size", 64) < 0 or getattr(args, "timeout", 1) <= 0:
        parser.error("--body-size must be at least 0, --timeout positive")
    if getattr(args, "rate", None) is not None and args.rate <= 0:
        parser.error("--rate must be positive")


def add_output_arguments(parser: argparse.ArgumentParser, services: str) -> None:
    """--json, --quiet, --keep-logs and --log-level, as every harness has them."""
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object with every figure on stdout (the table goes to stderr)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temp dir (config, logs)")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"),
                        help=f"{services}' log level (default info)")


def default_amqp_url() -> str:
    return os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def add_amqp_argument(parser: argparse.ArgumentParser | Any) -> None:
    """--amqp-url, defaulting to $AMQP_URL or guest@127.0.0.1:5672 (check it with check_amqp_url)."""
    parser.add_argument("--amqp-url", default=default_amqp_url(),
                        help="the broker (default $AMQP_URL or guest@127.0.0.1:5672; loopback only)")


# --- the load --------------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    sent_at: dict[str, float] = field(default_factory=dict)  # id -> perf_counter when the request was sent
    ingest_latency: list[float] = field(default_factory=list)  # seconds, 2xx answers only
    accepted: set[str] = field(default_factory=set)
    rejected: dict[str, int] = field(default_factory=dict)  # HTTP status (or error name) -> count
    first_sent: float = 0.0
    last_answer: float = 0.0
    sent: int = 0
    late: int = 0  # with a fixed rate: requests sent more than LATE_AFTER behind their schedule


def make_body(event_id: str, size: int) -> bytes:
    """A JSON object of exactly `size` bytes where possible (never less than its fields need)."""
    head = f'{{"id":"{event_id}","type":"bench.event","data":"'.encode()
    tail = b'"}'
    return head + b"x" * max(0, size - len(head) - len(tail)) + tail



class HeaderSource(Protocol):
    """What run_load asks for each request's headers (signatures, ids)."""

    def headers(self, event_id: str, body: bytes) -> dict[str, str]: ...


async def run_load(url: str, events: int, concurrency: int, body_size: int, run_prefix: str, signer: HeaderSource,
                   deadline: float, delivered: Callable[[], int] | None, quiet: bool,
                   rate: float | None = None) -> LoadResult:
    """Send `events` POSTs of `body_size` bytes to `url`, `concurrency` at a time, ids `{run_prefix}{n:08d}`.

    Without `rate` the load is closed-loop: each of the `concurrency` workers sends its next request as soon as
    the last one is answered (saturation). With `rate` (requests/s) request n is sent at `n / rate` seconds
    after the first, an open-loop schedule, still with at most `concurrency` in flight: a request that finds
    every slot busy goes late and is counted in `LoadResult.late`, so an offered rate the pipeline cannot
    take shows up instead of silently becoming a lower one.
    Requests still unanswered at `deadline` (time.monotonic) are abandoned and counted as `unanswered`.
    `delivered`, when given, is reported in the progress line every 5 s (unless `quiet`)."""
    result = LoadResult()
    counter = iter(range(events))
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, force_close=False,
                                     enable_cleanup_closed=True)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False,
                                     cookie_jar=aiohttp.DummyCookieJar()) as session:

        async def worker() -> None:
            for number in counter:
                if time.monotonic() >= deadline:
                    return
                event_id = f"{run_prefix}{number:08d}"
                body = make_body(event_id, body_size)
                headers = signer.headers(event_id, body)
                if rate is not None:
                    wait = result.first_sent + number / rate - time.perf_counter()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    elif wait < -LATE_AFTER:
                        result.late += 1
                started = time.perf_counter()
                result.sent_at[event_id] = started
                result.sent += 1
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as error:
                    key = type(error).__name__
                    result.rejected[key] = result.rejected.get(key, 0) + 1
                    continue
                answered = time.perf_counter()
                result.last_answer = answered
                if 200 <= status < 300:
                    result.accepted.add(event_id)
                    result.ingest_latency.append(answered - started)
                else:
                    result.rejected[str(status)] = result.rejected.get(str(status), 0) + 1

        async def report() -> None:
            while True:
                await asyncio.sleep(5)
                arrived = f", delivered {delivered()}" if delivered is not None else ""
                log(f"sent {result.sent}/{events}, accepted {len(result.accepted)}{arrived}")

        reporter = None if quiet else asyncio.create_task(report())
        result.first_sent = time.perf_counter()
        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        try:
            # Requests still unanswered at the deadline are abandoned, so --timeout holds.
            _, pending = await asyncio.wait(workers, timeout=max(0.0, deadline - time.monotonic()))
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            unanswered = result.sent - len(result.accepted) - sum(result.rejected.values())
            if unanswered:
                result.rejected["unanswered"] = unanswered
            for task in workers:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            if reporter is not None:
                reporter.cancel()
            # When the harness itself is cancelled (Ctrl-C), stop the workers before the session closes under them.
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
    return result


#: Header carrying the event id on every request the harnesses send: scheme none takes its id from it (`id:
#: {header: ...}`); Stripe's id is the body's `id`, Standard Webhooks' the `webhook-id` header: the same value.
ID_HEADER = "x-bench-id"


# --- signed requests ---------------------------------------------------------------------------------------------


def stripe_signature(body: bytes, secret: str, timestamp: int) -> str:
    """`Stripe-Signature` by the official SDK when installed, else per Stripe's documented scheme: `t=<unix>,
    v1=<hex HMAC-SHA256 of "{t}.{body}">`, keyed with the whole `whsec_...` secret."""
    try:
        import stripe
    except ImportError:
        mac = hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()
        return f"t={timestamp},v1={mac}"
    header: str = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=timestamp)
    return header


def standard_webhooks_signer(secret: str) -> Any:
    """`sign(msg_id, timestamp, body) -> "v1,<base64>"`: the standardwebhooks package's `Webhook.sign`, or the
    spec's HMAC-SHA256 of `"{id}.{timestamp}.{body}"` keyed with the base64 after `whsec_` without it."""
    try:
        from standardwebhooks import Webhook
    except ImportError:
        key = base64.b64decode(secret.removeprefix("whsec_"))

        def sign(msg_id: str, timestamp: int, body: bytes) -> str:
            mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
            return "v1," + base64.b64encode(mac).decode()

        return sign
    webhook = Webhook(secret)

    def sign_with_library(msg_id: str, timestamp: int, body: bytes) -> str:
        signed: str = webhook.sign(msg_id, datetime.fromtimestamp(timestamp, UTC), body.decode())
        return signed

    return sign_with_library


def signer_names() -> dict[str, str]:
    """Which code signs each scheme's requests, for the report."""
    names = {"none": "-"}
    try:
        import stripe

        names["stripe"] = f"stripe {stripe.VERSION} WebhookSignature.generate_signature_header"
    except ImportError:
        names["stripe"] = "hmac (stripe SDK not installed)"
    try:
        from importlib.metadata import version

        from standardwebhooks import Webhook  # noqa: F401 - only whether it imports

        names["standard-webhooks"] = f"standardwebhooks {version('standardwebhooks')} Webhook.sign"
    except ImportError:
        names["standard-webhooks"] = "hmac (standardwebhooks not installed)"
    return names


class Presigned:
    """The headers of every request of one run, signed before the run starts (run_load's HeaderSource)."""

    def __init__(self, scheme: str, secret: str, run_prefix: str, count: int, size: int,
                 id_header: str = ID_HEADER) -> None:
        self.by_id: dict[str, dict[str, str]] = {}
        timestamp = int(time.time())
        sign_standard = standard_webhooks_signer(secret) if scheme == "standard-webhooks" else None
        for number in range(count):
            event_id = f"{run_prefix}{number:08d}"  # as run_load numbers them
            headers = {"Content-Type": "application/json", id_header: event_id}
            if scheme != "none":
                body = make_body(event_id, size)
                if scheme == "stripe":
                    headers["Stripe-Signature"] = stripe_signature(body, secret, timestamp)
                elif sign_standard is not None:
                    headers.update({"webhook-id": event_id, "webhook-timestamp": str(timestamp),
                                    "webhook-signature": sign_standard(event_id, timestamp, body)})
            self.by_id[event_id] = headers

    def headers(self, event_id: str, body: bytes) -> dict[str, str]:
        return self.by_id[event_id]


# --- the ingest process and its queue --------------------------------------------------------------------


# --- figures ---------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of values already sorted; None for no values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def latency_ms(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    out: dict[str, float | None] = {}
    for p in (50, 95, 99):
        value = percentile(ordered, p)
        out[f"p{p}"] = None if value is None else round(value * 1000, 2)
    out["max"] = round(ordered[-1] * 1000, 2) if ordered else None
    return out


def own_cpu() -> float:
    """User + system CPU seconds of this process (not of its children)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- running a harness -----------------------------------------------------------------------------------


def run_main(run: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run a harness's coroutine under uvloop when available; SIGINT/SIGTERM cancel it, so its finally blocks
    still stop what it started and delete its queues. Returns its exit status, 130 when interrupted."""

    async def guarded() -> int:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        assert task is not None
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        try:
            return await run()
        except asyncio.CancelledError:
            log("interrupted")
            return 130

    try:
        import uvloop
    except ImportError:
        return asyncio.run(guarded())
    return uvloop.run(guarded())
