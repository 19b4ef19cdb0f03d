"""HuggingFace Hub: search models, list a repo's files with their LFS sha256 and size, and revisions."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiui_tui.core.library import RemoteFile, RemoteModel
from aiui_tui.services.library.sources.api import JsonApi, next_link
from aiui_tui.services.library.validate import MODEL_SUFFIXES, PICKLE_SUFFIXES

SOURCE = "huggingface"


def guess_kind(path: str) -> str | None:
    """A library kind from a file's path in a repo; None when the name does not say."""
    low = path.lower()
    name = low.rsplit("/", 1)[-1]
    if "lora" in low:
        return "loras"
    if "controlnet" in low or name.startswith("control_"):
        return "controlnet"
    if "vae" in name:
        return "vae"
    if any(w in name for w in ("esrgan", "upscal", "4x", "2x")):
        return "upscale_models"
    if "text_encoder" in low or name.startswith(("t5xxl", "clip_l", "clip_g")):
        return "text_encoders"
    if "/" not in path and name.endswith((".safetensors", ".ckpt")):
        return "checkpoints"
    return None


def file_format(path: str) -> str:
    suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if suffix in (".safetensors", ".sft"):
        return "safetensors"
    return "pickle" if suffix in PICKLE_SUFFIXES else "other"


class HuggingFace(JsonApi):
    def __init__(self, base_url: str, tokens, session=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__("HuggingFace", base_url, tokens, session)

    def resolve_url(self, repo: str, path: str, revision: str = "main") -> str:
        return f"{self.base_url}/{repo}/resolve/{quote(revision, safe='')}/{quote(path)}"

    async def search(
        self, text: str, limit: int = 20, page_url: str | None = None
    ) -> tuple[list[RemoteModel], str | None]:
        """One page of models matching `text`, most downloaded first, and the next page's URL."""
        params = None if page_url else {"search": text, "limit": str(limit), "sort": "downloads", "direction": "-1"}
        data, response = await self.get(page_url or "/api/models", params)
        hits = [
            RemoteModel(
                source=SOURCE,
                id=item.get("id") or item.get("modelId", ""),
                name=item.get("id") or item.get("modelId", ""),
                author=item.get("author") or (item.get("id", "").split("/")[0] if "/" in item.get("id", "") else ""),
                downloads=int(item.get("downloads") or 0),
                version=item.get("sha", ""),
                url=f"{self.base_url}/{item.get('id', '')}",
            )
            for item in data
            if isinstance(item, dict)
        ]
        return hits, next_link(response)

    async def revision(self, repo: str, revision: str = "main") -> str:
        """The commit sha that `revision` (a branch or tag) points to now."""
        data, _ = await self.get(f"/api/models/{repo}/revision/{quote(revision, safe='')}")
        return str(data.get("sha", ""))

    async def files(self, repo: str, revision: str = "main", models_only: bool = True) -> list[RemoteFile]:
        """The repo's files (all pages), each with its LFS sha256 and size when stored in LFS."""
        url: str | None = f"/api/models/{repo}/tree/{quote(revision, safe='')}"
        params: dict[str, Any] | None = {"recursive": "true"}
        files: list[RemoteFile] = []
        while url:
            data, response = await self.get(url, params)
            for entry in data:
                if entry.get("type") != "file":
                    continue
                path = entry["path"]
                if models_only and "." + path.rsplit(".", 1)[-1].lower() not in MODEL_SUFFIXES:
                    continue
                lfs = entry.get("lfs") or {}
                files.append(
                    RemoteFile(
                        name=path.rsplit("/", 1)[-1],
                        url=self.resolve_url(repo, path, revision),
                        size=int(lfs.get("size") or entry.get("size") or 0) or None,
                        sha256=(lfs.get("oid") or lfs.get("sha256") or None),
                        kind=guess_kind(path),
                        format=file_format(path),
                        source={"type": SOURCE, "repo": repo, "revision": revision, "path": path},
                    )
                )
            url, params = next_link(response), None
        return files

    async def model(self, repo: str, revision: str = "main") -> RemoteModel:
        sha = await self.revision(repo, revision)
        files = await self.files(repo, revision)
        return RemoteModel(
            source=SOURCE,
            id=repo,
            name=repo,
            author=repo.split("/")[0],
            version=sha,
            files=tuple(files),
            url=f"{self.base_url}/{repo}",
        )
