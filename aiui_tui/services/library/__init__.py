"""The model library: index, catalog, sources (HuggingFace, CivitAI), validation, links, duplicates, updates."""

from aiui_tui.services.library.service import LibraryService

__all__ = ["LibraryService"]
