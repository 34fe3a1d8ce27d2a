"""What a new config changes for the deliverer, and what it refuses (no I/O).

A destination new to the config gets its queues and retry rungs declared, then is consumed (unless paused); a
removed one stops being consumed (its queue and the events in it stay); a changed one gets a new sender, its
breaker anew if the breaker settings changed, and a new consumer if its prefetch changed. Refused: the settings
the deliverer holds for its run, and a destination's `ordering` (its queue was declared for it).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from deliverer.consumers import prefetch
from hookpipe.config import Config, ConfigError, DestinationConfig
from hookpipe.rungs import configured_rungs
from hookpipe.runtime.reload import BROKER_SETTINGS, changed_settings

#: Settings the deliverer holds for its whole run (a reload changing one is refused: restart to apply it).
FIXED_SETTINGS = (*BROKER_SETTINGS, "deliverer.ops", "delivery_log")


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """Destinations `added`, `removed` and `changed` (in config order), every retry rung of the new config, and
    `new_rungs`: those not declared yet."""

    added: list[str]
    removed: list[str]
    changed: list[str]
    rungs: list[int]
    new_rungs: list[int]


def config_change(old: Config, new: Config, declared_rungs: Collection[int]) -> ConfigChange:
    """What going from `old` to `new` changes; raises ConfigError naming every setting it cannot change."""
    problems = changed_settings(old, new, FIXED_SETTINGS)
    problems += [f"destinations.{name}.ordering: cannot change on reload; drain and remove the "
                 "destination, delete its queues, then add it back (docs/operations.md)"
                 for name, destination in new.destinations.items()
                 if name in old.destinations and old.destinations[name].ordering != destination.ordering]
    if problems:
        raise ConfigError(problems)
    rungs = configured_rungs(new)
    return ConfigChange(
        added=[name for name in new.destinations if name not in old.destinations],
        removed=[name for name in old.destinations if name not in new.destinations],
        changed=[name for name in new.destinations
                 if name in old.destinations and old.destinations[name] != new.destinations[name]],
        rungs=rungs,
        new_rungs=[ms for ms in rungs if ms not in declared_rungs],
    )


@dataclass(frozen=True, slots=True)
class DestinationChange:
    """What a destination's new (or first: `before` None) settings renew beside its sender: its breaker (closed
    anew), and its consumer (a running one is stopped; the next has the new prefetch)."""

    new_breaker: bool
    restart_consumer: bool


def destination_change(before: DestinationConfig | None, after: DestinationConfig) -> DestinationChange:
    new_breaker = before is None or before.breaker != after.breaker
    # A probe's prefetch-1 consumer must not outlive its breaker.
    restart = before is not None and (new_breaker or prefetch(before) != prefetch(after))
    return DestinationChange(new_breaker=new_breaker, restart_consumer=restart)
