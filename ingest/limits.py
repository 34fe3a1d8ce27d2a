"""The global caps on what ingest holds in flight (DESIGN.md §2, guarantee 7), and who may hold it.

A flood must fill RabbitMQ's queues, not ingest's memory: past a cap a request is answered 503 with
`Retry-After`. Body bytes are counted as they arrive, never reserved up front: a client that declares a large
Content-Length, or sends a chunked body, and then trickles holds only what it has sent.

A request whose body is still on the wire when its handler starts holds a connection and a request slot
until the body ends or `read_timeout` cuts it, before anyone knows whether it is signed. Such waiting reads may
take at most half of the request slots, and one client (one peer address) at most a quarter, so slow or
unverified bodies cannot starve requests that arrived whole (most webhooks come in one packet).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Share of `max_requests` that requests still waiting for their body may hold together.
WAITING_SHARE = 2  # 1/2

#: Share of `max_requests` that one client's requests still waiting for their body may hold.
WAITING_SHARE_PER_CLIENT = 4  # 1/4


@dataclass(slots=True)
class InFlight:
    """Requests and body bytes in flight, and the requests still waiting for their body, per client.

    Parameters: `max_requests` and `max_bytes`, ingest.max_in_flight's caps. The waiting caps derive from
    `max_requests` (WAITING_SHARE, WAITING_SHARE_PER_CLIENT), at least one each.
    """

    max_requests: int
    max_bytes: int
    requests: int = 0
    bytes: int = 0
    waiting: int = 0
    _waiting_by_client: dict[str, int] = field(default_factory=dict)

    @property
    def max_waiting(self) -> int:
        return max(1, self.max_requests // WAITING_SHARE)

    @property
    def max_waiting_per_client(self) -> int:
        return max(1, self.max_requests // WAITING_SHARE_PER_CLIENT)

    def admit(self, client: str) -> Admission | None:
        """A request of `client` (its peer address) counted in flight, or None when the request cap is reached."""
        if self.requests + 1 > self.max_requests:
            return None
        self.requests += 1
        return Admission(self, client)

    def _try_wait(self, client: str) -> bool:
        mine = self._waiting_by_client.get(client, 0)
        if self.waiting + 1 > self.max_waiting or mine + 1 > self.max_waiting_per_client:
            return False
        self.waiting += 1
        self._waiting_by_client[client] = mine + 1
        return True

    def _done_waiting(self, client: str) -> None:
        self.waiting -= 1
        left = self._waiting_by_client[client] - 1
        if left:
            self._waiting_by_client[client] = left
        else:
            del self._waiting_by_client[client]  # the map holds only the clients waiting now


@dataclass(slots=True)
class Admission:
    """One admitted request: the body bytes it holds and whether it waits for more. `release` ends it."""

    in_flight: InFlight
    client: str
    bytes: int = 0
    waiting: bool = False
    released: bool = False

    def try_hold(self, size: int) -> bool:
        """Count `size` more body bytes, unless that would pass the byte cap."""
        if self.in_flight.bytes + size > self.in_flight.max_bytes:
            return False
        self.in_flight.bytes += size
        self.bytes += size
        return True

    def try_wait(self) -> bool:
        """Count this request as waiting for its body, unless a waiting cap is reached."""
        if not self.waiting:
            self.waiting = self.in_flight._try_wait(self.client)
        return self.waiting

    def stop_waiting(self) -> None:
        if self.waiting:
            self.in_flight._done_waiting(self.client)
            self.waiting = False

    def release(self) -> None:
        """Uncount the request, its bytes and its wait; idempotent."""
        if self.released:
            return
        self.stop_waiting()
        self.in_flight.bytes -= self.bytes
        self.in_flight.requests -= 1
        self.bytes = 0
        self.released = True
