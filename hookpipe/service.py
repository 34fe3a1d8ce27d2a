"""How every hookpipe process runs: load the config, log as JSON, start, wait for a signal, stop gracefully.

SIGTERM and SIGINT stop a service: it stops taking work, finishes what is in flight, and closes its broker
connections cleanly (unacked messages go back to their queues). A service that implements
`hookpipe.reload.Reloadable` also reloads its config on SIGHUP and when the file changes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from hookpipe import metrics
from hookpipe.config import ConfigError, LoadedConfig, load_config
from hookpipe.logs import setup_logging
from hookpipe.reload import ConfigReloader, Reloadable, fingerprint

log = logging.getLogger("hookpipe")

#: Exit status for a config that cannot be used (docs/configuration.md).
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
    baseline = fingerprint(Path(config_path))  # before reading: a change made meanwhile is reloaded
    loaded = load_or_exit(config_path)
    metrics.CONFIG_LAST_RELOAD_SUCCESSFUL.set(1)
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
        reloader = None
        if isinstance(service, Reloadable):
            reloader = ConfigReloader(config_path, service.reload, service=name, baseline=baseline)
            reloader.start()
        else:  # SIGHUP's default action would kill the process: say instead that a restart applies changes
            loop.add_signal_handler(signal.SIGHUP, lambda: log.warning(
                "SIGHUP ignored: this service does not reload its config yet; restart it to apply changes"))
        log.info("started", extra={"config": str(loaded.path), "reload": reloader is not None})
        await stop.wait()
        log.info("stopping")
        if reloader is not None:
            await reloader.stop()
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
