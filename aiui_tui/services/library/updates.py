"""Is there a newer version of a model than the one in the library?

HuggingFace: the file at the same repo path now has another sha256 (LFS oid) than ours; comparing
the file, not the repo's commit, ignores README-only commits. CivitAI: the model's newest version id
is not the one we downloaded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiui_tui.core.library import ModelRecord, RemoteFile, RemoteModel, UpdateInfo
from aiui_tui.logs import get_logger
from aiui_tui.services.library.sources.api import SourceError
from aiui_tui.services.library.sources.civitai import CivitAI
from aiui_tui.services.library.sources.hf import HuggingFace

log = get_logger(__name__)


@dataclass
class UpdateReport:
    """What an update check found, and how much of the library it could really check."""

    updates: list[UpdateInfo] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line per model whose source did not answer
    checked: int = 0  # models whose source answered (with or without a newer version)
    no_source: int = 0  # models with no HuggingFace or CivitAI origin (added by hand, imported): nothing to ask

    @property
    def failed(self) -> int:
        return len(self.problems)

    def summary(self) -> str:
        """One line with every figure, e.g. "3 checked, 1 update; 2 could not be checked; 4 have no source"."""
        parts = [f"{self.checked} checked" + (f", {len(self.updates)} with an update" if self.updates else "")]
        if self.failed:
            parts.append(f"{self.failed} could not be checked")
        if self.no_source:
            parts.append(f"{self.no_source} have no HuggingFace or CivitAI source to check")
        return "; ".join(parts)

    def headline(self) -> str:
        """The one line both UIs show: what was found, never "up to date" for what was not checked."""
        if self.checked == 0:
            if self.failed or self.no_source:
                return f"Nothing could be checked ({self.summary()})"
            return "Nothing could be checked (the library is empty)"
        if self.updates:
            return self.summary()
        if self.failed or self.no_source:
            return f"Up to date where it could be checked: {self.summary()}"
        return f"All {self.checked} models from HuggingFace and CivitAI are up to date"


def _checkable(r: ModelRecord) -> bool:
    src = r.source
    return bool(r.sha256) and (
        (src.get("type") == "huggingface" and bool(src.get("repo")))
        or (src.get("type") == "civitai" and bool(src.get("model_id")))
    )


async def check_updates(records: Iterable[ModelRecord], hf: HuggingFace, civitai: CivitAI) -> UpdateReport:
    """Updates found, one line per model that could not be checked, and the counts of each."""
    records = list(records)
    report = UpdateReport(no_source=sum(1 for r in records if not _checkable(r)))
    records = [r for r in records if _checkable(r)]
    updates, problems = report.updates, report.problems
    trees: dict[tuple[str, str], asyncio.Future[list[RemoteFile]]] = {}
    civitai_models: dict[str, asyncio.Future[tuple[RemoteModel, list[dict[str, Any]]]]] = {}
    for r in records:
        src = r.source
        if src["type"] == "huggingface" and src.get("repo"):
            key = (src["repo"], src.get("revision") or "main")
            trees.setdefault(key, asyncio.ensure_future(hf.files(*key, models_only=True)))
        elif src["type"] == "civitai" and src.get("model_id"):
            civitai_models.setdefault(str(src["model_id"]), asyncio.ensure_future(civitai.model(src["model_id"])))
    await asyncio.gather(*trees.values(), *civitai_models.values(), return_exceptions=True)
    for r in records:
        src = r.source
        try:
            if src["type"] == "huggingface":
                files = trees[(src["repo"], src.get("revision") or "main")].result()
                remote = next((f for f in files if f.source.get("path") == src.get("path", r.name)), None)
                if remote is None:  # nothing left to compare with: not a check
                    problems.append(f"{r.name}: {src['repo']} no longer has {src.get('path', r.name)}")
                    continue
                if remote.sha256 and remote.sha256 != r.sha256:
                    updates.append(UpdateInfo(r.path, r.name, "huggingface", (r.sha256 or "")[:10], remote.sha256[:10],
                                              f"{src['repo']} has a new {src.get('path', r.name)}"))  # fmt: skip
            else:
                model, versions = civitai_models[str(src["model_id"])].result()
                latest = versions[0] if versions else {}
                if latest and str(latest.get("id")) != str(src.get("version_id")):
                    detail = f"{model.name}: newer version {latest.get('name', '')!r}"
                    current, newest = str(src.get("version_id")), str(latest.get("id"))
                    updates.append(UpdateInfo(r.path, r.name, "civitai", current, newest, detail))
        except SourceError as exc:
            problems.append(f"{r.name}: {exc.message}")
            continue
        report.checked += 1
    return report
