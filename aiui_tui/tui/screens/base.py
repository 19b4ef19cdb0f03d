"""The frame every top-level screen shares: header, status line, body, footer."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header

from aiui_tui.tui.bridge import ServiceEvent
from aiui_tui.tui.widgets.status_line import StatusLine


class AiuiScreen(Screen[None]):
    """Subclasses implement `compose_body`; the status line follows the app's state."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield StatusLine()
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        raise NotImplementedError

    def on_mount(self) -> None:
        self.refresh_status()

    def on_screen_resume(self) -> None:
        self.refresh_status()

    def on_service_event(self, message: ServiceEvent) -> None:
        self.refresh_status()

    def refresh_status(self) -> None:
        state = self.app.ui  # type: ignore[attr-defined]
        line = self.query_one(StatusLine)
        line.root = state.root
        line.engine, line.engine_ok = state.engine_text, state.engine_ok
        line.gpu = state.gpu_text
