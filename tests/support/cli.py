"""The `hookpipe` command as a separate process, run from async tests without blocking their event loop (an
in-process pipeline and receiver keep serving while it runs)."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from typing import Any

import orjson

from tests.support.processes import ROOT


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.stdout.strip(), f"no output (exit {self.returncode}): {self.stderr}"
        return orjson.loads(self.stdout)


async def start_hookpipe(*args: str) -> asyncio.subprocess.Process:
    """`python -m control.cli ARGS` started, its output piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "control.cli", *args, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def hookpipe(*args: str, timeout: float = 60.0) -> Result:
    """Run `hookpipe ARGS` to its end; fails the test if it takes longer than `timeout` seconds."""
    process = await start_hookpipe(*args)
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"hookpipe {' '.join(args)} did not finish within {timeout}s") from None
    assert process.returncode is not None
    return Result(process.returncode, stdout.decode(), stderr.decode())
