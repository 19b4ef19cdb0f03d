"""Real aiohttp servers on 127.0.0.1 for tests: `async with serve(app) as base_url: ...`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web


@contextlib.asynccontextmanager
async def serve(app: web.Application, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Run `app` on a free loopback port; yields its base URL (no trailing slash)."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # the port the kernel picked
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
