"""How every hookpipe process runs: load the config, log as JSON, start, wait for a signal, stop gracefully.

SIGTERM and SIGINT stop a service: it stops taking work, finishes what is in flight, and closes its broker
connections cleanly (unacked messages go back to their queues). A service that implements
`hookpipe.runtime.reload.Reloadable` also reloads its config on SIGHUP and when the file changes.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NoReturn, Protocol

from hookpipe.config import ConfigError, LoadedConfig, load_config
from hookpipe.runtime import metrics
from hookpipe.runtime.logs import setup_logging
from hookpipe.runtime.reload import ConfigReloader, Reloadable, fingerprint

log = logging.getLogger("hookpipe")

#: Exit status for a config that cannot be used (docs/configuration.md).
EXIT_CONFIG_ERROR = 2

#: Exit status when the service cannot start with a usable config (a port taken, say).
EXIT_START_FAILED = 1

#: The --config option's help, the same on every command.
CONFIG_HELP = "pipeline YAML (default: $HOOKPIPE_CONFIG)"


class Service(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def config_path(value: str | None) -> str:
    """The config file --config names, else $HOOKPIPE_CONFIG; without either, say so and exit 2."""
    path = value or os.environ.get("HOOKPIPE_CONFIG")
    if not path:
        print("hookpipe: give --config FILE or set HOOKPIPE_CONFIG", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG_ERROR)
    return path


def exit_config_error(problems: Iterable[str]) -> NoReturn:
    """Print one line per problem of a config (no traceback, no secret) and exit 2."""
    for problem in problems:
        print(f"hookpipe: config error: {problem}", file=sys.stderr)
    raise SystemExit(EXIT_CONFIG_ERROR)


def load_or_exit(path: str) -> LoadedConfig:
    """Load the config, or print one line per problem and exit 2."""
    try:
        return load_config(path)
    except ConfigError as error:
        exit_config_error(error.problems)


def main(name: str, factory: Callable[[LoadedConfig], Service], argv: list[str] | None = None) -> int:
    """`hookpipe NAME [--config FILE]`, also run as `python -m NAME`: run one service with the config --config
    or $HOOKPIPE_CONFIG names until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog=f"hookpipe {name}")
    parser.add_argument("--config", help=CONFIG_HELP)
    return run_service(name, config_path(parser.parse_args(argv).config), factory)


def run_service(name: str, path: str, factory: Callable[[LoadedConfig], Service]) -> int:
    baseline = fingerprint(Path(path))  # before reading: a change made meanwhile is reloaded
    loaded = load_or_exit(path)
    metrics.CONFIG_LAST_RELOAD_SUCCESSFUL.set(1)
    setup_logging(name, loaded.config.log.level)
    for warning in loaded.warnings:
        log.warning(warning)
    try:
        service = factory(loaded)
    except ConfigError as error:  # a service's own compile step (route patterns, schemes) found a problem
        exit_config_error(error.problems)

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
            reloader = ConfigReloader(path, service.reload, service=name, baseline=baseline)
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
