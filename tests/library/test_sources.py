"""HuggingFace and CivitAI clients against a local server speaking their JSON: paging, 429, auth, offline."""

from __future__ import annotations

import socket

import pytest
from pydantic import SecretStr

from aiui_tui.config import Sources
from aiui_tui.credentials import Credentials
from aiui_tui.services.downloads.auth import source_tokens
from aiui_tui.services.library.sources.api import SourceAuthError, SourceError, SourceOffline, SourceRateLimited
from aiui_tui.services.library.sources.civitai import CivitAI
from aiui_tui.services.library.sources.hf import HuggingFace


def tokens(base: str, hf: str | None = None, civitai: str | None = None):
    creds = Credentials(
        huggingface_token=SecretStr(hf) if hf else None, civitai_api_token=SecretStr(civitai) if civitai else None
    )
    return source_tokens(Sources(huggingface_url=base, civitai_url=base), creds)


@pytest.fixture
async def hf(sites):
    client = HuggingFace(sites.base, tokens(sites.base))
    yield client
    await client.close()


@pytest.fixture
async def civitai(sites):
    client = CivitAI(sites.base, tokens(sites.base))
    yield client
    await client.close()


async def test_hf_search_pages_through_the_link_header(sites, hf):
    for i in range(5):
        sites.add_hf_file(f"org/sdxl-model-{i}", "model.safetensors", b"x" * 8)
    sites.add_hf_file("org/other", "model.safetensors", b"y")
    first, next_url = await hf.search("sdxl", limit=2)
    assert [m.id for m in first] == ["org/sdxl-model-0", "org/sdxl-model-1"]
    assert next_url and "offset=2" in next_url
    seen = [m.id for m in first]
    while next_url:
        page, next_url = await hf.search("sdxl", page_url=next_url)
        seen += [m.id for m in page]
    assert seen == [f"org/sdxl-model-{i}" for i in range(5)]
    assert first[0].author == "org" and first[0].source == "huggingface"


async def test_hf_files_list_lfs_sha256_and_size_across_pages(sites, hf):
    sha_a = sites.add_hf_file("org/repo", "sd_xl_base.safetensors", b"a" * 100)
    sha_b = sites.add_hf_file("org/repo", "vae/diffusion_pytorch_model.safetensors", b"b" * 50)
    sites.add_hf_file("org/repo", "README.md", b"# readme")
    sites.add_hf_file("org/repo", "lora/style_lora.safetensors", b"c" * 10)
    files = await hf.files("org/repo")
    by_path = {f.source["path"]: f for f in files}
    assert set(by_path) == {
        "sd_xl_base.safetensors",
        "vae/diffusion_pytorch_model.safetensors",
        "lora/style_lora.safetensors",
    }
    assert by_path["sd_xl_base.safetensors"].sha256 == sha_a and by_path["sd_xl_base.safetensors"].size == 100
    assert by_path["vae/diffusion_pytorch_model.safetensors"].sha256 == sha_b
    assert by_path["sd_xl_base.safetensors"].kind == "checkpoints"
    assert by_path["lora/style_lora.safetensors"].kind == "loras"
    assert by_path["sd_xl_base.safetensors"].url == f"{sites.base}/org/repo/resolve/main/sd_xl_base.safetensors"
    assert sum("/tree/main" in r for r in sites.requests) == 3  # 5 entries, 2 per page
    assert await hf.revision("org/repo") == sites.commit


async def test_rate_limits_are_waited_out_then_reported(sites, hf):
    sites.add_hf_file("org/repo", "m.safetensors", b"m")
    sites.rate_limit_next = 2
    hits, _ = await hf.search("repo")
    assert [h.id for h in hits] == ["org/repo"]
    sites.rate_limit_next = 3
    with pytest.raises(SourceRateLimited, match="429"):
        await hf.search("repo")


async def test_auth_errors_name_the_token_setting_and_tokens_are_sent_only_to_their_site(sites):
    sites.require_token = "hf_secret"
    client = HuggingFace(sites.base, tokens(sites.base))
    with pytest.raises(SourceAuthError) as info:
        await client.search("x")
    assert "HF_TOKEN" in info.value.fix
    await client.close()
    client = HuggingFace(sites.base, tokens(sites.base, hf="hf_wrong"))
    with pytest.raises(SourceAuthError, match="refused"):
        await client.search("x")
    await client.close()
    client = HuggingFace(sites.base, tokens(sites.base, hf="hf_secret"))
    assert await client.search("x") == ([], None)
    await client.close()


async def test_offline_is_a_state_with_a_clear_message():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    base = f"http://127.0.0.1:{port}"
    client = CivitAI(base, tokens(base))
    with pytest.raises(SourceOffline, match="CivitAI is not reachable"):
        await client.search("anything")
    await client.close()


async def test_not_json_is_a_clear_error(sites, hf):
    with pytest.raises(SourceError, match="404"):
        await hf.revision("nobody/nothing")


async def test_civitai_search_model_versions_and_lookup_by_hash(sites, civitai):
    sites.add_civitai_model(
        101, "Cool Style", "LORA", [(12, "cool_v2.safetensors", b"v2" * 50), (11, "cool_v1.safetensors", b"v1")]
    )
    sites.add_civitai_model(102, "Cool Checkpoint", "Checkpoint", [(21, "ckpt.safetensors", b"ck" * 10)])
    hits, cursor = await civitai.search("cool", limit=1)
    assert [h.name for h in hits] == ["Cool Style"] and cursor == "1"
    more, cursor = await civitai.search("cool", limit=1, cursor=cursor)
    assert [h.name for h in more] == ["Cool Checkpoint"] and cursor is None
    only_loras, _ = await civitai.search("cool", kind="loras")
    assert [h.id for h in only_loras] == ["101"]

    model, versions = await civitai.model(101)
    assert model.kind == "loras" and model.architecture == "lora-sdxl" and model.version == "12"
    (file,) = model.files
    assert file.name == "cool_v2.safetensors" and file.size == 100 and file.format == "safetensors"
    import hashlib

    assert file.sha256 == hashlib.sha256(b"v2" * 50).hexdigest()
    assert file.source == {"type": "civitai", "model_id": 101, "version_id": 12, "file": "cool_v2.safetensors"}
    assert [v["id"] for v in versions] == [12, 11]

    found = await civitai.by_hash(hashlib.sha256(b"v1").hexdigest())
    assert found.id == "101" and found.version == "11" and found.files[0].name == "cool_v1.safetensors"
    with pytest.raises(SourceError, match="404"):
        await civitai.by_hash("0" * 64)
