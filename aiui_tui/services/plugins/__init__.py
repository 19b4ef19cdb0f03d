"""Plugins: discovery without import, enabling per plugin, pluggy hooks called one plugin at a time."""

from aiui_tui.services.plugins.discovery import PluginInfo, discover, set_enabled
from aiui_tui.services.plugins.service import PluginService

__all__ = ["PluginInfo", "PluginService", "discover", "set_enabled"]
