"""safetensors headers checked against the file, architectures from tensor names, pickles flagged."""

from __future__ import annotations

import json
import struct
import zipfile

import pytest

from aiui_tui.services.library.hashing import autov1, autov2, autov3, sha256_file
from aiui_tui.services.library.safetensors import SANE_HEADER, SafetensorsError, read_header
from aiui_tui.services.library.validate import check_file
from tests.library.conftest import (
    FLUX_DEV_KEYS,
    FLUX_SCHNELL_KEYS,
    LORA_KEYS,
    SD15_KEYS,
    SDXL_KEYS,
    VAE_KEYS,
    make_model,
    sha256,
)


@pytest.mark.parametrize(
    ("keys", "metadata", "arch"),
    [
        (SD15_KEYS, None, "sd15"),
        (SDXL_KEYS, None, "sdxl"),
        ({**FLUX_DEV_KEYS, "img_in.weight": ("BF16", [8, 64])}, None, "flux-dev"),
        ({**FLUX_SCHNELL_KEYS, "model.diffusion_model.img_in.weight": ("BF16", [8, 64])}, None, "flux-schnell"),
        (FLUX_DEV_KEYS, None, "unknown"),  # ComfyUI's Flux test also needs img_in.weight
        (LORA_KEYS, {"ss_base_model_version": "sdxl_base_v1-0"}, "lora-sdxl"),
        (LORA_KEYS, None, "lora"),
        (VAE_KEYS, None, "vae"),
        ({"model.diffusion_model.joint_blocks.0.context_block.attn.qkv.weight": ("F16", [4, 4])}, None, "sd3"),
        ({"cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight": ("F16", [4, 4])}, None, "sd2"),
        ({"emb_params": ("F32", [2, 768])}, None, "embedding"),
        ({"some.other.weight": ("F32", [2])}, None, "unknown"),
    ],
)
def test_architecture_from_tensor_names(tmp_path, keys, metadata, arch):
    path = make_model(tmp_path / "m.safetensors", keys, metadata)
    check = check_file(path)
    assert check.ok, check.problem
    assert check.format == "safetensors"
    assert check.architecture == arch
    assert not check.executable


def test_sd15_inpainting_has_nine_input_channels(tmp_path):
    keys = dict(SD15_KEYS)
    keys["model.diffusion_model.input_blocks.0.0.weight"] = ("F16", [320, 9, 3, 3])
    assert check_file(make_model(tmp_path / "inpaint.safetensors", keys)).architecture == "sd15-inpaint"


def test_truncated_file_is_reported_with_its_sizes(tmp_path):
    path = make_model(tmp_path / "cut.safetensors", SDXL_KEYS)
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(size - 100)
    check = check_file(path)
    assert not check.ok
    assert "truncated" in check.problem
    data = size - 8 - read_header_size(path)
    with pytest.raises(SafetensorsError, match=f"need {data} bytes of data but the file has {data - 100}"):
        read_header(path)


def read_header_size(path) -> int:
    with open(path, "rb") as fh:
        return struct.unpack("<Q", fh.read(8))[0]


def test_header_claiming_more_than_the_file_holds(tmp_path):
    path = tmp_path / "liar.safetensors"
    path.write_bytes(struct.pack("<Q", 10_000) + b'{"a": 1}')
    check = check_file(path)
    assert not check.ok and "truncated" in check.problem


def test_header_with_data_left_over_lies_about_the_size(tmp_path):
    path = make_model(tmp_path / "extra.safetensors", VAE_KEYS)
    with open(path, "ab") as fh:
        fh.write(b"\0" * 64)
    check = check_file(path)
    assert not check.ok and "64 bytes after the last tensor" in check.problem


def test_overlapping_and_inconsistent_tensors_are_refused(tmp_path):
    header = {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
    }
    raw = json.dumps(header).encode()
    path = tmp_path / "overlap.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 12)
    assert "overlaps" in check_file(path).problem
    header = {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 8)
    assert "needs 12 bytes" in check_file(path).problem


def test_html_saved_under_a_model_name_is_not_a_model(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_text("<!DOCTYPE html><html><body>Please log in</body></html>" * 10)
    check = check_file(path)
    assert not check.ok
    assert check.warning == check.problem


def test_pickle_formats_are_flagged_never_loaded(tmp_path):
    marker = tmp_path / "pwned"
    # A pickle that would create `marker` if anything unpickled it.
    payload = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    ckpt = tmp_path / "evil.ckpt"
    ckpt.write_bytes(payload)
    zipped = tmp_path / "model.pt"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
    for path, fmt in ((ckpt, "pickle"), (zipped, "zip-pickle")):
        check = check_file(path)
        assert check.format == fmt
        assert check.executable
        assert "can run code" in check.warning
    assert not marker.exists()


def test_hash_formats_match_their_definitions(tmp_path):
    path = make_model(tmp_path / "m.safetensors", {"w": ("F32", [300_000])})
    data = path.read_bytes()
    full = sha256(path)
    assert sha256_file(path) == full
    assert autov2(full) == full[:10].upper()
    import hashlib

    assert autov1(path) == hashlib.sha256(data[0x100000:0x110000]).hexdigest()[:8]
    offset = read_header(path).data_offset
    assert autov3(path, offset) == hashlib.sha256(data[offset:]).hexdigest()[:12].upper()


def test_a_huge_but_valid_header_is_refused_unparsed_by_the_library(tmp_path):
    """The reference reader accepts up to 100,000,000 bytes of header; parsing that costs ~800 MB
    here, so the library stops at 16 MiB, before reading it (issue 15: 7)."""
    header = json.dumps({f"t{i}": {"dtype": "F16", "shape": [0], "data_offsets": [0, 0]} for i in range(1)})
    raw = header.encode() + b" " * (SANE_HEADER + 1024 - len(header))
    path = tmp_path / "wide.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    assert read_header(path).tensors  # valid: what safetensors itself would load
    check = check_file(path)
    assert not check.ok and "far beyond any model's" in check.problem and "not read" in check.problem
