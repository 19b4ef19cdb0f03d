"""The line under the header: data root, Docker engine state, GPU summary, library file operations."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static


class StatusLine(Static):
    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
    }
    """

    root: reactive[str] = reactive("")
    engine: reactive[str] = reactive("Docker: checking…")
    engine_ok: reactive[bool | None] = reactive(None)
    gpu: reactive[str] = reactive("GPU: checking…")
    activity: reactive[str] = reactive("")  # e.g. "Hashing 2/5 40%" while the library works on files

    def render(self) -> Text:
        """Root, activity, engine, GPU; when that is too wide the GPU summary is cut first (the dashboard
        shows the GPU), and only when the engine's state would not fit the root shows as its last folder."""
        width = self.content_size.width
        line = self._line(("Root ", "dim"), (self.root, ""))
        if width and line.cell_len > width:
            head = self._line(("Root ", "dim"), (self.root, ""), gpu=False)
            if head.cell_len > width:
                line = self._line((_short(self.root), ""))
            line.truncate(width, overflow="ellipsis")
        return line

    def _line(self, *root: tuple[str, str], gpu: bool = True) -> Text:
        engine_style = {True: "green", False: "bold red", None: "yellow"}[self.engine_ok]
        return Text.assemble(
            *root,
            # Before the engine and GPU: it comes and goes, and must not be cut off on a narrow terminal.
            *((("  │  ", "dim"), (self.activity, "bold cyan")) if self.activity else ()),
            ("  │  ", "dim"),
            (self.engine, engine_style),
            *((("  │  ", "dim"), (self.gpu, "")) if gpu else ()),
        )


def _short(root: str) -> str:
    """/home/me/aiui-data -> …/aiui-data"""
    head, sep, tail = root.rstrip("/").rpartition("/")
    return f"…/{tail}" if sep and head else root
