"""The tables `make chaos` prints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.chaos.overload import OverloadResult
    from tests.chaos.runner import ScenarioResult


def chaos_table(results: Sequence[ScenarioResult]) -> str:
    header = (f"{'scenario':<18} {'events':>7} {'accepted':>8} {'delivered':>9} {'dead':>5} {'lost':>5} "
              f"{'dup':>5} {'kills':>5} {'bound':>6} {'gaveup':>6} {'drain s':>7} {'total s':>7}  result")
    lines = [header, "-" * len(header)]
    for r in results:
        if r.skipped:
            lines.append(f"{r.name:<18} SKIPPED: {r.skipped}")
            continue
        verdict = "ok" if r.passed else "FAIL"
        lines.append(
            f"{r.name:<18} {r.events:>7} {r.accepted:>8} {r.delivered:>9} {r.dead:>5} {r.lost:>5} "
            f"{r.duplicated:>5} {r.kills:>5} {r.bound:>6} {r.given_up:>6} {r.drain_s:>7.1f} {r.seconds:>7.1f}  "
            f"{verdict}"
        )
    return "\n".join(lines)


def overload_table(results: Sequence[OverloadResult]) -> str:
    header = (f"{'body':>6} {'conc':>5} {'secs':>5} {'2xx':>7} {'503':>6} {'other':>6} {'delivered':>9} "
              f"{'lost':>5} {'dup':>5} {'backlog':>7} {'drain s':>7} {'ingest MiB':>10} {'router MiB':>10} "
              f"{'deliv MiB':>9}  result")
    lines = [header, "-" * len(header)]
    for r in results:
        verdict = "ok" if r.passed else "FAIL"
        lines.append(
            f"{r.body_size // 1024:>4}Ki {r.concurrency:>5} {r.seconds:>5.0f} {r.answers_2xx:>7} {r.answers_503:>6} "
            f"{r.answers_other:>6} {r.delivered:>9} {r.lost:>5} {r.duplicated:>5} {r.backlog:>7} {r.drain_s:>7.1f} "
            f"{r.peak_rss_mib.get('ingest', 0):>10.1f} {r.peak_rss_mib.get('router', 0):>10.1f} "
            f"{r.peak_rss_mib.get('deliverer', 0):>9.1f}  {verdict}"
        )
    return "\n".join(lines)
