"""The model library's records as plain data, shared by the library service, its events and the UIs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LIBRARY = "library"  # the `location` of files under models/<kind>/; other locations are UI folders


@dataclass(frozen=True)
class ModelRecord:
    path: str
    location: str  # LIBRARY, or the folder of another UI that was scanned
    kind: str | None
    name: str
    size: int
    mtime_ns: int
    inode: int
    device: int
    sha256: str | None = None
    format: str = "other"  # safetensors, pickle, zip-pickle, gguf, other
    architecture: str = "unknown"
    executable: bool = False  # a pickle: loading it can run code
    ok: bool = True
    problem: str = ""
    source: dict[str, Any] = field(default_factory=dict)
    verified_at: float | None = None
    link_target: str | None = None  # set when the library entry is a symlink

    @property
    def autov2(self) -> str | None:
        return self.sha256[:10].upper() if self.sha256 else None

    @property
    def warning(self) -> str:
        if not self.ok:
            return self.problem
        if self.executable:
            return "pickle format: loading it can run code"
        return ""


@dataclass(frozen=True)
class ScanResult:
    files: int
    added: int
    changed: int
    removed: int
    hashed_bytes: int
    seconds: float


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    name: str
    kind: str
    url: str
    filename: str
    size: int | None = None
    sha256: str | None = None
    architecture: str = "unknown"
    apps: tuple[str, ...] = ()
    description: str = ""
    license: str = ""
    gated: bool = False
    default_for: tuple[str, ...] = ()  # apps that download it on first start
    source: dict[str, Any] = field(default_factory=dict)
    approx_size: int | None = None  # exact size when known, else an estimate for disk checks


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file of a search result (HuggingFace repo file, CivitAI version file)."""

    name: str
    url: str
    size: int | None
    sha256: str | None
    kind: str | None
    format: str = "other"
    source: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RemoteModel:
    """A search hit from a model site."""

    source: str  # huggingface, civitai, catalog
    id: str
    name: str
    author: str = ""
    kind: str | None = None
    architecture: str = "unknown"
    downloads: int = 0
    version: str = ""  # HF commit sha or CivitAI version id
    files: tuple[RemoteFile, ...] = ()
    url: str = ""


@dataclass(frozen=True)
class UpdateInfo:
    path: str
    name: str
    source: str
    current: str
    latest: str
    detail: str = ""
