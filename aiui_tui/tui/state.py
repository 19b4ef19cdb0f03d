"""What the screens render, kept current from service events (attributes down, messages up).

Plain Python, no widgets: `apply(event)` is a pure reducer, tested without a terminal. Screens read
it when they refresh; histories are bounded rings, so memory does not grow with uptime.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiui_tui.core.format import human_bytes

if TYPE_CHECKING:  # annotations only: the dashboard's first frame does not wait for these modules
    from aiui_tui.core.apps import AppStatus
    from aiui_tui.core.downloads import DownloadItem
    from aiui_tui.core.events import (
        AppPullProgress,
        AppRemoved,
        AppStateChanged,
        ContainerStats,
        DownloadFinished,
        DownloadProgress,
        DownloadQueueChanged,
        DownloadQueued,
        DownloadStateChanged,
        EngineStateChanged,
        Event,
        FileOpProgress,
        GpuSample,
        LibraryChanged,
        SystemSample,
    )
    from aiui_tui.core.monitor import SystemStats

HISTORY = 120  # samples kept per series (two minutes at 1 Hz)


def ring() -> deque[float]:
    return deque(maxlen=HISTORY)


@dataclass
class AppView:
    status: AppStatus
    stats: ContainerStats | None = None
    pull: AppPullProgress | None = None
    cpu: deque[float] = field(default_factory=ring)
    memory: deque[float] = field(default_factory=ring)


@dataclass
class UiState:
    root: str
    engine_text: str = "Docker: checking…"
    engine_ok: bool | None = None
    gpu_text: str = "GPU: checking…"
    apps: dict[str, AppView] = field(default_factory=dict)
    system: SystemStats | None = None
    cpu: deque[float] = field(default_factory=ring)
    system_samples: int = 0  # system samples applied so far: the histories' clock (one a tick)
    cores: list[deque[float]] = field(default_factory=list)
    gpu: GpuSample | None = None
    gpu_util: dict[int, deque[float]] = field(default_factory=dict)
    gpu_vram: dict[int, deque[float]] = field(default_factory=dict)
    downloads: dict[str, DownloadItem] = field(default_factory=dict)
    progress: dict[str, DownloadProgress] = field(default_factory=dict)
    library_version: int = 0  # bumped on every library change; the browser reloads when it moves
    file_ops: dict[str, FileOpProgress] = field(default_factory=dict)  # library file operations under way

    def seed_apps(self, statuses: list[AppStatus]) -> None:
        for status in statuses:
            self.apps.setdefault(status.name, AppView(status))

    def refresh_apps(self, statuses: list[AppStatus]) -> None:
        """Take the services' statuses as they are now (an engine change can change every app's reason
        without an event per app: the state stays "unknown")."""
        for status in statuses:
            view = self.apps.setdefault(status.name, AppView(status))
            view.status = status
            if not status.running:
                view.stats = None

    def seed_downloads(self, items: list[DownloadItem]) -> None:
        self.downloads = {i.id: i for i in items}

    def apply(self, event: Event) -> None:
        """Fold one event into the state; events of no interest are ignored."""
        fold = _folds().get(type(event))
        if fold is not None:
            fold(self, event)

    # -- engine and apps ----------------------------------------------------------------------------
    def _on_engine_state_changed(self, e: EngineStateChanged) -> None:
        self.engine_ok = e.available
        self.engine_text = f"Docker: {e.address}" if e.available else "Docker: not reachable"

    def _on_app_state_changed(self, e: AppStateChanged) -> None:
        view = self.apps.setdefault(e.name, AppView(e.status))
        view.status = e.status
        if not e.status.running:
            view.stats = None
        from aiui_tui.core.apps import AppState  # loaded: the event's module imports it

        if e.status.state != AppState.PULLING:
            view.pull = None

    def _on_app_removed(self, e: AppRemoved) -> None:
        self.apps.pop(e.name, None)

    def _on_app_pull_progress(self, e: AppPullProgress) -> None:
        if e.name in self.apps:
            self.apps[e.name].pull = e

    def _on_container_stats(self, e: ContainerStats) -> None:
        view = self.apps.get(e.name)
        if view is None:
            return
        view.stats = e
        view.cpu.append(e.cpu_percent)
        view.memory.append(100.0 * e.memory_used / e.memory_limit if e.memory_limit else 0.0)

    # -- system -------------------------------------------------------------------------------------
    def _on_system_sample(self, e: SystemSample) -> None:
        self.system = e.sample
        self.cpu.append(e.sample.cpu_percent)
        self.system_samples += 1
        while len(self.cores) < len(e.sample.cpu_per_core):
            self.cores.append(ring())
        for history, value in zip(self.cores, e.sample.cpu_per_core, strict=False):
            history.append(value)

    def _on_gpu_sample(self, e: GpuSample) -> None:
        self.gpu = e
        if not e.available:
            self.gpu_text = "GPU: none (no NVIDIA driver)" if not e.reason else f"GPU: {e.reason}"
            return
        for g in e.gpus:
            self.gpu_util.setdefault(g.index, ring()).append(float(g.utilization or 0))
            if g.memory_total:
                self.gpu_vram.setdefault(g.index, ring()).append(100.0 * (g.memory_used or 0) / g.memory_total)
        first = e.gpus[0] if e.gpus else None
        if first is None:
            self.gpu_text = "GPU: none"
        else:
            more = f" +{len(e.gpus) - 1}" if len(e.gpus) > 1 else ""
            vram = f" {human_bytes(first.memory_used)}/{human_bytes(first.memory_total)}" if first.memory_total else ""
            self.gpu_text = f"GPU: {first.name}{more} {first.utilization or 0}%{vram}"

    # -- downloads and library ----------------------------------------------------------------------
    def _on_download_queued(self, e: DownloadQueued) -> None:
        self.downloads[e.item.id] = e.item

    def _on_download_state_changed(self, e: DownloadStateChanged) -> None:
        from aiui_tui.core.downloads import DownloadState  # loaded: the event's module imports it

        if e.state == DownloadState.CANCELLED:
            self.downloads.pop(e.id, None)
            self.progress.pop(e.id, None)
            return
        self.downloads[e.id] = e.item
        if e.state != DownloadState.ACTIVE:
            self.progress.pop(e.id, None)

    def _on_download_queue_changed(self, e: DownloadQueueChanged) -> None:
        """Another process changed the queue: its snapshot replaces ours, whatever screen is shown."""
        if e.items is None:
            return
        from aiui_tui.core.downloads import DownloadState

        known = self.downloads  # a row this process changed after the snapshot was read stays as it is
        self.downloads = {
            i.id: i if i.id not in known or i.updated_at >= known[i.id].updated_at else known[i.id] for i in e.items
        }
        active = {i for i, item in self.downloads.items() if item.state == DownloadState.ACTIVE}
        for gone in [i for i in self.progress if i not in active]:
            self.progress.pop(gone)

    def _on_download_progress(self, e: DownloadProgress) -> None:
        self.progress[e.id] = e

    def _on_download_finished(self, e: DownloadFinished) -> None:
        self.progress.pop(e.id, None)

    def _on_library_changed(self, _e: LibraryChanged) -> None:
        self.library_version += 1

    def _on_file_op_progress(self, e: FileOpProgress) -> None:
        if e.finished:
            self.file_ops.pop(e.id, None)
        else:
            self.file_ops[e.id] = e

    @property
    def file_ops_text(self) -> str:
        """One short phrase for the status line: what the library is doing to files, or ''."""
        if not self.file_ops:
            return ""
        e = next(iter(self.file_ops.values()))
        more = f" +{len(self.file_ops) - 1}" if len(self.file_ops) > 1 else ""
        percent = f" {100 * e.done // e.total}%" if e.total else ""
        return f"{e.title} {e.files_done}/{e.files_total}{percent}{more}"


@functools.cache
def _folds() -> dict[type[Event], Callable[[UiState, Any], None]]:
    """Event type -> how `UiState.apply` folds it in. Built at the first event: the events module is
    not needed before the dashboard's first frame (the services import it when they start)."""
    from aiui_tui.core import events as e

    return {
        e.EngineStateChanged: UiState._on_engine_state_changed,
        e.AppStateChanged: UiState._on_app_state_changed,
        e.AppRemoved: UiState._on_app_removed,
        e.AppPullProgress: UiState._on_app_pull_progress,
        e.ContainerStats: UiState._on_container_stats,
        e.SystemSample: UiState._on_system_sample,
        e.GpuSample: UiState._on_gpu_sample,
        e.DownloadQueued: UiState._on_download_queued,
        e.DownloadStateChanged: UiState._on_download_state_changed,
        e.DownloadQueueChanged: UiState._on_download_queue_changed,
        e.DownloadProgress: UiState._on_download_progress,
        e.DownloadFinished: UiState._on_download_finished,
        e.LibraryChanged: UiState._on_library_changed,
        e.FileOpProgress: UiState._on_file_op_progress,
    }
