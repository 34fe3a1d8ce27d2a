"""SNS's certificate store and confirmation GET (ingest/sns_certificates.py) against a local HTTPS server with a
test CA (tests/support/sns_server.py): fetched once then cached, shared by concurrent requests, bounded in size
and time, and nothing resolved or connected for a URL off SNS's hosts."""

from __future__ import annotations

import asyncio

import pytest

from ingest import sns_certificates
from ingest.sns_certificates import DisallowedURL, FetchFailed, SnsNetwork
from ingest.verify import Rejected, sns
from tests.support.network import loopback_only_connects
from tests.support.sns_server import CORPUS_KEYS, sns_server

PEM = (CORPUS_KEYS / "signing-cert.pem").read_bytes()
PATH = "/SimpleNotificationService-0123456789abcdef.pem"
URL = f"https://sns.us-east-1.amazonaws.com{PATH}"


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_certificate_is_fetched_once_then_served_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    connects = loopback_only_connects(monkeypatch)
    async with sns_server() as server:
        server.files[PATH] = PEM
        network = SnsNetwork(server.client())
        assert network.keys(URL) == []
        await network.load(URL)
        await network.load(URL)
        assert len(network.keys(URL)) == 1
        assert server.requests == [PATH]
    assert connects and set(connects) == {"127.0.0.1"}


async def test_concurrent_requests_for_one_url_share_one_fetch() -> None:
    async with sns_server() as server:
        server.files[PATH] = PEM
        server.delay = 0.2
        network = SnsNetwork(server.client())
        await asyncio.gather(*(network.load(URL) for _ in range(10)))
        assert server.requests == [PATH]


async def test_the_cache_honours_its_ttl_and_its_size() -> None:
    clock = Clock()
    async with sns_server() as server:
        for number in range(3):
            server.files[f"/cert-{number}.pem"] = PEM
        network = SnsNetwork(server.client(), max_cached=2, ttl=60, clock=clock)
        urls = [f"https://sns.us-east-1.amazonaws.com/cert-{number}.pem" for number in range(3)]
        for url in urls:
            await network.load(url)
        assert network.keys(urls[0]) == [] and network.keys(urls[2])  # the least recently used went first
        clock.now += 61
        assert network.keys(urls[2]) == []
        await network.load(urls[2])
        assert server.requests.count("/cert-2.pem") == 2


async def test_a_failed_fetch_answers_503_and_is_not_repeated_at_once() -> None:
    clock = Clock()
    async with sns_server() as server:
        network = SnsNetwork(server.client(), clock=clock)
        for _ in range(3):
            with pytest.raises(Rejected) as refused:
                await network.load(URL)
            assert (refused.value.reason, refused.value.status) == ("certificate_unavailable", 503)
            assert refused.value.retry_after
        assert server.requests == [PATH]
        clock.now += sns_certificates.FAILURE_TTL + 1
        server.files[PATH] = PEM
        await network.load(URL)
        assert network.keys(URL)


async def test_an_oversize_certificate_is_refused() -> None:
    async with sns_server() as server:
        server.files[PATH] = PEM + b"\n" * sns_certificates.MAX_CERTIFICATE_BYTES
        with pytest.raises(FetchFailed, match="larger than"):
            await server.client().get(URL, allowed=sns.allowed_certificate_url,
                                      max_bytes=sns_certificates.MAX_CERTIFICATE_BYTES)
        with pytest.raises(Rejected):
            await SnsNetwork(server.client()).load(URL)


async def test_past_max_fetches_distinct_urls_at_once_a_message_is_answered_503_at_once() -> None:
    async with sns_server() as server:
        server.delay = 0.5
        urls = [f"https://sns.us-east-1.amazonaws.com/c{n}.pem" for n in range(sns_certificates.MAX_FETCHES + 1)]
        for url in urls:
            server.files[url.split(".com", 1)[1]] = PEM
        network = SnsNetwork(server.client())
        first = [asyncio.create_task(network.load(url)) for url in urls[:-1]]
        await asyncio.sleep(0.1)
        with pytest.raises(Rejected) as refused:
            await network.load(urls[-1])
        assert refused.value.reason == "certificate_unavailable"
        await asyncio.gather(*first)
        await network.load(urls[-1])  # once the others are done it is fetched
        assert len(server.requests) == len(urls)


async def test_a_slow_server_is_cut_at_the_timeout() -> None:
    async with sns_server() as server:
        server.files[PATH] = PEM
        server.delay = 0.8
        started = asyncio.get_running_loop().time()
        with pytest.raises(FetchFailed, match="no answer within"):
            await server.client(timeout=0.2).get(URL, allowed=sns.allowed_certificate_url, max_bytes=65536)
        assert asyncio.get_running_loop().time() - started < 0.6


async def test_a_file_that_is_no_certificate_is_refused() -> None:
    async with sns_server() as server:
        server.files[PATH] = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
        with pytest.raises(Rejected) as refused:
            await SnsNetwork(server.client()).load(URL)
        assert refused.value.reason == "certificate_unavailable"


@pytest.mark.parametrize("url", [
    "https://evil.example/cert.pem", "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
    "http://sns.us-east-1.amazonaws.com/cert.pem", "https://sns.us-east-1.amazonaws.com:443/cert.pem",
    "https://user@sns.us-east-1.amazonaws.com/cert.pem", "https://127.0.0.1/cert.pem",
    "https://sns.us-east-1.amazonaws.com/cert.pem?x=1",
])
async def test_a_disallowed_url_is_refused_before_any_lookup_or_connect(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connects = loopback_only_connects(monkeypatch)
    async with sns_server() as server:
        client = server.client()
        with pytest.raises(DisallowedURL):
            await client.get(url, allowed=sns.allowed_certificate_url, max_bytes=65536)
        with pytest.raises(Rejected):
            await SnsNetwork(client).load(url)
        assert server.lookups == [] and server.requests == []
    assert connects == []


async def test_a_subscription_is_confirmed_by_one_get_and_a_failure_is_503() -> None:
    url = ("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"
           "&TopicArn=arn:aws:sns:us-east-1:123456789012:t&Token=abc")
    async with sns_server() as server:
        network = SnsNetwork(server.client())
        await network.confirm(url)
        assert server.requests == [url.removeprefix("https://sns.us-east-1.amazonaws.com")]
        server.confirm_body = b"x" * (sns_certificates.MAX_ANSWER_BYTES + 1)
        with pytest.raises(Rejected):
            await network.confirm(url)
        server.confirm_status = 500
        with pytest.raises(Rejected) as refused:
            await network.confirm(url)
        assert (refused.value.reason, refused.value.status) == ("confirmation_failed", 503)
        with pytest.raises(Rejected):
            await network.confirm(url.replace("sns.us-east-1.amazonaws.com", "evil.example"))
        assert server.lookups == ["sns.us-east-1.amazonaws.com"] * 3


def test_ingest_gives_the_sns_scheme_this_store() -> None:
    import ingest.app  # noqa: F401 - where it is given

    assert sns.network is sns_certificates.default_network
