"""The asyncio backend. Nothing under `services` imports Textual, rich or the CLI.

`open_services` builds every service on one event loop and owns their lifetimes; the TUI and the
CLI both receive a `Services` and talk to it through intents (async methods) and bus events.
Heavy libraries (docker, aiohttp, pynvml) are imported by the services that use them, when they
start, so the dashboard's first frame does not wait for them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when used: the dashboard's first frame must not wait for pydantic or structlog
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

    # downloads: the persistent download queue (services/downloads)
    downloads: Any = None

    # apps: app manifests and their containers (services/apps)
    apps: Any = None

    # monitor: system and GPU samples (services/monitor)
    monitor: Any = None

    # library: the model index, catalog and sources (services/library)
    library: Any = None

    # plugins: discovered and enabled plugins (services/plugins)
    plugins: Any = None


@contextlib.asynccontextmanager
async def open_services(
    layout: Layout, config: Config, credentials: Credentials, *, run_downloads: bool = True
) -> AsyncIterator[Services]:
    """Start every service; `run_downloads` makes this process run the download queue (the TUI does)."""
    from aiui_tui.bus import Bus

    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    services = Services(layout=layout, config=config, credentials=credentials, bus=bus)
    async with contextlib.AsyncExitStack() as stack:
        # Each service registers its own shutdown on `stack`, in start order.

        from aiui_tui.services.plugins import PluginService

        services.plugins = PluginService(layout)
        await asyncio.to_thread(services.plugins.load)  # imports only enabled plugins
        services.plugins.attach(bus)
        stack.push_async_callback(services.plugins.close)

        from aiui_tui.services.downloads import DownloadService

        services.downloads = DownloadService(layout, config, credentials, bus)
        await services.downloads.start(run_queue=run_downloads)
        stack.push_async_callback(services.downloads.close)

        from aiui_tui.services.library import LibraryService

        services.library = LibraryService(layout, config, credentials, bus, services.downloads)
        services.library.extra_catalog = services.plugins.catalog
        services.library.extra_sources = services.plugins.sources
        await services.library.start(scan=True)
        stack.push_async_callback(services.library.close)

        from aiui_tui.services.apps import AppService
        from aiui_tui.services.monitor import MonitorService
        from aiui_tui.services.monitor.nvml import probe_gpus

        folders = {"models": layout.models_dir, "outputs": layout.outputs_dir}
        services.monitor = MonitorService(bus, folders, interval_s=config.monitor.interval_s)
        services.apps = AppService(
            layout,
            config,
            bus,
            gpu_memory=services.monitor.largest_gpu_memory,
            gpu_memory_by_container=services.monitor.gpu_memory_of_container,
            extra_manifests=services.plugins.manifests,
            gpu_probe=probe_gpus,
        )
        services.monitor.app_of_container = services.apps.app_of_container
        await services.monitor.start()
        stack.push_async_callback(services.monitor.close)
        await services.apps.start(supervise=True)
        stack.push_async_callback(services.apps.close)

        yield services
