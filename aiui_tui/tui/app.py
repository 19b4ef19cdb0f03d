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

from aiui_tui.core.events import EngineStateChanged, Event, Notice
from aiui_tui.logs import get_logger, redact_text
from aiui_tui.services import Services
from aiui_tui.tui.bridge import ServiceEvent
from aiui_tui.tui.screens.base import run_intent
from aiui_tui.tui.screens.dashboard import DashboardScreen
from aiui_tui.tui.screens.downloads import DownloadsScreen
from aiui_tui.tui.screens.help import HelpScreen
from aiui_tui.tui.screens.logs import LogsScreen
from aiui_tui.tui.screens.models import ModelsScreen
from aiui_tui.tui.state import UiState

log = get_logger(__name__)

# mode name -> (key, title, screen class); the order is the order of the number keys.
SCREENS: dict[str, tuple[str, str, type[Screen]]] = {
    "dashboard": ("1", "Dashboard", DashboardScreen),
    "models": ("2", "Models", ModelsScreen),
    "downloads": ("3", "Downloads", DownloadsScreen),
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
        Binding("w", "wizard", "Setup", show=False),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, services: Services, *, first_run: bool = False) -> None:
        super().__init__()
        self.services = services
        self.first_run = first_run
        self.ui = UiState(root=str(services.layout.root))
        self._seed()
        # Subscribed from the start: events before the first frame fold into the state directly.
        self._unsubscribe = services.bus.subscribe(self._forward)

    def on_mount(self) -> None:
        theme = self.services.config.general.theme
        self.theme = theme if theme in self.available_themes else "textual-dark"
        if self.first_run:
            self.action_wizard()

    def _seed(self) -> None:
        """What the services knew before this app subscribed to their events."""
        apps, monitor = self.services.apps, self.services.monitor
        if apps is not None:
            self.ui.seed_apps(apps.statuses())
            if apps.client is not None:
                self.ui.apply(EngineStateChanged(True, apps.address))
            elif apps.engine_problem is not None:
                self.ui.apply(EngineStateChanged(False, apps.address, apps.engine_problem.message))
        if monitor is not None and monitor.last_gpu is not None:
            self.ui.apply(monitor.last_gpu)

    def on_unmount(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()

    def _forward(self, event: Event) -> None:
        if self.is_running:
            self.post_message(ServiceEvent(event))
        else:
            self.ui.apply(event)

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

    def action_wizard(self) -> None:
        from aiui_tui.tui.screens.wizard import WizardScreen

        if not isinstance(self.screen, WizardScreen):
            self.push_screen(WizardScreen())

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
        yield SystemCommand(
            "Setup wizard", "Apps, profile, network, tokens, other UIs, starter models", self.action_wizard
        )
        apps = self.services.apps
        for name in apps.names() if apps is not None else []:
            title = apps.manifest(name).display_title
            for verb, method in (("Start", apps.start_app), ("Stop", apps.stop_app), ("Restart", apps.restart_app)):
                yield SystemCommand(
                    f"{verb} {title}",
                    f"{verb} the {name} container",
                    lambda m=method, n=name, v=verb: run_intent(self, lambda: m(n), f"{v.lower()} {n}"),
                )
        library = self.services.library
        for entry in library.catalog() if library is not None else []:
            yield SystemCommand(
                f"Queue {entry.name}",
                f"Download {entry.filename} into models/{entry.kind}/",
                lambda e=entry: run_intent(
                    self,
                    lambda: library.add(e.id),
                    f"queue {e.name}",
                    lambda items, e=e: self.notify(f"Queued {e.name}." if items else f"{e.name} is already installed."),
                ),
            )
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


def make_app(services: Services, *, first_run: bool = False) -> AiuiApp:
    return AiuiApp(services, first_run=first_run)
