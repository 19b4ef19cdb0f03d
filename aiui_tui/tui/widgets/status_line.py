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
        engine_style = {True: "green", False: "bold red", None: "yellow"}[self.engine_ok]
        return Text.assemble(
            ("Root ", "dim"),
            (self.root, ""),
            # Before the engine and GPU: it comes and goes, and must not be cut off on a narrow terminal.
            *((("  │  ", "dim"), (self.activity, "bold cyan")) if self.activity else ()),
            ("  │  ", "dim"),
            (self.engine, engine_style),
            ("  │  ", "dim"),
            (self.gpu, ""),
        )
