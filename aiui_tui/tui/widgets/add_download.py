"""Queue any URL from the dashboard: the fields `downloads add` takes, checked by the same code.

Enter queues (from any field), Esc closes. A refusal (a bad URL, a sha256 of the wrong length, a
name already queued from another URL) is one line in the dialog, and what was typed stays.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select, Static

from aiui_tui.core.downloads import DownloadItem
from aiui_tui.core.errors import AiuiError
from aiui_tui.core.requests import DownloadRequest
from aiui_tui.kinds import kind_names
from aiui_tui.tui.lazylog import get_logger

log = get_logger(__name__)
Submit = Callable[[DownloadRequest], Awaitable[DownloadItem]]


class AddDownloadDialog(ModalScreen[DownloadItem | None]):
    """Dismissed with the queued item, or None when closed."""

    DEFAULT_CSS = """
    AddDownloadDialog { align: center middle; }
    AddDownloadDialog > Vertical {
        width: 90%; max-width: 110; height: auto; border: thick $primary; background: $surface; padding: 0 1;
    }
    AddDownloadDialog Horizontal { height: auto; }
    AddDownloadDialog Label { width: 9; padding: 1 0 0 0; }
    AddDownloadDialog Input, AddDownloadDialog Select { width: 1fr; }
    AddDownloadDialog #error { color: $error; }
    AddDownloadDialog .keys { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, submit: Submit) -> None:
        super().__init__()
        self.submit = submit
        # Without a kind the file is not a model of the library: it goes where a browser would put
        # it, not into whatever folder the dashboard happened to be started from.
        import platformdirs

        self.folder = platformdirs.user_downloads_path()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]Add a download[/b]")
            with Horizontal():
                yield Label("URL")
                yield Input(placeholder="https://…/model.safetensors", id="url")
            with Horizontal():
                yield Label("Kind")
                yield Select(
                    [(kind, kind) for kind in kind_names()],
                    prompt=f"none: save in {self.folder}",
                    id="kind",
                )
            with Horizontal():
                yield Label("Name")
                yield Input(placeholder="from the server or the URL", id="name")
            with Horizontal():
                yield Label("sha256")
                yield Input(placeholder="optional: the file is kept only if it matches", id="sha256")
            yield Static(id="error")
            yield Static("[b]Enter[/b] queue   [b]Esc[/b] close", classes="keys")

    def on_mount(self) -> None:
        self.query_one("#url", Input).focus()

    def value(self, field: str) -> str:
        return self.query_one(f"#{field}", Input).value

    def request(self) -> DownloadRequest:
        """What was typed, through `downloads add`'s checks (UsageError when something is wrong)."""
        from aiui_tui.services.downloads.validate import make_request

        kind = self.query_one("#kind", Select).value
        return make_request(
            self.value("url"),
            kind=kind if isinstance(kind, str) else None,
            dest=None if isinstance(kind, str) else self.folder,
            name=self.value("name"),
            sha256=self.value("sha256"),
        )

    def show_error(self, exc: AiuiError) -> None:
        self.query_one("#error", Static).update(exc.message + (f" Fix: {exc.fix}" if exc.fix else ""))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            request = self.request()
        except AiuiError as exc:
            self.show_error(exc)
            return
        self.query_one("#error", Static).update("Queuing…")
        self.run_worker(self._queue(request), group="add-download", exclusive=True, exit_on_error=False)

    async def _queue(self, request: DownloadRequest) -> None:
        try:
            item = await self.submit(request)
        except AiuiError as exc:
            log.info("download not queued", error=exc.one_line())
            self.show_error(exc)
            return
        except Exception as exc:
            log.exception("queuing a download failed unexpectedly")
            self.query_one("#error", Static).update(f"Not queued: {type(exc).__name__}. Details in logs/aiui.log.")
            return
        self.dismiss(item)

    def action_close(self) -> None:
        self.dismiss(None)
