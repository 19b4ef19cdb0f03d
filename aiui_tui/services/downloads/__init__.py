"""Resumable, verified, retried, parallel and persistent downloads of model files."""

from aiui_tui.services.downloads.service import DownloadService

__all__ = ["DownloadService"]
