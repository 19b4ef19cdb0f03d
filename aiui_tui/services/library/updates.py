"""Is there a newer version of a model than the one in the library?

HuggingFace: the file at the same repo path now has another sha256 (LFS oid) than ours; comparing
the file, not the repo's commit, ignores README-only commits. CivitAI: the model's newest version id
is not the one we downloaded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiui_tui.core.library import ModelRecord, UpdateInfo
from aiui_tui.logs import get_logger
from aiui_tui.services.library.sources.api import SourceError
from aiui_tui.services.library.sources.civitai import CivitAI
from aiui_tui.services.library.sources.hf import HuggingFace

log = get_logger(__name__)


async def check_updates(
    records: Iterable[ModelRecord], hf: HuggingFace, civitai: CivitAI
) -> tuple[list[UpdateInfo], list[str]]:
    """Updates found, and one line per model that could not be checked."""
    records = [r for r in records if r.source.get("type") in ("huggingface", "civitai") and r.sha256]
    updates: list[UpdateInfo] = []
    problems: list[str] = []
    trees: dict[tuple[str, str], asyncio.Task] = {}
    civitai_models: dict[str, asyncio.Task] = {}
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
            if src["type"] == "huggingface" and src.get("repo"):
                files = trees[(src["repo"], src.get("revision") or "main")].result()
                remote = next((f for f in files if f.source.get("path") == src.get("path", r.name)), None)
                if remote is None:
                    problems.append(f"{r.name}: {src['repo']} no longer has {src.get('path', r.name)}")
                elif remote.sha256 and remote.sha256 != r.sha256:
                    updates.append(UpdateInfo(r.path, r.name, "huggingface", r.sha256[:10], remote.sha256[:10],
                                              f"{src['repo']} has a new {src.get('path', r.name)}"))  # fmt: skip
            elif src["type"] == "civitai" and src.get("model_id"):
                model, versions = civitai_models[str(src["model_id"])].result()
                latest = versions[0] if versions else {}
                if latest and str(latest.get("id")) != str(src.get("version_id")):
                    detail = f"{model.name}: newer version {latest.get('name', '')!r}"
                    current, newest = str(src.get("version_id")), str(latest.get("id"))
                    updates.append(UpdateInfo(r.path, r.name, "civitai", current, newest, detail))
        except SourceError as exc:
            problems.append(f"{r.name}: {exc.message}")
    return updates, problems
