"""`pytest` against a broker that accepts TCP but never answers (a wedged RabbitMQ) stops within seconds with one
line naming the broker, instead of hanging without a word (it once hung `make test` for 14 minutes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.broker import SESSION_CHECK_TIMEOUT
from tests.support.mute_broker import MuteBroker

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

#: Integration tests whose fixtures' clean-ups connect to the broker: what hung against a mute one.
INTEGRATION_TESTS = "tests/integration/test_retries.py"

#: Seconds the inner run may take: the session check's time-out, plus interpreter start-up and collection on a
#: busy machine. Before the check it ran until killed.
RUN_BOUND = SESSION_CHECK_TIMEOUT + 75.0

PASSWORD = "pw-never-printed"


def test_a_mute_broker_stops_the_test_run_naming_host_and_port_but_not_the_password() -> None:
    with MuteBroker() as mute:
        # The outer run's PYTEST_* variables (options, current test) are not the inner run's.
        env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
        env["AMQP_URL"] = mute.url(password=PASSWORD)
        try:
            run = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", INTEGRATION_TESTS],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_BOUND,
            )
        except subprocess.TimeoutExpired as expired:
            pytest.fail(f"pytest against a mute broker was still running after {RUN_BOUND:g} s; its output:\n"
                        f"{_text(expired.stdout)}{_text(expired.stderr)}"[-5000:])
        assert mute.accepted >= 1, "the run never tried the broker"
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert (f"RabbitMQ at 127.0.0.1:{mute.port} accepts TCP but did not answer the AMQP handshake within "
            f"{SESSION_CHECK_TIMEOUT:g} s") in output, output
    assert "no tests ran" in output, output  # stopped before the first test, not after each one's time-out
    assert PASSWORD not in output


def _text(captured: bytes | str | None) -> str:
    if isinstance(captured, bytes):
        return captured.decode(errors="replace")
    return captured or ""
