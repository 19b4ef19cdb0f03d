"""Plugins: discovery without import, enabling per plugin, pluggy hooks called one plugin at a time."""

from aiui_tui.services.plugins.discovery import PluginInfo, discover, set_enabled
from aiui_tui.services.plugins.guard import PluginExit
from aiui_tui.services.plugins.service import PluginService, abandon_loading

__all__ = ["PluginExit", "PluginInfo", "PluginService", "abandon_loading", "discover", "set_enabled"]
