"""CivitAI: search models, read versions with their files and hashes, identify a local file by hash."""

from __future__ import annotations

from typing import Any

from aiui_tui.core.library import RemoteFile, RemoteModel
from aiui_tui.services.library.sources.api import JsonApi

SOURCE = "civitai"

KINDS = {
    "Checkpoint": "checkpoints",
    "LORA": "loras",
    "LoCon": "loras",
    "DoRA": "loras",
    "TextualInversion": "embeddings",
    "Hypernetwork": "hypernetworks",
    "VAE": "vae",
    "Upscaler": "upscale_models",
    "Controlnet": "controlnet",
}
TYPES = {kind: civitai for civitai, kind in reversed(KINDS.items())}  # library kind -> CivitAI type

_ARCHITECTURES = {
    "SD 1.5": "sd15",
    "SD 1.4": "sd15",
    "SD 2.0": "sd2",
    "SD 2.1": "sd2",
    "SDXL 1.0": "sdxl",
    "SDXL Turbo": "sdxl",
    "SDXL Lightning": "sdxl",
    "Pony": "sdxl",
    "Illustrious": "sdxl",
    "NoobAI": "sdxl",
    "SD 3": "sd3",
    "SD 3.5": "sd3",
    "Flux.1 D": "flux-dev",
    "Flux.1 S": "flux-schnell",
}


def architecture_of(base_model: str | None, kind: str | None) -> str:
    arch = _ARCHITECTURES.get(base_model or "", "unknown")
    if kind == "loras" and arch != "unknown":
        return f"lora-{arch.split('-')[0]}"
    return arch


def _files(version: dict[str, Any], model_id: Any, kind: str | None) -> tuple[RemoteFile, ...]:
    out = []
    for f in version.get("files") or []:
        hashes = f.get("hashes") or {}
        size_kb = f.get("sizeKB")
        fmt = (f.get("metadata") or {}).get("format", "")
        out.append(
            RemoteFile(
                name=f.get("name", ""),
                url=f.get("downloadUrl") or version.get("downloadUrl", ""),
                size=round(float(size_kb) * 1024) if size_kb else None,
                sha256=(hashes.get("SHA256") or "").lower() or None,
                kind=kind
                if f.get("type") in (None, "Model", "Pruned Model")
                else ("vae" if f.get("type") == "VAE" else None),
                format={"SafeTensor": "safetensors", "PickleTensor": "pickle"}.get(fmt, "other"),
                source={
                    "type": SOURCE,
                    "model_id": model_id,
                    "version_id": version.get("id"),
                    "file": f.get("name", ""),
                },
            )
        )
    return tuple(out)


def _model(item: dict[str, Any], version: dict[str, Any] | None = None) -> RemoteModel:
    kind = KINDS.get(item.get("type", ""))
    versions = item.get("modelVersions") or []
    version = version or (versions[0] if versions else {})
    return RemoteModel(
        source=SOURCE,
        id=str(item.get("id", version.get("modelId", ""))),
        name=item.get("name", "") or version.get("name", ""),
        author=(item.get("creator") or {}).get("username", ""),
        kind=kind,
        architecture=architecture_of(version.get("baseModel"), kind),
        downloads=int((item.get("stats") or {}).get("downloadCount") or 0),
        version=str(version.get("id", "")),
        files=_files(version, item.get("id", version.get("modelId")), kind),
        url=f"https://civitai.com/models/{item.get('id', version.get('modelId', ''))}",
    )


class CivitAI(JsonApi):
    def __init__(self, base_url: str, tokens, session=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__("CivitAI", base_url, tokens, session)
        self.api = self.base_url + "/api/v1"

    async def search(
        self, text: str, kind: str | None = None, limit: int = 20, cursor: str | None = None, nsfw: bool = False
    ) -> tuple[list[RemoteModel], str | None]:
        """One page of models matching `text`, and the cursor of the next page."""
        params: dict[str, str] = {"query": text, "limit": str(limit), "nsfw": str(nsfw).lower()}
        if kind and kind in TYPES:
            params["types"] = TYPES[kind]
        if cursor:
            params["cursor"] = cursor
        data, _ = await self.get(self.api + "/models", params)
        meta = data.get("metadata") or {}
        cursor = meta.get("nextCursor")
        return [_model(item) for item in data.get("items") or []], str(cursor) if cursor else None

    async def model(self, model_id: int | str) -> tuple[RemoteModel, list[dict[str, Any]]]:
        """The model with its newest version's files, and every version (newest first)."""
        data, _ = await self.get(f"{self.api}/models/{model_id}")
        return _model(data), list(data.get("modelVersions") or [])

    async def version(self, version_id: int | str) -> RemoteModel:
        data, _ = await self.get(f"{self.api}/model-versions/{version_id}")
        model = data.get("model") or {}
        return _model({"id": data.get("modelId"), "name": model.get("name", ""), "type": model.get("type", "")}, data)

    async def by_hash(self, file_hash: str) -> RemoteModel:
        """Identify a local file from its sha256 (or AutoV2, AutoV3, CRC32, BLAKE3)."""
        data, _ = await self.get(f"{self.api}/model-versions/by-hash/{file_hash}")
        model = data.get("model") or {}
        return _model({"id": data.get("modelId"), "name": model.get("name", ""), "type": model.get("type", "")}, data)
