"""pytest-timeout bounds the teardown of a failed test too (tests/support/teardown_timeout.py): a fixture clean-up
that hangs after the test failed ends in a time-out error, and the run goes on to the next test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: The inner run's pytest-timeout budget per test (s).
BUDGET = 2

#: Seconds the inner run may take: two budgets and interpreter start-up on a busy machine; unbounded it never ends.
RUN_BOUND = 60.0

INNER_TESTS = '''
import asyncio

import pytest


@pytest.fixture
async def clean_up_hangs():
    yield
    await asyncio.Event().wait()  # as a connect to a broker that never answers


async def test_fails(clean_up_hangs):
    assert False, "the test itself failed"


def test_after():
    pass
'''


def test_a_failed_tests_hanging_teardown_times_out_and_the_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(INNER_TESTS)
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(ROOT)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.support.teardown_timeout",
         "-o", "asyncio_mode=auto", "-o", f"timeout={BUDGET}", "-o", "timeout_method=signal", "test_inner.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_BOUND,
    )
    output = run.stdout + run.stderr
    assert "ERROR test_inner.py::test_fails - Failed: Timeout" in output, output
    assert "1 failed, 1 passed, 1 error" in output, output
