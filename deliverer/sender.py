"""One outbound HTTP attempt for one destination, and what came of it.

Senders share the deliverer's keep-alive pooled client sessions, one per SSRF policy (deliverer.sessions).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp
from yarl import URL

from deliverer.outcomes import AttemptReason
from deliverer.retry import parse_retry_after
from deliverer.sessions import SessionPool
from deliverer.signing import Signer
from deliverer.ssrf import AddressPolicy, BlockedAddress, blocked_cause, connect_host
from hookpipe import __version__
from hookpipe.amqp.deadletter import RESPONSE_EXCERPT
from hookpipe.config import DestinationConfig
from hookpipe.event import Event
from hookpipe.ratelimit import TokenBucket

USER_AGENT = f"hookpipe/{__version__}"

#: Seconds spent reading a response body: the status decides the outcome, the body is only an excerpt.
EXCERPT_READ_SECONDS = 1.0

#: Redirect hops followed for a destination with `follow_redirects: true` (each one re-POSTs the event).
MAX_REDIRECTS = 5


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one attempt came to: delivered (`reason` ok), or why not."""

    delivered: bool
    reason: AttemptReason
    status: int | None = None
    error: str = ""
    response: bytes = b""  # the first 4 KiB of a failed response's body
    retry_after: float | None = None  # seconds the receiver asked us to wait (Retry-After)

    @property
    def status_class(self) -> str:
        return f"{self.status // 100}xx" if self.status else "none"


class Sender:
    """Delivers events to one destination; `start()` before use, `close()` after."""

    def __init__(self, name: str, config: DestinationConfig, pool: SessionPool | None = None) -> None:
        """`pool`: the deliverer's shared sessions; without one the sender keeps a pool of its own."""
        self.name = name
        self.config = config
        self.signer = Signer(config.signing)
        self.policy = AddressPolicy(config.allow_private_network)
        # burst 1: deliveries are spread evenly at the rate, never bunched into a one-second burst
        self.limiter = TokenBucket(config.rate_limit, burst=1) if config.rate_limit else None
        self._timeout = aiohttp.ClientTimeout(total=config.timeout)
        self._own_pool = pool is None
        self._pool = pool if pool is not None else SessionPool()  # an empty pool is falsy (len 0)
        self._session: aiohttp.ClientSession | None = None
        # The URL as the client will see it: its host is checked in the form it is connected to.
        self._url = URL(config.url)
        self._origin = _origin(self._url)
        self._proxy = URL(config.proxy) if config.proxy else None
        # The configured URL's host passes the literal-address check once: neither it nor the policy changes.
        self._configured_host_allowed = False

    async def start(self) -> None:
        self._session = self._pool.session_for(self.policy)

    async def close(self) -> None:
        if self._own_pool:
            await self._pool.close()

    def request_headers(self, event: Event, attempt: int, body: bytes, cross_origin: bool = False) -> dict[str, str]:
        """Every header of one attempt. `cross_origin`: for a redirect hop to another scheme, host or port, which
        gets no static `headers` and no forwarded ones (they may carry credentials meant for the destination
        alone); hookpipe's own `webhook-*` and `x-hookpipe-*` headers, signatures of the body, go everywhere."""
        headers: dict[str, str] = {}
        if not cross_origin:
            headers.update(
                (name, value) for name, value in event.headers.items() if name in self.config.forward_headers
            )
            headers.update(self.config.headers)
        timestamp = int(time.time())
        headers.update({
            "user-agent": USER_AGENT,
            "content-type": event.content_type or "application/octet-stream",
            "webhook-id": event.id,
            "webhook-timestamp": str(timestamp),
            "x-hookpipe-source": event.source,
            "x-hookpipe-attempt": str(attempt),
        })
        if event.type:
            headers["x-hookpipe-event-type"] = event.type
        if not event.verified:
            headers["x-hookpipe-verified"] = "false"
        if event.replay:
            headers["x-hookpipe-replay"] = "true"  # same webhook-id as the original: the receiver can tell
        headers.update(self.signer.headers(event.id, timestamp, body))
        return headers

    async def send(self, event: Event, attempt: int) -> AttemptResult:
        """POST the event's body; never raises for anything the endpoint or the network does."""
        assert self._session is not None, "Sender.start() first"
        try:
            headers = self.request_headers(event, attempt, event.body)
            url = self._url
            stripped: dict[str, str] | None = None  # the headers of a cross-origin hop, made on the first one
            # Redirects are followed here, not by aiohttp, so every hop's host passes the SSRF guard as it will be
            # connected to, a hop can only go to http or https, and a cross-origin hop loses the static headers.
            for _ in range(MAX_REDIRECTS + 1):
                if url is not self._url or not self._configured_host_allowed:
                    self.policy.check_url(url, via_proxy=self._proxy is not None)
                    self._configured_host_allowed = self._configured_host_allowed or url is self._url
                hop_headers = headers
                if url is not self._url and _origin(url) != self._origin:
                    if stripped is None:
                        stripped = self.request_headers(event, attempt, event.body, cross_origin=True)
                    hop_headers = stripped
                async with self._session.post(
                    url, data=event.body, headers=hop_headers, allow_redirects=False, proxy=self._proxy,
                    timeout=self._timeout,
                ) as response:
                    if 200 <= response.status < 300:
                        # The receiver has accepted: success now, whatever its body does. A short body is still
                        # read, so the connection can be reused.
                        await _read_excerpt(response, EXCERPT_READ_SECONDS)
                        return AttemptResult(True, AttemptReason.OK, response.status)
                    excerpt = await _read_excerpt(response, EXCERPT_READ_SECONDS)
                    location = response.headers.get("Location")
                    if 300 <= response.status < 400 and self.config.follow_redirects and location:
                        try:
                            url = response.url.join(URL(location))
                        except ValueError:  # a host yarl cannot encode (IDNA)
                            return AttemptResult(False, AttemptReason.REDIRECT, response.status,
                                                 "redirect to an invalid URL")
                        if url.scheme not in ("http", "https"):
                            return AttemptResult(False, AttemptReason.REDIRECT, response.status,
                                                 "redirect to a non-HTTP URL")
                        continue
                    redirect = 300 <= response.status < 400
                    reason = AttemptReason.REDIRECT if redirect else AttemptReason.HTTP_STATUS
                    return AttemptResult(False, reason, response.status, f"HTTP {response.status}", excerpt,
                                         retry_after=parse_retry_after(response.headers.get("Retry-After")))
            return AttemptResult(False, AttemptReason.REDIRECT, error=f"more than {MAX_REDIRECTS} redirects")
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            reason, message = failure_of(error, self.config.timeout)
            return AttemptResult(False, reason, error=message)


