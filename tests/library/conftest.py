"""Library fixtures: small real safetensors files, fake UI installs with their real layouts, and a
local server answering the HuggingFace and CivitAI APIs in their real JSON shapes (and serving files)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from aiui_tui.services.library.safetensors import write_safetensors
from tests.http_server import serve

SD15_KEYS = {
    "cond_stage_model.transformer.text_model.embeddings.position_ids": ("I64", [1, 77]),
    "model.diffusion_model.input_blocks.0.0.weight": ("F16", [320, 4, 3, 3]),
    "first_stage_model.decoder.conv_out.weight": ("F16", [3, 128, 3, 3]),
}
SDXL_KEYS = {
    "conditioner.embedders.0.transformer.text_model.embeddings.position_ids": ("I64", [1, 77]),
    "conditioner.embedders.1.model.ln_final.weight": ("F16", [1280]),
    "model.diffusion_model.input_blocks.0.0.weight": ("F16", [320, 4, 3, 3]),
}
FLUX_DEV_KEYS = {
    "double_blocks.0.img_attn.norm.key_norm.scale": ("BF16", [128]),
    "guidance_in.in_layer.weight": ("BF16", [3072, 256]),
}
FLUX_SCHNELL_KEYS = {"model.diffusion_model.double_blocks.0.img_attn.norm.key_norm.scale": ("BF16", [128])}
LORA_KEYS = {
    "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": ("F16", [8, 320]),
    "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight": ("F16", [320, 8]),
}
VAE_KEYS = {"encoder.conv_in.weight": ("F32", [128, 3, 3, 3]), "decoder.conv_out.weight": ("F32", [3, 128, 3, 3])}


def make_model(path: Path, keys: dict, metadata: dict | None = None, salt: str = "") -> Path:
    """A valid safetensors file; `salt` goes into the metadata so equal key sets differ in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(metadata or {})
    if salt:
        meta["salt"] = salt
    write_safetensors(path, keys, meta or None)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fake_a1111(base: Path) -> Path:
    for folder in ("models/Stable-diffusion", "models/Lora", "models/VAE", "embeddings"):
        (base / folder).mkdir(parents=True, exist_ok=True)
    (base / "webui.py").write_text("# AUTOMATIC1111\n")
    (base / "webui-user.sh").write_text('#!/bin/bash\n# my settings\nexport COMMANDLINE_ARGS="--xformers"\n')
    return base


def fake_comfyui(base: Path) -> Path:
    for folder in ("checkpoints", "loras", "vae", "upscale_models", "embeddings"):
        (base / "models" / folder).mkdir(parents=True, exist_ok=True)
    (base / "comfy").mkdir(parents=True, exist_ok=True)
    (base / "main.py").write_text("# ComfyUI\n")
    return base


def fake_fooocus(base: Path) -> Path:
    for folder in ("checkpoints", "loras", "embeddings", "vae_approx", "upscale_models", "inpaint"):
        (base / "models" / folder).mkdir(parents=True, exist_ok=True)
    (base / "entry_with_update.py").write_text("# Fooocus\n")
    (base / "config.txt").write_text(
        json.dumps({"path_checkpoints": ["models/checkpoints"], "path_loras": ["models/loras"], "theme": "dark"})
    )
    return base


