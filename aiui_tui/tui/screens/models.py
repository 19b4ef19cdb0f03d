"""The model browser: the catalog, installed models, HuggingFace and CivitAI, searched as you type.

Search is debounced (0.3 s) and runs as one exclusive worker, so typing cancels the search before
it. Queuing goes through the library (`add`), which picks the destination kind; `k` changes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static, Tab, Tabs

from aiui_tui.core.errors import AiuiError
from aiui_tui.core.events import FileOpProgress, LibraryChanged
from aiui_tui.core.format import human_bytes
from aiui_tui.core.library import HF, ModelRecord, ModelRef, RemoteModel
from aiui_tui.kinds import kind_names
from aiui_tui.tui.bridge import ServiceEvent
from aiui_tui.tui.lazylog import get_logger
from aiui_tui.tui.screens.base import AiuiScreen
from aiui_tui.tui.widgets.confirm import ConfirmScreen
from aiui_tui.tui.widgets.file_progress import FileProgress
from aiui_tui.tui.widgets.link_dialog import LinkDialog

log = get_logger(__name__)
SOURCES = {"catalog": "Catalog", "installed": "Installed", "hf": "HuggingFace", "civitai": "CivitAI"}
DEBOUNCE_S = 0.3

# The results' columns in display order: key -> (title, width; None for Name, which takes the rest).
COLUMNS: dict[str, tuple[str, int | None]] = {
    "name": ("Name", None),
    "kind": ("Kind", 16),
    "arch": ("Arch", 12),
    "size": ("Size", 10),
    "source": ("Source", 12),
    "status": ("Status", 16),
    "apps": ("Apps", 18),
}
PRIORITY = ("kind", "size", "status", "source", "arch", "apps")  # kept first when the room runs out
NAME_MIN = 20
CELL_PAD = 2  # DataTable's cell padding, both sides
NARROW = 130  # below this many columns the details go under the results instead of beside them


def fit_columns(width: int) -> dict[str, int]:
    """The columns that fit in `width` cells, by priority, with their widths; Name gets what is left."""
    left = width - NAME_MIN - CELL_PAD
    chosen: dict[str, int] = {}
    for key in PRIORITY:
        need = (COLUMNS[key][1] or 0) + CELL_PAD
        if need <= left:
            chosen[key] = COLUMNS[key][1] or 0
            left -= need
    chosen["name"] = NAME_MIN + max(0, left)
    return {key: chosen[key] for key in COLUMNS if key in chosen}


@dataclass
class Row:
    key: str
    name: str
    kind: str | None
    architecture: str
    size: int | None
    source: str
    ref: ModelRef | None  # what `library.add` queues; None for a file in the library
    status: str = ""
    apps: tuple[str, ...] = ()
    details: str = ""
    record: ModelRecord | None = None
    sha256: str | None = None
    expandable: bool = False  # a HuggingFace repo whose files are listed on Enter


class ModelsScreen(AiuiScreen):
    CSS_PATH = "../styles/models.tcss"  # read when the screen is first shown, not before the first frame
    BINDINGS = [
        Binding("slash", "focus_search", "Search"),
        Binding("escape", "focus_results", "Results", show=False),
        Binding("tab", "next_source", "Source", show=False),
        Binding("d", "download", "Download"),
        Binding("k", "change_kind", "Kind"),
        Binding("enter", "expand", "Files", show=False),
        Binding("v", "verify", "Verify"),
        Binding("L", "link", "Link to UIs"),
        Binding("delete", "delete", "Delete"),
        Binding("U", "check_updates", "Updates"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.source = "catalog"
        self.rows: dict[str, Row] = {}
        self.kind_override: dict[str, str] = {}
        self.updates: dict[str, str] = {}  # path -> latest version
        self.installed: set[str] = set()
        self._debounce: Timer | None = None
        self._library_version = -1
        self.titles = dict(SOURCES)  # source -> tab title; plugins' model sources are added
        self.tab_sources: dict[str, str] = {key: key for key in SOURCES}  # tab id -> source
        self.columns: dict[str, int] = {}  # the results' columns shown (key -> width), fitted to the terminal
        self.shown: list[Row] = []

    def compose_body(self) -> ComposeResult:
        yield Tabs(*(Tab(title, id=key) for key, title in SOURCES.items()), id="sources")
        yield Input(placeholder="search (type to filter; / focuses here)", id="query")
        with Horizontal(id="browser"):
            yield DataTable(id="results", cursor_type="row", zebra_stripes=True)
            yield Static(id="details")
        yield FileProgress(id="file-ops")

    def on_mount(self) -> None:
        self.fit_to(self.size.width or 80)
        self.query_one(DataTable).focus()
        self.show_file_ops()

    def on_resize(self, event: events.Resize) -> None:
        self.fit_to(event.size.width)

    def fit_to(self, width: int) -> None:
        """Results and details side by side when wide, stacked when narrow; then the columns that fit."""
        stacked = width < NARROW
        self.set_class(stacked, "-stacked")
        table = self.query_one(DataTable)
        estimate = width if stacked else width * 2 // 3  # #results is 2fr of 3 beside the details
        self.set_columns(estimate)
        self.call_after_refresh(lambda: self.set_columns(table.region.width or estimate))

    def set_columns(self, table_width: int) -> None:
        columns = fit_columns(table_width - 2)  # room for the vertical scrollbar
        if columns == self.columns:
            return
        self.columns = columns
        table = self.query_one(DataTable)
        table.clear(columns=True)
        for key, cells in columns.items():
            table.add_column(COLUMNS[key][0], key=key, width=cells)
        self.add_rows(self.shown)

    def services_ready(self) -> None:
        tabs = self.query_one(Tabs)
        for index, (name, source) in enumerate((self.services.library.extra_sources or {}).items()):
            tab_id = f"plugin-source-{index}"  # a plugin's name need not be a valid widget id
            if tab_id not in self.tab_sources:
                self.tab_sources[tab_id] = name
                self.titles[name] = str(getattr(source, "title", name))
                tabs.add_tab(Tab(self.titles[name], id=tab_id))
        self.search_now()

    def on_screen_resume(self) -> None:
        self.show_file_ops()
        if self.ready and self._library_version != self.ui.library_version:
            self.search_now()

    def on_service_event(self, message: ServiceEvent) -> None:
        if isinstance(message.event, FileOpProgress):
            self.show_file_ops()
        if isinstance(message.event, LibraryChanged) and self.is_current and self.ready:
            self.search_now()

    def show_file_ops(self) -> None:
        self.query_one(FileProgress).ops = tuple(self.ui.file_ops.values())

    # -- searching ----------------------------------------------------------------------------------
    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        source = self.tab_sources.get(event.tab.id or "")
        if source and source != self.source:
            self.source = source
            self.search_now()

    def on_input_changed(self, event: Input.Changed) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE_S, self.search_now)

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.search_now()
        self.query_one(DataTable).focus()

    def search_now(self) -> None:
        if not self.ready:
            return
        text = self.query_one("#query", Input).value
        source = self.source
        self._library_version = self.ui.library_version
        self.run_worker(
            partial(self.search, source, text),
            group="search",
            exclusive=True,
            exit_on_error=False,
            description=f"search {source}",
        )

    async def search(self, source: str, text: str) -> None:
        library = self.services.library
        self.installed = await library.installed_hashes()
        try:
            if source == "installed":
                rows = [
                    self.installed_row(r)
                    for r in await library.records()
                    if _matches(r.name + " " + (r.kind or ""), text)
                ]
            else:
                catalog = {e.id: e for e in library.catalog()}
                rows = [self.remote_row(m, catalog) for m in await library.search(text, source, None, 50)]
        except AiuiError as exc:
            self.show_rows([], f"{self.titles[source]}: {exc.message}\n{exc.fix}\n\nThe catalog still works offline.")
            return
        except Exception as exc:  # a plugin's source can fail in any way: say so, keep the browser usable
            if source in SOURCES:
                raise
            log.warning("model source failed", source=source, error=f"{type(exc).__name__}: {exc}")
            self.show_rows([], f"{self.titles[source]} failed: {type(exc).__name__}: {exc}")
            return
        self.show_rows(rows, "" if rows else f"Nothing in {self.titles[source]} for {text!r}.")

    def installed_row(self, r: ModelRecord) -> Row:
        status = (
            "update available"
            if r.path in self.updates
            else r.warning or ("verified" if r.verified_at else "installed")
        )
        source = r.source.get("repo") or r.source.get("type", "local")
        details = f"{r.path}\nsha256 {r.sha256}\nAutoV2 {r.autov2}\nformat {r.format}"
        if r.warning:
            details += f"\n\n⚠ {r.warning}"
        if r.path in self.updates:
            details += f"\n\nUpdate: {self.updates[r.path]}"
        return Row(
            r.path,
            r.name,
            r.kind,
            r.architecture,
            r.size,
            source,
            None,
            status,
            details=details,
            record=r,
            sha256=r.sha256,
        )

    def remote_row(self, m: RemoteModel, catalog: dict) -> Row:
        file = m.files[0] if m.files else None
        sha = file.sha256 if file else None
        status = "installed" if sha and sha in self.installed else ""
        if file and file.format == "pickle":
            status = (status + " " if status else "") + "can run code"
        entry = catalog.get(m.id) if m.source == "catalog" else None
        apps = entry.apps if entry else ()
        size = (file.size if file else None) or (entry.approx_size if entry else None)
        lines = [m.name, m.url]
        if entry:
            lines += [
                entry.description,
                f"license: {entry.license or 'see the source'}",
                f"sha256: {entry.sha256 or 'not published'}",
            ]
        if m.source == "huggingface":
            lines.append("Enter lists this repo's model files.")
        return Row(
            f"{m.source}:{m.id}",
            m.name,
            m.kind or (file.kind if file else None),
            m.architecture,
            size,
            self.titles.get(m.source, m.source) if m.source != "huggingface" else "HuggingFace",
            ModelRef.for_search_hit(m.source, m.id),
            status,
            apps,
            "\n".join(lines),
            sha256=sha,
            expandable=m.source == "huggingface",
        )

    def show_rows(self, rows: list[Row], message: str = "") -> None:
        self.query_one(DataTable).clear()
        self.rows = {r.key: r for r in rows}
        self.shown = rows
        self.add_rows(rows)
        self.query_one("#details", Static).update(message or self.details_of(self.current()))

    def add_rows(self, rows: list[Row]) -> None:
        table = self.query_one(DataTable)
        for r in rows:
            style = "yellow" if "code" in r.status or "update" in r.status else "green" if r.status else ""
            cells: dict[str, Text | str] = {
                "name": r.name,
                "kind": self.kind_override.get(r.key, r.kind) or "?",
                "arch": r.architecture,
                "size": human_bytes(r.size) if r.size else "",
                "source": r.source,
                "status": Text(r.status, style=style),
                "apps": ", ".join(r.apps),
            }
            table.add_row(*(cells[key] for key in self.columns), key=r.key)

    def current(self) -> Row | None:
        if not self.ready:
            return None
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.rows.get(str(key))

    def details_of(self, row: Row | None) -> str:
        if row is None:
            return "Nothing selected."
        kind = self.kind_override.get(row.key, row.kind) or "?"
        return f"{row.details}\n\n→ downloads to models/{kind}/  (k changes it)" if not row.record else row.details

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.query_one("#details", Static).update(self.details_of(self.current()))

    # -- actions --------------------------------------------------------------------------------------
    def action_focus_search(self) -> None:
        self.query_one("#query", Input).focus()

    def action_focus_results(self) -> None:
        self.query_one(DataTable).focus()

    def action_next_source(self) -> None:
        self.query_one(Tabs).action_next_tab()

    def action_download(self) -> None:
        row = self.current()
        if row is None or row.ref is None:
            self.notify("Select a catalog, HuggingFace or CivitAI model to download.", severity="warning")
            return
        ref = row.ref
        kind = self.kind_override.get(row.key)

        def queued(items: list) -> None:
            if items:
                self.notify(f"Queued {', '.join(i.display_name for i in items)} (3 shows the queue).")
            else:
                self.notify(f"{row.name} is already in the library.")

        self.intent(lambda: self.services.library.add(ref, kind), f"queue {row.name}", queued)

    def action_change_kind(self) -> None:
        row = self.current()
        if row is None or row.record is not None:
            return
        kinds = list(kind_names())
        current = self.kind_override.get(row.key, row.kind) or kinds[-1]
        self.kind_override[row.key] = kinds[(kinds.index(current) + 1) % len(kinds)] if current in kinds else kinds[0]
        if "kind" in self.columns:
            self.query_one(DataTable).update_cell(row.key, "kind", self.kind_override[row.key])
        self.query_one("#details", Static).update(self.details_of(row))

    def action_expand(self) -> None:
        row = self.current()
        if row is None or row.ref is None or not row.expandable:
            return
        repo = row.ref.hf_repo

        async def files() -> list:
            return await self.services.library.hf.files(repo)

        def show(found: list) -> None:
            rows = [
                Row(
                    f"hf-file:{repo}/{f.source['path']}",
                    f.source["path"],
                    f.kind,
                    "unknown",
                    f.size,
                    "HuggingFace",
                    ModelRef(HF, f"{repo}/{f.source['path']}"),
                    "installed" if f.sha256 in self.installed else ("can run code" if f.format == "pickle" else ""),
                    details=f"{repo}\n{f.source['path']}\nsha256 {f.sha256 or '?'}",
                    sha256=f.sha256,
                )
                for f in found
            ]
            self.show_rows(rows, "" if rows else f"{repo} has no model files.")

        self.intent(files, f"list the files of {repo}", show)

    def action_verify(self) -> None:
        row = self.current()
        if row is None or row.record is None:
            self.notify("Verify works on installed models (Installed tab).", severity="warning")
            return
        from pathlib import Path

        def report(results: list) -> None:
            for _record, ok, message in results:
                self.notify(f"{row.name}: {message}", severity="information" if ok else "error")
            self.search_now()

        self.notify(f"Verifying {row.name}…")
        self.intent(lambda: self.services.library.verify([Path(row.record.path)]), f"verify {row.name}", report)

    def action_delete(self) -> None:
        row = self.current()
        if row is None or row.record is None:
            return
        from pathlib import Path

        def answered(yes: bool | None) -> None:
            if yes:
                self.intent(lambda: self.services.library.delete(Path(row.record.path)), f"delete {row.name}")

        size = human_bytes(row.size)
        self.app.push_screen(
            ConfirmScreen(f"Delete {row.name} ({size}) from the library? Links to it in other UIs go too."), answered
        )

    def action_link(self) -> None:
        self.app.push_screen(LinkDialog())

    def action_check_updates(self) -> None:
        def found(report) -> None:  # an UpdateReport
            self.updates = {u.path: f"{u.source} {u.current} → {u.latest} ({u.detail})" for u in report.updates}
            if report.checked == 0:
                first = f"\n{report.problems[0]}" if report.problems else ""
                self.notify(f"{report.headline()}.{first}", severity="warning", timeout=8)
            else:
                self.notify(f"{report.headline()}.")
            if self.source == "installed":
                self.search_now()

        self.notify("Checking HuggingFace and CivitAI for newer versions…")
        self.intent(self.services.library.updates, "check for model updates", found)


def _matches(haystack: str, text: str) -> bool:
    return all(word in haystack.lower() for word in text.lower().split())
