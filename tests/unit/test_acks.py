"""hookpipe.amqp.acks: batched acks never cover a delivery still in flight."""

from __future__ import annotations

import asyncio

from hookpipe.amqp.acks import AckBatcher


class RecordingChannel:
    """Stands in for an aiormq channel: records the frames, applies RabbitMQ's rules to the outstanding tags."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, int, bool]] = []
        self.outstanding: set[int] = set()

    def deliver(self, batcher: AckBatcher, *tags: int) -> None:
        for tag in tags:
            self.outstanding.add(tag)
            batcher.delivered(tag)

    async def basic_ack(self, delivery_tag: int, multiple: bool = False, wait: bool = True) -> None:
        self.frames.append(("ack", delivery_tag, multiple))
        assert delivery_tag in self.outstanding, "unknown delivery tag: the broker would close the channel"
        covered = {t for t in self.outstanding if t <= delivery_tag} if multiple else {delivery_tag}
        self.outstanding -= covered

    async def basic_nack(self, delivery_tag: int, requeue: bool = True) -> None:
        self.frames.append(("nack", delivery_tag, False))
        self.outstanding.discard(delivery_tag)


async def test_acks_asked_together_go_out_as_one_multiple_ack() -> None:
    channel = RecordingChannel()
    batcher = AckBatcher(channel)
    channel.deliver(batcher, 1, 2, 3, 4)
    await asyncio.gather(*(batcher.ack(tag) for tag in (2, 1, 4, 3)))
    assert channel.frames == [("ack", 4, True)]
    assert channel.outstanding == set()


async def test_a_delivery_in_flight_is_never_covered_by_a_multiple_ack() -> None:
    channel = RecordingChannel()
    batcher = AckBatcher(channel)
    channel.deliver(batcher, 1, 2, 3, 4, 5)
    await asyncio.gather(*(batcher.ack(tag) for tag in (1, 2, 4, 5)))  # 3 is still being processed
    assert channel.outstanding == {3}
    assert channel.frames == [("ack", 2, True), ("ack", 4, False), ("ack", 5, False)]
    await batcher.ack(3)
    assert channel.outstanding == set()


async def test_a_requeued_delivery_is_nacked_and_later_acks_batch_past_it() -> None:
    channel = RecordingChannel()
    batcher = AckBatcher(channel)
    channel.deliver(batcher, 1, 2, 3)
    await batcher.nack(1, requeue=True)
    await asyncio.gather(batcher.ack(2), batcher.ack(3))
    assert channel.frames == [("nack", 1, False), ("ack", 3, True)]
    assert channel.outstanding == set()


async def test_a_failed_ack_reaches_every_caller_of_its_batch() -> None:
    class ClosedChannel(RecordingChannel):
        async def basic_ack(self, delivery_tag: int, multiple: bool = False, wait: bool = True) -> None:
            raise RuntimeError("channel closed")

    batcher = AckBatcher(ClosedChannel())
    batcher.delivered(1)
    batcher.delivered(2)
    results = await asyncio.gather(batcher.ack(1), batcher.ack(2), return_exceptions=True)
    assert all(isinstance(result, RuntimeError) for result in results)


async def test_a_slow_delivery_does_not_let_settled_tags_pile_up() -> None:
    channel = RecordingChannel()
    batcher = AckBatcher(channel)
    channel.deliver(batcher, *range(1, 5002))
    for start in range(2, 5002, 100):  # tag 1 stays in flight all along
        await asyncio.gather(*(batcher.ack(tag) for tag in range(start, start + 100)))
    assert len(batcher._lowest) < 300
    assert channel.outstanding == {1}
    await batcher.ack(1)
    assert channel.outstanding == set()
