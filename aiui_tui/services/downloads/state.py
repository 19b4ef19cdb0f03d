"""The sidecar beside a part file: where it came from, its validators, and what is done.

`<part>.json` holds the metadata, saved with write-then-rename at the start and end of an
attempt (file names in parts.py). Segmented downloads also keep `<part>.progress`: one little-endian u64 per piece,
updated in place right after each write of that piece, so a killed process loses at most the
bytes still in memory. Progress there never runs ahead of the bytes written. (A sequential part's
progress is its own size.) Neither is fsynced: after a power loss the sha256 check catches a
piece whose data did not reach the disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
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
        try:
            tmp.write_text(json.dumps(data, separators=(",", ":")))
            os.replace(tmp, path)
        except BaseException:  # a full disk: the previous sidecar stays, no empty .tmp beside it
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

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


def read_progress(path: Path, pieces: list[Piece]) -> None:
    """Raise each piece's `done` to what the progress file recorded (a killed process's last writes)."""
    try:
        data = path.read_bytes()
    except OSError:
        return
    for index, piece in enumerate(pieces):
        chunk = data[index * 8 : index * 8 + 8]
        if len(chunk) == 8:
            done = struct.unpack("<Q", chunk)[0]
            piece.done = max(piece.done, min(done, piece.end - piece.start))


def plan_pieces(
    total: int,
    connections: int,
    min_piece: int = 8 * 1024 * 1024,
    max_piece: int = 64 * 1024 * 1024,
    first: int | None = None,
) -> list[Piece]:
    """Split `total` into ordered pieces that `connections` workers take in turn (as aria2 does).

    Several pieces per connection keep the contiguous frontier moving, so hashing keeps pace.
    `first` makes the first piece exactly [0, first): the bytes the probing request already asked for.
    """
    size = max(min_piece, min(max_piece, -(-total // (connections * 8))))
    start = min(first, total) if first else 0
    pieces = [Piece(0, start)] if start else []
    return pieces + [Piece(s, min(s + size, total)) for s in range(start, total, size)]
