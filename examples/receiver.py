"""A demo webhook receiver: checks the Standard Webhooks signature hookpipe adds, and prints each event.

    python examples/receiver.py [--host 127.0.0.1] [--port 9000] [--path /webhooks] [--secret whsec_...]

Host, port and path default to those of $RECEIVER_URL when it is set (the URL examples/pipeline.yaml delivers
to), else http://127.0.0.1:9000/webhooks.

This is what a hookpipe destination looks like from the receiving side, written with the standard library and
aiohttp only, so it can be copied. It answers 401 to a bad signature, 400 to a stale timestamp, 200 otherwise,
and drops duplicate deliveries by `webhook-id`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import sys
import time
from urllib.parse import urlsplit

from aiohttp import web

#: Seconds a signature's timestamp may differ from now: Standard Webhooks' recommended tolerance.
TOLERANCE = 300

DEFAULT_SECRET = "whsec_aG9va3BpcGUtZGVtby1zZWNyZXQtMzJieXRlcw=="

#: Where it listens unless told otherwise: the default of examples/pipeline.yaml's `receiver` destination.
DEFAULT_URL = "http://127.0.0.1:9000/webhooks"


def verify(secret: str, headers: dict[str, str], body: bytes) -> str | None:
    """None if the request is authentic, else why not."""
    msg_id, timestamp, signatures = (headers.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (msg_id and timestamp and signatures):
        return "missing webhook-* headers"
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE:
        return "timestamp outside tolerance"
    key = base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest())
    for signature in signatures.split():
        version, _, value = signature.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            return None
    return "bad signature"


def make_app(secret: str, path: str = "/webhooks") -> web.Application:
    seen: set[str] = set()

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        problem = verify(secret, headers, body)
        if problem is not None:
            print(f"REJECTED ({problem})", flush=True)
            return web.json_response({"error": problem}, status=401 if "signature" in problem else 400)
        msg_id = headers["webhook-id"]
        duplicate = msg_id in seen
        seen.add(msg_id)
        print(
            f"{'DUPLICATE ' if duplicate else ''}event {msg_id} source={headers.get('x-hookpipe-source')} "
            f"type={headers.get('x-hookpipe-event-type', '-')} verified={headers.get('x-hookpipe-verified', 'true')} "
            f"attempt={headers.get('x-hookpipe-attempt')} signature=ok\n  {body.decode('utf-8', 'replace')}",
            flush=True,
        )
        return web.json_response({"received": msg_id})

    app = web.Application()
    app.router.add_post(path, receive)
    return app


def main() -> None:
    url = urlsplit(os.environ.get("RECEIVER_URL") or DEFAULT_URL)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=url.hostname or "127.0.0.1")
    parser.add_argument("--port", type=int, default=url.port or 80)
    parser.add_argument("--path", default=url.path or "/")
    parser.add_argument("--secret", default=os.environ.get("RECEIVER_SECRET", DEFAULT_SECRET))
    args = parser.parse_args()
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"demo receiver on http://{host}:{args.port}{args.path}", file=sys.stderr, flush=True)
    web.run_app(make_app(args.secret, args.path), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
