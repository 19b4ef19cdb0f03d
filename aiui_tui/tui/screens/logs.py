"""The app's own structured log, live, filterable by level."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.widgets import RichLog

from aiui_tui.services.logtail import LEVELS, LogRecord, LogTail
from aiui_tui.tui.screens.base import AiuiScreen

_LEVEL_STYLE = {"debug": "dim", "info": "blue", "warning": "yellow", "error": "bold red", "critical": "bold red"}
KEEP = 5000


def render_record(record: LogRecord, *, tracebacks: bool) -> Text:
    text = Text.assemble(
        (record.time_of_day() + " ", "dim"),
        (f"{record.level.upper():<8}", _LEVEL_STYLE.get(record.level, "")),
        (f"{record.logger.rsplit('.', 1)[-1]:<12} ", "dim"),
        record.event,
    )
    for key, value in record.fields.items():
        text.append(f" {key}=", style="dim")
        text.append(str(value), style="cyan")
    if record.exception:
        lines = record.exception.rstrip().splitlines()
        text.append("\n" + ("\n".join(lines) if tracebacks else "  " + lines[-1]), style="red")
    return text


class LogsScreen(AiuiScreen):
    CSS_PATH = "../styles/logs.tcss"  # read when the screen is first shown, not before the first frame
    BINDINGS = [
        Binding("a", "level('debug')", "All"),
        Binding("i", "level('info')", "Info+"),
        Binding("w", "level('warning')", "Warnings+"),
        Binding("e", "level('error')", "Errors"),
        Binding("t", "toggle_tracebacks", "Tracebacks"),
        Binding("f", "toggle_follow", "Follow"),
    ]
    min_level: reactive[str] = reactive("info")
    tracebacks: reactive[bool] = reactive(False)
    follow: reactive[bool] = reactive(True)

    def __init__(self) -> None:
        super().__init__()
        self.records: deque[LogRecord] = deque(maxlen=KEEP)
        self._tail: LogTail | None = None

    def compose_body(self) -> ComposeResult:
        yield RichLog(id="log", max_lines=KEEP, wrap=True, markup=False, highlight=False, auto_scroll=True)

    TICK_S = 0.5  # the log file is polled twice a second while the screen is shown

    def on_mount(self) -> None:
        from pathlib import Path

        self._tail = LogTail(Path(self.ui.root) / "logs" / "aiui.log")
        self.tick()

    def tick(self) -> None:
        self._start_read()

    def _start_read(self) -> None:
        self.run_worker(
            self._read,
            thread=True,
            exclusive=True,
            group="logtail",
            exit_on_error=False,
            description="read new log lines",
        )

    def _read(self) -> None:
        assert self._tail is not None
        records = self._tail.read_new()
        if records:
            self.app.call_from_thread(self._append, records)

    def _append(self, records: list[LogRecord]) -> None:
        self.records.extend(records)
        log = self.query_one(RichLog)
        threshold = LEVELS.index(self.min_level)
        for record in records:
            if record.severity >= threshold:
                log.write(render_record(record, tracebacks=self.tracebacks), scroll_end=self.follow)

    def _rerender(self) -> None:
        log = self.query_one(RichLog)
        log.clear()
        threshold = LEVELS.index(self.min_level)
        for record in self.records:
            if record.severity >= threshold:
                log.write(render_record(record, tracebacks=self.tracebacks), scroll_end=self.follow)
        self.sub_title = f"level ≥ {self.min_level}" + ("" if self.follow else " · paused")

    def watch_min_level(self) -> None:
        if self.is_mounted:
            self._rerender()

    def watch_tracebacks(self) -> None:
        if self.is_mounted:
            self._rerender()

    def watch_follow(self, follow: bool) -> None:
        if self.is_mounted:
            self.query_one(RichLog).auto_scroll = follow
            self.sub_title = f"level ≥ {self.min_level}" + ("" if follow else " · paused")

    def action_level(self, level: str) -> None:
        self.min_level = level

    def action_toggle_tracebacks(self) -> None:
        self.tracebacks = not self.tracebacks

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
