"""Library file operations under way (hashing, verify, import, link, dedupe): one bar per operation.

Hidden while there is none. The screen hands it the latest `FileOpProgress` of each operation;
events are throttled at the source, so redrawing on each one is cheap.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from aiui_tui.core.events import FileOpProgress
from aiui_tui.core.format import human_bytes


class FileProgress(Static):
    DEFAULT_CSS = """
    FileProgress {
        height: auto;
        padding: 0 1;
        display: none;
    }
    FileProgress.-busy { display: block; }
    """

    ops: reactive[tuple[FileOpProgress, ...]] = reactive((), layout=True)

    def watch_ops(self, ops: tuple[FileOpProgress, ...]) -> None:
        self.set_class(bool(ops), "-busy")

    def render(self) -> RenderableType:
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(no_wrap=True)
        grid.add_column(ratio=1, min_width=10)
        grid.add_column(no_wrap=True, justify="right")
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        for e in self.ops:
            figures = f"{e.files_done}/{e.files_total} files"
            if e.total:
                figures += f"  {human_bytes(e.done)} / {human_bytes(e.total)}  {100 * e.done // e.total:3d}%"
            grid.add_row(
                Text(e.title, style="bold"),
                ProgressBar(total=e.total or e.files_total or 1, completed=e.done if e.total else e.files_done),
                figures,
                Text(Path(e.current).name if e.current else "", style="dim"),
            )
        return grid
