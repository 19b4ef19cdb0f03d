"""What the screens render, kept current from service events (attributes down, messages up).

Plain Python, no widgets: `apply(event)` is a pure reducer, tested without a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiui_tui.core.events import Event


@dataclass
class UiState:
    root: str
    engine_text: str = "Docker: checking…"
    engine_ok: bool | None = None
    gpu_text: str = "GPU: checking…"

    def apply(self, event: Event) -> None:
        """Fold one event into the state; events of no interest are ignored."""
