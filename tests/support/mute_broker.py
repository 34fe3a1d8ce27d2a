"""A "mute broker": a TCP server on 127.0.0.1 that accepts connections and never writes a byte.

It is what a wedged RabbitMQ looks like from a client: the TCP connect succeeds, then the AMQP greeting
(Connection.Start) never comes. Every broker connect must give up on it within its time-out.

`python -m tests.support.mute_broker` serves one until Ctrl-C and prints its port.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class MuteBroker:
    """Listens on a free port of 127.0.0.1 from construction; accepts in a thread and holds every connection
    open, unread and unanswered, until `close()`."""

    def __init__(self) -> None:
        # bind(0) and listen at once: the port is ours the moment it is chosen, nobody can take it in between.
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port: int = self._listener.getsockname()[1]
        self._accepted: list[socket.socket] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name=f"mute-broker:{self.port}", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, user: str = "guest", password: str = "guest") -> str:
        return f"amqp://{user}:{password}@{self.address}/"

    @property
    def accepted(self) -> int:
        """Connections accepted so far."""
        return len(self._accepted)

    def closed_by_peer(self) -> int:
        """Accepted connections whose client has closed its end (what it sent is read and dropped)."""
        closed = 0
        for connection in list(self._accepted):
            connection.setblocking(False)
            try:
                while connection.recv(4096):
                    pass
            except (BlockingIOError, InterruptedError):
                continue  # still open
            except OSError:  # reset by the peer: closed too
                pass
            closed += 1
        return closed

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:  # the listener was closed
                return
            self._accepted.append(connection)

    def close(self) -> None:
        self._closed.set()
        # shutdown() wakes the thread blocked in accept(); close() alone does not on Linux.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(5)
        for connection in self._accepted:
            connection.close()

    def __enter__(self) -> MuteBroker:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


if __name__ == "__main__":
    with MuteBroker() as broker:
        print(f"mute broker on {broker.address} (AMQP_URL={broker.url()}); Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
