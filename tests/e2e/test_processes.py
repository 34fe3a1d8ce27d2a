"""The three services as separate OS processes against the real RabbitMQ, delivering to a real HTTP receiver.

What a provider and a receiver see: 2,000 concurrent events arrive byte for byte under the id ingest gave them,
signed; SIGKILLing the router, then the deliverer, mid-flow loses no accepted event; SIGTERM stops each service
cleanly.
"""

from __future__ import annotations

import asyncio
import collections
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import orjson
import pytest
from aiohttp import web

from deliverer.signing import secret_key, standard_webhooks_signature
from router.service import PREFETCH as ROUTER_PREFETCH
from tests.support.pipeline import DESTINATION_SECRET, ingest_url, pipeline_config
from tests.support.receiver import Receiver
from tests.support.service_set import SERVICES

pytestmark = pytest.mark.e2e

EVENTS = 2_000

#: Generous: on a 2-core machine the whole flow normally takes seconds.
ARRIVAL_TIMEOUT = 120.0

#: How long the receiver takes to answer in the SIGKILL test (s).
RECEIVER_LATENCY = 0.03

#: How long the deliverer's kill may wait for deliveries to be in full flow before it happens anyway (s).
DELIVERER_KILL_WAIT = 15.0

SIGNING_KEYS = [secret_key(DESTINATION_SECRET)]


# --- payloads --------------------------------------------------------------------------------------------

_UNICODE = "café Zürich naïve \u2013 ≠ ≈ π 日本語 中文 한국어 עברית العربية 🙂🚀 \u00a0\u2028"


@dataclass(frozen=True)
class Payload:
    body: bytes
    content_type: str


