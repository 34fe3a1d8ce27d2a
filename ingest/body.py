"""Reading a webhook's body under ingest's limits: its size, its deadline, and the bytes in flight."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from hookpipe.outcomes import IngestRejection
from ingest.limits import Admission
from ingest.verify import Rejected

#: Seconds a provider is asked to wait before retrying after a 503.
RETRY_AFTER_SECONDS = 5

#: Bytes read from the body at a time.
READ_CHUNK = 64 * 1024


async def read_body(request: web.Request, limit: int, admission: Admission, read_timeout: float) -> bytes:
    """The body, its bytes counted in flight as they arrive; a body still on the wire takes a waiting slot.
    Past `limit` 413, past `read_timeout` (s) 408, past the in-flight caps 503: each raised as Rejected."""
    if request.content_length is not None and request.content_length > limit:
        raise Rejected(IngestRejection.TOO_LARGE, status=413)
    if request.content.is_eof():  # the whole body came with the headers (most webhooks): nothing to wait for
        body = request.content.read_nowait()
        if len(body) > limit:
            raise Rejected(IngestRejection.TOO_LARGE, status=413)
        if not admission.try_hold(len(body)):
            raise Rejected(IngestRejection.OVERLOADED, status=503, retry_after=RETRY_AFTER_SECONDS)
        return body
    if not admission.try_wait():
        raise Rejected(IngestRejection.SLOW_BODIES, status=503, retry_after=RETRY_AFTER_SECONDS)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(read_timeout):
            async for chunk in request.content.iter_chunked(READ_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise Rejected(IngestRejection.TOO_LARGE, status=413)
                if not admission.try_hold(len(chunk)):
                    raise Rejected(IngestRejection.OVERLOADED, status=503, retry_after=RETRY_AFTER_SECONDS)
                chunks.append(chunk)
    except TimeoutError:
        raise Rejected(IngestRejection.READ_TIMEOUT, status=408) from None
    except RequestPayloadError:  # broken framing the parser reports through the body (chunked encoding)
        raise Rejected(IngestRejection.BAD_REQUEST, status=400) from None
    except ConnectionResetError:  # nobody to answer; counted with nginx's status for it, not as our error
        raise Rejected(IngestRejection.CLIENT_CLOSED, status=499) from None
    finally:
        admission.stop_waiting()
    return b"".join(chunks)
