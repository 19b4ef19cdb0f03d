"""Settings: each app's performance options, parallel downloads and hashing, and the plugins.

Changes are written to config/aiui.toml (comments kept) or config/plugins/NAME.toml off the UI
thread; apps use them from their next start, plugins from the next start of aiui-tui. Options are
listed for the apps the dashboard shows (enabled ones); plugins copied into the plugins folder, or
enabled from the CLI, appear while the screen is open (the plugin service watches for them).
"""

from __future__ import annotations

import asyncio

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Label, Select, Static

from aiui_tui.core.events import PluginsChanged
from aiui_tui.tui.bridge import ServiceEvent
from aiui_tui.tui.screens.base import AiuiScreen

PARALLEL = (
    ("downloads.concurrent", "Downloads at once", range(1, 9)),
    ("downloads.connections", "Connections per large download", range(1, 17)),
    ("library.hash_workers", "Hashing threads (library scans)", range(1, 9)),
)


class SettingsScreen(AiuiScreen):
    CSS_PATH = "../styles/settings.tcss"  # read when the screen is first shown, not before the first frame
    BINDINGS = [Binding("e", "toggle_plugin", "Enable/disable plugin")]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="settings"):
            yield Label("Performance (used from each app's next start)", classes="section-title")
            yield Static(id="recommendation", classes="dim")
            yield VerticalScroll(id="app-options")
            yield Label("Parallel work", classes="section-title")
            yield VerticalScroll(id="parallel")
            yield Label("Plugins (e: enable or disable the highlighted one)", classes="section-title")
            yield DataTable(id="plugins", cursor_type="row")

    # Select posts Changed when it is given its first value too: only a value other than the one
    # shown (what the config holds) is a choice to save.
    shown: dict[str, object]
    plugins_found: dict = {}  # name -> PluginInfo, as last shown (replaced, never changed in place)
    plugin_rows: list[tuple[str, ...]] | None = None  # the plugins table's rows, as last shown

    def services_ready(self) -> None:
        self.shown = {}
        self.run_worker(self.load(), exclusive=True, group="settings")

    async def load(self) -> None:
        from aiui_tui.services.apps.recommend import recommend

        gpu = self.ui.gpu  # the monitor's latest sample
        gpus = [g for g in gpu.gpus if g.memory_total] if gpu and gpu.available else []
        advice = recommend(gpus)
        self.query_one("#recommendation", Static).update(
            f"This machine: [b]{advice.profile}[/b] profile — {advice.why()}"
        )
        apps = self.services.apps
        box = self.query_one("#app-options", VerticalScroll)
        await box.remove_children()
        rows = []
        for name in self.app_names():
            loaded = apps.apps[name]
            manifest = loaded.manifest
            override = self.services.config.apps.overrides.get(name)
            current = override.options if override else {}
            suggested = recommend(gpus, manifest).options
            for option_name, option in manifest.performance.options.items():
                hint = f" (suggested: {suggested[option_name]})" if option_name in suggested else ""
                value = current.get(option_name, option.default)
                select = Select(
                    [(_label(c, choice.help), c) for c, choice in option.choices.items()],
                    value=value,
                    allow_blank=False,
                    id=f"opt--{name}--{option_name}",
                )
                self.shown[select.id or ""] = value
                rows.append(
                    Horizontal(
                        Label(f"{manifest.display_title}: {option.title}{hint}", classes="setting-label"),
                        select,
                        classes="setting-row",
                    )
                )
        await box.mount_all(rows)
        parallel = []
        for key, title, values in PARALLEL:
            section, field = key.split(".")
            value = getattr(getattr(self.services.config, section), field)
            self.shown[_id(key)] = value
            select = Select([(str(v), v) for v in values], value=value, allow_blank=False, id=_id(key))
            parallel.append(Horizontal(Label(title, classes="setting-label"), select, classes="setting-row"))
        await self.query_one("#parallel", VerticalScroll).remove_children()
        await self.query_one("#parallel", VerticalScroll).mount_all(parallel)
        await self.refresh_plugins()

    def app_names(self) -> list[str]:
        """The apps whose options matter: enabled built-ins and every app you or a plugin added (as the
        dashboard shows them); an instance on one GPU uses its app's options."""
        enabled = set(self.services.config.apps.enabled)
        return [
            name
            for name, loaded in sorted(self.services.apps.apps.items())
            if not loaded.instance_of and (name in enabled or loaded.source != "built-in")
        ]

    def on_screen_resume(self) -> None:
        if self.ready and self.plugin_rows is not None:  # shown before: look again (the first load looks itself)
            self.run_worker(self.refresh_plugins, group="settings-plugins", exclusive=True)

    def on_service_event(self, message: ServiceEvent) -> None:
        if isinstance(message.event, PluginsChanged) and self.ready:
            self.run_worker(self.refresh_plugins, group="settings-plugins", exclusive=True)

    async def refresh_plugins(self) -> None:
        """Discovery reads settings files and package metadata: in a thread, then shown."""
        plugins = self.services.plugins
        self.plugins_found = await asyncio.to_thread(plugins.discover) if plugins is not None else {}
        self.show_plugins()

    def show_plugins(self) -> None:
        found = self.plugins_found
        rows = []
        for info in found.values():
            state = info.state
            if info.enabled and state == "disabled":
                state = "on at next start"
            elif not info.enabled and state == "loaded":
                state = "loaded, off at next start"
            rows.append((info.name, info.version or "-", state, info.kind, info.problem or info.description))
        if not found:
            rows.append(("(none)", "", "", "", f"put plugins in {self.services.layout.plugins_dir}"))
        if rows == self.plugin_rows:
            return  # a look that found nothing new (each showing of the screen looks again)
        self.plugin_rows = rows
        table = self.query_one("#plugins", DataTable)
        table.clear(columns=True)
        table.add_columns("Plugin", "Version", "State", "Kind", "About")
        for row in rows:
            table.add_row(*row, key=row[0] if found else None)

    def on_select_changed(self, event: Select.Changed) -> None:
        widget_id = event.select.id or ""
        if widget_id.startswith("opt--"):
            _prefix, app, option = widget_id.split("--")
            key = f"apps.overrides.{app}.options.{option}"
        else:
            key = next((k for k, _t, _v in PARALLEL if _id(k) == widget_id), "")
        if not key or event.value is Select.BLANK or self.shown.get(widget_id) == event.value:
            return
        self.shown[widget_id] = event.value
        self.save({key: event.value}, f"{key} = {event.value}")

    def save(self, values: dict, what: str) -> None:
        from aiui_tui.config import set_values
        from aiui_tui.services.config_change import apply_config

        async def write() -> None:
            config = await asyncio.to_thread(set_values, self.services.layout, values)
            await apply_config(self.services, config)  # the one way new settings reach the running services

        self.intent(write, f"save {what}", lambda _r: self.notify(f"Saved: {what}."))

    def action_toggle_plugin(self) -> None:
        if not self.ready or self.services.plugins is None:
            return
        table = self.query_one("#plugins", DataTable)
        if table.row_count == 0:
            return
        name = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if name not in self.plugins_found:
            return
        enabled = not self.plugins_found[name].enabled
        from aiui_tui.services.plugins import set_enabled

        async def switch() -> None:
            await asyncio.to_thread(set_enabled, self.services.layout, name, enabled)

        word = "enabled" if enabled else "disabled"
        self.intent(switch, f"{word[:-1]} plugin {name}", lambda _r: self.after_toggle(name, word))

    def after_toggle(self, name: str, word: str) -> None:
        self.notify(f"Plugin {name} {word}; restart aiui-tui to apply.")
        self.run_worker(self.refresh_plugins, group="settings-plugins", exclusive=True)


def _label(choice: str, help_text: str) -> str:
    """The choice and its help (the selector shows what fits of it on one line; the list shows all)."""
    return f"{choice} — {help_text}" if help_text else choice


def _id(key: str) -> str:
    return "par--" + key.replace(".", "-")
