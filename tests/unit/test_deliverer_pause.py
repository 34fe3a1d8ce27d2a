"""Pause and resume (deliverer.pause): what pausing, resuming and a reload's pause setting do to delivery
(which control messages count: test_deliverer_control). The consumers and the breaker are fakes that record
the calls."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from deliverer.pause import Pauses
from hookpipe.amqp.topology import Names


class Calls:
    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []

    async def stop(self, name: str) -> None:
        self.log.append(("stop", name))

    async def deliver(self, name: str) -> None:
        self.log.append(("deliver", name))


def pauses(calls: Calls, **paused_in_config: bool) -> Pauses:
    senders: dict[str, Any] = {name: SimpleNamespace(config=SimpleNamespace(paused=paused))
                               for name, paused in paused_in_config.items()}
    link: Any = SimpleNamespace(connection=None)  # not connected: no flag to read
    return Pauses(link, Names("test"), senders, stop=calls.stop, deliver=calls.deliver)


async def test_a_pause_stops_delivering_and_a_resume_delivers_again() -> None:
    calls = Calls()
    p = pauses(calls, d=False)
    await p.pause("d")
    assert "d" in p.paused and calls.log == [("stop", "d")]
    await p.resume("d")
    assert "d" not in p.paused and calls.log == [("stop", "d"), ("deliver", "d")]


async def test_resuming_a_destination_not_paused_does_nothing() -> None:
    calls = Calls()
    await pauses(calls, d=False).resume("d")
    assert calls.log == []


async def test_the_config_pauses_from_the_start_and_a_reload_lifting_it_resumes() -> None:
    calls = Calls()
    p = pauses(calls, d=True)
    assert p.paused == {"d"}
    p._senders["d"].config.paused = False  # type: ignore[attr-defined]  # the reloaded setting
    assert await p.reconcile("d") is True
    assert calls.log == [("deliver", "d")] and p.paused == set()


async def test_a_reload_pausing_a_destination_stops_it_and_one_unpaused_is_left_to_its_consumer() -> None:
    calls = Calls()
    p = pauses(calls, d=False, e=False)
    p._senders["d"].config.paused = True  # type: ignore[attr-defined]
    assert await p.reconcile("d") is True and calls.log == [("stop", "d")]
    assert await p.reconcile("e") is False and calls.log == [("stop", "d")]
