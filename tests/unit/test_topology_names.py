"""Stream retention in RabbitMQ's own notation."""

from __future__ import annotations

from hookpipe.amqp.topology import archive_arguments, stream_max_age
from hookpipe.config import ArchiveConfig


def test_stream_max_age_uses_the_largest_exact_unit() -> None:
    assert stream_max_age(7 * 86400) == "7D"
    assert stream_max_age(36 * 3600) == "36h"
    assert stream_max_age(90) == "90s"
    assert stream_max_age(120) == "2m"
    assert stream_max_age(0.2) == "1s"


def test_archive_arguments_follow_the_config() -> None:
    arguments = archive_arguments(ArchiveConfig(max_age=86400, max_bytes=1024**2))
    assert arguments == {"x-queue-type": "stream", "x-max-age": "1D", "x-max-length-bytes": 1024**2,
                         "x-stream-max-segment-size-bytes": 1024**2}


def test_quorum_replicas_are_asked_for_only_when_configured() -> None:
    from hookpipe.amqp.topology import Names, _quorum
    from hookpipe.config import BrokerConfig

    assert _quorum(Names.of(BrokerConfig())) == {"x-queue-type": "quorum"}
    assert _quorum(Names.of(BrokerConfig(quorum_replicas=3)), **{"x-delivery-limit": 5}) == {
        "x-queue-type": "quorum", "x-quorum-initial-group-size": 3, "x-delivery-limit": 5,
    }


def test_lease_queues_do_not_collide_with_a_destination_named_router() -> None:
    from hookpipe.amqp.topology import Names

    names = Names("p")
    assert names.router_lease != names.delivery_lease("router")
    assert names.delivery_lease("router") not in (names.router_queue, names.deliver_queue("router"))
