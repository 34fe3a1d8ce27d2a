"""ingest: `POST /ingest/{source}` -> verify -> publish with confirm -> 2xx (docs/architecture.md, "Services").

The provider gets 2xx only after RabbitMQ confirmed the persisted event; any publish failure answers 503 with
`Retry-After` so the provider retries. Every refusal has a reason, a JSON body, a counter and a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import aiormq.exceptions
import orjson
from aio_pika.abc import AbstractConnection
from aiohttp import web

from hookpipe.amqp.broker import Publisher, PublishFailed, describe, link_problems, queue_exists
from hookpipe.amqp.codec import encode_event
from hookpipe.amqp.topology import Names, declare_archive, declare_ingest_path
from hookpipe.config import (
    CREDENTIAL_HEADERS,
    ArchiveConfig,
    Config,
    ConfigError,
    FieldSource,
    LoadedConfig,
    SourceConfig,
)
from hookpipe.event import MAX_SHORT_STRING, Event, now_ms, uuid7
from hookpipe.jsonpath import parse_path
from hookpipe.outcomes import IngestRejection
from hookpipe.ratelimit import TokenBucket
from hookpipe.runtime import metrics
from hookpipe.runtime.ops_listener import ops_app, start_site
from hookpipe.runtime.reload import BROKER_SETTINGS, changed_settings
from ingest import handshakes, sns_certificates
from ingest.body import RETRY_AFTER_SECONDS, read_body
from ingest.dedup import RecentIds
from ingest.limits import Admission, InFlight
from ingest.refusals import UNKNOWN_SOURCE_LABEL, IngestRunner, expect_continue, json_route_errors, refuse
from ingest.replays import UsedNonces
from ingest.verify import Answer, InboundRequest, Rejected, Scheme, build_scheme, sns

log = logging.getLogger("ingest")

# The pure `sns` scheme fetches signing certificates (and confirms subscriptions) through ingest's HTTPS client.
sns.network = sns_certificates.default_network

#: How often ingest checks that the router queue exists (s). A mandatory publish cannot tell: the archive
#: stream is bound to the same exchange, so a missing router queue returns nothing.
READINESS_INTERVAL = 1.0

#: Connection-level headers that describe one hop, not the webhook (RFC 9110 §7.6.1), plus framing.
HOP_BY_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
     "content-length", "host"}
)

#: Bytes of inbound headers kept with an event. They travel in the AMQP content header frame, which must fit
#: in one frame (RabbitMQ's frame_max is 128 KiB); real providers send a few KiB.
MAX_KEPT_HEADER_BYTES = 32 * 1024

#: Settings ingest holds for its whole run (a reload changing one is refused: restart to apply it): the broker
#: connection, the listeners and the limits they were started with, and the archive stream declared on connect.
FIXED_SETTINGS = (*BROKER_SETTINGS, "ingest.listen", "ingest.ops", "ingest.max_in_flight", "ingest.read_timeout",
                  "archive")


@dataclass(frozen=True, slots=True)
class Source:
    """A configured source, compiled once per config load."""

    name: str
    config: SourceConfig
    scheme: Scheme
    max_body: int
    dropped_headers: frozenset[str]
    id_path: tuple[str, ...] | None
    type_path: tuple[str, ...] | None
    rate_limit: TokenBucket | None
    recent: RecentIds | None
    nonces: UsedNonces | None  # for a scheme whose signature does not cover the body


def compile_sources(config: Config) -> dict[str, Source]:
    """Build every source's scheme; raises ConfigError naming each source whose settings a scheme refuses."""
    sources = {}
    problems = []
    for name, source in config.sources.items():
        try:
            scheme = build_scheme(source.verify)
        except ValueError as error:
            problems.append(f"sources.{name}.verify: {error}")
            continue
        sources[name] = Source(
            name=name,
            config=source,
            scheme=scheme,
            max_body=source.max_body or config.ingest.max_body,
            dropped_headers=HOP_BY_HOP_HEADERS | CREDENTIAL_HEADERS | scheme.reads_headers,
            id_path=parse_path(source.id.json_path) if source.id and source.id.json_path else None,
            type_path=parse_path(source.type.json_path) if source.type and source.type.json_path else None,
            rate_limit=TokenBucket(source.rate_limit) if source.rate_limit else None,
            recent=RecentIds(window=source.dedup.window, max_ids=source.dedup.max_ids) if source.dedup else None,
            nonces=UsedNonces() if scheme.nonce is not None else None,
        )
    if problems:
        raise ConfigError(problems)
    return sources


