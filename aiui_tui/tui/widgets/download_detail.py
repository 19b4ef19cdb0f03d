"""One download in full: where from and to, why it stopped (the whole reason and its fix), the
attempts, the bytes (as on disk) and the hashes. Enter on a Downloads row opens it; Esc closes."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from aiui_tui.core.downloads import ACTIVE, DONE, DownloadItem
from aiui_tui.core.format import human_bytes, human_rate


def detail_rows(item: DownloadItem, kept: int | None) -> list[tuple[str, str]]:
    """(label, value) lines for `item`; `kept` is its part's bytes on disk (None: not looked at)."""
    total = item.total_bytes or item.size
    done = item.total_bytes if item.state == DONE else item.done_bytes
    size = f"{human_bytes(done)} of {human_bytes(total) if total else '? (unknown yet)'}"
    rows = [  # the name is the dialog's title
        ("State", item.state + (f" at {human_rate(item.speed)}" if item.state == ACTIVE and item.speed else "")),
        ("URL", item.url),
        ("Destination", item.target or f"{item.dest_dir}/ (named by the server)"),
        ("Kind", item.kind or "-"),
        ("Reason", item.reason or "-"),
    ]
    if item.fix:
        rows.append(("Fix", item.fix))
    rows += [
        ("Attempts", str(item.attempts)),
        ("Bytes", size),
    ]
    if kept is not None and item.state != DONE:
        rows.append(("Part on disk", human_bytes(kept)))
    rows += [
        ("Expected sha256", item.sha256 or "- (none given: the file is hashed, not checked)"),
        ("sha256", item.result_sha256 or "-"),
        ("Source", ", ".join(f"{k}={v}" for k, v in item.source.items()) or "-"),
        ("Id", item.id),
    ]
    return rows


class DownloadDetail(ModalScreen[None]):
    DEFAULT_CSS = """
    DownloadDetail { align: center middle; }
    DownloadDetail > VerticalScroll {
        width: 90%; max-width: 140; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    DownloadDetail #fields { width: 100%; }
    DownloadDetail .keys { color: $text-muted; }
    """
    BINDINGS = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, item: DownloadItem, kept: int | None = None) -> None:
        super().__init__()
        self.item = item
        self.kept = kept

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(f"[b]{escape(self.item.display_name)}[/b]")
            yield Static(self.render_fields(), id="fields")
            yield Static("[b]Esc[/b] close", classes="keys")

    def render_fields(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")  # a long URL or reason wraps whole, never cut
        for label, value in detail_rows(self.item, self.kept):
            table.add_row(label, Text(value))
        return table

    def action_close(self) -> None:
        self.dismiss(None)
