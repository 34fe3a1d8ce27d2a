"""A RabbitMQ cluster of private nodes on 127.0.0.1, for tests of what a cluster does when one node dies.

Each node is a tests.support.rabbitmq_node.PrivateRabbitMQ (own directory, own ports chosen free, no plugins),
all with one Erlang cookie. `start()` boots them side by side, then nodes 2.. join node 1 the documented way
(`rabbitmqctl stop_app`, `join_cluster`, `start_app`, each run with the joining node's own environment).
`kill(i)` SIGKILLs node i's Erlang VM by its PID; `restart(i)` boots it again on its data and returns once the
other nodes count it among their running nodes. `stop()` ends every node by PID and removes their directories.

Nothing here is shared with the machine's broker but epmd (the port mapper every Erlang node on a host uses).
"""

from __future__ import annotations

import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

from tests.support.rabbitmq_node import NodeUnavailable, PrivateRabbitMQ

#: Seconds a restarted node may take to count again among the others' running nodes, after it booted.
REJOIN_TIMEOUT = 60.0

#: Seconds between looks at the cluster's running nodes while waiting for a restarted node.
REJOIN_POLL = 0.5


class RabbitMQCluster:
    """`size` private nodes clustered; `urls[i]` is node i's AMQP URL (guest/guest), valid once started.

    Parameters:
    - size: nodes (3 gives quorum queues a majority that survives one node);
    - name_prefix: start of each node's name (the rest is this process's PID and a random part).
    """

    def __init__(self, size: int = 3, name_prefix: str = "hp-cluster") -> None:
        if size < 1:
            raise ValueError("a cluster has at least one node")
        cookie = secrets.token_hex(16).upper()
        self.nodes = [PrivateRabbitMQ(name_prefix, plugins=(), cookie=cookie) for _ in range(size)]
        self.boot_seconds = 0.0  # start(): until every node booted
        self.join_seconds = 0.0  # start(): the joins, until node 1 sees every node running

    @property
    def urls(self) -> list[str]:
        return [node.amqp_url for node in self.nodes]

    @property
    def node_names(self) -> list[str]:
        return [node.node_name for node in self.nodes]

    def start(self) -> None:
        """Boot every node, join nodes 2.. to node 1, and return once node 1 sees all of them running. On
        failure every node is stopped and NodeUnavailable says why."""
        began = time.monotonic()
        try:
            with ThreadPoolExecutor(len(self.nodes)) as pool:
                for started in [pool.submit(node.start) for node in self.nodes]:
                    started.result()
            self.boot_seconds = time.monotonic() - began
            seed = self.nodes[0].node_name
            for node in self.nodes[1:]:
                node.ctl("stop_app")
                node.ctl("join_cluster", seed)
                node.ctl("start_app")
            missing = set(self.node_names) - set(self.running_nodes(0))
            if missing:
                raise NodeUnavailable(f"nodes not running in the cluster after joining: {sorted(missing)}")
        except BaseException:
            self.stop()
            raise
        self.join_seconds = time.monotonic() - began - self.boot_seconds

    def kill(self, index: int) -> None:
        """SIGKILL node `index`'s Erlang VM, as a crash or an OOM kill would; its data stays for restart()."""
        self.nodes[index].kill_vm()

    def restart(self, index: int) -> float:
        """Boot node `index` again on its data; returns once another running node counts it among its running
        nodes. Returns the seconds that took."""
        began = time.monotonic()
        node = self.nodes[index]
        node.start()
        witness = next(i for i, other in enumerate(self.nodes) if i != index and other.vm_pid is not None)
        deadline = time.monotonic() + REJOIN_TIMEOUT
        while node.node_name not in self.running_nodes(witness):
            if time.monotonic() > deadline:
                raise NodeUnavailable(f"{node.node_name} booted but did not rejoin within {REJOIN_TIMEOUT}s")
            time.sleep(REJOIN_POLL)
        return time.monotonic() - began

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def running_nodes(self, via: int) -> list[str]:
        """The cluster's running nodes, as node `via` sees them."""
        status = json.loads(self.nodes[via].ctl("cluster_status", "--formatter", "json"))
        return list(status.get("running_nodes", []))

    def index_of(self, node_name: str) -> int:
        return self.node_names.index(node_name)

    def queue_leaders(self, via: int) -> dict[str, int]:
        """Each quorum queue's leader, as node `via` sees it: queue name -> node index."""
        rows = json.loads(self.nodes[via].ctl("list_queues", "name", "type", "leader", "--formatter", "json"))
        return {row["name"]: self.index_of(row["leader"]) for row in rows
                if row.get("type") == "quorum" and row.get("leader") in self.node_names}

    def memory_mib(self) -> list[float]:
        """Each running node's VM resident memory (VmRSS), MiB; 0 for a node that is down."""
        return [_rss_mib(node.vm_pid) for node in self.nodes]


def _rss_mib(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
