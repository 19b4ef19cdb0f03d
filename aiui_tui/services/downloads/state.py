"""The sidecar beside a `.part` file: where it came from, its validators, and what is done.

Saved with write-then-rename (no fsync: it must survive a killed process, and after a power loss
the worst case is re-fetching). Progress saved here never runs ahead of the bytes written.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

VERSION = 1


@dataclass
class Piece:
    start: int
    end: int  # exclusive
    done: int = 0  # bytes written from `start`

    @property
    def complete(self) -> bool:
        return self.start + self.done >= self.end

    @property
    def position(self) -> int:
        return self.start + self.done


@dataclass
class PartState:
    url: str
    final_url: str = ""
    etag: str | None = None
    last_modified: str | None = None
    total: int | None = None
    expected_sha256: str | None = None
    pieces: list[Piece] = field(default_factory=list)  # empty: one sequential stream

    @property
    def validator(self) -> str | None:
        """What `If-Range` may carry: a strong ETag, else Last-Modified (weak ETags are not allowed)."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return self.last_modified

    @property
    def segmented(self) -> bool:
        return bool(self.pieces)

    def done_bytes(self, sequential_size: int = 0) -> int:
        return sum(p.done for p in self.pieces) if self.pieces else sequential_size

    def frontier(self) -> int:
        """End of the contiguous prefix of written bytes (segmented only)."""
        for piece in self.pieces:
            if not piece.complete:
                return piece.position
        return self.pieces[-1].end if self.pieces else 0

    def save(self, path: Path) -> None:
        data = asdict(self)
        data["version"] = VERSION
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, separators=(",", ":")))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> PartState | None:
        """The saved state, or None when missing or unreadable (then the download restarts)."""
        try:
            data = json.loads(path.read_text())
            if data.pop("version", None) != VERSION:
                return None
            pieces = [Piece(**p) for p in data.pop("pieces", [])]
            return cls(**data, pieces=pieces)
        except (OSError, ValueError, TypeError):
            return None


def plan_pieces(
    total: int, connections: int, min_piece: int = 8 * 1024 * 1024, max_piece: int = 64 * 1024 * 1024
) -> list[Piece]:
    """Split `total` into ordered pieces that `connections` workers take in turn (as aria2 does).

    Several pieces per connection keep the contiguous frontier moving, so hashing keeps pace.
    """
    size = max(min_piece, min(max_piece, -(-total // (connections * 8))))
    return [Piece(start, min(start + size, total)) for start in range(0, total, size)]
