"""How every hookpipe process runs: load the config, log as JSON, start, wait for a signal, stop gracefully.

SIGTERM and SIGINT stop a service: it stops taking work, finishes what is in flight, and closes its broker
connections cleanly (unacked messages go back to their queues).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from typing import Protocol

from hookpipe.config import ConfigError, LoadedConfig, load_config
from hookpipe.logs import setup_logging

log = logging.getLogger("hookpipe")

#: Exit status for a config that cannot be used (DESIGN.md §4).
EXIT_CONFIG_ERROR = 2

#: Exit status when the service cannot start with a usable config (a port taken, say).
EXIT_START_FAILED = 1


class Service(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def load_or_exit(path: str) -> LoadedConfig:
    """Load the config, or print one line per problem and exit 2 (no traceback, no secret)."""
    try:
        return load_config(path)
    except ConfigError as error:
        for problem in error.problems:
            print(f"hookpipe: config error: {problem}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG_ERROR) from None


def run_service(name: str, config_path: str, factory: Callable[[LoadedConfig], Service]) -> int:
    loaded = load_or_exit(config_path)
    setup_logging(name, loaded.config.log.level)
    for warning in loaded.warnings:
        log.warning(warning)
    try:
        service = factory(loaded)
    except ConfigError as error:  # a service's own compile step (route patterns, schemes) found a problem
        for problem in error.problems:
            print(f"hookpipe: config error: {problem}", file=sys.stderr)
        return EXIT_CONFIG_ERROR

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            await service.start()
        except OSError as error:  # a listener's port is taken, or its address does not exist here
            log.error("cannot start", extra={"error": f"{type(error).__name__}: {error}"})
            await service.stop()
            raise SystemExit(EXIT_START_FAILED) from None
        log.info("started", extra={"config": str(loaded.path)})
        await stop.wait()
        log.info("stopping")
        await service.stop()
        log.info("stopped")

    _run(main())
    return 0


def _run(main: object) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported platform
        asyncio.run(main)  # type: ignore[arg-type]
    else:
        uvloop.run(main)  # type: ignore[arg-type]
