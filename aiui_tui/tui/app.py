"""The Textual application, wired by one factory so tests can hand it real services."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Static

from aiui_tui import __version__
from aiui_tui.services import Services


class AiuiApp(App[int]):
    TITLE = "aiui-tui"
    BINDINGS = [Binding("q", "quit", "Quit")]

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.sub_title = str(services.layout.root)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            f"aiui-tui {__version__}\n\nData root: {self.services.layout.root}\n\n"
            "The dashboard is being built. Meanwhile: `aiui-tui doctor` checks the system.",
            id="placeholder",
        )
        yield Footer()

    def on_mount(self) -> None:
        self.theme = (
            self.services.config.general.theme
            if self.services.config.general.theme in self.available_themes
            else "textual-dark"
        )


def make_app(services: Services) -> AiuiApp:
    return AiuiApp(services)
