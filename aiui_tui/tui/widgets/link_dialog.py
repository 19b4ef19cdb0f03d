"""Link the library into another UI: type its path (focused from the start) or pick a detected install, and a mode."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from aiui_tui.tui.screens.base import run_intent

MODES = ("symlink", "hardlink", "config")


class LinkDialog(ModalScreen[None]):
    DEFAULT_CSS = """
    LinkDialog { align: center middle; }
    LinkDialog > Vertical {
        width: 90; max-width: 100%; height: auto; max-height: 80%; border: thick $primary; background: $surface;
        padding: 1 2;
    }
    LinkDialog OptionList { height: auto; max-height: 12; }
    """
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("ctrl+t", "cycle_mode", "Mode"),
        Binding("down", "to_list", "Detected UIs", show=False),
    ]
    # Typing goes to the path from the first frame; detection (slower) never takes the focus from it.
    AUTO_FOCUS = "#path"

    def __init__(self) -> None:
        super().__init__()
        self.mode = "symlink"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]Link the library into another UI[/b]")
            yield Static(id="mode")
            yield Input(placeholder="type a UI's folder and press Enter, or ↓ for the ones found", id="path")
            yield OptionList(id="installs")
            yield Static(id="result")

    def on_mount(self) -> None:
        self.show_mode()
        self.query_one(OptionList).display = False  # until detection found something
        services = self.app.services  # type: ignore[attr-defined]
        run_intent(self, services.library.detect, "detect other UIs", self.show_installs)

    def show_mode(self) -> None:
        self.query_one("#mode", Static).update(f"mode: [b]{self.mode}[/b]  (Ctrl+T changes: {', '.join(MODES)})")

    def show_installs(self, installs: list) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        for install in installs:
            options.add_option(Option(f"{install.title:22} {install.path}", id=str(install.path)))
        options.display = bool(installs)
        if not installs:
            self.query_one("#result", Static).update("No other UI found in the usual places: type its folder above.")

    def action_to_list(self) -> None:
        options = self.query_one(OptionList)
        if self.focused is self.query_one("#path", Input) and options.option_count:
            options.focus()
            if options.highlighted is None:
                options.highlighted = 0

    def action_cycle_mode(self) -> None:
        self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        self.show_mode()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.link(Path(str(event.option.id)))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.link(Path(event.value.strip()))

    def link(self, path: Path) -> None:
        library = self.app.services.library  # type: ignore[attr-defined]
        mode = self.mode

        async def do() -> tuple[int, list[str], list[str]]:
            install = await library.install_at(path)
            plan = await library.plan_link(install, mode)
            problems = await library.apply(plan)
            return len(plan.actions), plan.notes, problems

        def done(result: tuple[int, list[str], list[str]]) -> None:
            count, notes, problems = result
            lines = [f"{path}: {count} links made ({mode})."] + notes[:5] + [f"problem: {p}" for p in problems[:5]]
            self.query_one("#result", Static).update("\n".join(lines))
            self.notify(lines[0])

        run_intent(self, do, f"link {path}", done)

    def action_close(self) -> None:
        self.dismiss(None)
