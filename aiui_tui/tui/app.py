"""The Textual application, wired by one factory so tests can hand it real services.

Screens are modes switched with number keys; every action is also in the command palette
(Ctrl+P). Service events arrive through one bus subscription (`bridge.ServiceEvent`), update the
`UiState`, and are forwarded to the visible screen. An unexpected exception never prints a
traceback: it is logged, and the app exits with one line (crash.py).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import App, ScreenStackError, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from aiui_tui.tui import release_gc
from aiui_tui.tui.bridge import ServiceEvent, ServicesReady
from aiui_tui.tui.crash import OneLineCrashApp
from aiui_tui.tui.lazylog import get_logger, redact_text
from aiui_tui.tui.screens.base import run_intent
from aiui_tui.tui.state import UiState

if TYPE_CHECKING:
    from pathlib import Path

    from aiui_tui.core.events import Event
    from aiui_tui.services import Services

log = get_logger(__name__)
Opener = Callable[[], contextlib.AbstractAsyncContextManager["Services"]]

# mode name -> (key, title, screen class as "module:Class"); the order is the order of the number keys.
# Screens are imported when first shown, so the first frame waits only for the dashboard's.
SCREENS: dict[str, tuple[str, str, str]] = {
    "dashboard": ("1", "Dashboard", "aiui_tui.tui.screens.dashboard:DashboardScreen"),
    "models": ("2", "Models", "aiui_tui.tui.screens.models:ModelsScreen"),
    "downloads": ("3", "Downloads", "aiui_tui.tui.screens.downloads:DownloadsScreen"),
    "logs": ("4", "Logs", "aiui_tui.tui.screens.logs:LogsScreen"),
    "settings": ("5", "Settings", "aiui_tui.tui.screens.settings:SettingsScreen"),
}


def _screen_factory(path: str) -> Callable[[], Screen]:
    def make() -> Screen:
        import importlib

        module, _, name = path.partition(":")
        return getattr(importlib.import_module(module), name)()

    return make


_SEVERITY = {"info": "information", "success": "information", "warning": "warning", "error": "error"}


class PluginUI:
    """What a plugin's palette command or screen gets: the services, toasts and screens.

    Usable from the worker thread a synchronous command runs in (toasts are thread-safe in Textual;
    screens are pushed on the UI's thread).
    """

    def __init__(self, app: App) -> None:
        self.app = app
        self.services = app.services  # type: ignore[attr-defined]
        self._thread = threading.get_ident()

    def notify(self, message: str, severity: str = "information") -> None:
        self.app.notify(message, severity=severity)  # type: ignore[arg-type]

    def push_screen(self, screen: Screen) -> None:
        if threading.get_ident() == self._thread:
            self.app.push_screen(screen)
        else:
            self.app.call_from_thread(self.app.push_screen, screen)


class AiuiApp(OneLineCrashApp[int]):
    TITLE = "aiui-tui"
    CSS_PATH = "styles/app.tcss"
    MODES = {name: _screen_factory(path) for name, (_key, _title, path) in SCREENS.items()}
    DEFAULT_MODE = "dashboard"
    BINDINGS = [
        *(Binding(key, f"switch_mode('{name}')", title, show=True) for name, (key, title, _) in SCREENS.items()),
        Binding("question_mark", "help", "Help"),
        Binding("w", "wizard", "Setup", show=False),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]
    # Data-root folders that did not exist when the dashboard started (set by cli/tui_cmd): the wizard
    # shows them as new, and when the root itself is new, leaving the wizard unfinished removes them.
    new_folders: tuple[Path, ...] = ()

    def __init__(
        self, services: Services | None, *, root: str = "", first_run: bool = False, opener: Opener | None = None
    ) -> None:
        """With `services`, the app uses them (tests); with `opener`, it opens them after its first frame."""
        super().__init__()
        self.services: Services | None = None
        self.first_run = first_run
        self.ui = UiState(root=str(services.layout.root) if services else root)
        self._opener = opener
        self._stack: contextlib.AsyncExitStack | None = None
        self._unsubscribe: Callable[[], None] | None = None
        if services is not None:
            self._attach(services)

    def _attach(self, services: Services) -> None:
        self.services = services
        self._seed()
        # Subscribed at once: events before the app runs fold into the state directly.
        self._unsubscribe = services.bus.subscribe(self._forward)
        theme = services.config.general.theme
        self.theme = theme if theme in self.available_themes else "textual-dark"

    def on_mount(self) -> None:
        self.call_after_refresh(release_gc)  # after the first frame (see aiui_tui/tui/__init__.py)
        if self.services is None and self._opener is not None:
            # After the first frame: importing the services' libraries would hold the GIL meanwhile.
            self.call_after_refresh(
                lambda: self.run_worker(
                    self._open_services(), group="services", exit_on_error=False, description="start services"
                )
            )
        else:
            self._services_ready()

    async def _open_services(self) -> None:
        from aiui_tui.core.errors import AiuiError

        stack = contextlib.AsyncExitStack()
        try:
            assert self._opener is not None
            services = await stack.enter_async_context(self._opener())
        except AiuiError as exc:
            await stack.aclose()
            self.exit(return_code=exc.exit_code, message=Text(f"Error: {exc.one_line()}", style="bold red"))
            return
        except Exception as exc:
            await stack.aclose()
            log.exception("services failed to start")
            text = Text(f"aiui-tui could not start: {type(exc).__name__}: {exc}", style="bold red")
            self.exit(return_code=1, message=text)
            return
        self._stack = stack
        self._attach(services)
        self._services_ready()

    def _services_ready(self) -> None:
        for screen in self.screen_stack:
            screen.post_message(ServicesReady())
        plugins = self.services.plugins if self.services else None
        for line in plugins.warnings if plugins is not None else []:  # raised while loading, before we listened
            self.notify(line, severity="warning", timeout=10)
        if self.first_run:
            self.action_wizard()

    async def close_services(self) -> None:
        """Stop what `opener` started (downloads stay resumable); called after the app has exited."""
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    def _seed(self) -> None:
        """What the services knew before this app subscribed to their events."""
        from aiui_tui.core.events import EngineStateChanged

        assert self.services is not None
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
        plugins = sys.modules.get("aiui_tui.services.plugins")  # not loaded: nothing to abandon (a quick `q`)
        if plugins is not None:
            plugins.abandon_loading()  # a plugin import or hook that hangs must not hold the process after `q`
        if self._unsubscribe and self._stack is None:  # tests' services: ours are closed by close_services
            self._unsubscribe()
            self._unsubscribe = None

    def _forward(self, event: Event) -> None:
        """Bus callback (on the loop): samples fold into the state here, without a message; screens
        redraw them from their own 1 Hz tick. Everything else becomes a message for the screens."""
        if not self.is_running or event.quiet:  # declared on the event class (core/events)
            self.ui.apply(event)
        else:
            self.post_message(ServiceEvent(event))

    def on_service_event(self, message: ServiceEvent) -> None:
        event = message.event
        self.ui.apply(event)
        from aiui_tui.core.events import EngineStateChanged, Notice  # loaded by the services that sent it

        apps = self.services.apps if self.services is not None else None
        if isinstance(event, EngineStateChanged) and apps is not None:
            self.ui.refresh_apps(apps.statuses())
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
        if self.services is None:
            self.notify("Still starting; try again in a moment.")
            return
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
        from aiui_tui.tui.screens.help import HelpScreen

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
        yield SystemCommand("Add a download", "Queue a URL, as `downloads add` does (Downloads, key a)", self._add_url)
        apps = self.services.apps if self.services else None
        for name in apps.names() if apps is not None else []:
            title = apps.manifest(name).display_title
            for verb, method in (("Start", apps.start_app), ("Stop", apps.stop_app), ("Restart", apps.restart_app)):
                yield SystemCommand(
                    f"{verb} {title}",
                    f"{verb} the {name} container",
                    lambda m=method, n=name, v=verb: run_intent(self, lambda: m(n), f"{v.lower()} {n}"),
                )
        gpu = self.ui.gpu
        if apps is not None and gpu is not None and gpu.available and len(gpu.gpus) > 1:
            for name in apps.names():
                if apps.apps[name].instance_of:
                    continue
                title = apps.manifest(name).display_title
                yield SystemCommand(
                    f"Start {title} on every GPU",
                    f"One {name} container per GPU ({len(gpu.gpus)}), each on its own port",
                    lambda n=name: run_intent(self, lambda: apps.start_on_all_gpus(n), f"start {n} on every GPU"),
                )
        library = self.services.library if self.services else None
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
        yield from self._plugin_commands()
        yield from super().get_system_commands(screen)

    async def _add_url(self) -> None:
        await self.switch_mode("downloads")
        self.screen.action_add()  # type: ignore[attr-defined]

    def _plugin_commands(self) -> Iterable[SystemCommand]:
        plugins = self.services.plugins if self.services else None
        if plugins is None:
            return
        ui = PluginUI(self)
        for plugin, command in plugins.commands:
            if plugins.plugins[plugin].state != "loaded":
                continue  # switched off for this session
            yield SystemCommand(
                command.title,
                f"{command.help} (plugin {plugin})",
                lambda p=plugin, c=command: run_intent(self, lambda: plugins.run_command(p, c, ui), c.title),
            )
        for plugin, screen in plugins.screens:
            if plugins.plugins[plugin].state != "loaded":
                continue
            yield SystemCommand(
                f"Open {screen.title}", f"The {plugin} plugin's screen", lambda s=screen: self._open_plugin_screen(s)
            )

    def _open_plugin_screen(self, screen: Any) -> None:
        from aiui_tui.services.plugins import PluginExit

        try:
            self.push_screen(screen.factory(PluginUI(self)))
        except (Exception, PluginExit) as exc:  # the plugin's code: a toast and the log, never a crash
            log.exception("plugin screen failed", screen=screen.title)
            self.notify(f"{screen.title} failed to open: {type(exc).__name__}: {exc}", severity="error")

    # -- errors --------------------------------------------------------------------------------

    def crash_line(self, error: BaseException) -> Text:
        """The one line an unexpected error leaves on the terminal (the traceback is in the log: crash.py)."""
        return Text(
            f"aiui-tui stopped on an unexpected error: {type(error).__name__}: {redact_text(str(error))}. "
            f"Details are in {self.ui.root}/logs/aiui.log.",
            style="bold red",
        )


def make_app(services: Services, *, first_run: bool = False) -> AiuiApp:
    return AiuiApp(services, first_run=first_run)


def make_lazy_app(root: str, opener: Opener, *, first_run: bool = False) -> AiuiApp:
    """The app as `aiui-tui` runs it: first frame at once, services opened right after."""
    return AiuiApp(None, root=root, first_run=first_run, opener=opener)
