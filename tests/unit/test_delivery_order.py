"""Deliveries leave in consumption order per destination, even when an earlier event decides last."""

from __future__ import annotations

import asyncio

from hookpipe.event import Event
from router.order import DeliveryOrder
from router.rules import Route, RouteTable


async def settle() -> None:
    """Let every ready task run until it waits again."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_later_event_waits_for_an_earlier_undecided_one_that_may_reach_its_destination() -> None:
    order = DeliveryOrder()
    published: list[str] = []
    big = order.take(frozenset({"warehouse", "billing"}))
    small = order.take(frozenset({"warehouse"}))

    async def small_event() -> None:
        await order.turn(small, ["warehouse"])
        order.done(small)
        published.append("small")

    task = asyncio.create_task(small_event())
    await settle()
    assert published == []  # the big one, consumed first, has not decided yet
    await order.turn(big, ["warehouse"])
    order.done(big)
    published.append("big")
    await task
    assert published == ["big", "small"]
    assert len(order) == 0


async def test_a_later_event_for_other_destinations_does_not_wait() -> None:
    order = DeliveryOrder()
    order.take(frozenset({"warehouse"}))  # undecided throughout
    other = order.take(frozenset({"warehouse", "slack"}))
    await asyncio.wait_for(order.turn(other, ["slack"]), timeout=5)


async def test_an_event_that_decides_with_no_delivery_lets_the_next_pass() -> None:
    order = DeliveryOrder()
    first = order.take(frozenset({"warehouse"}))
    second = order.take(frozenset({"warehouse"}))
    waiting = asyncio.create_task(order.turn(second, ["warehouse"]))
    await settle()
    assert not waiting.done()
    order.done(first)  # dead-lettered, unmatched, or failed: it never publishes
    await asyncio.wait_for(waiting, timeout=5)


async def test_waiting_also_follows_a_chain_of_earlier_events() -> None:
    order = DeliveryOrder()
    first = order.take(frozenset({"a"}))
    second = order.take(frozenset({"a"}))
    third = order.take(frozenset({"a"}))
    published: list[int] = []

    async def event(ticket: int) -> None:
        await order.turn(ticket, ["a"])
        order.done(ticket)
        published.append(ticket)

    tasks = [asyncio.create_task(event(third)), asyncio.create_task(event(second))]
    await settle()
    assert published == []
    await event(first)
    await asyncio.gather(*tasks)
    assert published == [first, second, third]


async def test_a_cancelled_waiter_does_not_stop_the_others() -> None:
    order = DeliveryOrder()
    first = order.take(frozenset({"a"}))
    second = order.take(frozenset({"a"}))
    third = order.take(frozenset({"b"}))
    cancelled = asyncio.create_task(order.turn(second, ["a"]))
    other = asyncio.create_task(order.turn(third, ["a", "b"]))
    await settle()
    cancelled.cancel()
    order.done(second)  # the service releases a cancelled event's ticket (finally)
    await settle()
    assert not other.done()  # still behind the first
    order.done(first)
    await asyncio.wait_for(other, timeout=5)


def test_an_event_can_reach_only_the_destinations_of_the_routes_that_see_it() -> None:
    table = RouteTable([Route("all", None, None, ("archive",)), Route("shop", frozenset({"shop"}), None, ("erp",)),
                        Route("crm", frozenset({"crm"}), None, ("sales",))])

    def event(source: str, *, verified: bool) -> Event:
        return Event(id="e1", source=source, type=None, received_at=0, verified=verified,
                     content_type="application/json", body=b"{}", headers={})

    assert table.reachable(event("shop", verified=True)) == {"archive", "erp"}
    assert table.reachable(event("shop", verified=False)) == {"erp"}  # routes without sources see verified ones only
    assert table.reachable(event("other", verified=True)) == {"archive"}
    assert table.reachable(event("other", verified=False)) == set()
