"""The global cap on requests and body bytes in flight at ingest: its memory stays bounded.

A flood must fill RabbitMQ's queues, not ingest's memory: past either cap a request is answered 503 with
`Retry-After` before its body is read. A request reserves its declared Content-Length, or its source's body
limit when it declares none (chunked), so the cap holds whatever the client sends.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class InFlight:
    max_requests: int
    max_bytes: int
    requests: int = 0
    bytes: int = 0

    def try_admit(self, reserve: int) -> bool:
        """Count a request reserving `reserve` bytes, unless that would pass a cap."""
        if self.requests + 1 > self.max_requests or self.bytes + reserve > self.max_bytes:
            return False
        self.requests += 1
        self.bytes += reserve
        return True

    def release(self, reserve: int) -> None:
        self.requests -= 1
        self.bytes -= reserve
