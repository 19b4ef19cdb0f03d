"""Start the full-screen dashboard (no subcommand).

The first frame comes before anything heavy: only Textual and the screens are imported; the config,
logging, tokens and every service (aiohttp, docker, NVML) are opened by the running app right after
(`make_lazy_app`). A bad config still ends the app with one red line and exit code 2.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from types import SimpleNamespace


def run_tui(root_arg: str | None, log_level: str | None) -> int:
    # First, before asyncio and Textual: no garbage collection from here to the first frame (aiui_tui/tui).
    import aiui_tui.tui  # noqa: F401

    # isort: split
    import asyncio
    import os

    from aiui_tui.cli.console import Output
    from aiui_tui.paths import Layout, remove_new_folders, resolve_root, root_problem

    layout = Layout(resolve_root(root_arg))
    problem = root_problem(layout.root)  # a file, an unwritable parent: one line before the screen opens
    if problem is not None:
        Output().failure(problem)
        return problem.exit_code
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        Output().error("the dashboard needs a terminal.", "run it in a terminal, or use a subcommand (see --help)")
        return 2
    # No settings yet: the first-run wizard opens (on a missing root too: the wizard is how one is made).
    first_run = not os.path.lexists(layout.config_file)
    code, queued, new_folders = asyncio.run(_run(layout, root_arg, log_level, first_run))
    if new_folders and new_folders[0] == layout.root and not os.path.lexists(layout.config_file) and not queued:
        # A new root whose setup was never finished (Esc, then quit): it is not kept.
        remove_new_folders(layout, new_folders)
        from aiui_tui.cli.context import command_line

        Output().warn(
            f"setup not finished: no data root was kept at {layout.root}.",
            f"run `{command_line(root_arg)}` again to set it up, or `{command_line(root_arg, 'init')}`",
        )
    return code


async def _run(layout, root_arg: str | None, log_level: str | None, first_run: bool):  # type: ignore[no-untyped-def]
    """Run the app; its exit code, whether downloads are queued (then the root is in use), and the
    folders of the layout that were missing before the app created them."""
    import asyncio

    from aiui_tui.tui.app import make_lazy_app

    @contextlib.asynccontextmanager
    async def opener() -> AsyncIterator:
        from aiui_tui.cli.console import Output
        from aiui_tui.cli.context import bootstrap
        from aiui_tui.paths import missing_folders
        from aiui_tui.services import open_services

        # Looked for here, after the first frame (the layout lists a folder per model kind: the kinds
        # table), and before `bootstrap` creates them: none is created earlier.
        app.new_folders = tuple(await asyncio.to_thread(missing_folders, layout))
        args = SimpleNamespace(root=root_arg, log_level=log_level, command=None)
        ctx = await asyncio.to_thread(bootstrap, args, Output(), root_use="create")
        async with open_services(ctx.layout, ctx.config, ctx.credentials) as services:
            yield services

    app = make_lazy_app(str(layout.root), opener, first_run=first_run)
    queued = True  # until known otherwise, the root is in use
    try:
        await app.run_async()
        with contextlib.suppress(Exception):
            downloads = app.services.downloads if app.services is not None else None
            queued = bool(await downloads.items()) if downloads is not None else False
    finally:
        await app.close_services()
    return int(app.return_code or 0), queued, list(app.new_folders)
