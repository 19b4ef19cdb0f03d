"""The apps service's bookkeeping: which apps there are, which are enabled, each one's status, and the
labels that say which containers are ours. The layers above (streams, engine link, checks, lifecycle,
the `AppService` facade) keep their state here and change a status only through `_set`."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from aiui_tui.bus import Bus
from aiui_tui.config import Config
from aiui_tui.core.apps import BROKEN, NOT_CREATED, AppState, AppStatus
from aiui_tui.core.errors import EngineUnavailable
from aiui_tui.core.events import AppStateChanged
from aiui_tui.paths import Layout
from aiui_tui.services import engine
from aiui_tui.services.apps.cgroup_files import CGROUP_ROOT
from aiui_tui.services.apps.cgroup_stats import CgroupPoll
from aiui_tui.services.apps.errors import unknown_app
from aiui_tui.services.apps.manifest import AppManifest, BrokenApp, LoadedApp, gpu_instance, instance_name
from aiui_tui.services.apps.spec import LABEL_APP, LABEL_ROOT, effective_image
from aiui_tui.services.ticker import Ticker


class Gpu(Protocol):
    """One GPU as a probe sees it (services.monitor.nvml.GpuInfo)."""

    @property
    def index(self) -> int: ...


class GpuProbe(Protocol):
    """What a GPU probe answers (services.monitor.nvml.GpuProbe): whether NVML works, why not, the GPUs."""

    @property
    def available(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def gpus(self) -> Sequence[Gpu]: ...


class StatusBook:
    """The apps, their statuses and the state every layer shares."""

    def __init__(
        self,
        layout: Layout,
        config: Config,
        bus: Bus,
        *,
        extra_manifests: dict[str, LoadedApp] | None = None,
        gpu_memory: Callable[[], int | None] | None = None,
        gpu_memory_by_container: Callable[[str], int | None] | None = None,
        gpu_probe: Callable[[], GpuProbe | None] | None = None,
        cgroup_root: Path = CGROUP_ROOT,
        ticker: Ticker | None = None,  # the services' shared clock: the cgroup poll and the manifest watch
    ) -> None:
        self.layout = layout
        self.config = config
        self.bus = bus
        self.extra_manifests = extra_manifests or {}
        self.apps: dict[str, LoadedApp] = {}
        self.broken: dict[str, BrokenApp] = {}  # user manifests that cannot be used, with their errors
        self.client: Any = None  # a docker.DockerClient (or the light read-only one) while connected
        self.engine_problem: EngineUnavailable | None = None
        self.address = engine.engine_address(config.docker)
        self._gpu_memory = gpu_memory or (lambda: None)
        self._gpu_by_container = gpu_memory_by_container or (lambda _cid: None)
        self._gpu_probe = gpu_probe  # blocking; a GpuProbe (services.monitor.nvml) for --gpu N
        self._loop: asyncio.AbstractEventLoop | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = threading.Event()
        self._connected = asyncio.Event()
        self._retry = asyncio.Event()  # an intent found the engine down: the supervisor tries again now
        self._status: dict[str, AppStatus] = {}
        self._readers: dict[str, threading.Event] = {}  # container id -> stop flag of its stats reader
        # Container figures: one poll of the cgroup files for all (a local engine), else a stream each.
        self.cgroup_root = cgroup_root
        self.ticker = ticker
        self.stats_poll = CgroupPoll(bus.publish, lambda cid: self._gpu_by_container(cid), ticker=ticker)
        self._streams: set[str] = set()  # containers whose figures come from a Docker stats stream
        self._events_stream: Any = None
        self._stopping: set[str] = set()  # apps we are stopping: their "die" is not a crash
        self._gpu_runtime: bool | None = None
        self._background: set[asyncio.Future[None]] = set()
        self._killed: set[str] = set()  # apps someone (another process) asked to stop: their "die" is no crash
        self._probes: dict[str, asyncio.Task[None]] = {}  # readiness probes of containers another process started
        self._watch: asyncio.Task[None] | None = None
        self._read_only = False  # see `AppService.start`
        self._locks: dict[str, asyncio.Lock] = {}  # one start, restart or update of an app at a time

    # -- queries ------------------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(self.apps)

    def manifest(self, name: str) -> AppManifest:
        """The app's manifest; a broken one raises its error (file, line, key and the fix)."""
        if name in self.broken:
            raise self.broken[name].error
        if name not in self.apps:
            raise unknown_app(name, self.names())
        return self.apps[name].manifest

    def enabled(self, name: str) -> bool:
        """Whether the app is shown and started by `app` commands: a built-in app when `apps.enabled`
        names it (an instance on one GPU, `fooocus-gpu1`, by its app), every app you or a plugin added
        (a broken manifest of yours too: it is listed with its error)."""
        if name in self.broken:
            return True
        loaded = self.apps.get(name)
        if loaded is None:
            return False
        return loaded.source != "built-in" or loaded.base in self.config.apps.enabled

    def app_of_container(self, container_id: str) -> str | None:
        for name, status in self._status.items():
            if status.container_id == container_id:
                return name
        return None

    def statuses(self) -> list[AppStatus]:
        """Every app's status, broken manifests included (state "broken", the error as the reason)."""
        found = {name: self._status[name] for name in self.names()}
        found.update((name, broken_status(b)) for name, b in self.broken.items())
        return [found[name] for name in sorted(found)]

    def status(self, name: str) -> AppStatus:
        if name in self.broken:
            return broken_status(self.broken[name])
        self.manifest(name)
        return self._status[name]

    # -- bookkeeping --------------------------------------------------------------------------

    def _with_network_override(self, loaded: LoadedApp) -> LoadedApp:
        override = self.config.apps.overrides.get(loaded.manifest.name)
        m = loaded.manifest
        if override is None or override.network is None or override.network == m.network:
            return loaded
        if override.network == "host":  # the UI listens on the host: on the port users open
            port = override.host_port or m.published_port
            m = m.model_copy(update={"network": "host", "port": port, "host_port": None})
        else:
            m = m.model_copy(update={"network": "bridge"})
        return dataclasses.replace(loaded, manifest=m)

    def _add_instance(self, base: str, gpu_index: int) -> str:
        """Register the app's instance on one GPU (a card and a status of its own); its name."""
        name = instance_name(base, gpu_index)
        if name not in self.apps:
            self.apps[name] = gpu_instance(self.apps[base], gpu_index)
            self._set(name, self._blank(self.apps[name].manifest, NOT_CREATED))  # a card of its own
        return name

    def _blank(self, manifest: AppManifest, state: AppState, container_id: str | None = None) -> AppStatus:
        loaded = self.apps.get(manifest.name)
        source = loaded.source if loaded else "built-in"
        image = effective_image(manifest, self.config, loaded.base if loaded else None)
        return AppStatus(
            manifest.name, manifest.display_title, state, image=image, container_id=container_id, source=source
        )

    def _set(self, name: str, status: AppStatus, *, announce: bool = False) -> None:
        """Keep the app's status; publish it when what a card shows changed (state, URL, reason or
        fix: an engine going away leaves "unknown" cards that say why), or when `announce`."""
        previous = self._status.get(name)
        if status.fix and previous is not None and status.fix == previous.fix and status.reason != previous.reason:
            status = replace_status(status, fix="")  # a fix belongs to the reason it came with
        if status.running and status.started_at is None:
            kept = previous.started_at if previous is not None and previous.running else None
            status = replace_status(status, started_at=kept or time.time())
        self._status[name] = status
        shown = ("state", "url", "reason", "fix")
        if announce or previous is None or any(getattr(previous, k) != getattr(status, k) for k in shown):
            self.bus.publish(AppStateChanged(name, status, status.reason))

    def _labels_of(self, name: str) -> dict[str, list[str]]:
        """The engine's filter for the app's container in this data root (never anyone else's)."""
        return {"label": [f"{LABEL_APP}={name}", f"{LABEL_ROOT}={self.layout.root}"]}

    async def _container(self, client: Any, name: str) -> Any:
        """The app's container (a docker Container), or None."""
        found = await asyncio.to_thread(client.containers.list, all=True, filters=self._labels_of(name))
        return found[0] if found else None


def broken_status(broken: BrokenApp) -> AppStatus:
    return AppStatus(
        broken.name, broken.name, BROKEN, reason=broken.error.message, fix=broken.error.fix, source=broken.source
    )


def docker_time(value: str | None) -> float | None:
    """Docker's RFC 3339 time with nanoseconds, as a Unix time; None when absent or unparsable."""
    if not value or value.startswith("0001-"):
        return None
    head, _, rest = value.rstrip("Z").partition(".")
    fraction = "".join(ch for ch in rest if ch.isdigit())[:6]
    try:
        return datetime.fromisoformat(f"{head[:19]}.{fraction or '0'}+00:00").timestamp()
    except ValueError:
        return None


def replace_status(status: AppStatus, **changes: Any) -> AppStatus:
    return dataclasses.replace(status, **changes)
