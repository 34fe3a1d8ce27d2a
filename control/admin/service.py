"""`hookpipe admin`: the fourth service. Stateless but for its index, run like the others
(hookpipe.runtime.service: JSON logs, SIGTERM/SIGINT stop it cleanly, SIGHUP and a changed file reload it).

It serves the API and the web console on `admin.listen` (control.admin.app) and its ops listener on `admin.ops`
(/metrics, /healthz, /readyz); it keeps the index up to date in a background task (control.admin.index.Indexer,
on a broker link of its own), and keeps one more link for what the API does on the broker (reads of queues and
of the archive, publishes with confirm). It does not start without `admin.token`.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from control.admin.app import build_site
from control.admin.context import PUBLISH_TIMEOUT, AdminContext, AdminState
from control.admin.index import Index, Indexer, open_index, read_archived
from hookpipe.amqp.broker import Link, Publisher, describe, link_problems
from hookpipe.config import Config, ConfigError, LoadedConfig, redact_url
from hookpipe.runtime import metrics
from hookpipe.runtime.ops_listener import ops_app, start_site
from hookpipe.runtime.reload import BROKER_SETTINGS, changed_settings

log = logging.getLogger("control.admin")

#: What `hookpipe admin` says, and exits 2 with, when the config has no token.
TOKEN_MISSING = ("admin.token: not set, and hookpipe admin does not start without it: set HOOKPIPE_ADMIN_TOKEN "
                 "(the config reads `admin.token: ${HOOKPIPE_ADMIN_TOKEN:-}`) to a secret of at least 16 characters")

#: Settings the admin cannot change while it runs (a reload changing one is refused: restart it).
FIXED_SETTINGS = (*BROKER_SETTINGS, "admin.listen", "admin.ops", "admin.index", "archive", "delivery_log")

#: Seconds requests in flight get to finish on SIGTERM (a replay may take longer: it is cut, and says so).
SHUTDOWN_GRACE = 10.0

#: Seconds before an indexer that failed starts again.
INDEXER_RESTART_DELAY = 5.0


#: Seconds between cancellations of a task that has not ended yet (stop_task).
CANCEL_AGAIN_AFTER = 1.0


async def stop_task(task: asyncio.Task[None]) -> None:
    """Cancel `task` and wait for it to end, cancelling it again each CANCEL_AGAIN_AFTER s. On Python 3.11
    asyncio.wait_for can lose a cancellation that arrives as its inner future completes (fixed in 3.12); the
    indexer, which waits that way on the broker, then went on indexing and held the service's stop forever."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_AGAIN_AFTER)
    error = None if task.cancelled() else task.exception()
    if error is not None:
        log.warning("the indexer ended with an error as it stopped", extra={"error": describe(error)})


class IndexUnavailable(OSError):
    """The index could not be opened: the service cannot start (exit 1, one log line saying why)."""


class AdminService:
    name = "admin"

    def __init__(self, loaded: LoadedConfig) -> None:
        """Raises ConfigError (exit 2) without a token, or with routes that do not compile."""
        config = loaded.config
        if config.admin.token is None:
            raise ConfigError([TOKEN_MISSING])
        self._state = AdminState.of(config)
        self._token = config.admin.token
        broker = config.broker
        self.publisher = Publisher(broker.url, name="hookpipe-admin-actions", heartbeat=broker.heartbeat,
                                   timeout=PUBLISH_TIMEOUT)
        self.streams = Link(broker.url, name="hookpipe-admin-streams", heartbeat=broker.heartbeat)
        self._index: Index | None = None
        self._context: AdminContext | None = None
        self._indexing: asyncio.Task[None] | None = None
        self._api: web.AppRunner | None = None
        self._ops: web.AppRunner | None = None

    @property
    def config(self) -> Config:
        """The config in force (it changes on reload)."""
        return self._state.config

    def token(self) -> str:
        """The token in force (a reload may rotate it)."""
        return self._token

    async def start(self) -> None:
        config = self.config
        metrics.prime_admin()
        where = redact_url(config.admin.index)
        try:
            self._index = await open_index(config.admin.index)
        except Exception as error:
            raise IndexUnavailable(f"cannot open the index {where}: {describe(error)}") from error
        self.publisher.start()
        self.streams.start()
        self._indexing = asyncio.create_task(self._keep_indexing(self._index), name="admin-indexer")
        self._context = AdminContext(self._state, index=self._index, publisher=self.publisher,
                                     read_archived=read_archived, token=self.token)
        self._api = await start_site(build_site(self._context), config.admin.listen, shutdown_timeout=SHUTDOWN_GRACE)
        self._ops = await start_site(ops_app(self.readiness), config.admin.ops)
        log.info("admin started", extra={"listen": config.admin.listen, "ops": config.admin.ops, "index": where})

    async def _keep_indexing(self, index: Index) -> None:
        """The indexer, started again after a failure it did not handle itself (it retries broker and database
        errors on its own: this is the last resort)."""
        while True:
            try:
                await Indexer(index, self.config, self.streams).run()
            except Exception as error:
                log.error("the indexer stopped; starting it again", extra={"error": describe(error)})
            await asyncio.sleep(INDEXER_RESTART_DELAY)

    async def stop(self) -> None:
        """Stop taking requests (those in flight get SHUTDOWN_GRACE), then the indexer, the links, the index."""
        if self._api is not None:
            await self._api.cleanup()
        if self._indexing is not None:
            await stop_task(self._indexing)
        await self.publisher.close()
        await self.streams.close()
        if self._index is not None:
            await self._index.close()
        if self._ops is not None:
            await self._ops.cleanup()

    async def readiness(self) -> list[str]:
        return link_problems(self.publisher.link, self.streams)

    async def reload(self, loaded: LoadedConfig) -> None:
        """Take a new config: its destinations and routes (for resends, replays and route tests) and its token
        (a rotation). Refused (ConfigError; the running config stays): a change to the broker, the listeners,
        the index or the streams' settings, a missing token, routes that do not compile."""
        config = loaded.config
        problems = changed_settings(self.config, config, FIXED_SETTINGS)
        if config.admin.token is None:
            problems.append(TOKEN_MISSING)
        if problems:
            raise ConfigError(problems)
        state = AdminState.of(config)
        self._state, self._token = state, config.admin.token or self._token
        if self._context is not None:
            self._context.state = state