def tree_bytes(folder: Path) -> dict[str, str]:
    """sha256 of every regular file's content (following links) under `folder`, by relative path."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            out[str(path.relative_to(folder))] = sha256(path)
    return out


def dangling_links(*folders: Path) -> list[str]:
    return [str(p) for f in folders for p in f.rglob("*") if p.is_symlink() and not p.exists()]


# --- a local HuggingFace + CivitAI -------------------------------------------------------------------


@dataclass
class FakeSites:
    """State behind the fixture server; tests change it to inject faults or new versions."""

    files: dict[str, bytes] = field(default_factory=dict)  # "owner/repo/path" -> content
    commit: str = "a" * 40
    civitai_models: dict[int, dict] = field(default_factory=dict)
    rate_limit_next: int = 0  # answer this many requests with 429 first
    require_token: str | None = None  # 401 unless this bearer token is sent
    page_size: int = 2
    requests: list[str] = field(default_factory=list)
    auth_seen: list[str | None] = field(default_factory=list)
    base: str = ""

    def add_hf_file(self, repo: str, path: str, content: bytes) -> str:
        self.files[f"{repo}/{path}"] = content
        return hashlib.sha256(content).hexdigest()

    def add_civitai_model(self, model_id: int, name: str, kind: str, versions: list[tuple[int, str, bytes]]) -> None:
        """versions: (version id, file name, content), newest first."""
        self.civitai_models[model_id] = {
            "id": model_id,
            "name": name,
            "type": kind,
            "creator": {"username": "someone"},
            "stats": {"downloadCount": 1234},
            "modelVersions": [
                {
                    "id": vid,
                    "modelId": model_id,
                    "name": f"v{vid}",
                    "baseModel": "SDXL 1.0",
                    "files": [
                        {
                            "id": vid * 10,
                            "name": fname,
                            "sizeKB": len(content) / 1024,
                            "type": "Model",
                            "primary": True,
                            "metadata": {"format": "SafeTensor", "fp": "fp16", "size": "pruned"},
                            "hashes": {
                                "SHA256": hashlib.sha256(content).hexdigest().upper(),
                                "AutoV2": hashlib.sha256(content).hexdigest()[:10].upper(),
                            },
                            "downloadUrl": f"{self.base}/api/download/models/{vid}",
                        }
                    ],
                }
                for vid, fname, content in versions
            ],
        }
        self._contents = getattr(self, "_contents", {})
        for vid, _fname, content in versions:
            self._contents[vid] = content


def sites_app(sites: FakeSites) -> web.Application:
    @web.middleware
    async def faults(request: web.Request, handler):
        sites.requests.append(request.path_qs)
        sites.auth_seen.append(request.headers.get("Authorization"))
        if sites.rate_limit_next > 0:
            sites.rate_limit_next -= 1
            return web.json_response({"error": "Too Many Requests"}, status=429, headers={"Retry-After": "0"})
        if sites.require_token and request.headers.get("Authorization") != f"Bearer {sites.require_token}":
            return web.json_response({"error": "Invalid credentials in Authorization header"}, status=401)
        return await handler(request)

    def repos() -> list[str]:
        return sorted({"/".join(k.split("/")[:2]) for k in sites.files})

    async def hf_search(request: web.Request) -> web.Response:
        text = request.query.get("search", "").lower()
        hits = [r for r in repos() if text in r.lower()]
        limit = int(request.query.get("limit", "20"))
        offset = int(request.query.get("offset", "0"))
        page = hits[offset : offset + limit]
        headers = {}
        if offset + limit < len(hits):
            headers["Link"] = (
                f'<{sites.base}/api/models?search={text}&limit={limit}&offset={offset + limit}>; rel="next"'
            )
        body = [{"_id": r, "id": r, "modelId": r, "author": r.split("/")[0], "downloads": 10, "likes": 1} for r in page]
        return web.json_response(body, headers=headers)

    async def hf_revision(request: web.Request) -> web.Response:
        repo = f"{request.match_info['owner']}/{request.match_info['name']}"
        if repo not in repos():
            return web.json_response({"error": "Repository not found"}, status=404)
        return web.json_response({"id": repo, "sha": sites.commit, "siblings": []})

    async def hf_tree(request: web.Request) -> web.Response:
        repo = f"{request.match_info['owner']}/{request.match_info['name']}"
        entries = []
        for key, content in sorted(sites.files.items()):
            if key.startswith(repo + "/"):
                path = key[len(repo) + 1 :]
                oid = hashlib.sha256(content).hexdigest()
                entries.append(
                    {
                        "type": "file",
                        "oid": hashlib.sha1(content).hexdigest(),
                        "size": len(content),
                        "path": path,
                        "lfs": {"oid": oid, "size": len(content), "pointerSize": 134},
                    }
                )
        entries.append({"type": "directory", "oid": "0" * 40, "size": 0, "path": "unet"})
        offset = int(request.query.get("cursor", "0"))
        page = entries[offset : offset + sites.page_size]
        headers = {}
        if offset + sites.page_size < len(entries):
            rev = request.match_info["rev"]
            nxt = f"{sites.base}/api/models/{repo}/tree/{rev}?recursive=true&cursor={offset + sites.page_size}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        return web.json_response(page, headers=headers)

    async def hf_resolve(request: web.Request) -> web.Response:
        key = f"{request.match_info['owner']}/{request.match_info['name']}/{request.match_info['path']}"
        if key not in sites.files:
            return web.Response(status=404, text="Entry not found")
        return web.Response(body=sites.files[key], content_type="application/octet-stream")

    async def civitai_search(request: web.Request) -> web.Response:
        text = request.query.get("query", "").lower()
        items = [m for m in sites.civitai_models.values() if text in m["name"].lower()]
        if "types" in request.query:
            items = [m for m in items if m["type"] == request.query["types"]]
        limit = int(request.query.get("limit", "20"))
        cursor = int(request.query.get("cursor", "0"))
        page = items[cursor : cursor + limit]
        meta = {"nextCursor": str(cursor + limit)} if cursor + limit < len(items) else {}
        return web.json_response({"items": page, "metadata": meta})

    async def civitai_model(request: web.Request) -> web.Response:
        model = sites.civitai_models.get(int(request.match_info["id"]))
        if model is None:
            return web.json_response({"error": "No model with id"}, status=404)
        return web.json_response(model)

    def find_version(pred) -> tuple[dict, dict] | None:
        for model in sites.civitai_models.values():
            for version in model["modelVersions"]:
                if pred(version):
                    return model, version
        return None

    def version_body(model: dict, version: dict) -> dict:
        return {**version, "model": {"name": model["name"], "type": model["type"]}}

    async def civitai_version(request: web.Request) -> web.Response:
        hit = find_version(lambda v: v["id"] == int(request.match_info["id"]))
        return web.json_response(version_body(*hit)) if hit else web.json_response({"error": "nope"}, status=404)

    async def civitai_by_hash(request: web.Request) -> web.Response:
        h = request.match_info["hash"].upper()
        hit = find_version(lambda v: any(h in (f["hashes"]["SHA256"], f["hashes"]["AutoV2"]) for f in v["files"]))
        return (
            web.json_response(version_body(*hit))
            if hit
            else web.json_response({"error": "Model not found"}, status=404)
        )

    async def civitai_download(request: web.Request) -> web.Response:
        vid = int(request.match_info["vid"])
        content = getattr(sites, "_contents", {}).get(vid)
        if content is None:
            return web.Response(status=404)
        hit = find_version(lambda v: v["id"] == vid)
        assert hit
        name = hit[1]["files"][0]["name"]
        return web.Response(
            body=content,
            content_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    app = web.Application(middlewares=[faults])
    app.router.add_get("/api/models", hf_search)
    app.router.add_get("/api/models/{owner}/{name}/revision/{rev}", hf_revision)
    app.router.add_get("/api/models/{owner}/{name}/tree/{rev}", hf_tree)
    app.router.add_get("/api/v1/models", civitai_search)
    app.router.add_get("/api/v1/models/{id}", civitai_model)
    app.router.add_get("/api/v1/model-versions/by-hash/{hash}", civitai_by_hash)
    app.router.add_get("/api/v1/model-versions/{id}", civitai_version)
    app.router.add_get("/api/download/models/{vid}", civitai_download)
    app.router.add_get("/{owner}/{name}/resolve/{rev}/{path:.*}", hf_resolve)
    return app


@pytest.fixture
async def sites():
    state = FakeSites()
    async with serve(sites_app(state)) as base:
        state.base = base
        yield state
