"""SNS's network: its signing certificates, fetched over HTTPS from SNS itself and cached, and the GET that
confirms a subscription. ingest.verify.sns stays pure; ingest gives it this module's `default_network`.

Only SNS's own hosts are ever asked (the patterns of ingest.verify.sns), and that is checked on the URL text
before any name is resolved or any connection opened: a message names its certificate's URL, so the URL is
the sender's choice. Every GET is HTTPS with the system's trusted CAs (the certificate's authenticity is that of
the TLS connection to SNS, as in AWS's validators), follows no redirect, ignores proxy settings of the
environment, and is bounded in time (FETCH_TIMEOUT) and size.

Certificates are cached by URL (AWS publishes a rotated certificate under a new name): MAX_CACHED of them, least
recently used dropped first, each kept CACHE_TTL; a URL that failed is not asked again for FAILURE_TTL. Requests
waiting for the same URL share one fetch, and at most MAX_FETCHES distinct URLs are fetched at once. A
certificate that cannot be had answers 503 with Retry-After, so SNS delivers the message again.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

import aiohttp
from aiohttp.abc import AbstractResolver
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from yarl import URL

from hookpipe.outcomes import IngestRejection
from ingest.verify import Rejected, sns

log = logging.getLogger("ingest")

#: Seconds one GET may take, connection and body included.
FETCH_TIMEOUT = 5.0

#: Bytes of a certificate file (SNS's are about 2 KiB) and of a confirmation's answer (about 400 bytes of XML).
MAX_CERTIFICATE_BYTES = 64 * 1024
MAX_ANSWER_BYTES = 64 * 1024

#: Certificates kept: AWS signs with one per region at a time, a few during a rotation.
MAX_CACHED = 64

#: Seconds a fetched certificate is used before it is fetched again.
CACHE_TTL = 24 * 3600.0

#: Seconds a URL whose fetch failed is refused without asking again: a message naming a missing certificate,
#: repeated, costs one GET per this interval rather than one per request.
FAILURE_TTL = 10.0

#: Distinct certificate URLs fetched at once; past it a message is answered 503 at once.
MAX_FETCHES = 8


class DisallowedURL(Exception):
    """A URL off SNS's own hosts: nothing was resolved or connected."""


class FetchFailed(Exception):
    """A GET that did not give a 200 with a body within the bounds."""


class HttpsClient:
    """GETs from SNS's hosts only.

    Parameters (keyword-only): `ssl_context` (default: the system's trusted CAs), `resolver` (default aiohttp's),
    `timeout` (s) for the whole GET.
    """

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, resolver: AbstractResolver | None = None,
                 timeout: float = FETCH_TIMEOUT) -> None:
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.resolver = resolver
        self.timeout = timeout

    async def get(self, url: str, *, allowed: Callable[[str], bool], max_bytes: int) -> bytes:
        """The body of a 200 answer to GET `url`; DisallowedURL unless `allowed(url)`, before any I/O;
        FetchFailed for anything else."""
        if not allowed(url):
            raise DisallowedURL(url)
        connector = aiohttp.TCPConnector(ssl=self.ssl_context, resolver=self.resolver, force_close=True)
        try:
            async with asyncio.timeout(self.timeout), aiohttp.ClientSession(
                connector=connector, trust_env=False, auto_decompress=False
            ) as session, session.get(URL(url, encoded=True), allow_redirects=False) as response:
                if response.status != 200:
                    raise FetchFailed(f"answered {response.status}")
                if response.content_length is not None and response.content_length > max_bytes:
                    raise FetchFailed(f"larger than {max_bytes} bytes")
                body = bytearray()
                async for chunk in response.content.iter_chunked(16 * 1024):
                    body += chunk
                    if len(body) > max_bytes:
                        raise FetchFailed(f"larger than {max_bytes} bytes")
                return bytes(body)
        except TimeoutError:
            raise FetchFailed(f"no answer within {self.timeout:g} s") from None
        except (aiohttp.ClientError, OSError) as error:
            raise FetchFailed(f"{type(error).__name__}: {error}") from None


