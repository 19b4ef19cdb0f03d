"""The asyncio backend. Nothing under `services` imports Textual, rich or the CLI.

`open_services` builds the services on one event loop and owns their lifetimes: the dashboard opens
all of them, each CLI command the few it needs (`only=`), wired the same way. The TUI and the CLI
receive a `Services` and talk to it through intents (async methods) and bus events. The CLI reaches
the backend only through this package (an import contract in pyproject.toml): the few functions and
errors it uses besides the services are re-exported here and imported when first used.
Heavy libraries (docker, aiohttp, pynvml) are imported by the services that use them, when they
start, so the dashboard's first frame does not wait for them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from aiui_tui.core.lazy import lazy_exports

if TYPE_CHECKING:  # imported when used: the dashboard's first frame must not wait for pydantic or structlog
    from aiui_tui.bus import Bus
    from aiui_tui.config import Config
    from aiui_tui.credentials import Credentials
    from aiui_tui.paths import Layout
    from aiui_tui.services.apps import AppService as AppService
    from aiui_tui.services.apps.errors import AppError as AppError
    from aiui_tui.services.apps.network import has_default_bridge as has_default_bridge
    from aiui_tui.services.apps.network import no_bridge_fix as no_bridge_fix
    from aiui_tui.services.apps.recommend import recommend as recommend
    from aiui_tui.services.bench import BenchError as BenchError
    from aiui_tui.services.bench import BenchRequest as BenchRequest
    from aiui_tui.services.bench import run_bench as run_bench
    from aiui_tui.services.bench import save_result as save_result
    from aiui_tui.services.bench.clients import require_api as require_api
    from aiui_tui.services.bench.runner import listener_pid as listener_pid
    from aiui_tui.services.doctor import context_from_env as context_from_env
    from aiui_tui.services.doctor import run_checks as run_checks
    from aiui_tui.services.downloads import DownloadService as DownloadService
    from aiui_tui.services.downloads.disk import lock_owner as lock_owner
    from aiui_tui.services.downloads.errors import DiskFull as DiskFull
    from aiui_tui.services.downloads.parts import kept_bytes as kept_bytes
    from aiui_tui.services.downloads.parts import part_files as part_files
    from aiui_tui.services.downloads.validate import make_request as make_request
    from aiui_tui.services.engine import engine_address as engine_address
    from aiui_tui.services.engine import engine_refusal as engine_refusal
    from aiui_tui.services.library import LibraryService as LibraryService
    from aiui_tui.services.monitor import MonitorService as MonitorService
    from aiui_tui.services.monitor.gpu import GpuSampler as GpuSampler
    from aiui_tui.services.monitor.nvml import probe_gpus as probe_gpus
    from aiui_tui.services.plugins import PluginService as PluginService
    from aiui_tui.services.plugins.discovery import PluginInfo
    from aiui_tui.services.ticker import Ticker

ServiceName = Literal["plugins", "downloads", "library", "monitor", "apps"]
ALL: tuple[ServiceName, ...] = ("plugins", "downloads", "library", "monitor", "apps")  # in start order
NEEDS: dict[ServiceName, tuple[ServiceName, ...]] = {"library": ("downloads",)}  # started with it, always

# What the CLI uses besides the services, by the name it has here -> (module, name there): imported
# on first use (module `__getattr__`), so `--version` or `downloads list --json` load none of it.
_LAZY: dict[str, tuple[str, str]] = {
    "AppService": ("aiui_tui.services.apps", "AppService"),
    "DownloadService": ("aiui_tui.services.downloads", "DownloadService"),
    "LibraryService": ("aiui_tui.services.library", "LibraryService"),
    "MonitorService": ("aiui_tui.services.monitor", "MonitorService"),
    "PluginService": ("aiui_tui.services.plugins", "PluginService"),
    "AppError": ("aiui_tui.services.apps.errors", "AppError"),
    "has_default_bridge": ("aiui_tui.services.apps.network", "has_default_bridge"),
    "no_bridge_fix": ("aiui_tui.services.apps.network", "no_bridge_fix"),
    "recommend": ("aiui_tui.services.apps.recommend", "recommend"),
    "BenchError": ("aiui_tui.services.bench", "BenchError"),
    "BenchRequest": ("aiui_tui.services.bench", "BenchRequest"),
    "run_bench": ("aiui_tui.services.bench", "run_bench"),
    "save_result": ("aiui_tui.services.bench", "save_result"),
    "require_api": ("aiui_tui.services.bench.clients", "require_api"),
    "listener_pid": ("aiui_tui.services.bench.runner", "listener_pid"),
    "context_from_env": ("aiui_tui.services.doctor", "context_from_env"),
    "run_checks": ("aiui_tui.services.doctor", "run_checks"),
    "lock_owner": ("aiui_tui.services.downloads.disk", "lock_owner"),
    "DiskFull": ("aiui_tui.services.downloads.errors", "DiskFull"),
    "kept_bytes": ("aiui_tui.services.downloads.parts", "kept_bytes"),
    "part_files": ("aiui_tui.services.downloads.parts", "part_files"),
    "make_request": ("aiui_tui.services.downloads.validate", "make_request"),
    "engine_address": ("aiui_tui.services.engine", "engine_address"),
    "engine_refusal": ("aiui_tui.services.engine", "engine_refusal"),
    "GpuSampler": ("aiui_tui.services.monitor.gpu", "GpuSampler"),
    "probe_gpus": ("aiui_tui.services.monitor.nvml", "probe_gpus"),
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


@dataclass
class Services:
    """The services `open_services` started; one not selected (`only=`) is None."""

    layout: Layout
    config: Config
    credentials: Credentials
    bus: Bus

    # downloads: the persistent download queue (services/downloads)
    downloads: DownloadService | None = None

    # apps: app manifests and their containers (services/apps)
    apps: AppService | None = None

    # monitor: system and GPU samples (services/monitor)
    monitor: MonitorService | None = None

    # library: the model index, catalog and sources (services/library)
    library: LibraryService | None = None

    # plugins: discovered and enabled plugins (services/plugins); None in a command when none is enabled
    plugins: PluginService | None = None

    def app_of(self, container_id: str) -> str | None:
        """The app a container runs (the monitor names GPU processes with it), None when unknown."""
        return self.apps.app_of_container(container_id) if self.apps is not None else None


def make_downloads(
    layout: Layout, config: Config, credentials: Credentials, bus: Bus, ticker: Ticker | None = None
) -> DownloadService:
    """The download service with its collaborators: the library's format check of finished files, the
    services' ticker (its look for other processes' queue changes). For `open_services` (and tests of
    the queue alone)."""
    from aiui_tui.services.downloads import DownloadService as DownloadService

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


def load_plugins(layout: Layout, *, on_warning: Callable[[str], None] | None = None) -> PluginService:
    """The enabled plugins, imported and registered; each failure is a warning (`on_warning`, and the
    service's `warnings`). Blocking (imports): `open_services` calls it in a thread; `plugins` commands
    that only list or switch plugins call it directly."""
    from aiui_tui.services.plugins import PluginService

    service = PluginService(layout, on_warning=on_warning)
    service.load()
    return service


def plugins_enabled(layout: Layout) -> bool:
    """Whether a plugin's settings file says `enabled = true` (or cannot be read: that is reported when
    loading). Reads those files only: neither pluggy nor any plugin is imported. Blocking."""
    from aiui_tui.services.plugins.discovery import enabled_names

    return bool(enabled_names(layout))


def discover_plugins(layout: Layout) -> dict[str, PluginInfo]:
    """Every plugin, by name, imported or not (`plugins enable/disable` import none)."""
    from aiui_tui.services.plugins import discover

    return discover(layout)


def set_plugin_enabled(layout: Layout, name: str, enabled: bool) -> Path:
    """Switch a plugin on or off in its settings file, which is returned."""
    from aiui_tui.services.plugins import set_enabled

    return set_enabled(layout, name, enabled)


def process_alive(pid: int | None) -> bool:
    """Whether the process `pid` (say, a queue lock's owner) still runs."""
    from aiui_tui.services.downloads.store import _alive

    return _alive(pid)


def selection(only: Collection[ServiceName] | None) -> tuple[ServiceName, ...]:
    """The services to start for `only` (None: all), with what each needs, in start order."""
    if only is None:
        return ALL
    unknown = set(only) - set(ALL)
    if unknown:
        raise ValueError(f"unknown services {sorted(unknown)}; choose from {', '.join(ALL)}")
    chosen = set(only)
    for name in only:
        chosen.update(NEEDS.get(name, ()))
    return tuple(name for name in ALL if name in chosen)


@contextlib.asynccontextmanager
async def open_services(
    layout: Layout,
    config: Config,
    credentials: Credentials,
    *,
    only: Collection[ServiceName] | None = None,
    supervise: bool = True,
    run_downloads: bool = True,
    read_only: bool = False,
    scan: bool | None = None,
    on_plugin_warning: Callable[[str], None] | None = None,
    cgroup_root: Path | None = None,
    bus: Bus | None = None,
) -> AsyncIterator[Services]:
    """Start the services named in `only` (default: all; the library brings the download queue), each
    given the others that were started as its collaborators, and close them in reverse order.

    `supervise`: keep watching (the dashboard): one ticker for the periodic looks (system and GPU
    samples, containers' figures, manifests, plugins folder, the queue's database) and the engine's
    events. Without it (a CLI command) nothing runs periodically, the plugins see every event before
    the services close, and they are loaded only when one is enabled (else `Services.plugins` is None).
    `run_downloads`: this process runs the download queue. `read_only` (app list, app status): the apps'
    statuses through the light engine client, no GPU probe. `scan`: index the library at start
    (default: when supervising). `on_plugin_warning`: each plugin that fails to load.
    `cgroup_root`: where the containers' figures are read (a missing folder: Docker stats streams).
    `bus`: the one to publish on, for a caller that listens from the services' first event."""
    chosen = selection(only)
    if bus is None:
        from aiui_tui.bus import Bus

        bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    services = Services(layout=layout, config=config, credentials=credentials, bus=bus)
    async with contextlib.AsyncExitStack() as stack:
        # Each service registers its own shutdown on `stack`, in start order.
        ticker: Ticker | None = None
        if supervise:
            from aiui_tui.services.ticker import Ticker

            # One clock for the periodic looks (system/GPU, containers' cgroups, manifests, the download
            # queue's database): one worker-thread call a tick.
            ticker = Ticker(config.monitor.interval_s)
            stack.push_async_callback(ticker.close)

        probe = None
        if "apps" in chosen and not read_only:  # imported before the plugins load (their guard puts
            from aiui_tui.services.monitor.nvml import probe_gpus  # back modules they replace)

            probe = probe_gpus

        plugins = None
        # A command with no plugin enabled has no plugin service (nothing to call, pluggy not imported);
        # the dashboard always has one: it shows plugins copied in while it runs.
        if "plugins" in chosen and (supervise or await asyncio.to_thread(plugins_enabled, layout)):
            plugins = services.plugins = await asyncio.to_thread(load_plugins, layout, on_warning=on_plugin_warning)
            plugins.attach(bus)
            if supervise:  # plugins copied in while the dashboard runs show in Settings
                await plugins.watch(ticker=ticker)
            stack.push_async_callback(plugins.close)

        if "downloads" in chosen:
            downloads = services.downloads = make_downloads(layout, config, credentials, bus, ticker)
            await downloads.start(run_queue=run_downloads)
            stack.push_async_callback(downloads.close)

        if "library" in chosen:
            from aiui_tui.services.library import LibraryService as LibraryService

            library = services.library = LibraryService(
                layout,
                config,
                credentials,
                bus,
                services.downloads,
                extra_catalog=plugins.catalog if plugins else None,
                extra_sources=plugins.sources if plugins else None,
            )
            await library.start(scan=supervise if scan is None else scan)
            stack.push_async_callback(library.close)

        monitor = None
        if "monitor" in chosen:
            from aiui_tui.services.monitor import MonitorService as MonitorService

            folders = {"models": layout.models_dir, "outputs": layout.outputs_dir}
            monitor = services.monitor = MonitorService(
                bus, folders, interval_s=config.monitor.interval_s, ticker=ticker, app_of_container=services.app_of
            )

        if "apps" in chosen:
            from aiui_tui.services.apps import AppService as AppService
            from aiui_tui.services.apps.cgroup_files import CGROUP_ROOT

            gpu_memory: Callable[[], int | None] | None = None  # the largest GPU's: the "auto" profile
            if monitor is not None:
                gpu_memory = monitor.largest_gpu_memory
            elif not read_only:
                from aiui_tui.services.monitor.gpu import GpuSampler

                gpu = GpuSampler()
                gpu_memory = gpu.memory_total_max
                stack.push_async_callback(asyncio.to_thread, gpu.close)  # after the apps closed
            services.apps = AppService(
                layout,
                config,
                bus,
                gpu_memory=gpu_memory,
                gpu_memory_by_container=monitor.gpu_memory_of_container if monitor else None,
                extra_manifests=plugins.manifests if plugins else None,
                gpu_probe=probe,
                cgroup_root=cgroup_root or CGROUP_ROOT,
                ticker=ticker,
            )

        if monitor is not None:
            if supervise:
                await monitor.start()
            stack.push_async_callback(monitor.close)
        if services.apps is not None:
            await services.apps.start(supervise=supervise, read_only=read_only)
            stack.push_async_callback(services.apps.close)
        if plugins is not None and not supervise:  # first on the way out: a command's events all reach them
            stack.push_async_callback(plugins.drain)

        yield services
