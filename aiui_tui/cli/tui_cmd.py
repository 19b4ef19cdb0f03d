"""Start the full-screen dashboard (no subcommand)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from aiui_tui.cli.console import Output
from aiui_tui.cli.context import bootstrap
from aiui_tui.core.errors import UsageError


def run_tui(args: argparse.Namespace, out: Output) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("the dashboard needs a terminal.", "run it in a terminal, or use a subcommand (see --help)")
    from aiui_tui.paths import Layout, resolve_root

    first_run = not Layout(resolve_root(args.root)).config_file.exists()
    ctx = bootstrap(args, out, create=True)
    return asyncio.run(_run(ctx, first_run))


async def _run(ctx, first_run: bool = False) -> int:
    from aiui_tui.services import open_services
    from aiui_tui.tui.app import make_app

    async with open_services(ctx.layout, ctx.config, ctx.credentials) as services:
        app = make_app(services, first_run=first_run)
        result = await app.run_async()
    return int(result or 0)
