"""`hookpipe admin [--config FILE]`: run the admin API and its delivery-log index (control.admin)."""

from __future__ import annotations

import argparse
from typing import Any

from control.commands.services import FORWARDED
from hookpipe.runtime.service import main


def add_parser(commands: Any) -> None:
    admin = commands.add_parser(
        "admin", help="run the admin API (/api/v1) and its delivery-log index", add_help=False,  # main's parser
    )
    admin.set_defaults(run=_run, **{FORWARDED: []})


def _run(args: argparse.Namespace) -> int:
    from control.admin.service import AdminService

    return main("admin", AdminService, getattr(args, FORWARDED))
