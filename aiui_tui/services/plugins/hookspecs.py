"""The hooks a plugin may implement (plugin API 1.0). Each is optional; return None to contribute nothing.

Implement them as module-level functions decorated with `aiui_tui.plugins.hookimpl`, taking only
the arguments you need. Data hooks are called once at start, in a worker thread, and must return
within the plugin's time budget (`timeout_s` in its settings, 5 s by default). A hook that raises
or overruns disables its plugin for the session; the rest of the program carries on.
"""

from __future__ import annotations

from typing import Any

from aiui_tui.services.plugins.api import hookspec


class AiuiHooks:
    @hookspec
    def aiui_app_manifests(self, context: Any) -> Any:
        """App manifests to add: a list of paths, each a manifest TOML file or a folder of them.

        A manifest is the same TOML as `config/apps/NAME.toml` (see the manifest format in the docs);
        a user's own manifest of the same name still wins.
        """

    @hookspec
    def aiui_catalog_entries(self, context: Any) -> Any:
        """Catalog models to add: a list of tables with the keys of `data/catalog.toml`'s `[[model]]`
        (id, name, kind, url, filename; optionally size, sha256, architecture, apps, description,
        license, default_for). An entry with a built-in id replaces it."""

    @hookspec
    def aiui_model_sources(self, context: Any) -> Any:
        """Model sources to add: a list of objects following `aiui_tui.plugins.ModelSource`."""

    @hookspec
    def aiui_palette_commands(self, context: Any) -> Any:
        """Commands for the TUI's command palette: a list of `aiui_tui.plugins.PaletteCommand`."""

    @hookspec
    def aiui_screen(self, context: Any) -> Any:
        """A screen of the plugin's own: an `aiui_tui.plugins.PluginScreen`, or None."""

    @hookspec
    def aiui_on_event(self, event: Any, context: Any) -> Any:
        """React to an `aiui_tui.plugins.PluginEvent` (download finished or failed, app ready, stopped
        or crashed). May be `async def`; it runs off the UI and must finish within the time budget."""


HOOK_NAMES = tuple(name for name in vars(AiuiHooks) if name.startswith("aiui_"))
