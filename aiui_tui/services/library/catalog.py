"""The curated catalog: `data/catalog.toml`, plus entries plugins contribute.

Entries are checked when loaded (known kind, http(s) URL, a plain file name, a 64-digit sha256),
so a bad plugin entry is refused with its id rather than failing a download later.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

from aiui_tui.core.errors import ConfigError
from aiui_tui.core.library import CatalogEntry
from aiui_tui.core.requests import DownloadRequest
from aiui_tui.kinds import kind_names
from aiui_tui.tomlcompat import tomllib

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def entry_from_table(row: Mapping[str, Any], origin: str = "catalog.toml") -> CatalogEntry:
    ident = str(row.get("id", "?"))

    def bad(what: str) -> ConfigError:
        return ConfigError(f"Catalog entry {ident!r} in {origin}: {what}.", "fix the entry or remove it")

    for key in ("id", "name", "kind", "url", "filename"):
        if not isinstance(row.get(key), str) or not row[key]:
            raise bad(f"`{key}` is missing")
    if row["kind"] not in kind_names():
        raise bad(f"unknown kind {row['kind']!r} (one of {', '.join(kind_names())})")
    if not row["url"].startswith(("https://", "http://")):
        raise bad("`url` must be http(s)")
    if "/" in row["filename"] or row["filename"].startswith("."):
        raise bad("`filename` must be a plain file name")
    sha256 = row.get("sha256")
    if sha256 is not None and not _SHA256.match(str(sha256).lower()):
        raise bad("`sha256` must be 64 hexadecimal digits")
    source: dict[str, Any] = {"type": "catalog", "id": ident}
    if row.get("repo"):
        source.update(type="huggingface", repo=row["repo"], path=row.get("path", row["filename"]), catalog=ident)
    return CatalogEntry(
        id=ident,
        name=row["name"],
        kind=row["kind"],
        url=row["url"],
        filename=row["filename"],
        size=row.get("size"),
        sha256=sha256.lower() if sha256 else None,
        architecture=row.get("architecture", "unknown"),
        apps=tuple(row.get("apps", ())),
        description=row.get("description", ""),
        license=row.get("license", ""),
        gated=bool(row.get("gated", False)),
        default_for=tuple(row.get("default_for", ())),
        source=source,
        approx_size=row.get("size") or row.get("approx_size"),
    )


@cache
def builtin_catalog() -> tuple[CatalogEntry, ...]:
    text = resources.files("aiui_tui.data").joinpath("catalog.toml").read_text(encoding="utf-8")
    return tuple(entry_from_table(row) for row in tomllib.loads(text).get("model", []))


def load_catalog(extra: Iterable[CatalogEntry] = ()) -> list[CatalogEntry]:
    """Built-in entries, then extra ones (plugins); a later entry with the same id replaces one."""
    entries = {e.id: e for e in builtin_catalog()}
    for entry in extra:
        entries[entry.id] = entry
    return list(entries.values())


def search_catalog(entries: Iterable[CatalogEntry], text: str = "", kind: str | None = None) -> list[CatalogEntry]:
    words = text.lower().split()
    hits = []
    for entry in entries:
        haystack = " ".join((entry.id, entry.name, entry.filename, entry.architecture, entry.description, *entry.apps))
        if kind and entry.kind != kind:
            continue
        if all(w in haystack.lower() for w in words):
            hits.append(entry)
    return hits


def request_for(entry: CatalogEntry, kind: str | None = None) -> DownloadRequest:
    return DownloadRequest(
        url=entry.url,
        kind=kind or entry.kind,
        name=entry.filename,
        sha256=entry.sha256,
        size=entry.size,
        source=dict(entry.source),
    )
