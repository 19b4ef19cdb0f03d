"""The UI state reducer, without a terminal: events in, what the screens render out."""

from __future__ import annotations

import dataclasses

from aiui_tui.core.apps import AppStatus
from aiui_tui.core.downloads import DownloadItem
from aiui_tui.core.events import (
    AppPullProgress,
    AppStateChanged,
    ContainerStats,
    DownloadProgress,
    DownloadQueued,
    DownloadStateChanged,
    EngineStateChanged,
    GpuSample,
    LibraryChanged,
    SystemSample,
)
from aiui_tui.core.monitor import GpuStats, SystemStats
from aiui_tui.tui.state import HISTORY, UiState


def item(state: str = "pending") -> DownloadItem:
    return DownloadItem("d1", "http://x/m.safetensors", "/m", "m.safetensors", state, 1.0)


def test_apps_stats_and_pull_progress_fold_into_views():
    ui = UiState("/r")
    ui.seed_apps([AppStatus("a", "A", "not created")])
    ui.apply(AppStateChanged("a", AppStatus("a", "A", "pulling")))
    ui.apply(AppPullProgress("a", "img", 50, 100, 1, 2))
    assert ui.apps["a"].pull.done == 50
    ui.apply(AppStateChanged("a", AppStatus("a", "A", "ready", url="http://127.0.0.1:1/")))
    assert ui.apps["a"].pull is None
    for i in range(HISTORY + 5):
        ui.apply(ContainerStats("a", "c", float(i), 50, 100, 0, 0, 0, 0))
    assert len(ui.apps["a"].cpu) == HISTORY and ui.apps["a"].memory[-1] == 50.0
    ui.apply(AppStateChanged("a", AppStatus("a", "A", "exited", exit_code=1)))
    assert ui.apps["a"].stats is None
    ui.apply(ContainerStats("unknown", "c", 1.0, 1, 1, 0, 0, 0, 0))  # an app we do not show: ignored
    assert set(ui.apps) == {"a"}


def test_engine_system_and_gpu_summaries():
    ui = UiState("/r")
    ui.apply(EngineStateChanged(False, "unix:///x.sock", "gone"))
    assert (ui.engine_ok, ui.engine_text) == (False, "Docker: not reachable")
    ui.apply(SystemSample(SystemStats(10.0, (5.0, 15.0), 1, 2, 0, 0, (), 0.0, 0.0)))
    assert list(ui.cpu) == [10.0] and [list(c) for c in ui.cores] == [[5.0], [15.0]]
    ui.apply(GpuSample(False, (), "no NVIDIA driver found", "install it"))
    assert ui.gpu_text == "GPU: no NVIDIA driver found"
    gpu = GpuStats(0, "H100", "u", 40, 8 * 2**30, 80 * 2**30, 50, 300.0, 700.0, None)
    ui.apply(GpuSample(True, (gpu, dataclasses.replace(gpu, index=1))))
    assert ui.gpu_text == "GPU: H100 +1 40% 8.0 GiB/80.0 GiB"
    assert list(ui.gpu_util[0]) == [40.0] and list(ui.gpu_vram[0]) == [10.0]


def test_downloads_and_library_changes():
    ui = UiState("/r")
    ui.apply(DownloadQueued(item()))
    ui.apply(DownloadProgress("d1", 10, 100, 5.0, 18.0))
    assert ui.progress["d1"].done == 10
    ui.apply(DownloadStateChanged("d1", "paused", item("paused")))
    assert ui.downloads["d1"].state == "paused" and "d1" not in ui.progress
    ui.apply(DownloadStateChanged("d1", "cancelled", item("paused")))
    assert ui.downloads == {}
    ui.apply(LibraryChanged(added=("x",)))
    assert ui.library_version == 1


def test_every_fold_is_in_the_table_keyed_by_event_type():
    """`apply` dispatches on the event's type (a table), not on a method name built from the class name:
    a handler left out of the table, or an entry that is no event, fails here."""
    import inspect

    from aiui_tui.core.events import Event
    from aiui_tui.tui.state import _folds

    table = _folds()
    assert all(isinstance(t, type) and issubclass(t, Event) for t in table)
    handlers = {f for name, f in inspect.getmembers(UiState, inspect.isfunction) if name.startswith("_on_")}
    assert set(table.values()) == handlers

    @dataclasses.dataclass(frozen=True)
    class LibraryChanged(Event):  # same name as a folded event, another type: not folded
        pass

    ui = UiState("/r")
    ui.apply(LibraryChanged())
    assert ui.library_version == 0
