"""Apps: manifests, containers, readiness, logs and stats (docker SDK, off the event loop)."""

from aiui_tui.services.apps.service import AppService

__all__ = ["AppService"]
