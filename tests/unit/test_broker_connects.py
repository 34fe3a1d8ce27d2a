"""Every broker connect in the repository has a time-out: aio-pika's has none by default, and a connect without one
waits forever on a broker that accepts TCP but never answers (tests/unit/test_mute_broker.py)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Where broker connects live: the services, their shared core, the operator tools, the benchmarks and the tests.
FOLDERS = ("hookpipe", "ingest", "router", "deliverer", "control", "bench", "tests")

#: `module.function` calls that open an AMQP connection.
CONNECTS = {("aio_pika", "connect"), ("aio_pika", "connect_robust"), ("aiormq", "connect")}


def connects_without_timeout(source: str) -> list[int]:
    """Lines of `aio_pika.connect(...)`-style calls in `source` that pass no `timeout=`."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        is_connect = isinstance(owner, ast.Name) and (owner.id, node.func.attr) in CONNECTS
        if is_connect and not any(keyword.arg == "timeout" for keyword in node.keywords):
            lines.append(node.lineno)
    return lines


def test_the_check_finds_a_connect_without_a_timeout_and_passes_one_with() -> None:
    source = "async def f(url):\n    await aio_pika.connect(url)\n    await aio_pika.connect(url, timeout=5)\n"
    assert connects_without_timeout(source) == [2]


def test_every_broker_connect_in_services_tools_benchmarks_and_tests_has_a_timeout() -> None:
    missing = [
        f"{path.relative_to(ROOT)}:{line}"
        for folder in FOLDERS
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line in connects_without_timeout(path.read_text())
    ]
    assert not missing, f"connects without timeout= (in tests use tests.support.broker.connect): {missing}"
