"""The frame every top-level screen shares: header, status line, body, footer; and intents as workers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Header

from aiui_tui.core.errors import AiuiError
from aiui_tui.tui.bridge import ServiceEvent, ServicesReady
from aiui_tui.tui.compositor import LineCroppedCompositor
from aiui_tui.tui.lazylog import get_logger, redact_text
from aiui_tui.tui.widgets.footer import KeysFooter
from aiui_tui.tui.widgets.status_line import StatusLine

if TYPE_CHECKING:  # the app imports this module: its class only for the type checker
    from textual import getters

    from aiui_tui.services import Services
    from aiui_tui.tui.app import AiuiApp
    from aiui_tui.tui.state import UiState

log = get_logger(__name__)


def run_intent(
    node: Any, make: Callable[[], Awaitable[Any]], description: str, on_done: Callable[[Any], None] | None = None
) -> None:
    """Run a service intent as a worker: the UI never waits on it, and a failure becomes a toast.

    Expected failures (AiuiError) show their message and fix; anything else shows one line and
    goes to the log with its traceback. Never a traceback on screen, never the app exiting.
    """

    async def work() -> None:
        try:
            result = await make()
        except AiuiError as exc:
            log.warning("action failed", action=description, error=exc.one_line())
            node.app.notify(exc.message + (f"\nFix: {exc.fix}" if exc.fix else ""), severity="error", timeout=8)
            return
        except Exception as exc:
            log.exception("action failed unexpectedly", action=description)
            node.app.notify(
                f"{description} failed: {type(exc).__name__}: {redact_text(str(exc))}\nDetails on the logs screen (4).",
                severity="error",
                timeout=8,
            )
            return
        if on_done is not None:
            on_done(result)

    node.run_worker(work(), description=description, group="intents", exit_on_error=False)


class AiuiScreen(Screen[None]):
    """Subclasses implement `compose_body`; the status line follows the app's state.

    Textual calls a message handler of every class in the MRO: a subclass's `on_mount`,
    `on_screen_resume` or `on_service_event` runs first, then this class's, without `super()` (calling
    it too ran these twice: two tickers, every tick drawn twice).
    """

    # Width classes for app.tcss: -small is the classic 80-column terminal (up to 109), -large from 180.
    HORIZONTAL_BREAKPOINTS = [(0, "-small"), (110, "-medium"), (180, "-large"), (260, "-huge")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (50, "-tall")]  # -tall: room for longer histories

    def __init__(self, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._compositor = LineCroppedCompositor()  # a changed line costs its own lines (compositor.py)

    def compose(self) -> ComposeResult:
        # The width and height classes for the terminal's size now, before the children are styled:
        # Textual sets them on the first resize, which styled and laid out the whole screen again.
        width, height = self.app.size
        for size, breakpoints in ((width, self.HORIZONTAL_BREAKPOINTS), (height, self.VERTICAL_BREAKPOINTS)):
            chosen = next((name for least, name in sorted(breakpoints, reverse=True) if size >= least), None)
            if chosen is not None:
                self.add_class(chosen)
        yield Header()
        yield StatusLine()
        yield from self.compose_body()
        yield KeysFooter()

    def compose_body(self) -> ComposeResult:
        raise NotImplementedError

    if TYPE_CHECKING:  # the running app as `AiuiApp` (Textual's own property says any `App`)
        app = getters.app(AiuiApp)

    @property
    def services(self) -> Services | None:
        """The open services; None until they are (`ready`)."""
        return self.app.services

    @property
    def ui(self) -> UiState:
        return self.app.ui

    def intent(
        self, make: Callable[[], Awaitable[Any]], description: str, on_done: Callable[[Any], None] | None = None
    ) -> None:
        run_intent(self, make, description, on_done)

    @property
    def ready(self) -> bool:
        return self.services is not None

    # Redraw period of screens with a tick (None: no tick). The tick pauses while the screen is hidden.
    TICK_S: float | None = None

    def on_mount(self) -> None:
        self.refresh_status()
        if self.TICK_S is not None:
            self.ticker = self.set_interval(self.TICK_S, self.tick)
        if self.ready:
            self.services_ready()

    def tick(self) -> None:
        """Redraw from the latest state; runs every TICK_S seconds while the screen is shown."""

    def on_screen_suspend(self) -> None:
        if hasattr(self, "ticker"):
            self.ticker.pause()

    def on_services_ready(self, _message: ServicesReady) -> None:
        self.refresh_status()
        self.services_ready()

    def services_ready(self) -> None:
        """Load what the screen shows; called once the services are open."""

    def on_screen_resume(self) -> None:
        self.refresh_status()
        if hasattr(self, "ticker"):
            self.ticker.resume()
            self.tick()

    def on_service_event(self, message: ServiceEvent) -> None:
        if message.event.status_line:
            self.refresh_status()

    def refresh_status(self) -> None:
        state = self.ui
        line = self.query_one(StatusLine)
        line.root = state.root
        line.engine, line.engine_ok = state.engine_text, state.engine_ok
        line.gpu = state.gpu_text
        line.activity = state.file_ops_text
