"""The `hookpipe` command: the parser assembled from each command group, and one command run.

Each module of `control.commands` adds its group with `add_parser(commands)` and sets `run` on its parsers:
`run(args)` returns the exit status. The service commands (`hookpipe ingest|router|deliverer`) hand their
options on to the service's own parser (`hookpipe.runtime.service.main`), the one `python -m ingest` uses too.
"""

from __future__ import annotations

import argparse
import os
import select
import sys

from control.commands import admin, config, destination, dlq, events, replay, routes, services, status, topology
from hookpipe import __version__

#: Exit status when whoever reads stdout closes it early (`hookpipe ... | head -1`): 128 + SIGPIPE (13), what a
#: shell reports for cat or grep ended by SIGPIPE. Not 0: the command may have stopped before its work was done
#: (`routes test` reads no further events), and `set -o pipefail` scripts see hookpipe as they see those tools.
EXIT_BROKEN_PIPE = 141

#: The command groups in the order `hookpipe --help` lists them.
GROUPS = (services, admin, config, routes, topology, replay, destination, status, events, dlq)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hookpipe", description="Self-hosted webhook event pipeline.")
    parser.add_argument("--version", action="version", version=f"hookpipe {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a reader of stdout that stops early (`| head`) ends it quietly with EXIT_BROKEN_PIPE."""
    try:
        try:
            parser = build_parser()
            args, rest = parser.parse_known_args(argv)
            if hasattr(args, services.FORWARDED):
                setattr(args, services.FORWARDED, rest)
            elif rest:
                parser.error(f"unrecognized arguments: {' '.join(rest)}")
            return int(args.run(args))
        finally:
            sys.stdout.flush()  # meet a reader that has gone here, not in the interpreter's flush at exit
    except BrokenPipeError:
        if not _stdout_gone():
            raise  # a socket's broken pipe, not stdout's: a real failure
        # Python ignores SIGPIPE, so the write raised instead of ending the process. Point stdout at devnull,
        # so that nothing still buffered raises again at exit, and stop, as a tool that SIGPIPE ended would.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _stdout_gone() -> bool:
    """Whether stdout's reader has closed its end (poll() reports POLLERR on such a pipe, POLLHUP on a socket)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll() on this platform, or stdout has no descriptor
        return True


if __name__ == "__main__":
    sys.exit(main())