def _fill(rng: random.Random, size: int, alphabet: str) -> str:
    """About `size` UTF-8 bytes of text drawn from `alphabet`."""
    chunk = "".join(rng.choice(alphabet) for _ in range(64))
    encoded = len(chunk.encode())
    return chunk * (size // encoded + 1)


def make_payloads(count: int, seed: int = 7) -> list[Payload]:
    """`count` distinct bodies: JSON (some with odd whitespace, some broken), UTF-8 text, raw binary (NULs,
    invalid UTF-8), form-encoded and XML, from empty to ~64 KiB."""
    rng = random.Random(seed)
    payloads = [Payload(b"", "text/plain")]  # one empty body
    for i in range(1, count):
        if i % 100 == 50:
            size = 65_536 - rng.randrange(0, 256)  # a few near 64 KiB
        else:
            size = rng.choice((rng.randrange(1, 64), rng.randrange(64, 2_048), rng.randrange(2_048, 16_384)))
        kind = i % 5
        if kind == 0:
            text = f'{{ "n" :{i} , "amount":12.50, "note": "{_UNICODE}", "pad" : "{_fill(rng, size, "aé日🙂 ")}"}}'
            body = text.encode()
            if (i // 5) % 7 == 3:
                body = body[: len(body) // 2]  # declared JSON, not JSON: nothing may parse it
            payloads.append(Payload(body, "application/json"))
        elif kind == 1:
            text = f"event {i}\r\n\t{_UNICODE}\n" + _fill(rng, size, "abc xyz\t\r\n€ß")
            payloads.append(Payload(text.encode(), "text/plain; charset=utf-8"))
        elif kind == 2:
            body = i.to_bytes(4, "big") + b"\x00\xff\xfe\xc3\x28" + rng.randbytes(size)
            payloads.append(Payload(body, "application/octet-stream"))
        elif kind == 3:
            text = f"n={i}&name=caf%C3%A9&empty=&plus=a+b&raw=é&pad=" + _fill(rng, size, "abc%20")
            payloads.append(Payload(text.encode(), "application/x-www-form-urlencoded"))
        else:
            text = (f'<?xml version="1.0" encoding="UTF-8"?>\n<event n="{i}">  <note>{_UNICODE}</note>'
                    f"<pad>{_fill(rng, size, 'xyzé ')}</pad></event>\n")
            payloads.append(Payload(text.encode(), "application/xml; charset=utf-8"))
    assert len({p.body for p in payloads}) == count, "bodies must be distinct"
    return payloads


# --- sending ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: int  # 0: no HTTP response at all
    event_id: str | None
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300 and self.event_id is not None


async def send_all(
    url: str,
    payloads: list[Payload],
    *,
    concurrency: int,
    before: Callable[[int], Awaitable[None]] | None = None,
    after: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """POST every payload (no id header: ingest assigns one) from `concurrency` concurrent clients."""
    outcomes: list[Outcome | None] = [None] * len(payloads)
    indices = iter(range(len(payloads)))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:

        async def client() -> None:
            for i in indices:  # shared: each index is taken by one client
                if before is not None:
                    await before(i)
                payload = payloads[i]
                try:
                    async with http.post(url, data=payload.body,
                                         headers={"Content-Type": payload.content_type}) as response:
                        raw = await response.read()
                        event_id = None
                        if 200 <= response.status < 300:
                            event_id = orjson.loads(raw).get("id")
                        outcome = Outcome(response.status, event_id, raw[:200].decode(errors="replace"))
                except (aiohttp.ClientError, TimeoutError) as error:
                    outcome = Outcome(0, None, repr(error))
                outcomes[i] = outcome
                if after is not None:
                    after(outcome)

        await asyncio.gather(*(client() for _ in range(concurrency)))
    assert all(o is not None for o in outcomes)
    return outcomes  # type: ignore[return-value]


# --- checking what arrived -------------------------------------------------------------------------------


class AllArrived:
    """A receiver predicate, incremental so waiting for 2,000 ids stays linear."""

    def __init__(self, ids: set[str]) -> None:
        self.missing = set(ids)
        self._seen = 0

    def __call__(self, receiver: Receiver) -> bool:
        for received in receiver.received[self._seen:]:
            self.missing.discard(received.headers.get("webhook-id", ""))
        self._seen = len(receiver.received)
        return not self.missing


async def wait_all_arrived(receiver: Receiver, ids: set[str], timeout: float = ARRIVAL_TIMEOUT) -> None:
    predicate = AllArrived(ids)
    try:
        await receiver.wait_for(predicate, timeout)
    except AssertionError as error:
        sample = sorted(predicate.missing)[:5]
        raise AssertionError(f"{error}; {len(predicate.missing)} of {len(ids)} ids never arrived, e.g. {sample}") \
            from None


def check_arrivals(receiver: Receiver, sent: dict[str, Payload]) -> tuple[int, list[str]]:
    """Every request the receiver got, against what was sent under its id: (duplicates, problems)."""
    problems: list[str] = []
    counts: collections.Counter[str] = collections.Counter()
    for received in receiver.received:
        event_id = received.headers.get("webhook-id", "")
        counts[event_id] += 1
        payload = sent.get(event_id)
        if payload is None:
            problems.append(f"unexpected webhook-id {event_id!r}")
            continue
        if received.body != payload.body:
            problems.append(f"{event_id}: body differs ({len(received.body)} bytes arrived, "
                            f"{len(payload.body)} sent)")
        if received.headers.get("content-type") != payload.content_type:
            problems.append(f"{event_id}: content-type {received.headers.get('content-type')!r}, "
                            f"sent {payload.content_type!r}")
        try:
            timestamp = int(received.headers["webhook-timestamp"])
            expected = standard_webhooks_signature(SIGNING_KEYS, event_id, timestamp, payload.body)
        except (KeyError, ValueError) as error:
            problems.append(f"{event_id}: no usable webhook-timestamp ({error!r})")
            continue
        if received.headers.get("webhook-signature") != expected:
            problems.append(f"{event_id}: signature does not verify")
        if received.headers.get("x-hookpipe-source") != "demo":
            problems.append(f"{event_id}: x-hookpipe-source {received.headers.get('x-hookpipe-source')!r}")
    return sum(n - 1 for n in counts.values()), problems


def uuid7_ms(value: str) -> int:
    """The Unix milliseconds in a UUIDv7; AssertionError if `value` is not one."""
    parsed = uuid.UUID(value)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122, f"{value} is not a UUIDv7"
    assert str(parsed) == value, f"{value} is not in canonical form"
    return parsed.int >> 80


def summarise(outcomes: list[Outcome]) -> str:
    statuses = collections.Counter(o.status for o in outcomes)
    refused = [o for o in outcomes if not o.accepted][:3]
    return f"statuses {dict(statuses)}, e.g. {refused}"


# --- the tests -------------------------------------------------------------------------------------------


async def test_2000_events_arrive_byte_identical_with_the_id_ingest_assigned(prefix, receiver, services):
    """2,000 distinct bodies from 50 concurrent clients, no id header: each arrives once, byte for byte,
    under the UUIDv7 ingest answered with, signed for that id and body."""
    config = pipeline_config(prefix, receiver.url)
    pipeline = services(config)
    await pipeline.start()
    payloads = make_payloads(EVENTS)

    started_ms = time.time_ns() // 1_000_000
    outcomes = await send_all(ingest_url(config), payloads, concurrency=50)
    finished_ms = time.time_ns() // 1_000_000
    assert all(o.status == 200 and o.event_id for o in outcomes), summarise(outcomes)

    sent = {o.event_id: p for o, p in zip(outcomes, payloads, strict=True)}
    assert len(sent) == EVENTS, "ingest returned the same id twice"
    for event_id in sent:
        assert started_ms - 1 <= uuid7_ms(event_id) <= finished_ms + 1, f"{event_id}: time outside the run"

    await wait_all_arrived(receiver, set(sent))
    duplicates, problems = check_arrivals(receiver, sent)
    print(f"\n{EVENTS} events: {len(receiver.received)} deliveries, {duplicates} duplicates")
    assert not problems, f"{len(problems)} problems, e.g. {problems[:5]}"
    assert {r.headers["x-hookpipe-attempt"] for r in receiver.received} == {"1"}
    assert duplicates == 0, "nothing was killed, so nothing should be delivered twice"


async def test_sigkill_router_then_deliverer_loses_no_accepted_event(prefix, receiver, services):
    """SIGKILL the router mid-flow and restart it, then the deliverer: every accepted event still arrives,
    with at most kills x (router prefetch + deliverer prefetch) duplicates."""
    in_flight = 0

    async def slow_ok(_: web.Request, __: int) -> web.StreamResponse:
        # Some latency, so the deliverer runs at its concurrency limit, with more deliveries waiting behind
        # the open requests, when it is killed.
        nonlocal in_flight
        in_flight += 1
        try:
            await asyncio.sleep(RECEIVER_LATENCY)
        finally:
            in_flight -= 1
        return web.Response(status=200, text="ok")

    receiver.respond = slow_ok
    config = pipeline_config(prefix, receiver.url)
    pipeline = services(config)
    await pipeline.start()
    payloads = make_payloads(EVENTS, seed=11)
    concurrency = config["destinations"]["receiver"]["concurrency"]
    kill_router_at, kill_deliverer_at = 500, 1_200

    accepted = 0
    router_due, deliverer_due, router_back = asyncio.Event(), asyncio.Event(), asyncio.Event()
    began = time.monotonic()
    timeline: list[str] = []

    def note(what: str) -> None:
        timeline.append(f"{time.monotonic() - began:6.2f}s {what}: {accepted} accepted, "
                        f"{len(receiver.received)} delivered, {in_flight} at the receiver")

    def count(outcome: Outcome) -> None:
        nonlocal accepted
        if outcome.accepted:
            accepted += 1
        if accepted >= kill_router_at:
            router_due.set()
        if accepted >= kill_deliverer_at:
            deliverer_due.set()

    async def hold_back(index: int) -> None:
        # Events past the deliverer's kill point wait for the router to be back, so the deliverer is killed
        # while events are still being sent, not after the whole batch went in during the router's restart.
        if index >= kill_deliverer_at:
            await router_back.wait()

    async def crash(name: str) -> None:
        process = pipeline[name]
        process.kill()
        assert process.process is not None and process.process.returncode == -9
        note(f"SIGKILL {name}")
        await pipeline.restart(name)
        note(f"{name} ready again")

    async def chaos() -> None:
        await router_due.wait()
        try:
            await crash("router")
        finally:
            router_back.set()  # never leave the senders waiting, even if the restart failed
        await deliverer_due.wait()
        # Kill the deliverer in full flow: deliveries arriving again since the router came back, and
        # requests open at the receiver right now. (If that never lines up, kill it anyway after a while.)
        flowing_from = len(receiver.received)
        try:
            await receiver.wait_for(
                lambda r: len(r.received) >= flowing_from + 50 and in_flight >= concurrency // 2,
                timeout=DELIVERER_KILL_WAIT,
            )
        except AssertionError:
            note("deliveries never reached full flow; killing the deliverer anyway")
        await crash("deliverer")

    chaos_task = asyncio.create_task(chaos())
    try:
        outcomes = await send_all(ingest_url(config), payloads, concurrency=20, before=hold_back, after=count)
        router_due.set()  # both kills happen even if refusals kept `accepted` below a kill point
        deliverer_due.set()
        await chaos_task
    finally:
        chaos_task.cancel()
        print("\n" + "\n".join(timeline))
    assert all(o.accepted for o in outcomes), summarise(outcomes)  # ingest was never killed

    sent = {o.event_id: p for o, p in zip(outcomes, payloads, strict=True) if o.accepted}
    assert len(sent) == EVENTS
    await wait_all_arrived(receiver, set(sent))
    duplicates, problems = check_arrivals(receiver, sent)
    bound = 2 * (ROUTER_PREFETCH + concurrency)
    print(f"{EVENTS} events, 2 kills: {len(receiver.received)} deliveries, {duplicates} duplicates "
          f"(bound {bound})")
    assert not problems, f"{len(problems)} problems, e.g. {problems[:5]}"
    assert duplicates <= bound


async def test_sigterm_stops_each_service_cleanly(prefix, receiver, services):
    """Idle, each service exits 0 within 5 s of SIGTERM, logging its stop and no error."""
    config = pipeline_config(prefix, receiver.url)
    pipeline = services(config)
    await pipeline.start()
    # One event through first, so each service has done real work and holds open connections.
    async with aiohttp.ClientSession() as http, http.post(ingest_url(config), data=b'{"ping": true}') as response:
        assert response.status == 200
        event_id = (await response.json())["id"]
    await receiver.wait_for_ids({event_id}, timeout=30)
    await asyncio.sleep(0.5)  # not a wait for an outcome: let the deliverer's ack land, so all three are idle

    timings = {}
    for name in SERVICES:
        process = pipeline[name]
        started = time.monotonic()
        code = await asyncio.to_thread(process.terminate, 5.0)
        timings[name] = time.monotonic() - started
        assert code == 0, f"{name} exited {code} on SIGTERM"
        log = process.log_path.read_text()
        assert '"msg":"stopped"' in log, f"{name} did not log its clean stop"
        assert '"level":"error"' not in log and "Traceback" not in log, f"{name} logged an error"
    print("\nSIGTERM to exit: " + ", ".join(f"{name} {seconds:.2f}s" for name, seconds in timings.items()))
