"""One app in detail: live logs (follow, pause, search), its stats over time, mounts and arguments."""

from __future__ import annotations

import re

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Input, RichLog, Sparkline, Static

from aiui_tui.core.events import AppStateChanged, ContainerStats
from aiui_tui.core.format import human_bytes
from aiui_tui.tui.bridge import ServiceEvent
from aiui_tui.tui.screens.base import run_intent
from aiui_tui.tui.widgets.footer import KeysFooter

KEEP = 5000


class AppDetailScreen(Screen[None]):
    CSS_PATH = "../styles/app_detail.tcss"  # read when the screen is first shown, not before the first frame
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("f", "toggle_follow", "Follow/pause"),
        Binding("slash", "search", "Search"),
        Binding("n", "clear_search", "Clear search"),
    ]
    DEFAULT_CSS = """
    AppDetailScreen #top { height: 13; }
    AppDetailScreen #info-box { width: 1fr; padding: 0 1; border: round $panel-lighten-2; }
    AppDetailScreen #stats { width: 40; padding: 0 1; border: round $panel-lighten-2; }
    AppDetailScreen Sparkline { height: 2; }
    AppDetailScreen #search { display: none; }
    AppDetailScreen #search.shown { display: block; }
    AppDetailScreen RichLog { border: round $panel-lighten-2; }
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.app_name = name
        self.lines: list[str] = []
        self.follow = True
        self.pattern: re.Pattern[str] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="top"):
            with VerticalScroll(id="info-box"):  # on a small terminal: Tab to it, then scroll
                yield Static(id="info")
            with Vertical(id="stats"):
                yield Static("CPU %", id="cpu-label")
                yield Sparkline([], id="cpu")
                yield Static("memory %", id="mem-label")
                yield Sparkline([], id="mem")
        yield Input(placeholder="search the log (Enter), Esc to close", id="search")
        yield RichLog(id="log", max_lines=KEEP, wrap=True, markup=False, highlight=False, auto_scroll=True)
        yield KeysFooter()

    def on_mount(self) -> None:
        services = self.app.services  # type: ignore[attr-defined]
        self.sub_title = self.app_name
        self.query_one(RichLog).focus()
        self.refresh_stats()
        self.set_interval(1.0, self.refresh_stats)  # stats are sampled at 1 Hz; they arrive without messages
        run_intent(self, lambda: services.apps.describe(self.app_name), f"describe {self.app_name}", self.show_spec)
        self.run_worker(self.follow_logs, group="logs", exclusive=True, exit_on_error=False, description="follow logs")

    async def follow_logs(self) -> None:
        services = self.app.services  # type: ignore[attr-defined]
        try:
            async for line in services.apps.follow_logs(self.app_name, tail=200):
                self.add_line(line)
        except Exception as exc:  # engine gone, container removed: say so in the log pane
            self.add_line(f"[log stream ended: {getattr(exc, 'message', exc)}]")

    def add_line(self, line: str) -> None:
        self.lines.append(line)
        del self.lines[:-KEEP]
        if self.pattern is None or self.pattern.search(line):
            self.query_one(RichLog).write(self.styled(line), scroll_end=self.follow)

    def styled(self, line: str) -> Text:
        text = Text(line)
        if self.pattern is not None:
            text.highlight_regex(self.pattern, style="black on yellow")
        return text

    def show_spec(self, spec) -> None:  # type: ignore[no-untyped-def]
        status = self.app.ui.apps[self.app_name].status  # type: ignore[attr-defined]
        mounts = "\n".join(f"  {host} → {m['bind']} ({m['mode']})" for host, m in spec.volumes.items())
        args = " ".join(spec.command) if spec.command else "(image default)"
        env = " ".join(f"{k}={v}" for k, v in spec.environment.items() if "TOKEN" not in k.upper())
        from aiui_tui.core.presentation import app_state

        label, style = app_state(status.state)  # as the dashboard's card says it
        text = Text.assemble(
            (status.title, "bold"), "  ", (label, style), "  ", (spec.url, "cyan"), "\n",
            ("image ", "dim"), spec.image, ("  profile ", "dim"), spec.profile,
            ("  gpu ", "dim"), "yes" if spec.gpu else "no", "\n",
            ("args ", "dim"), args, "\n", ("env ", "dim"), env or "-", "\n", ("mounts\n", "dim"), mounts,
        )  # fmt: skip
        self.query_one("#info", Static).update(text)

    def refresh_stats(self) -> None:
        view = self.app.ui.apps.get(self.app_name)  # type: ignore[attr-defined]
        if view is None:
            return
        for sparkline, data in (
            (self.query_one("#cpu", Sparkline), view.cpu),
            (self.query_one("#mem", Sparkline), view.memory),
        ):
            sparkline.display = len(data) > 1  # one value (or none) draws as a full bar
            sparkline.data = list(data)
        if not view.status.running:
            self.query_one("#cpu-label", Static).update("CPU: not running")
            self.query_one("#mem-label", Static).update("memory: not running")
        if view.stats:
            s = view.stats
            self.query_one("#cpu-label", Static).update(f"CPU {s.cpu_percent:.1f}%")
            self.query_one("#mem-label", Static).update(f"memory {human_bytes(s.memory_used)}")

    def on_service_event(self, message: ServiceEvent) -> None:
        event = message.event
        if isinstance(event, ContainerStats | AppStateChanged) and getattr(event, "name", None) == self.app_name:
            self.refresh_stats()

    def action_back(self) -> None:
        search = self.query_one("#search", Input)
        if search.has_class("shown"):
            search.remove_class("shown")
            self.query_one(RichLog).focus()
            return
        self.app.pop_screen()

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self.query_one(RichLog).auto_scroll = self.follow
        self.sub_title = self.app_name + ("" if self.follow else " · paused")

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.add_class("shown")
        search.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.pattern = re.compile(re.escape(text), re.IGNORECASE) if text else None
        self.rerender()
        self.query_one(RichLog).focus()

    def action_clear_search(self) -> None:
        self.pattern = None
        self.query_one("#search", Input).value = ""
        self.rerender()

    def rerender(self) -> None:
        log = self.query_one(RichLog)
        log.clear()
        for line in self.lines:
            if self.pattern is None or self.pattern.search(line):
                log.write(self.styled(line), scroll_end=self.follow)