def certificate_key(pem: bytes) -> rsa.RSAPublicKey:
    """The RSA public key of a PEM certificate; ValueError when it is none."""
    key = x509.load_pem_x509_certificate(pem).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA certificate")
    return key


class SnsNetwork:
    """SNS's certificates by URL, and subscription confirmations (ingest.verify.sns.Network).

    Parameters: `client` (an HttpsClient); keyword-only `max_cached`, `ttl` (s), `clock` (monotonic seconds).
    """

    def __init__(self, client: HttpsClient, *, max_cached: int = MAX_CACHED, ttl: float = CACHE_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.max_cached = max_cached
        self.ttl = ttl
        self.clock = clock
        self._cache: OrderedDict[str, tuple[float, rsa.RSAPublicKey | None]] = OrderedDict()
        self._fetching: dict[str, asyncio.Task[rsa.RSAPublicKey | None]] = {}

    def keys(self, url: str) -> Sequence[rsa.RSAPublicKey]:
        """The certificate's key when it is cached and fresh, else none."""
        entry = self._fresh(url)
        return [entry[1]] if entry is not None and entry[1] is not None else []

    async def load(self, url: str) -> None:
        """Fetch the certificate unless cached; Rejected('certificate_unavailable', 503) when it cannot be had."""
        entry = self._fresh(url)
        if entry is None:
            task = self._fetching.get(url)
            if task is None:
                if len(self._fetching) >= MAX_FETCHES:
                    raise _unavailable()
                task = asyncio.create_task(self._fetch(url), name="ingest:sns-certificate")
                self._fetching[url] = task
                task.add_done_callback(lambda _: self._fetching.pop(url, None))
            # shield: a request that goes away does not cancel the fetch the others wait for
            key = await asyncio.shield(task)
        else:
            key = entry[1]
        if key is None:
            raise _unavailable()

    async def confirm(self, url: str) -> None:
        """GET a SubscribeURL; Rejected('confirmation_failed', 503) when it does not answer 200."""
        try:
            await self.client.get(url, allowed=sns.on_sns_host, max_bytes=MAX_ANSWER_BYTES)
        except (DisallowedURL, FetchFailed) as error:
            # The URL is logged so an operator can confirm by hand (AWS console, "Confirm subscription"); it
            # only confirms a subscription of this endpoint to a topic the source accepts.
            log.warning("SNS subscription not confirmed; SNS will send the confirmation again",
                        extra={"subscribe_url": url, "error": str(error) or type(error).__name__})
            raise Rejected(IngestRejection.CONFIRMATION_FAILED, status=503,
                           retry_after=sns.RETRY_AFTER) from None
        log.info("SNS subscription confirmed", extra={"subscribe_url": url.partition("&Token=")[0]})

    def _fresh(self, url: str) -> tuple[float, rsa.RSAPublicKey | None] | None:
        entry = self._cache.get(url)
        if entry is None:
            return None
        if entry[0] <= self.clock():
            del self._cache[url]
            return None
        self._cache.move_to_end(url)
        return entry

    async def _fetch(self, url: str) -> rsa.RSAPublicKey | None:
        key: rsa.RSAPublicKey | None = None
        try:
            key = certificate_key(
                await self.client.get(url, allowed=sns.allowed_certificate_url, max_bytes=MAX_CERTIFICATE_BYTES)
            )
        except (DisallowedURL, FetchFailed, ValueError) as error:
            log.warning("SNS signing certificate unavailable",
                        extra={"url": url, "error": str(error) or type(error).__name__})
        self._cache[url] = (self.clock() + (self.ttl if key is not None else FAILURE_TTL), key)
        self._cache.move_to_end(url)
        while len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)
        return key


def _unavailable() -> Rejected:
    return Rejected(IngestRejection.CERTIFICATE_UNAVAILABLE, status=503, retry_after=sns.RETRY_AFTER)


def default_fetcher() -> HttpsClient:
    """The client every SNS source without pinned certificates uses (tests replace it with one trusting a
    test CA and resolving SNS's names to a local server)."""
    return HttpsClient()


def default_network() -> SnsNetwork:
    return SnsNetwork(default_fetcher())

