"""Docker's pull stream (one JSON message per layer update) aggregated to bytes and a percentage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_DONE = ("Pull complete", "Already exists", "Download complete")


@dataclass
class _Layer:
    total: int | None = None
    downloaded: int = 0
    finished: bool = False


@dataclass
class PullProgress:
    layers: dict[str, _Layer] = field(default_factory=dict)
    status: str = ""
    error: str | None = None

    def feed(self, message: dict[str, Any]) -> None:
        if "error" in message:
            self.error = str(message.get("error") or message.get("errorDetail", {}).get("message", ""))
            return
        status = str(message.get("status", ""))
        layer_id = message.get("id")
        detail = message.get("progressDetail") or {}
        if not layer_id or status.startswith(("Pulling from", "Digest:", "Status:")):
            self.status = status
            return
        layer = self.layers.setdefault(layer_id, _Layer())
        if status == "Downloading":
            if detail.get("total"):
                layer.total = int(detail["total"])
            layer.downloaded = int(detail.get("current", layer.downloaded))
        elif status in _DONE or status.startswith("Extracting") or status == "Verifying Checksum":
            if layer.total is not None:
                layer.downloaded = layer.total
            layer.finished = layer.finished or status in ("Pull complete", "Already exists")
        self.status = status

    @property
    def done(self) -> int:
        return sum(layer.downloaded for layer in self.layers.values())

    @property
    def total(self) -> int | None:
        """Bytes of every layer to download, once each layer's size is known."""
        sizes = [layer.total for layer in self.layers.values() if not layer.finished or layer.total]
        return None if not sizes or any(size is None for size in sizes) else sum(s for s in sizes if s)

    @property
    def layers_done(self) -> int:
        return sum(1 for layer in self.layers.values() if layer.finished)

    @property
    def fraction(self) -> float | None:
        total = self.total
        if self.layers and self.layers_done == len(self.layers):
            return 1.0
        return self.done / total if total else None
