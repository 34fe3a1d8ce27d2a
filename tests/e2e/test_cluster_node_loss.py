"""The pipeline on a 3-node RabbitMQ cluster loses no accepted event when the node leading its quorum queues,
which every service is connected to, is SIGKILLed mid-stream and started again later: the services move to the
surviving nodes on their own, and the duplicates stay within what their unsettled windows allow.

This is the chaos suite's kill-cluster-node scenario (python -m tests.chaos), at 2,000 events.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.__main__ import BODY_SIZE, DRAIN_TIMEOUT, LOAD_CONCURRENCY
from tests.chaos.runner import run_scenario
from tests.chaos.scenarios import SCENARIOS

pytestmark = pytest.mark.e2e

EVENTS = 2_000


def log_tails(directory: Path, size: int = 3000) -> str:
    """The end of each service's log, for a failure's report."""
    return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-size:]}"
                     for log in sorted(directory.rglob("*.log")))


async def test_a_killed_cluster_node_loses_no_accepted_event_and_the_services_move_to_the_survivors(tmp_path: Path):
    scenario = next(s for s in SCENARIOS if s.name == "kill-cluster-node")
    result = await run_scenario(scenario, events=EVENTS, concurrency=LOAD_CONCURRENCY, body_size=BODY_SIZE,
                                work_dir=tmp_path, drain_timeout=DRAIN_TIMEOUT)
    if result.skipped:
        pytest.skip(result.skipped)
    story = "\n".join([*result.timeline, *result.problems, log_tails(tmp_path)])
    assert result.problems == [], story
    assert (result.kills, result.accepted + result.given_up) == (1, EVENTS), story
    assert result.lost == 0, f"lost {result.lost}, e.g. {result.lost_sample}\n{story}"
    assert result.duplicated <= result.bound, story
    assert any("reconnected" in line for line in result.timeline), story
    assert any("running in the cluster again" in line for line in result.timeline), story
