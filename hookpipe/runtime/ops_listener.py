"""The ops listener each service runs apart from any public port: /metrics, /healthz, /readyz, and /status
where a service has state worth showing (the deliverer's breakers, for `hookpipe status`).

It is unauthenticated by design (Prometheus and probes scrape it), so it belongs on a private address.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

#: Answers why the service is not ready, or an empty list when it is.
ReadinessCheck = Callable[[], Awaitable[list[str]]]

#: The service's runtime state as a JSON object (no secrets: the listener is unauthenticated).
StatusReport = Callable[[], dict[str, Any]]


def ops_app(readiness: ReadinessCheck, status: StatusReport | None = None) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        response = web.Response(body=generate_latest())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        problems = await readiness()
        if problems:
            return web.json_response({"status": "not ready", "problems": problems}, status=503)
        return web.json_response({"status": "ready"})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if status is not None:
        report = status

        async def status_page(_: web.Request) -> web.Response:
            return web.json_response(report())

        app.router.add_get("/status", status_page)
    return app


#: The host an address without one (`:9101`) means: loopback, so a listener is public only when asked to be.
DEFAULT_HOST = "127.0.0.1"


def split_host_port(address: str) -> tuple[str, int]:
    """`host:port` (an IPv6 host in brackets) as (host, port); no host means DEFAULT_HOST."""
    host, _, port = address.rpartition(":")
    return host.strip("[]") or DEFAULT_HOST, int(port)


#: Listen addresses that mean "every interface": a client reaches such a listener on loopback.
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::"})


def ops_base_url(address: str) -> str:
    """`http://host:port` at which a client reaches an ops listener configured as `host:port` (a wildcard
    listener on 127.0.0.1; an IPv6 host in brackets). The CLI and the container healthcheck both use it."""
    host, port = split_host_port(address)
    host = "127.0.0.1" if host in WILDCARD_HOSTS else host
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def start_site(app: web.Application, address: str, *, runner_class: type[web.AppRunner] = web.AppRunner,
                     **runner_options: object) -> web.AppRunner:
    """Serve `app` on `host:port` (no host: DEFAULT_HOST); returns the runner, whose cleanup() stops it."""
    runner = runner_class(app, access_log=None, **runner_options)  # type: ignore[arg-type]
    await runner.setup()
    host, port = split_host_port(address)
    await web.TCPSite(runner, host, port, reuse_address=True).start()
    return runner
