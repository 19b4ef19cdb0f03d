"""The dashboard: app cards and system panels (filled in by the TUI issue)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from aiui_tui import __version__
from aiui_tui.tui.screens.base import AiuiScreen


class DashboardScreen(AiuiScreen):
    def compose_body(self) -> ComposeResult:
        root = self.app.ui.root  # type: ignore[attr-defined]
        yield Static(
            f"aiui-tui {__version__}\n\nData root: {root}\n\n"
            "App cards and system panels arrive with the dashboard. Meanwhile: 4 shows the log, "
            "`aiui-tui doctor` checks the system.",
            id="placeholder",
        )
