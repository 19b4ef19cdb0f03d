"""Plugins: discovery without import, enabling per plugin, pluggy hooks called one plugin at a time.

The names below are imported on first use (module `__getattr__`): reading which plugins are enabled
(`discovery`) imports neither pluggy nor the service, so a command with no plugin enabled pays for neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiui_tui.core.lazy import lazy_exports

if TYPE_CHECKING:
    from aiui_tui.services.plugins.discovery import PluginInfo as PluginInfo
    from aiui_tui.services.plugins.discovery import discover as discover
    from aiui_tui.services.plugins.discovery import set_enabled as set_enabled
    from aiui_tui.services.plugins.guard import PluginExit as PluginExit
    from aiui_tui.services.plugins.service import PluginService as PluginService
    from aiui_tui.services.plugins.service import abandon_loading as abandon_loading

# name -> the module that defines it
_LAZY = {
    "PluginExit": "aiui_tui.services.plugins.guard",
    "PluginInfo": "aiui_tui.services.plugins.discovery",
    "PluginService": "aiui_tui.services.plugins.service",
    "abandon_loading": "aiui_tui.services.plugins.service",
    "discover": "aiui_tui.services.plugins.discovery",
    "set_enabled": "aiui_tui.services.plugins.discovery",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, {name: (module, name) for name, module in _LAZY.items()}, globals())
