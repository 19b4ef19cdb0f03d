"""The model library's records as plain data, shared by the library service, its events and the UIs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiui_tui.core.errors import UsageError

LIBRARY = "library"  # the `location` of files under models/<kind>/; other locations are UI folders

# The sources a ModelRef names (a plugin's source is named by its plugin's source name).
CATALOG, HF, CIVITAI, URL = "catalog", "hf", "civitai", "url"
_SEARCH_SOURCES = {"huggingface": HF}  # RemoteModel.source -> the ModelRef source, where they differ
_FORMS = "a catalog id, hf:OWNER/REPO[/FILE][@REVISION], civitai:ID[@VERSION] or a URL"


@dataclass(frozen=True)
class ModelRef:
    """One model at one source: what `models add` takes and the model browser queues.

    Its text form, `str(ref)` and `ModelRef.parse(text)`, is what people type:
    `sdxl-base-1.0` (the catalog), `hf:owner/repo[/path][@revision]`, `civitai:ID[@VERSION]`, an
    http(s) URL, or `SOURCE:ID` for a plugin's source.
    """

    source: str  # CATALOG, HF, CIVITAI, URL or a plugin source's name
    id: str  # catalog id, owner/repo[/path], CivitAI model id, the URL, the plugin's id
    version: str = ""  # HuggingFace revision or CivitAI version id; "" for the latest

    def __str__(self) -> str:
        if self.source in (CATALOG, URL):
            return self.id
        return f"{self.source}:{self.id}" + (f"@{self.version}" if self.version else "")

    @property
    def hf_repo(self) -> str:
        """owner/repo of a HuggingFace ref (its path, if any, left out)."""
        return "/".join(self.id.split("/")[:2])

    @property
    def hf_path(self) -> str:
        """The file in the repo of a HuggingFace ref, or "" (the repo's only model file)."""
        return "/".join(self.id.split("/")[2:])

    @classmethod
    def for_search_hit(cls, source: str, model_id: str) -> ModelRef:
        """The ref of a search hit (`RemoteModel.source`, `RemoteModel.id`)."""
        source = _SEARCH_SOURCES.get(source, source)
        return cls(source, model_id)

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        """The ref `text` names; UsageError (one line and the forms it takes) when it names none."""
        text = text.strip()
        if not text:
            raise UsageError("No model named.", f"give {_FORMS}")
        if text.startswith(("http://", "https://")):
            return cls(URL, text)
        if ":" not in text:
            return cls(CATALOG, text)
        source, _, rest = text.partition(":")
        if source == HF:
            repo, _, revision = rest.partition("@")
            parts = repo.strip("/").split("/")
            if len(parts) < 2 or not all(parts) or (not revision and rest.endswith("@")):
                raise UsageError(
                    f"Not a HuggingFace repo: {text!r}.", "write hf:owner/repo or hf:owner/repo/file.safetensors"
                )
            return cls(HF, "/".join(parts), revision)
        if source == CIVITAI:
            model, _, version = rest.partition("@")
            if not model.isdigit() or not (version.isdigit() or (not version and "@" not in rest)):
                raise UsageError(
                    f"Not a CivitAI model: {text!r}.",
                    "write civitai:ID or civitai:ID@VERSION (the numbers in the model page's URL)",
                )
            return cls(CIVITAI, model, version)
        if not source or not rest or not source.replace("-", "").replace("_", "").isalnum():
            raise UsageError(f"Not a model reference: {text!r}.", f"give {_FORMS}")
        return cls(source, rest)


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