def carry_state(running: dict[str, Source], reloaded: dict[str, Source]) -> dict[str, Source]:
    """`reloaded` with the running sources' rate-limit buckets and recent ids kept wherever their settings did
    not change, and their used nonces kept, so a reload neither refills a bucket, nor forgets which ids were
    just published, nor lets a signature just used be used again."""
    kept = {}
    for name, source in reloaded.items():
        old = running.get(name)
        if old is not None:
            if old.config.rate_limit == source.config.rate_limit:
                source = replace(source, rate_limit=old.rate_limit)
            if old.config.dedup == source.config.dedup:
                source = replace(source, recent=old.recent)
            if old.nonces is not None and source.nonces is not None:
                source = replace(source, nonces=old.nonces)
        kept[name] = source
    return kept


class IngestService:
    """The ingest process: the public webhook listener, the ops listener and one publishing connection.

    Parameters (keyword-only): `clock` returns Unix seconds (freshness checks use it; tests inject one).
    """

    name = "ingest"

    def __init__(self, loaded: LoadedConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = loaded.config
        self.names = Names.of(self.config.broker)
        self.sources = compile_sources(self.config)
        self.clock = clock
        self.publisher = Publisher(
            self.config.broker.url,
            name="hookpipe-ingest-publish",
            heartbeat=self.config.broker.heartbeat,
            timeout=self.config.ingest.publish_timeout,
            declare=self._declare,
        )
        self._router_queue_present = False
        limits = self.config.ingest.max_in_flight
        self.in_flight = InFlight(max_requests=limits.requests, max_bytes=limits.bytes)
        self._watch_task: asyncio.Task[None] | None = None
        self._runners: list[web.AppRunner] = []
        self.app = self._public_app()

    async def _declare(self, connection: AbstractConnection) -> None:
        async with connection.channel() as channel:
            await declare_ingest_path(channel, self.names)
        if self.config.archive is not None:
            await self._declare_archive(connection, self.config.archive)
        self._router_queue_present = True

    async def _declare_archive(self, connection: AbstractConnection, archive: ArchiveConfig) -> None:
        """Declared before the first publish, so every accepted event is archived. A stream that exists with
        other limits is kept as it is (its retention is fixed at creation; a policy changes it in place)."""
        try:
            async with connection.channel() as channel:
                await declare_archive(channel, self.names, archive)
        except aiormq.exceptions.ChannelPreconditionFailed as error:
            log.warning("the archive stream exists with other limits; keeping it as it is",
                        extra={"stream": self.names.archive, "error": describe(error)})

    def _public_app(self) -> web.Application:
        largest = max([source.max_body for source in self.sources.values()], default=self.config.ingest.max_body)
        app = web.Application(client_max_size=largest, middlewares=[json_route_errors])
        app.router.add_route("*", "/ingest/{source}", self.handle, expect_handler=self._expect)
        return app

    async def start(self) -> None:
        metrics.prime_ingest(self.config)
        self.publisher.start()
        self._watch_task = asyncio.create_task(self._watch_router_queue(), name="ingest:readiness")
        # auto_decompress=False: the signed bytes are the bytes sent, and no zip bomb is ever inflated.
        # keepalive_timeout: a connection must deliver a request's headers within the read deadline, so a client
        # trickling headers (slowloris) is cut; the body has its own deadline in ingest.body.read_body.
        # IngestRunner: what aiohttp refuses itself (unparsable HTTP) is answered as JSON and counted too.
        self._runners.append(await start_site(
            self.app, self.config.ingest.listen, runner_class=IngestRunner, auto_decompress=False,
            keepalive_timeout=self.config.ingest.read_timeout,
        ))
        self._runners.append(await start_site(ops_app(self.readiness), self.config.ingest.ops))
        log.info("ingest listening", extra={"listen": self.config.ingest.listen, "ops": self.config.ingest.ops})

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish their publish, then close the broker link."""
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
        await self.publisher.close()

    async def readiness(self) -> list[str]:
        problems = link_problems(self.publisher.link)
        if not problems and not self._router_queue_present:
            problems.append(f"queue {self.names.router_queue} is missing")
        return problems

    async def _watch_router_queue(self) -> None:
        while True:
            connection = self.publisher.link.connection
            if connection is not None:
                try:
                    present = await queue_exists(connection, self.names.router_queue)
                except Exception:  # a broken connection: the link notices and reconnects
                    present = False
                if present != self._router_queue_present:
                    level = logging.INFO if present else logging.ERROR
                    log.log(level, "router queue " + ("is back" if present else "is missing"),
                            extra={"queue": self.names.router_queue})
                self._router_queue_present = present
            await asyncio.sleep(READINESS_INTERVAL)

    # --- reload ---

    async def reload(self, loaded: LoadedConfig) -> None:
        """Verify, limit and answer by a new config from the next request on; raises ConfigError to refuse it.

        Sources (their secrets, schemes, limits, dedup, ids and answers), `ingest.max_body` and
        `ingest.publish_timeout` change in place; requests already being handled finish with the source they
        started with. A change to FIXED_SETTINGS is refused.
        """
        new = loaded.config
        problems = changed_settings(self.config, new, FIXED_SETTINGS)
        try:
            sources = compile_sources(new)
        except ConfigError as error:
            problems += error.problems
        if problems:
            raise ConfigError(problems)
        old_names = set(self.sources)
        self.sources = carry_state(self.sources, sources)
        self.config = new
        self.publisher.timeout = new.ingest.publish_timeout
        metrics.prime_ingest(new)
        log.info("sources reloaded", extra={
            "sources": len(sources), "added": sorted(set(sources) - old_names),
            "removed": sorted(old_names - set(sources)),
        })

    # --- the request path ---

    def _label(self, request: web.Request) -> str:
        name = request.match_info["source"]
        return name if name in self.sources else UNKNOWN_SOURCE_LABEL

    async def _expect(self, request: web.Request) -> web.StreamResponse | None:
        return await expect_continue(request, self._label(request))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        source = self.sources.get(request.match_info["source"])
        label = self._label(request)
        try:
            if source is None:
                raise Rejected(IngestRejection.UNKNOWN_SOURCE, status=404)
            admission = self.in_flight.admit(request.remote or "")
            if admission is None:
                raise Rejected(IngestRejection.OVERLOADED, status=503, retry_after=RETRY_AFTER_SECONDS)
            try:
                response = await self._accept(request, source, admission)
            finally:
                admission.release()
        except Rejected as rejection:
            return refuse(request, label, rejection)
        except PublishFailed as failure:
            log.warning("publish failed; asking the provider to retry",
                        extra={"source": label, "reason": failure.reason, "error": str(failure)})
            unavailable = Rejected(IngestRejection.BROKER_UNAVAILABLE, 503, retry_after=RETRY_AFTER_SECONDS)
            return refuse(request, label, unavailable)
        except Exception:
            # A bug must cost one request, not the process; the provider retries a 5xx.
            log.exception("unexpected error accepting a request", extra={"source": label})
            return refuse(request, label, Rejected(IngestRejection.INTERNAL_ERROR, status=500))
        metrics.labelled(metrics.INGEST_REQUESTS, label, str(response.status)).inc()
        return response

    async def _accept(self, request: web.Request, source: Source, admission: Admission) -> web.Response:
        """Everything between a request and its answer; raises Rejected or PublishFailed to refuse it."""
        # The raw query: providers (Twilio) sign it exactly as sent, percent-encoding included.
        query = request.rel_url.raw_query_string
        scheme = source.scheme
        subscription = handshakes.before_verification(source.config, request.method, query)
        # Meta's subscription check is a GET whatever `methods` says, and so are the methods of a scheme's own
        # unsigned handshake (Okta's, Dropbox's); they still count against the rate limit.
        method_allowed = request.method in source.config.methods
        if subscription is None and not method_allowed and request.method not in scheme.greet_methods:
            raise Rejected(IngestRejection.METHOD_NOT_ALLOWED, status=405)
        if source.rate_limit is not None and not source.rate_limit.try_take():
            raise Rejected(IngestRejection.RATE_LIMITED, 429, retry_after=math.ceil(source.rate_limit.wait_time()))
        if subscription is not None:
            return self._answer_handshake(source, subscription)
        if not _identity_encoded(request):
            raise Rejected(IngestRejection.UNSUPPORTED_ENCODING, status=415)
        body = await read_body(request, source.max_body, admission, self.config.ingest.read_timeout)
        headers = _lower_case_headers(request)
        inbound = InboundRequest(
            method=request.method, query_string=query, headers=headers, body=body, now=self.clock()
        )
        handshake = await verify(source, inbound, method_allowed=method_allowed)
        if handshake is not None:
            return self._answer_handshake(source, handshake)
        if not self._router_queue_present:  # the watcher logged it once
            raise Rejected(IngestRejection.BROKER_UNAVAILABLE, status=503, retry_after=RETRY_AFTER_SECONDS)
        event_id, event_type, provided = identify(source, inbound)
        kept_headers = {k: _storable(v) for k, v in inbound.headers.items()
                        if k not in source.dropped_headers and not k.startswith("x-hookpipe-")}
        if sum(len(k) + len(v) for k, v in kept_headers.items()) > MAX_KEPT_HEADER_BYTES or any(
            len(k.encode()) > MAX_SHORT_STRING for k in kept_headers
        ):
            raise Rejected(IngestRejection.HEADERS_TOO_LARGE, status=431)
        event = Event(
            id=event_id, source=source.name, type=event_type, received_at=now_ms(),
            verified=not source.config.unverified, content_type=_content_type(request),
            body=inbound.body, headers=kept_headers,
        )
        recent = source.recent if provided else None  # generated ids are unique: nothing to remember
        if recent is not None and await self._already_published(recent, event_id):
            metrics.INGEST_DUPLICATES.labels(source=source.name).inc()
            log.info("repeated event id; not published again", extra={"event_id": event_id, "source": source.name})
            return self._accepted_response(source, event_id)
        outcome = recent.begin(event_id) if recent is not None else None
        published = False
        try:
            started = time.perf_counter()
            await self.publisher.publish(
                encode_event(event), exchange=self.names.ingested, routing_key=event.routing_key
            )
            metrics.INGEST_PUBLISH_SECONDS.observe(time.perf_counter() - started)
            published = True
        finally:
            if recent is not None and outcome is not None:
                recent.end(event_id, outcome, published=published)
        log.debug("accepted", extra={"event_id": event.id, "source": source.name, "type": event.type})
        return self._accepted_response(source, event_id)

    @staticmethod
    async def _already_published(recent: RecentIds, event_id: str) -> bool:
        """Whether this id was published recently, waiting for a publish of it still in progress."""
        if recent.seen(event_id):
            return True
        in_progress = recent.publishing(event_id)
        return in_progress is not None and await asyncio.shield(in_progress)

    def _answer_handshake(self, source: Source, answer: Answer) -> web.Response:
        log.info("handshake answered", extra={"source": source.name, "handshake": answer.reason})
        # nosniff: Meta's challenge is echoed from the query; a browser must never read it as anything but text.
        return web.Response(body=answer.body, status=answer.status, content_type=answer.content_type,
                            headers={"X-Content-Type-Options": "nosniff"})

    @staticmethod
    def _accepted_response(source: Source, event_id: str) -> web.Response:
        response = source.config.response
        body = response.body.encode() if response.body is not None else orjson.dumps({"id": event_id})
        return web.Response(body=body, status=response.status, content_type=response.content_type)


async def verify(source: Source, inbound: InboundRequest, *, method_allowed: bool) -> Answer | None:
    """Raises Rejected unless the request is authentic, fresh and not a replay; returns the answer when it is a
    handshake (unsigned ones are answered before verification, signed ones after), None for an event."""
    scheme = source.scheme
    greeting = scheme.greet(inbound) if scheme.greet is not None else None
    if greeting is not None:
        return greeting
    if not method_allowed:
        raise Rejected(IngestRejection.METHOD_NOT_ALLOWED, status=405)
    if scheme.prepare is not None:
        await scheme.prepare(inbound)
    scheme.verify(inbound)
    if source.nonces is not None and scheme.nonce is not None and not source.nonces.first_use(
        scheme.nonce(inbound), inbound.body, inbound.now
    ):
        raise Rejected(IngestRejection.REPLAYED)
    handshake = handshakes.after_verification(source.config, inbound)
    if handshake is None and scheme.answer is not None:
        handshake = await scheme.answer(inbound)
    return handshake


def _storable(value: str) -> str:
    """A header value AMQP can carry: aiohttp hands undecodable bytes over as surrogates, which UTF-8 cannot
    encode; those become U+FFFD in the stored copy (verification saw the value as received)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value


def _identity_encoded(request: web.Request) -> bool:
    """Whether the body is sent as is: no Content-Encoding, or a single `identity` (a body is never inflated).
    Every header is read, never the first alone: `identity` then `gzip` is a gzipped body."""
    encodings = request.headers.getall("Content-Encoding", [])
    return not encodings or (len(encodings) == 1 and encodings[0].strip().lower() in ("", "identity"))


def _content_type(request: web.Request) -> str | None:
    """The Content-Type for the AMQP `content_type` property, a short string: one it cannot hold is refused.
    (Two Content-Type headers never get here: aiohttp's parser refuses them, 400 `bad_request`.)"""
    value = request.headers.get("Content-Type")
    if value is None:
        return None
    try:
        fits = len(value.encode()) <= MAX_SHORT_STRING
    except UnicodeEncodeError:  # bytes that are not UTF-8 (aiohttp hands them over as surrogates)
        fits = False
    if not fits:
        raise Rejected(IngestRejection.MALFORMED_CONTENT_TYPE, status=400)
    return value


def _lower_case_headers(request: web.Request) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        key = key.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _configured(spec: FieldSource | None, path: tuple[str, ...] | None, request: InboundRequest) -> str | None:
    """A value from where the source's `id` or `type` setting says it is."""
    if spec is None:
        return None
    if spec.header is not None:
        return request.headers.get(spec.header.lower())
    return request.json_text(*(path or ()))


def identify(source: Source, request: InboundRequest) -> tuple[str, str | None, bool]:
    """The event id and type: the source's settings first, then what the scheme knows, else a UUIDv7 id.
    The flag says whether the id came from the provider (only those are worth remembering for dedup)."""
    scheme_id, scheme_type = source.scheme.identify(request)
    event_id = _configured(source.config.id, source.id_path, request) or scheme_id
    event_type = _configured(source.config.type, source.type_path, request) or scheme_type
    if event_id is not None and (not 0 < len(event_id.encode()) <= MAX_SHORT_STRING or not event_id.isprintable()):
        raise Rejected(IngestRejection.MALFORMED_ID, status=400)
    if event_type is not None and (len(event_type.encode()) > MAX_SHORT_STRING or not event_type.isprintable()):
        raise Rejected(IngestRejection.MALFORMED_TYPE, status=400)
    return (event_id, event_type or None, True) if event_id else (uuid7(), event_type or None, False)
