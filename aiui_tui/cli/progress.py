"""rich progress bars for downloads, fed by the service's events."""

from __future__ import annotations

from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from aiui_tui.bus import Bus
from aiui_tui.core.events import DownloadProgress, DownloadQueued, DownloadStateChanged, Notice


class DownloadBars:
    """One bar per download; notices print above the bars. Use as a context manager."""

    def __init__(self, bus: Bus, console, names: dict[str, str] | None = None) -> None:
        self.bus = bus
        self.names = dict(names or {})
        self.progress = Progress(
            TextColumn("[bold]{task.description}", justify="left"),
            BarColumn(bar_width=None),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            auto_refresh=True,
            refresh_per_second=5,
        )
        self._tasks: dict[str, TaskID] = {}
        self._unsubscribe: list = []

    def __enter__(self) -> DownloadBars:
        self.progress.start()
        self._unsubscribe = [
            self.bus.subscribe(self._on_progress, DownloadProgress),
            self.bus.subscribe(self._on_state, DownloadStateChanged, DownloadQueued),
            self.bus.subscribe(self._on_notice, Notice),
        ]
        return self

    def __exit__(self, *exc: object) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self.progress.stop()

    def _task(self, item_id: str, total: int | None = None) -> TaskID:
        if item_id not in self._tasks:
            self._tasks[item_id] = self.progress.add_task(self.names.get(item_id, item_id), total=total)
        return self._tasks[item_id]

    def _on_progress(self, event: DownloadProgress) -> None:
        self.progress.update(self._task(event.id, event.total), completed=event.done, total=event.total)

    def _on_state(self, event: DownloadStateChanged | DownloadQueued) -> None:
        item = event.item
        self.names[item.id] = item.display_name
        task = self._task(item.id, item.total_bytes or item.size)
        self.progress.update(task, description=item.display_name)

    def _on_notice(self, event: Notice) -> None:
        style = {"warning": "yellow", "error": "bold red"}.get(event.level, "blue")
        self.progress.console.print(f"[{style}]{escape(event.message)}[/{style}]", highlight=False, markup=True)
