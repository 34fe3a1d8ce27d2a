"""The three services as separate OS processes, as users run them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.pipeline import free_port

ROOT = Path(__file__).resolve().parents[2]


#: How `hookpipe admin` runs as a process (`python -m control.cli admin --config FILE`).
ADMIN_COMMAND = ("-m", "control.cli", "admin")


def admin_section(token: str, directory: Path) -> dict[str, str]:
    """A config's `admin:` for a test: free ports, `token`, and an index of its own in `directory`."""
    return {"listen": f"127.0.0.1:{free_port()}", "ops": f"127.0.0.1:{free_port()}", "token": token,
            "index": str(directory / "index.sqlite3")}


def admin_process(config_path: Path, config: dict[str, Any], directory: Path) -> ServiceProcess:
    """`hookpipe admin` of `config` (written at `config_path`) as a ServiceProcess logging into `directory`."""
    return ServiceProcess("admin", config_path, config["admin"]["ops"], directory, command=ADMIN_COMMAND)


class ServiceProcess:
    """`python -m {service} --config FILE` (or `python {command} --config FILE`), its stderr kept in a log file for
    post-mortems."""

    def __init__(self, service: str, config_path: Path, ops_address: str, log_dir: Path,
                 command: tuple[str, ...] | None = None) -> None:
        self.service = service
        self.command = command if command is not None else ("-m", service)
        self.config_path = config_path
        self.ops_address = ops_address
        self.log_path = log_dir / f"{service}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [sys.executable, *self.command, "--config", str(self.config_path)],
                cwd=ROOT, stdout=log, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    async def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                assert self.process is not None and self.process.poll() is None, (
                    f"{self.service} exited early:\n{self.log_path.read_text()[-3000:]}"
                )
                try:
                    async with session.get(f"http://{self.ops_address}/readyz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"{self.service} not ready within {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no clean-up, no acks, as a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for the exit code. It blocks: from async code call it via asyncio.to_thread, so a
        receiver in the same event loop can still answer while the service drains."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
                raise AssertionError(f"{self.service} ignored SIGTERM for {timeout}s") from None
        return int(self.process.returncode)
