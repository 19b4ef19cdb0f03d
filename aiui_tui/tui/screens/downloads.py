"""The download queue: progress bars, speed, ETA, state and reason; pause, resume, cancel, retry, reorder;
Enter shows an item in full, `a` queues any URL.

Items added from the CLI in another process appear here: the queue service watches the shared
SQLite queue and publishes `DownloadQueueChanged` with the whole queue, which the app folds into
its state whatever screen is shown; this screen redraws from it.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from aiui_tui.core.downloads import ACTIVE, DONE, FAILED, DownloadItem
from aiui_tui.core.events import DownloadQueueChanged
from aiui_tui.core.format import human_bytes, human_duration, human_rate
from aiui_tui.core.presentation import DOWNLOAD_STATES, download_state
from aiui_tui.tui.bridge import ServiceEvent
from aiui_tui.tui.screens.base import AiuiScreen
from aiui_tui.tui.widgets.add_download import AddDownloadDialog
from aiui_tui.tui.widgets.bars import bar
from aiui_tui.tui.widgets.confirm import ConfirmScreen
from aiui_tui.tui.widgets.download_detail import DownloadDetail

COLUMNS = ("Name", "State", "Progress", "Size", "Speed", "ETA", "Reason")
WIDE = 120  # from here every column has its room; below, long names are cut and the bar is shorter
NARROW_BAR, WIDE_BAR = 8, 18
FIXED_CELLS = 64  # state, progress, size, speed, ETA and the cells' padding on a narrow terminal


class DownloadsScreen(AiuiScreen):
    CSS_PATH = "../styles/downloads.tcss"  # read when the screen is first shown, not before the first frame
    BINDINGS = [
        Binding("enter", "details", "Details"),  # the table's own Enter posts RowSelected: same action
        Binding("a", "add", "Add URL"),
        Binding("p", "pause", "Pause"),
        Binding("r", "resume", "Resume"),
        Binding("c", "cancel", "Cancel"),
        Binding("t", "retry", "Retry"),
        Binding("left_square_bracket", "move(-1)", "Move up"),
        Binding("right_square_bracket", "move(1)", "Move down"),
    ]

    def compose_body(self) -> ComposeResult:
        table: DataTable[Text | str] = DataTable(id="queue", cursor_type="row", zebra_stripes=True)
        self.add_columns(table)
        yield table
        yield Static(id="totals")

    TICK_S = 0.5
    narrow: bool | None = None  # the layout the table's rows were made for

    @staticmethod
    def add_columns(table: DataTable) -> None:
        for column in COLUMNS:
            table.add_column(column, key=column.lower())

    def fit_name(self, name: str) -> str:
        """A long name cut on a narrow terminal, so speed and ETA stay on screen (Enter shows it whole)."""
        room = max(12, self.size.width - FIXED_CELLS)
        return name if not self.narrow or len(name) <= room else name[: room - 1] + "…"

    def services_ready(self) -> None:
        self.reload()

    def tick(self) -> None:
        self.repaint()

    def reload(self) -> None:
        def seed(items: list[DownloadItem]) -> None:
            self.ui.seed_downloads(items)
            self.repaint()

        self.intent(self.services.downloads.items, "load the queue", seed)

    def on_service_event(self, message: ServiceEvent) -> None:
        if isinstance(message.event, DownloadQueueChanged) and self.ready:
            if message.event.items is None:
                self.reload()
            else:  # the app's state already holds the new queue
                self.repaint()

    def row(self, item: DownloadItem) -> tuple[Text | str, ...]:
        progress = self.ui.progress.get(item.id)
        done = progress.done if progress else item.done_bytes
        total = (progress.total if progress else None) or item.total_bytes or item.size
        fraction = done / total if total else None
        speed = progress.speed if progress and item.state == ACTIVE else None
        eta = progress.eta if progress and item.state == ACTIVE else None
        pct = f" {100 * fraction:3.0f}%" if fraction is not None else "    "
        return (
            self.fit_name(item.display_name),
            Text(*download_state(item.state)),
            Text.assemble(bar(fraction if item.state != DONE else 1.0, NARROW_BAR if self.narrow else WIDE_BAR), pct),
            human_bytes(total) if total else "?",
            human_rate(speed) if speed else "",
            human_duration(eta) if eta else "",
            Text(item.reason + (f" Fix: {item.fix}" if item.fix and item.state == FAILED else ""), style="dim"),
        )

    def repaint(self) -> None:
        table = self.query_one(DataTable)
        items = sorted(self.ui.downloads.values(), key=lambda i: (i.state == DONE, i.position))
        keys = [i.id for i in items]
        current = [str(k.value) for k in table.rows]
        cursor = table.cursor_row
        selected = current[cursor] if 0 <= cursor < len(current) else None
        narrow = self.size.width < WIDE
        if narrow != self.narrow:  # columns keep the widest cell they ever held: start them afresh
            self.narrow = narrow
            table.clear(columns=True)
            self.add_columns(table)
            current = []
        if current != keys:
            table.clear()
            for item in items:
                table.add_row(*self.row(item), key=item.id)
            if items:  # the cursor stays on its item (moved by [ or ]); on the same row when it went
                table.move_cursor(row=keys.index(selected) if selected in keys else min(cursor, len(items) - 1))
        else:
            for item in items:
                for column, value in zip(COLUMNS, self.row(item), strict=True):
                    table.update_cell(item.id, column.lower(), value, update_width=True)
        self.query_one("#totals", Static).update(self.totals(items))

    def totals(self, items: list[DownloadItem]) -> Text:
        active = [self.ui.progress[i.id] for i in items if i.state == ACTIVE and i.id in self.ui.progress]
        speed = sum(p.speed or 0 for p in active)
        remaining = sum(max(0, (i.total_bytes or i.size or 0) - i.done_bytes) for i in items if i.state != DONE)
        free = next((d.free for d in self.ui.system.disks if d.label == "models"), None) if self.ui.system else None
        counts = {look.label: sum(i.state == s for i in items) for s, look in DOWNLOAD_STATES.items()}
        text = Text.assemble(
            ("Total ", "bold"), human_rate(speed) if speed else "idle", ("  remaining ", "dim"), human_bytes(remaining),
            ("  free disk ", "dim"), human_bytes(free) if free is not None else "?", "   ",
        )  # fmt: skip
        text.append("  ".join(f"{n} {s}" for s, n in counts.items() if n), style="dim")
        if not items:
            text = Text(
                "The queue is empty: a adds a URL, the model browser (2) queues models, or `aiui-tui models add`.",
                style="dim",
            )
        return text

    def selected(self) -> DownloadItem | None:
        if not self.ready:
            return None
        table = self.query_one(DataTable)
        if table.row_count == 0:
            self.notify("The queue is empty.", severity="warning")
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.ui.downloads.get(str(key))

    def action_pause(self) -> None:
        if item := self.selected():
            self.intent(lambda: self.services.downloads.pause(item.id), f"pause {item.display_name}")

    def action_resume(self) -> None:
        if item := self.selected():
            self.intent(lambda: self.services.downloads.resume(item.id), f"resume {item.display_name}")

    def action_retry(self) -> None:
        if item := self.selected():
            self.intent(lambda: self.services.downloads.retry(item.id), f"retry {item.display_name}")

    def action_move(self, delta: int) -> None:
        if item := self.selected():
            self.intent(lambda: self.services.downloads.move(item.id, delta), f"move {item.display_name}")

    def action_cancel(self) -> None:
        item = self.selected()
        if item is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.intent(lambda: self.services.downloads.cancel(item.id), f"cancel {item.display_name}")

        def ask(kept: int) -> None:  # the bytes really on disk, not the last figure the row saved
            if item.state == DONE:
                question = f"Remove {item.display_name} from the queue? The downloaded file stays."
            else:
                what = f"Its part file ({human_bytes(kept)}) is deleted." if kept else "It has no part file yet."
                question = f"Cancel {item.display_name}? {what}"
            self.app.push_screen(ConfirmScreen(question), answered)

        self.intent(lambda: self.services.downloads.kept_bytes(item.id), f"look at {item.display_name}'s part", ask)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_details()

    def action_details(self) -> None:
        item = self.selected()
        if item is None:
            return
        downloads = self.services.downloads

        async def look() -> tuple[DownloadItem, int]:  # the row as saved now, and its part as on disk
            fresh = next((i for i in await downloads.items() if i.id == item.id), item)
            return fresh, await downloads.kept_bytes(item.id)

        self.intent(look, f"show {item.display_name}", lambda found: self.app.push_screen(DownloadDetail(*found)))

    def action_add(self) -> None:
        if not self.ready:
            return

        def added(item: DownloadItem | None) -> None:
            if item is not None:
                self.notify(f"Queued {item.display_name}.")

        self.app.push_screen(AddDownloadDialog(self.services.downloads.enqueue), added)
