"""`hookpipe admin` does not start without its token: exit 2 and one line naming admin.token and
HOOKPIPE_ADMIN_TOKEN, never a value (no broker is needed to see it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.pipeline import pipeline_config, write_config

ROOT = Path(__file__).resolve().parents[2]


def run_admin(config_path: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "HOOKPIPE_ADMIN_TOKEN"} | environ
    return subprocess.run([sys.executable, "-m", "control.cli", "admin", "--config", str(config_path)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("admin", [{}, {"token": "${HOOKPIPE_ADMIN_TOKEN:-}"}])
def test_without_a_token_admin_exits_2_with_one_line_naming_the_key_and_the_variable(
        tmp_path: Path, admin: dict[str, str]) -> None:
    path = write_config(tmp_path, pipeline_config("hp-unit", "http://127.0.0.1:9/hook", admin=admin))
    result = run_admin(path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "admin.token" in lines[0] and "HOOKPIPE_ADMIN_TOKEN" in lines[0]


def test_a_token_too_short_is_refused_without_showing_it(tmp_path: Path) -> None:
    path = write_config(tmp_path, pipeline_config("hp-unit", "http://127.0.0.1:9/hook",
                                                  admin={"token": "${HOOKPIPE_ADMIN_TOKEN}"}))
    result = run_admin(path, HOOKPIPE_ADMIN_TOKEN="tiny-secret")
    assert result.returncode == 2
    assert "admin.token" in result.stderr and "tiny-secret" not in result.stderr + result.stdout
