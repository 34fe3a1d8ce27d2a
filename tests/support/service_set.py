"""ingest, router and deliverer as three OS processes sharing one config file, as users run them."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from tests.support.pipeline import write_config
from tests.support.processes import ServiceProcess

SERVICES = ("ingest", "router", "deliverer")


class ServiceSet:
    """The three services of one config, each a ServiceProcess logging to `directory/{service}.log`."""

    def __init__(self, config: dict[str, Any], directory: Path) -> None:
        self.config = config
        self.config_path = write_config(directory, config)
        self.processes = {
            name: ServiceProcess(name, self.config_path, config[name]["ops"], directory) for name in SERVICES
        }

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.processes[name]

    async def start(self, names: tuple[str, ...] = SERVICES, timeout: float = 30.0) -> None:
        """Start the named services and wait until each answers /readyz with 200."""
        for name in names:
            self.processes[name].start()
        await asyncio.gather(*(self.processes[name].wait_ready(timeout) for name in names))

    async def restart(self, name: str, timeout: float = 30.0) -> None:
        process = self.processes[name]
        process.start()
        await process.wait_ready(timeout)

    async def stop(self, timeout: float = 30.0) -> dict[str, int]:
        """SIGTERM every running service (deliverer first), off the event loop so an in-process receiver can
        still answer while they drain. Returns the exit codes; raises after stopping all if one hung."""
        codes: dict[str, int] = {}
        errors: list[str] = []
        for name in reversed(SERVICES):
            try:
                codes[name] = await asyncio.to_thread(self.processes[name].terminate, timeout)
            except AssertionError as error:
                errors.append(str(error))
        if errors:
            raise AssertionError("; ".join(errors))
        return codes

    def kill_all(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(Exception):
                process.kill()

    def logs(self, tail: int = 20_000) -> dict[str, str]:
        """The last `tail` characters of each service's log (stdout and stderr)."""
        texts = {}
        for name, process in self.processes.items():
            path = process.log_path
            texts[name] = path.read_text(errors="replace")[-tail:] if path.exists() else "(no log)"
        return texts
