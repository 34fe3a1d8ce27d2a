"""A RabbitMQ cluster node dies under the pipeline: which node to kill, and how long the services took to move.

The services list every node in `broker.url`, so they all connect to the first and declare their quorum queues
there: that node leads them (RabbitMQ puts a new quorum queue's leader on the declaring client's node). Killing
it takes the leaders and every service's connections at once, the hardest single-node loss. The services'
logs say when each link connected again, and to which node.
"""

from __future__ import annotations

import collections
import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass

from hookpipe.amqp.topology import Names
from tests.support.rabbitmq_cluster import RabbitMQCluster

#: What a link logs once it is connected and set up (hookpipe.amqp.broker.Link).
CONNECTED = "connected to the broker"


def leading_node(cluster: RabbitMQCluster, prefix: str) -> tuple[int, dict[int, int]]:
    """The node leading the run's router queue (where events enter), and how many of the run's quorum queues
    each node leads."""
    leaders = {queue: node for queue, node in cluster.queue_leaders(via=0).items() if queue.startswith(f"{prefix}.")}
    counts = collections.Counter(leaders.values())
    router = leaders.get(Names(prefix).router_queue)
    return (router if router is not None else counts.most_common(1)[0][0]), dict(sorted(counts.items()))


@dataclass(frozen=True)
class Connect:
    service: str
    link: str
    url: str  # the node, password masked
    at: float  # wall-clock seconds


def connects(logs: dict[str, str]) -> list[Connect]:
    """Every connect of every link, in the order logged, from the services' JSON logs."""
    found = []
    for service, text in logs.items():
        for entry in _entries(text.splitlines()):
            at = _timestamp(str(entry.get("ts", "")))
            if entry.get("msg") == CONNECTED and at is not None:
                found.append(Connect(service, str(entry.get("link", "")), str(entry.get("url", "")), at))
    return found


def moved_links(logs: dict[str, str], node_url: str, since: float) -> tuple[list[Connect], list[str]]:
    """The links that were on `node_url` (masked, as logged) at `since`: their first connect after it (with
    `at` made seconds after `since`), and the links that have not connected since."""
    last_before: dict[tuple[str, str], Connect] = {}
    first_after: dict[tuple[str, str], Connect] = {}
    for connect in connects(logs):
        key = (connect.service, connect.link)
        if connect.at < since:
            last_before[key] = connect
        elif key not in first_after:
            first_after[key] = connect
    on_node = sorted(key for key, connect in last_before.items() if connect.url == node_url)
    moved = [Connect(*key, first_after[key].url, first_after[key].at - since) for key in on_node if key in first_after]
    stuck = [f"{service} {link}" for service, link in on_node if (service, link) not in first_after]
    return moved, stuck


def _entries(lines: Iterable[str]) -> Iterable[dict[str, object]]:
    for line in lines:
        if line.startswith("{"):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                yield entry


def _timestamp(text: str) -> float | None:
    """Seconds since the epoch of a log line's `ts` (UTC, milliseconds)."""
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.UTC).timestamp()
    except ValueError:
        return None
