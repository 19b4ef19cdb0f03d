"""File hashes as the model sites and UIs write them. Blocking: call from a thread.

hashlib releases the GIL while it digests a large buffer, so several files hash in parallel
on threads; one reused buffer and sequential read-ahead keep a single file near `sha256sum`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

CHUNK = 4 * 1024 * 1024


def sha256_file(path: Path, progress: Callable[[int], None] | None = None, chunk: int = CHUNK) -> str:
    """The file's sha256; `progress(n)` after each `chunk` bytes read."""
    digest = hashlib.sha256()
    buffer = bytearray(chunk)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as fh:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        while n := fh.readinto(buffer):
            digest.update(view[:n])
            if progress:
                progress(n)
    return digest.hexdigest()


def autov2(sha256: str) -> str:
    """AUTOMATIC1111's and CivitAI's short hash: the first 10 hex digits of the sha256."""
    return sha256[:10].upper()


def autov1(path: Path) -> str:
    """The old A1111 'model hash': sha256 of 64 KiB at offset 1 MiB, first 8 hex digits."""
    with open(path, "rb") as fh:
        fh.seek(0x100000)
        return hashlib.sha256(fh.read(0x10000)).hexdigest()[:8]


def autov3(path: Path, data_offset: int) -> str:
    """CivitAI's safetensors hash: sha256 of the tensor data after the header, first 12 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        fh.seek(data_offset)
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()[:12].upper()
