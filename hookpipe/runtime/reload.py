"""Config reload without a restart: on SIGHUP, and when the config file changes (docs/configuration.md, "reload").

A service that can take a new config in place implements `Reloadable.reload(loaded)`: it checks what it needs,
prepares what the new config uses, swaps it in, or raises ConfigError to refuse it, and then the config it runs
stays. `ConfigReloader` decides when to call it:

- on SIGHUP, always, even when the file looks unchanged (a way to retry a reload by hand);
- when the file's fingerprint (mtime, size and SHA-256 of its bytes) changes, checked every POLL_INTERVAL, once
  the file has stopped changing (an editor may write it in several steps). The hash catches a change that keeps
  size and mtime, such as two writes within one mtime tick.

One reload runs at a time; triggers arriving during one coalesce into one more reload afterwards. Every attempt
counts `hookpipe_config_reloads_total{result="ok"|"error"}` and sets `hookpipe_config_last_reload_successful`; a
refused one logs one line per problem. Problems name paths and keys, never a value: ConfigError's rule.

Settings a running service cannot change (its broker connection, its listeners) are refused on reload with a
message saying to restart: `changed_settings` finds them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from hookpipe.amqp.broker import describe
from hookpipe.config import Config, ConfigError, LoadedConfig, load_config
from hookpipe.runtime import metrics

log = logging.getLogger("hookpipe.runtime.reload")

#: Seconds between checks of the config file. Reading and hashing a file of a few KiB each second is cheap,
#: and a change takes effect within about a second.
POLL_INTERVAL = 1.0

#: Once a change is seen, the file must stay the same this long (s) before it is read, so a file written in
#: several steps is read once, complete.
SETTLE_DELAY = 0.2

#: A file still changing after this many settle delays is read anyway (a refused reload is retried when it
#: changes again).
SETTLE_ROUNDS = 10

#: Broker settings every service holds for the life of its connections: they cannot change on reload.
BROKER_SETTINGS = ("broker.url", "broker.prefix", "broker.heartbeat")


@runtime_checkable
class Reloadable(Protocol):
    """A service that can apply a new config in place; raising ConfigError refuses it (the old one stays)."""

    async def reload(self, loaded: LoadedConfig) -> None: ...


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What identifies one version of the file."""

    mtime_ns: int
    size: int
    sha256: bytes


def fingerprint(path: Path) -> Fingerprint | None:
    """The file's fingerprint now, or None while it cannot be read (being replaced, say)."""
    try:
        with path.open("rb") as stream:  # stat and read the same file, even if the name is swapped meanwhile
            status = os.fstat(stream.fileno())
            digest = hashlib.sha256(stream.read()).digest()
    except OSError:
        return None
    return Fingerprint(status.st_mtime_ns, status.st_size, digest)


def changed_settings(old: Config, new: Config, keys: Iterable[str]) -> list[str]:
    """One problem per dotted key (`broker.url`) whose value differs; the values themselves are never shown."""
    problems = []
    for key in keys:
        if _get(old, key) != _get(new, key):
            problems.append(f"{key}: cannot change on reload; restart the service to apply it")
    return problems


def _get(config: Config, key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        node = getattr(node, part)
    return node


class ConfigReloader:
    """Reloads one service's config on SIGHUP and when its file changes.

    Parameters (keyword-only after `path` and `apply`):
    - path: the config file;
    - apply: the service's `reload(loaded)`; raising ConfigError refuses the new config;
    - service: the service's name, for logs;
    - baseline: the file's fingerprint when the running config was read, taken *before* reading it, so a change
      made in between is noticed; by default it is taken when the reloader starts;
    - poll_interval: seconds between checks of the file;
    - sighup: whether to handle SIGHUP (one handler per process and event loop).
    """

    def __init__(
        self,
        path: str | Path,
        apply: Callable[[LoadedConfig], Awaitable[None]],
        *,
        service: str,
        baseline: Fingerprint | None = None,
        poll_interval: float = POLL_INTERVAL,
        sighup: bool = True,
    ) -> None:
        self.path = Path(path)
        self.service = service
        self.poll_interval = poll_interval
        self._apply = apply
        self._seen = baseline
        self._has_baseline = baseline is not None
        self._sighup = sighup
        self._requested = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start watching (and handling SIGHUP); needs a running event loop."""
        if self._task is not None:
            return
        if not self._has_baseline:
            self._seen = fingerprint(self.path)
        for result in ("ok", "error"):  # both series exist from the start, so rate() and alerts see a zero
            metrics.CONFIG_RELOADS.labels(result=result)
        if self._sighup:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.request)
        self._task = asyncio.create_task(self._watch(), name=f"config-reloader:{self.service}")

    async def stop(self) -> None:
        """Stop watching; a reload in progress is cancelled (the config in force stays whole: a service swaps
        its config in one step, at the end)."""
        if self._sighup and self._task is not None:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def request(self) -> None:
        """Ask for a reload, as SIGHUP does; several requests during one reload give one more reload."""
        self._requested.set()

    async def _watch(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._requested.wait(), self.poll_interval)
            try:
                if self._requested.is_set():
                    self._requested.clear()
                    await self.reload("SIGHUP")
                    continue
                current = await asyncio.to_thread(fingerprint, self.path)
                if current != self._seen:
                    await self._settle(current)
                    await self.reload("file changed")
            except Exception:  # never let one bad round end the watching
                log.exception("config watch failed; still watching", extra={"config": str(self.path)})

    async def _settle(self, current: Fingerprint | None) -> None:
        for _ in range(SETTLE_ROUNDS):
            await asyncio.sleep(SETTLE_DELAY)
            again = await asyncio.to_thread(fingerprint, self.path)
            if again == current:
                return
            current = again

    async def reload(self, trigger: str) -> bool:
        """Read the file and hand it to the service now; True if it was applied."""
        # Fingerprint first: if the file changes while it is read, the next check sees a difference.
        self._seen = await asyncio.to_thread(fingerprint, self.path)
        try:
            loaded = await asyncio.to_thread(load_config, self.path)
            for warning in loaded.warnings:
                log.warning(warning, extra={"trigger": trigger})
            await self._apply(loaded)
        except ConfigError as error:
            problems = error.problems
        except Exception as error:  # a failure inside the service's apply: the config it runs stays
            problems = [f"cannot apply the new config: {describe(error)}"]
        else:
            metrics.CONFIG_RELOADS.labels(result="ok").inc()
            metrics.CONFIG_LAST_RELOAD_SUCCESSFUL.set(1)
            logging.getLogger().setLevel(loaded.config.log.level.upper())
            log.info("config reloaded", extra={"trigger": trigger, "config": str(self.path)})
            return True
        metrics.CONFIG_RELOADS.labels(result="error").inc()
        metrics.CONFIG_LAST_RELOAD_SUCCESSFUL.set(0)
        for problem in problems:
            log.error("config reload refused; the running config stays",
                      extra={"trigger": trigger, "config": str(self.path), "problem": problem})
        return False
