"""A local stand-in for SNS's HTTPS hosts, so no test reaches AWS.

A test CA is made at test time; an aiohttp HTTPS server on 127.0.0.1 presents a certificate of that CA for SNS's
names; a resolver sends those names to it (and records every lookup), and an HttpsClient trusting the test CA
(ingest.sns_certificates) goes through that resolver. The server serves `files` by path, records every request's
path and query, answers a ConfirmSubscription GET with `confirm_status` and `confirm_body`, and waits `delay`
seconds before each answer.
"""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ingest.sns_certificates import HttpsClient

SNS_NAMES = ("sns.us-east-1.amazonaws.com", "sns.eu-west-1.amazonaws.com")

#: The test corpus's signing certificate and keys (test keys: they sign nothing but the corpus).
CORPUS_KEYS = Path(__file__).resolve().parents[1] / "corpus" / "webhooks" / "providers" / "sns"


class LocalResolver(AbstractResolver):
    """Resolves SNS's names to 127.0.0.1:`port` and nothing else; `calls` lists every host asked for."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.calls: list[str] = []

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        self.calls.append(host)
        if host not in SNS_NAMES:
            raise OSError(f"{host} is not resolved in tests")
        return [ResolveResult(hostname=host, host="127.0.0.1", port=self.port, family=socket.AF_INET, proto=0,
                              flags=socket.AI_NUMERICHOST)]

    async def close(self) -> None:
        return None


@dataclass
class SnsServer:
    port: int
    trust: ssl.SSLContext  # a client context trusting the test CA
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    confirm_status: int = 200
    confirm_body: bytes = b"<ConfirmSubscriptionResponse/>"
    delay: float = 0.0
    resolvers: list[LocalResolver] = field(default_factory=list)

    def client(self, timeout: float = 5.0) -> HttpsClient:
        resolver = LocalResolver(self.port)
        self.resolvers.append(resolver)
        return HttpsClient(ssl_context=self.trust, resolver=resolver, timeout=timeout)

    @property
    def lookups(self) -> list[str]:
        return [host for resolver in self.resolvers for host in resolver.calls]

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(request.path_qs)
        if self.delay:
            await asyncio.sleep(self.delay)
        if request.path == "/" and request.query.get("Action") == "ConfirmSubscription":
            return web.Response(status=self.confirm_status, body=self.confirm_body)
        body = self.files.get(request.path)
        return web.Response(body=body) if body is not None else web.Response(status=404)


@cache
def _test_ca_pems() -> tuple[bytes, str]:
    """(the server's certificate and key for SNS_NAMES, the test CA's certificate), made once per test run."""
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hookpipe test CA (SNS server)")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(start)
          .not_valid_after(start + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SNS_NAMES[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in SNS_NAMES]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    server = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return server, ca.public_bytes(serialization.Encoding.PEM).decode()


def _test_ca(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context presenting a certificate for SNS_NAMES, client context trusting only the test CA)."""
    server_pem, ca_pem = _test_ca_pems()
    (directory / "server.pem").write_bytes(server_pem)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(directory / "server.pem")
    return server, ssl.create_default_context(cadata=ca_pem)


@asynccontextmanager
async def sns_server() -> AsyncIterator[SnsServer]:
    """A running local SNS host (see the module docstring)."""
    with tempfile.TemporaryDirectory() as directory:
        server_context, client_context = _test_ca(Path(directory))
    state = SnsServer(port=0, trust=client_context)
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", state._handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    state.port = runner.addresses[0][1]
    try:
        yield state
    finally:
        await runner.cleanup()
