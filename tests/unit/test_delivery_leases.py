"""deliverer.leases: which destinations a replica hands over, and what it does around a hand-over."""

from __future__ import annotations

import asyncio

from deliverer.leases import DeliveryLeases
from hookpipe.amqp.topology import Names


class FakeLease:
    def __init__(self, *, comes_back: bool = False) -> None:
        self.held = True
        self.comes_back = comes_back
        self.handed_over = 0

    async def hand_over(self) -> None:
        self.handed_over += 1
        self.held = self.comes_back  # nobody else in line: RabbitMQ gives it straight back


class Calls:
    def __init__(self, *, drained: bool = True) -> None:
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.holds_while_stopped: list[bool] = []
        self._drained = drained
        self.leases: DeliveryLeases | None = None

    async def start(self, name: str) -> None:
        self.started.append(name)

    async def stop(self, name: str) -> None:
        self.stopped.append(name)

    async def drained(self, name: str, timeout: float) -> bool:
        assert self.leases is not None
        self.holds_while_stopped.append(self.leases.holds(name))
        return self._drained


def leases_with(calls: Calls, leases: dict[str, FakeLease]) -> DeliveryLeases:
    manager = DeliveryLeases(Names("t"), start=calls.start, stop=calls.stop, drained=calls.drained,
                             pinned=lambda name: name == "fifo")
    manager._leases = leases  # type: ignore[assignment]
    calls.leases = manager
    return manager


def test_a_hand_over_stops_drains_then_gives_the_lease_and_nothing_consumes_meanwhile() -> None:
    calls = Calls()
    lease = FakeLease()
    manager = leases_with(calls, {"a": lease})
    asyncio.run(manager._hand_over("a"))
    assert calls.stopped == ["a"] and lease.handed_over == 1
    assert calls.holds_while_stopped == [False]  # a probe or resume during the drain would not consume
    assert calls.started == [] and not manager.holds("a")


def test_a_destination_still_busy_after_the_drain_is_kept_and_delivered_again() -> None:
    calls = Calls(drained=False)
    lease = FakeLease()
    manager = leases_with(calls, {"a": lease})
    asyncio.run(manager._hand_over("a"))
    assert lease.handed_over == 0 and calls.started == ["a"] and manager.holds("a")


def test_a_lease_that_comes_straight_back_is_delivered_again() -> None:
    calls = Calls()
    lease = FakeLease(comes_back=True)
    manager = leases_with(calls, {"a": lease})
    asyncio.run(manager._hand_over("a"))
    assert lease.handed_over == 1 and calls.started == ["a"] and manager.holds("a")
