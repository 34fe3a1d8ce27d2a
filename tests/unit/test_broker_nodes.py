"""A link to several broker nodes (`broker.url` as a list) tries each in turn, from the one after the node that
failed last, and its readiness names every node it could not reach, passwords masked. Nothing listens on the
ports used here, so no broker is needed."""

from __future__ import annotations

import asyncio

import pytest

from hookpipe.amqp import broker
from hookpipe.amqp.broker import AllNodesFailed, Link, connect_any, link_problems
from tests.support.pipeline import free_port

PASSWORD = "n0de-pa55word"


def closed_node() -> str:
    return f"amqp://guest:{PASSWORD}@127.0.0.1:{free_port()}/"


async def test_a_link_to_unreachable_nodes_names_each_one_in_its_readiness_problem() -> None:
    nodes = [closed_node(), closed_node()]
    link = Link(nodes, name="test-nodes", heartbeat=2)
    link.start()
    try:
        for _ in range(200):
            if link.last_error is not None:
                break
            await asyncio.sleep(0.01)
        (problem,) = link_problems(link)
    finally:
        await link.close()
    assert problem.startswith("test-nodes not connected to any of 2 broker nodes: ")
    for node in nodes:
        assert node.replace(PASSWORD, "***") + ": AMQPConnectionError" in problem
    assert PASSWORD not in problem


async def test_each_connect_starts_after_the_node_that_failed_last(monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[str] = []

    async def refuse(url: str, **_: object) -> None:
        tried.append(url)
        raise ConnectionRefusedError("refused")

    monkeypatch.setattr(broker, "connect_node", refuse)
    link = Link(["amqp://a/", "amqp://b/", "amqp://c/"], name="test-nodes", heartbeat=2)
    link._next_node()  # as after a drop of node a
    with pytest.raises(AllNodesFailed):
        await link._connect()
    assert tried == ["amqp://b/", "amqp://c/", "amqp://a/"]
    assert link.url == "amqp://b/"  # every node failed: the next round starts after the last one tried


async def test_one_url_is_a_list_of_one_node() -> None:
    link = Link("amqp://guest:guest@127.0.0.1:1/", name="test-nodes", heartbeat=2)
    assert (link.urls, link.url) == (("amqp://guest:guest@127.0.0.1:1/",), "amqp://guest:guest@127.0.0.1:1/")


async def test_the_cli_connect_reports_every_node_with_its_password_masked() -> None:
    nodes = [closed_node(), closed_node()]
    with pytest.raises(AllNodesFailed) as failed:
        await connect_any(nodes, timeout=5)
    message = str(failed.value)
    assert [part.split(": ")[0] for part in message.split("; ")] == [n.replace(PASSWORD, "***") for n in nodes]
    assert PASSWORD not in message
