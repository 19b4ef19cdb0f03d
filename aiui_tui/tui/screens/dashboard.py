"""The dashboard and container monitor: one card per app, system and GPU panels.

Cards change as soon as an app's state does; the panels and the cards' figures are drawn when the
monitor's sample arrives (once a tick of the services' ticker, with the containers' figures of the same
tick), not on a timer of their own: an idle dashboard wakes once a second for both, and ten busy
containers cost one repaint a second. Only what shows a changed value is drawn again.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, VerticalScroll
from textual.widgets import Static

from aiui_tui.tui.bridge import ServiceEvent
from aiui_tui.tui.screens.base import AiuiScreen
from aiui_tui.tui.widgets.app_card import AppCard, card_id

if TYPE_CHECKING:
    from aiui_tui.tui.widgets.gpu_panel import GpuPanel
    from aiui_tui.tui.widgets.system_panel import SystemPanel


class DashboardScreen(AiuiScreen):
    BINDINGS = [
        Binding("s", "start", "Start"),
        Binding("x", "stop", "Stop"),
        Binding("r", "restart", "Restart"),
        Binding("u", "update", "Update"),
        Binding("l,enter", "details", "Details"),  # the app's log, stats, container ("Logs" is aiui-tui's own)
        Binding("c", "copy_url", "Copy URL"),
        Binding("o", "open_url", "Open"),
        Binding("down,j", "focus_next_card", "Next", show=False),
        Binding("up,k", "focus_previous_card", "Previous", show=False),
    ]

    def compose_body(self) -> ComposeResult:
        # The cards' column and the panels are the screen's own children, side by side (app.tcss: a
        # horizontal screen, the status line docked under the header), without a row container: Textual
        # repaints changed lines by drawing every widget whose container holds them, whole, so each
        # container on the way costs a repaint of all its lines a second. The cards' scroller sits in a
        # plain column that the panels' changes repaint without its scrollbar (and not its cards).
        with Container(id="cards-column"), VerticalScroll(id="cards", can_focus=False):
            yield Static("Starting…", id="no-apps")
        yield VerticalScroll(id="panels", can_focus=False)  # the panels come with the services

    TICK_S = None  # drawn on the monitor's samples instead (see `_sampled`)
    _panels: tuple[SystemPanel, GpuPanel] | tuple[()] = ()
    _panels_mounting = False
    _unsubscribe: Callable[[], None] | None = None
    _draw_soon = False
    _cards: dict[str, AppCard] | None = None  # the cards by app, kept by `sync_cards` (drawn every tick)

    async def _mount_panels(self) -> None:
        """The system and GPU panels come with the services (the monitor's samples): mounted before the
        first frame, they delayed it by a fifth (40 ms of 520) only to say "waiting for the first sample"."""
        from aiui_tui.tui.widgets.gpu_panel import GpuPanel
        from aiui_tui.tui.widgets.system_panel import SystemPanel

        panels = (SystemPanel(), GpuPanel())
        await self.query_one("#panels", VerticalScroll).mount(*panels)
        self._panels = panels  # drawn every tick: found once
        for panel in panels:
            panel.show(self.ui)

    def services_ready(self) -> None:
        if not self._panels_mounting:  # services_ready comes twice when the services were there first
            self._panels_mounting = True
            self.run_worker(self._mount_panels, group="panels", exit_on_error=False)
        if self._unsubscribe is None:
            from aiui_tui.core.events import SystemSample  # loaded with the services

            self._unsubscribe = self.services.bus.subscribe(self._sampled, SystemSample)
        self.sync_cards()

    def _sampled(self, _event: object) -> None:
        """Bus callback on the loop, in the ticker's delivery of this tick's samples: draw once they are
        all in (the containers' figures come after the monitor's), while this screen is shown."""
        if not self._draw_soon and self.is_current:
            self._draw_soon = True
            asyncio.get_running_loop().call_soon(self._draw)

    def _draw(self) -> None:
        self._draw_soon = False
        if self.is_current and self.is_attached:
            self.tick()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def on_screen_resume(self) -> None:
        if self.ready:
            self.sync_cards()
            self.tick()  # what came while another screen was shown

    def on_service_event(self, message: ServiceEvent) -> None:
        if self.ready and message.event.app_cards:
            self.sync_cards()

    def tick(self) -> None:
        """Panels and cards draw again only what changed (a second's samples often show the same)."""
        for panel in self._panels:
            panel.show(self.ui)
        apps = self.ui.apps
        for name, card in (self._cards or {}).items():
            if (view := apps.get(name)) is not None:
                card.update_view(view)

    def shown_apps(self) -> dict:
        """The enabled apps, as the app service decides (`AppService.enabled`, as `app list` says)."""
        apps = self.services.apps
        return {n: v for n, v in self.ui.apps.items() if apps is not None and apps.enabled(n)}

    def sync_cards(self) -> None:
        cards = {card.app_name: card for card in self.query(AppCard)}
        container = self.query_one("#cards", VerticalScroll)
        shown = self.shown_apps()
        for name, card in cards.items():
            if name not in shown:
                card.remove()
        for name, view in shown.items():
            if name in cards:
                cards[name].update_view(view)
            else:
                cards[name] = AppCard(view, id=card_id(name))
                container.mount(cards[name])
        self._cards = {name: cards[name] for name in shown}  # the tick draws these, without a query a second
        no_apps = self.query_one("#no-apps", Static)
        no_apps.update("No apps: enable some in the setup wizard (w).")
        no_apps.display = not shown
        if not isinstance(self.focused, AppCard) and shown:
            self.call_after_refresh(self._focus_first_card)

    def _focus_first_card(self) -> None:
        if not isinstance(self.focused, AppCard):
            first = next(iter(self.query(AppCard)), None)
            if first is not None:
                first.focus()

    # -- actions on the selected card ----------------------------------------------------------------
    def selected(self) -> str | None:
        if not self.ready:
            self.notify("Still starting; try again in a moment.")
            return None
        card = self.focused if isinstance(self.focused, AppCard) else next(iter(self.query(AppCard)), None)
        if card is None:
            self.notify("No app selected.", severity="warning")
            return None
        return card.app_name

    def _broken(self, name: str) -> bool:
        """A broken manifest's card: say its error instead of acting."""
        status = self.ui.apps[name].status
        if status.state != "broken":
            return False
        self.notify(f"{status.reason}\nFix: {status.fix}", severity="error", timeout=8)
        return True

    def action_start(self) -> None:
        if (name := self.selected()) and not self._broken(name):
            self.notify(f"Starting {name}…")
            self.intent(lambda: self.services.apps.start_app(name), f"start {name}")

    def action_stop(self) -> None:
        if name := self.selected():
            self.intent(lambda: self.services.apps.stop_app(name), f"stop {name}")

    def action_restart(self) -> None:
        if name := self.selected():
            self.intent(lambda: self.services.apps.restart_app(name), f"restart {name}")

    def action_update(self) -> None:
        if (name := self.selected()) and not self._broken(name):

            def update(yes: bool | None = True) -> None:
                if yes:
                    self.intent(lambda: self.services.apps.update_app(name), f"update {name}")

            def done(result: tuple[bool, str]) -> None:
                available, why = result
                self.notify(why, severity="warning" if available else "information")
                status = self.ui.apps[name].status
                if not available:
                    return
                if status.running:  # recreating it ends what users are doing in it: ask first
                    question = (
                        f"{status.title} is running: updating recreates its container, so the UI restarts "
                        "and open pages lose what they hold. Update now?"
                    )
                    from aiui_tui.tui.widgets.confirm import ConfirmScreen

                    self.app.push_screen(ConfirmScreen(question), update)
                else:
                    update()

            self.intent(lambda: self.services.apps.check_update(name), f"check {name} for updates", done)

    def action_details(self) -> None:
        if (name := self.selected()) and not self._broken(name):
            from aiui_tui.tui.screens.app_detail import AppDetailScreen

            self.app.push_screen(AppDetailScreen(name))

    def _url(self) -> str | None:
        name = self.selected()
        if name is None:
            return None
        url = self.ui.apps[name].status.url
        if not url:
            self.notify(f"{name} has no URL yet: start it (s).", severity="warning")
        return url

    def action_copy_url(self) -> None:
        if url := self._url():
            self.app.copy_to_clipboard(url)  # OSC 52: works over SSH in most terminals
            self.notify(f"Copied {url}")

    def action_open_url(self) -> None:
        url = self._url()
        if not url:
            return
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            # Over SSH a "browser" would be a text one taking over this terminal: copy instead.
            self.app.copy_to_clipboard(url)
            self.notify(f"No desktop here (SSH?): copied {url}; forward the port with ssh -L to open it.")
            return

        async def open_in_browser() -> bool:
            import webbrowser

            return await asyncio.to_thread(webbrowser.open, url)

        self.intent(
            open_in_browser, f"open {url}", lambda ok: self.notify(f"Opened {url}" if ok else f"No browser: {url}")
        )

    def action_focus_next_card(self) -> None:
        self.focus_next(AppCard)

    def action_focus_previous_card(self) -> None:
        self.focus_previous(AppCard)
