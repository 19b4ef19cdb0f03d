"""The Textual application, wired by one factory so tests can hand it real services.

Screens are modes switched with number keys; every action is also in the command palette
(Ctrl+P). Service events arrive through one bus subscription (`bridge.ServiceEvent`), update the
`UiState`, and are forwarded to the visible screen. An unexpected exception never prints a
traceback: it is logged, and the app exits with one line.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import App, ScreenStackError, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from aiui_tui.core.events import Event, Notice
from aiui_tui.logs import get_logger, redact_text
from aiui_tui.services import Services
from aiui_tui.tui.bridge import ServiceEvent
from aiui_tui.tui.screens.dashboard import DashboardScreen
from aiui_tui.tui.screens.help import HelpScreen
from aiui_tui.tui.screens.logs import LogsScreen
from aiui_tui.tui.state import UiState

log = get_logger(__name__)

# mode name -> (key, title, screen class); the order is the order of the number keys.
SCREENS: dict[str, tuple[str, str, type[Screen]]] = {
    "dashboard": ("1", "Dashboard", DashboardScreen),
    "logs": ("4", "Logs", LogsScreen),
}
_SEVERITY = {"info": "information", "success": "information", "warning": "warning", "error": "error"}


class AiuiApp(App[int]):
    TITLE = "aiui-tui"
    CSS_PATH = "styles/app.tcss"
    MODES = {name: cls for name, (_key, _title, cls) in SCREENS.items()}
    DEFAULT_MODE = "dashboard"
    BINDINGS = [
        *(Binding(key, f"switch_mode('{name}')", title, show=True) for name, (key, title, _) in SCREENS.items()),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.ui = UiState(root=str(services.layout.root))
        self._unsubscribe = None

    def on_mount(self) -> None:
        theme = self.services.config.general.theme
        self.theme = theme if theme in self.available_themes else "textual-dark"
        self._unsubscribe = self.services.bus.subscribe(self._forward)

    def on_unmount(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()

    def _forward(self, event: Event) -> None:
        self.post_message(ServiceEvent(event))

    def on_service_event(self, message: ServiceEvent) -> None:
        event = message.event
        self.ui.apply(event)
        if isinstance(event, Notice) and event.level in ("warning", "error"):
            text = event.message + (f"\nFix: {event.fix}" if event.fix else "")
            self.notify(text, severity=_SEVERITY[event.level], timeout=8 if event.level == "error" else 5)
        try:
            screen = self.screen
        except ScreenStackError:  # shutting down
            return
        screen.post_message(ServiceEvent(event))

    # -- actions -------------------------------------------------------------------------------

    def action_help(self) -> None:
        """Keys of this screen first, then the app's, then the focused widget's (scrolling etc.)."""
        screen = self.screen
        groups: dict[int, list[tuple[str, str, str]]] = {0: [], 1: [], 2: []}
        for active in screen.active_bindings.values():
            binding, node = active.binding, active.node
            group = 0 if node is screen else 1 if node is self else 2
            where = "everywhere" if node is self else type(node).__name__.removesuffix("Screen")
            key = binding.key_display or self.get_key_display(binding)
            groups[group].append((key, binding.description or binding.action, where))
        groups[1].append(("ctrl+p", "Command palette: every action", "everywhere"))
        rows = [row for group in groups.values() for row in group]
        self.push_screen(HelpScreen(type(screen).__name__.removesuffix("Screen"), rows))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for name, (key, title, _cls) in SCREENS.items():
            yield SystemCommand(
                f"Open {title}",
                f"Switch to the {title.lower()} screen (key {key})",
                lambda name=name: self.switch_mode(name),
            )
        yield SystemCommand("Help", "Show every key binding", self.action_help)
        yield from super().get_system_commands(screen)

    # -- errors --------------------------------------------------------------------------------

    def _handle_exception(self, error: Exception) -> None:
        """Log the traceback (redacted) and leave with one line instead of a traceback with locals."""
        log.error("unexpected error in the dashboard", exc_info=error)
        self._return_code = 1
        if self._exception is None:  # Pilot re-raises it in tests
            self._exception = error
            self._exception_event.set()
        self.panic(
            Text(
                f"aiui-tui stopped on an unexpected error: {type(error).__name__}: {redact_text(str(error))}. "
                f"Details are in {self.services.layout.log_file}.",
                style="bold red",
            )
        )


def make_app(services: Services) -> AiuiApp:
    return AiuiApp(services)
