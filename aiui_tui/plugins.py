"""The public plugin API: import what your plugin needs from here.

    from aiui_tui.plugins import hookimpl

    @hookimpl
    def aiui_on_event(event, context):
        context.log.info("seen", event=event.name)

Hook specifications: `aiui_tui.services.plugins.hookspecs.AiuiHooks`. Versioning: API_VERSION.
"""

from aiui_tui.core.library import RemoteFile, RemoteModel
from aiui_tui.services.plugins.api import (
    API_VERSION,
    APP_CRASHED,
    APP_READY,
    APP_STOPPED,
    DOWNLOAD_FAILED,
    DOWNLOAD_FINISHED,
    EVENT_NAMES,
    ModelSource,
    PaletteCommand,
    PluginContext,
    PluginEvent,
    PluginScreen,
    hookimpl,
)

__all__ = [
    "API_VERSION",
    "APP_CRASHED",
    "APP_READY",
    "APP_STOPPED",
    "DOWNLOAD_FAILED",
    "DOWNLOAD_FINISHED",
    "EVENT_NAMES",
    "ModelSource",
    "PaletteCommand",
    "PluginContext",
    "PluginEvent",
    "PluginScreen",
    "RemoteFile",
    "RemoteModel",
    "hookimpl",
]
