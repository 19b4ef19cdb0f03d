"""`aiui-tui init [--yes]`: create the data root's folders and the commented default config."""

from __future__ import annotations

import argparse
import sys

from aiui_tui.cli.context import Context, command_line
from aiui_tui.config import write_default_config
from aiui_tui.core.errors import UsageError
from aiui_tui.logs import setup_logging
from aiui_tui.paths import ensure_layout


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("init", help="create the data root, its folders and the default config")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask before creating the data root")
    parser.set_defaults(handler=run, root_use="init")


def run(ctx: Context) -> int:
    layout = ctx.layout
    if not layout.root.exists() and not ctx.args.yes:
        if not sys.stdin.isatty():
            raise UsageError(
                f"{layout.root} does not exist and init needs confirmation to create it.",
                f"run `{command_line(ctx.args.root, 'init', '--yes')}`",
            )
        answer = input(f"Create the aiui-tui data root at {layout.root}? [Y/n] ").strip().lower()
        if answer not in ("", "y", "yes"):
            ctx.out.warn("Nothing created.")
            return 1
    created = ensure_layout(layout)
    wrote_config = write_default_config(layout)
    setup_logging(layout.log_file, ctx.args.log_level or ctx.config.general.log_level)
    if not created and not wrote_config:
        ctx.out.success(f"Data root {layout.root} is complete; nothing to do.")
        return 0
    for folder in created:
        ctx.out.plain(f"  created {folder}/")
    if wrote_config:
        ctx.out.plain(f"  wrote   {layout.config_file} (commented defaults)")
    ctx.out.success(f"Data root ready at {layout.root}.")
    doctor, dashboard = command_line(ctx.args.root, "doctor"), command_line(ctx.args.root)
    ctx.out.info(f"Next: `{doctor}` checks Docker and the GPU; `{dashboard}` opens the dashboard.")
    return 0
