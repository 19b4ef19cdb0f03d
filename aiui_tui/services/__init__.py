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
from pathlib import Path
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


def make_downloads(layout: Layout, config: Config, credentials: Credentials, bus: Bus, ticker: Any = None) -> Any:
    """The download service with its collaborators: the library's format check of finished files, the
    services' ticker (its look for other processes' queue changes). For `open_services` and the CLI
    commands that need only the queue."""
    from aiui_tui.services.downloads import DownloadService

    return DownloadService(layout, config, credentials, bus, file_check=check_finished_download, ticker=ticker)


def check_finished_download(path: Path, name: str) -> str | None:
    """A finished download named `*.safetensors` must pass the library's header check (the reference
    reader's rules) before it takes that name: the problem, or None. Blocking."""
    if not name.lower().endswith(".safetensors"):
        return None
    from aiui_tui.services.library.safetensors import SafetensorsError, read_header

    try:
        read_header(path)
    except (SafetensorsError, OSError) as exc:
        return str(exc)
    return None


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
        from aiui_tui.services.ticker import Ticker

        # One clock for the periodic looks (system/GPU, containers' cgroups, manifests, the download
        # queue's database): one worker-thread call a tick.
        ticker = Ticker(config.monitor.interval_s)
        stack.push_async_callback(ticker.close)

        from aiui_tui.services.plugins import PluginService

        services.plugins = PluginService(layout)
        await asyncio.to_thread(services.plugins.load)  # imports only enabled plugins
        services.plugins.attach(bus)
        await services.plugins.watch(ticker=ticker)  # plugins copied in while the dashboard runs show in Settings
        stack.push_async_callback(services.plugins.close)

        services.downloads = make_downloads(layout, config, credentials, bus, ticker)
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
        services.monitor = MonitorService(bus, folders, interval_s=config.monitor.interval_s, ticker=ticker)
        services.apps = AppService(
            layout,
            config,
            bus,
            gpu_memory=services.monitor.largest_gpu_memory,
            gpu_memory_by_container=services.monitor.gpu_memory_of_container,
            extra_manifests=services.plugins.manifests,
            gpu_probe=probe_gpus,
            ticker=ticker,
        )
        services.monitor.app_of_container = services.apps.app_of_container
        await services.monitor.start()
        stack.push_async_callback(services.monitor.close)
        await services.apps.start(supervise=True)
        stack.push_async_callback(services.apps.close)

        yield services
