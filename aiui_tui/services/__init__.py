"""The asyncio backend. Nothing under `services` imports Textual, rich or the CLI.

`open_services` builds every service on one event loop and owns their lifetimes; the TUI and the
CLI both receive a `Services` and talk to it through intents (async methods) and bus events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiui_tui.bus import Bus
from aiui_tui.config import Config
from aiui_tui.credentials import Credentials
from aiui_tui.paths import Layout


@dataclass
class Services:
    layout: Layout
    config: Config
    credentials: Credentials
    bus: Bus


@contextlib.asynccontextmanager
async def open_services(layout: Layout, config: Config, credentials: Credentials) -> AsyncIterator[Services]:
    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    services = Services(layout=layout, config=config, credentials=credentials, bus=bus)
    yield services