def failure_of(error: TimeoutError | aiohttp.ClientError | OSError, timeout: float) -> tuple[AttemptReason, str]:
    """Why an attempt that raised `error` failed, and the message to report: the one mapping from what the
    network or the SSRF guard raises to a reason. `timeout`: the attempt's deadline (s), for its message."""
    if isinstance(error, BlockedAddress):
        return AttemptReason.BLOCKED_ADDRESS, str(error)
    if isinstance(error, TimeoutError):
        return AttemptReason.TIMEOUT, f"no response within {timeout}s"
    # aiohttp wraps the guard's refusal at connect time in its own connection error
    blocked = blocked_cause(error) if isinstance(error, aiohttp.ClientError) else None
    if blocked is not None:
        return AttemptReason.BLOCKED_ADDRESS, str(blocked)
    return AttemptReason.CONNECTION_ERROR, f"{type(error).__name__}: {error}"[:500]


def _origin(url: URL) -> tuple[str, str, int | None]:
    """Scheme, host as connected to, and port: a redirect to another origin loses the static headers."""
    return url.scheme, connect_host(url), url.port


async def _read_excerpt(response: aiohttp.ClientResponse, seconds: float) -> bytes:
    """Up to RESPONSE_EXCERPT bytes of the body, whatever arrived within `seconds` (a slow or endless body
    never holds an attempt)."""
    if response.content.is_eof():  # the whole body came with the headers (most answers): no timer to arm
        return response.content.read_nowait(RESPONSE_EXCERPT)
    excerpt = bytearray()
    try:
        async with asyncio.timeout(seconds):
            while len(excerpt) < RESPONSE_EXCERPT:
                chunk = await response.content.read(RESPONSE_EXCERPT - len(excerpt))
                if not chunk:
                    break
                excerpt += chunk
    except (TimeoutError, aiohttp.ClientError):
        pass
    return bytes(excerpt)
