"""Requests that cross service boundaries (the library, the wizard and the CLI ask for downloads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DownloadRequest:
    """What to fetch and where it goes.

    Destination: `dest_dir` when given, else `models/<kind>/` when `kind` is given. `name` is the
    file name (sanitised); without it the name comes from Content-Disposition or the URL.
    `sha256` and `size`, when known (catalog, HF LFS oid, CivitAI hashes), are verified.
    `source` records provenance for the library index, e.g. {"type": "huggingface", "repo": ...,
    "revision": ..., "path": ...}, {"type": "civitai", "model_id": ..., "version_id": ...},
    {"type": "catalog", "id": ...} or {"type": "url"}.
    """

    url: str
    kind: str | None = None
    dest_dir: Path | None = None
    name: str | None = None
    sha256: str | None = None
    size: int | None = None
    source: dict[str, Any] = field(default_factory=dict)
    connections: int | None = None  # None: the config's downloads.connections
    retries: int | None = None  # None: the config's downloads.retries
