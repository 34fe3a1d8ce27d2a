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
