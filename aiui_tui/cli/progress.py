"""rich progress bars for downloads, fed by the service's events."""

from __future__ import annotations

from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from aiui_tui.bus import Bus
from aiui_tui.core.events import DownloadProgress, DownloadQueued, DownloadStateChanged, FileOpProgress, Notice
from aiui_tui.core.format import human_bytes, human_rate


class SizeColumn(ProgressColumn):
    """`3.0 MiB/8.0 MiB`: the units of every figure on screen (core/format), the speed's included."""

    def render(self, task: Task) -> Text:
        done = human_bytes(task.completed)
        return Text(f"{done}/{human_bytes(task.total)}" if task.total else done, style="progress.download")


class SpeedColumn(ProgressColumn):
    """`2.0 MiB/s`: the service's own measure (the TUI shows the same), sent in the task's `speed`."""

    def render(self, task: Task) -> Text:
        speed = task.fields.get("speed")
        return Text(human_rate(speed) if speed else "", style="progress.data.speed")


class DownloadBars:
    """One bar per download; notices print above the bars. Use as a context manager."""

    def __init__(self, bus: Bus, console, names: dict[str, str] | None = None) -> None:
        self.bus = bus
        self.names = dict(names or {})
        self.progress = Progress(
            TextColumn("[bold]{task.description}", justify="left"),
            BarColumn(bar_width=None),
            SizeColumn(),
            SpeedColumn(),
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
            self._tasks[item_id] = self.progress.add_task(self.names.get(item_id, item_id), total=total, speed=None)
        return self._tasks[item_id]

    def _on_progress(self, event: DownloadProgress) -> None:
        task = self._task(event.id, event.total)
        self.progress.update(task, completed=event.done, total=event.total, speed=event.speed)

    def _on_state(self, event: DownloadStateChanged | DownloadQueued) -> None:
        item = event.item
        self.names[item.id] = item.display_name
        task = self._task(item.id, item.total_bytes or item.size)
        self.progress.update(task, description=item.display_name)

    def _on_notice(self, event: Notice) -> None:
        style = {"warning": "yellow", "error": "bold red"}.get(event.level, "blue")
        self.progress.console.print(f"[{style}]{escape(event.message)}[/{style}]", highlight=False, markup=True)


class FileOpBars:
    """A bar per library file operation (hashing, verify, import, link, dedupe) while it runs.

    The bars show only while an operation is under way (so the command's own output is never
    drawn over) and stay on the console when it ends, as a record. Use as a context manager.
    """

    def __init__(self, bus: Bus, console) -> None:
        self.bus = bus
        self.console = console
        self.progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._unsubscribe = None

    def __enter__(self) -> FileOpBars:
        self._unsubscribe = self.bus.subscribe(self._on_progress, FileOpProgress)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        self._stop()

    def _start(self) -> Progress:
        if self.progress is None:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(bar_width=None),
                TextColumn("{task.fields[files]}"),
                SizeColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
                auto_refresh=True,
                refresh_per_second=5,
            )
            self.progress.start()
        return self.progress

    def _stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
            self._tasks.clear()

    def _on_progress(self, event: FileOpProgress) -> None:
        progress = self._start()
        files = f"{event.files_done}/{event.files_total} files"
        if event.id not in self._tasks:
            self._tasks[event.id] = progress.add_task(event.title, total=event.total, files=files)
        progress.update(self._tasks[event.id], completed=event.done, total=event.total, files=files)
        if event.finished:
            progress.stop_task(self._tasks[event.id])
            if all(task.stop_time is not None for task in progress.tasks):  # nothing left running
                self._stop()
