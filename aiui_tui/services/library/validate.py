"""What a model file is, judged from its name and header, never by loading or unpickling it.

Architecture rules follow the tensor names ComfyUI itself tests (comfy/model_detection.py,
comfy/controlnet.py, comfy/weight_adapter/ and comfy/lora.py; each rule cites its function), so a
ControlNet, adapter or LoRA is never taken for the checkpoint its keys resemble. Pickle formats
(.ckpt, .pt, .pth, .bin) are only flagged: unpickling one can run arbitrary code. Only regular files
are read, and only a bounded amount of each; `check_file` turns every problem into a FileCheck.
Blocking: call from a thread.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiui_tui.services.library.safetensors import (
    SANE_HEADER,
    Header,
    NotARegularFile,
    SafetensorsError,
    open_regular,
    read_header,
)

PICKLE_SUFFIXES = {".ckpt", ".pt", ".pth", ".bin", ".pkl"}
MODEL_SUFFIXES = PICKLE_SUFFIXES | {".safetensors", ".sft", ".gguf", ".onnx", ".patch"}
SPECIAL = "special"  # the format of a FIFO, device or socket under a model's name: never read or hashed

# Architecture labels, shown in lists and matched against catalog entries.
SD15, SD15_INPAINT, SD2, SDXL, SDXL_INPAINT, SDXL_REFINER, SD3 = (
    "sd15", "sd15-inpaint", "sd2", "sdxl", "sdxl-inpaint", "sdxl-refiner", "sd3",
)  # fmt: skip
FLUX_DEV, FLUX_SCHNELL, CHROMA, CHROMA_RADIANCE, HUNYUAN_VIDEO = (
    "flux-dev", "flux-schnell", "chroma", "chroma-radiance", "hunyuan-video",
)  # fmt: skip
LORA, VAE, EMBEDDING, UNKNOWN = "lora", "vae", "embedding", "unknown"
# Add-ons: a label alone, or "<add-on>-<base>" (controlnet-sdxl, t2i-adapter-sd15, lora-flux).
CONTROLNET, CONTROL_LORA, T2I_ADAPTER = "controlnet", "control-lora", "t2i-adapter"
_ADD_ONS = (CONTROL_LORA, T2I_ADAPTER, CONTROLNET, LORA)

_LORA_BASE = {"sdxl": SDXL, "sd_v1": SD15, "sd_v2": SD2, "sd3": SD3, "flux": "flux"}  # kohya ss_base_model_version
_MODELSPEC_BASE = {
    "stable-diffusion-xl": SDXL, "stable-diffusion-v1": SD15, "stable-diffusion-v2": SD2,
    "stable-diffusion-v3": SD3, "stable-diffusion-3": SD3, "flux": "flux",
}  # fmt: skip
# The UNet's cross-attention width (context_dim) -> base, as comfy/supported_models.py matches it.
_CONTEXT_BASE = {768: SD15, 1024: SD2, 1280: SDXL_REFINER, 2048: SDXL}

# comfy/weight_adapter/lora.py LoRAAdapter.load (regular, diffusers 1-3, mochi, transformers, qwen),
# loha.py (hada_), lokr.py (lokr_), oft.py/boft.py (oft_blocks): the names a LoRA's tensors end with.
_LORA_SUFFIXES = (
    ".lora_up.weight", ".lora_down.weight", "_lora.up.weight", "_lora.down.weight",
    ".lora.up.weight", ".lora.down.weight", ".lora_A.weight", ".lora_B.weight", ".lora_A", ".lora_B",
    ".lora_A.default.weight", ".lora_B.default.weight",
    ".lora_linear_layer.up.weight", ".lora_linear_layer.down.weight",
    ".hada_w1_a", ".lokr_w1", ".lokr_w1_a", ".oft_blocks",
)  # fmt: skip
# comfy/lora.py model_lora_keys_unet / model_lora_keys_clip: kohya's and LyCORIS' key prefixes.
_LORA_PREFIXES = ("lora_unet_", "lora_te_", "lora_te1_", "lora_te2_", "lora_te3_", "lora_transformer_", "lycoris_")
# The down (A) matrix of a cross-attention key projection: [rank, context_dim] in every LoRA format.
_LORA_ATTN2_K = re.compile(r"attn2(?:\.processor)?[._]to_k(?:\.lora_down|\.lora\.down|_lora\.down|\.lora_A)\.weight$")


@dataclass(frozen=True)
class FileCheck:
    format: str  # safetensors, pickle, zip-pickle, gguf, special, other
    architecture: str = UNKNOWN
    executable: bool = False  # can run code when loaded (pickle)
    ok: bool = True
    problem: str = ""
    tensors: int = 0

    @property
    def warning(self) -> str:
        if not self.ok:
            return self.problem
        if self.executable:
            return "pickle format: loading it can run code; prefer a .safetensors version"
        return ""


def check_file(path: Path, size: int | None = None) -> FileCheck:
    """Never raises for what a file holds or is: a FIFO, a device, a lying header are problems."""
    suffix = path.suffix.lower()
    fmt = "safetensors" if suffix in (".safetensors", ".sft") else "other"
    try:
        if fmt == "safetensors":
            header = read_header(path, size, limit=SANE_HEADER)
            return FileCheck(fmt, architecture=detect_architecture(header), tensors=len(header.tensors))
        if suffix in PICKLE_SUFFIXES:
            fmt = "pickle"
            with open_regular(path) as fh:
                # is_zipfile reads the end-of-central-directory record: at most 64 KiB from the end.
                return FileCheck("zip-pickle" if zipfile.is_zipfile(fh) else fmt, executable=True)
        with open_regular(path):  # a .gguf or .onnx: only that it is a file we can read
            return FileCheck("gguf" if suffix == ".gguf" else "other")
    except NotARegularFile as exc:
        return FileCheck(SPECIAL, ok=False, problem=str(exc))
    except SafetensorsError as exc:
        return FileCheck(fmt, ok=False, problem=str(exc))
    except OSError as exc:
        return FileCheck(fmt, ok=False, problem=f"cannot read: {exc.strerror or exc}")


def detect_architecture(header: Header) -> str:
    keys = header.tensors
    return (
        _control_model(keys)
        or _t2i_adapter(keys)
        or _lora(keys, header.metadata)
        or _diffusion_model(keys)
        or _other(keys)
        or UNKNOWN
    )


def architecture_family(arch: str) -> str:
    """sdxl-refiner -> sdxl, lora-sd15 -> sd15, controlnet-flux -> flux, flux-dev -> flux: for matching
    apps and catalog entries. An add-on whose base is not known is its own family (lora, t2i-adapter)."""
    for add_on in _ADD_ONS:
        if arch == add_on:
            return arch
        if arch.startswith(add_on + "-"):
            arch = arch[len(add_on) + 1 :]
            break
    return arch.split("-")[0]


def _with_base(add_on: str, base: str) -> str:
    return f"{add_on}-{base}" if base else add_on


def _shape(keys: dict[str, dict[str, Any]], name: str) -> list[int]:
    info = keys.get(name)
    return info["shape"] if info else []


def _dim(keys: dict[str, dict[str, Any]], name: str, axis: int) -> int | None:
    shape = _shape(keys, name)
    return shape[axis] if len(shape) > axis else None


def _unet_base(keys: dict[str, dict[str, Any]], prefix: str, blocks: str) -> str:
    """The base of a UNet from its first cross-attention's context width (comfy/model_detection.py
    detect_unet_config via calculate_transformer_depth; unet_config_from_diffusers_unet for diffusers)."""
    start, end = f"{prefix}{blocks}.", ".transformer_blocks.0.attn2.to_k.weight"
    found = sorted(k for k in keys if k.startswith(start) and k.endswith(end))
    width = _dim(keys, found[0], 1) if found else None
    return _CONTEXT_BASE.get(width or 0, "")


def _control_model(keys: dict[str, dict[str, Any]]) -> str:
    """comfy/controlnet.py load_controlnet_state_dict, its tests in its order."""
    if "after_proj_list.18.bias" in keys:  # Hunyuan DiT ControlNet
        return f"{CONTROLNET}-hunyuandit"
    if "lora_controlnet" in keys:  # Stability's Control-LoRA (ControlLora)
        return CONTROL_LORA
    if "controlnet_cond_embedding.conv_in.weight" in keys:  # diffusers format; SDXL has add_embedding
        base = SDXL if "add_embedding.linear_1.weight" in keys else _unet_base(keys, "", "down_blocks")
        return _with_base(CONTROLNET, base)
    if "controlnet_blocks.0.weight" in keys:
        if "double_blocks.0.img_attn.norm.key_norm.scale" in keys:  # XLabs (load_controlnet_flux_xlabs_mistoline)
            return f"{CONTROLNET}-flux"
        if "pos_embed_input.proj.weight" in keys:  # load_controlnet_sd35 / load_controlnet_mmdit
            return f"{CONTROLNET}-sd3"
        if "transformer_blocks.0.img_mlp.net.0.proj.weight" in keys:  # load_controlnet_qwen_instantx
            return f"{CONTROLNET}-qwen"
        if "controlnet_x_embedder.weight" in keys:  # InstantX / diffusers Flux (load_controlnet_flux_instantx)
            return f"{CONTROLNET}-flux"
    elif "controlnet_blocks.0.linear.weight" in keys:  # MistoLine Flux
        return f"{CONTROLNET}-flux"
    for prefix in ("control_model.", ""):  # LDM format: ControlNet 1.x .pth layout, with or without prefix
        if f"{prefix}zero_convs.0.0.weight" in keys:
            base = SDXL if f"{prefix}label_emb.0.0.weight" in keys else _unet_base(keys, prefix, "input_blocks")
            return _with_base(CONTROLNET, base)
    return ""


def _t2i_adapter(keys: dict[str, dict[str, Any]]) -> str:
    """comfy/controlnet.py load_t2i_adapter (reached when no ControlNet matched). ComfyUI runs it only
    on files in its controlnet folder; here every file is tested, so each rule also needs a second key
    that the model's class requires (comfy/t2i_adapter/adapter.py, comfy/ldm/cascade/controlnet.py)."""
    prefix = "adapter." if "adapter.body.0.resnets.0.block1.weight" in keys else ""  # diffusers format
    if f"{prefix}body.0.in_conv.weight" in keys:
        return f"{T2I_ADAPTER}-{SD15}"  # Adapter_light: fixed SD1.x channels
    full = f"{prefix}body.0.resnets.0.block2.weight" if prefix else "body.0.block2.weight"
    if f"{prefix}conv_in.weight" in keys and full in keys:  # Adapter: xl when conv_in takes 256 or 768 channels
        xl = _dim(keys, f"{prefix}conv_in.weight", 1) in (256, 768)
        return f"{T2I_ADAPTER}-{SDXL if xl else SD15}"
    if prefix:
        return T2I_ADAPTER
    if ("backbone.0.0.weight" in keys or "backbone.10.blocks.0.weight" in keys) and any(
        k.startswith("projections.") for k in keys
    ):  # Stable Cascade ControlNet
        return f"{CONTROLNET}-cascade"
    return ""


def _lora(keys: dict[str, dict[str, Any]], meta: dict[str, str]) -> str:
    if not any(k.startswith(_LORA_PREFIXES) or k.endswith(_LORA_SUFFIXES) for k in keys):
        return ""
    version = meta.get("ss_base_model_version", "")
    base = next((arch for prefix, arch in _LORA_BASE.items() if version.startswith(prefix)), "")
    spec = meta.get("modelspec.architecture", "")
    base = base or next((arch for prefix, arch in _MODELSPEC_BASE.items() if spec.startswith(prefix)), "")
    return _with_base(LORA, base or _lora_base_from_keys(keys))


def _lora_base_from_keys(keys: dict[str, dict[str, Any]]) -> str:
    # Flux and SD3 blocks by name (comfy/lora.py model_lora_keys_unet maps these for Flux / MMDiT);
    # a second text encoder means SDXL; else the cross-attention width, as for a UNet.
    names = " ".join(keys)
    if "double_blocks" in names or "single_blocks" in names or "single_transformer_blocks" in names:
        return "flux"
    if "joint_blocks" in names:
        return SD3
    if "lora_te2_" in names or "text_encoder_2." in names:
        return SDXL
    found = sorted(k for k in keys if _LORA_ATTN2_K.search(k))
    return _CONTEXT_BASE.get(_dim(keys, found[0], 1) or 0, "") if found else ""


def _diffusion_model(keys: dict[str, dict[str, Any]]) -> str:
    """comfy/model_detection.py detect_unet_config for a checkpoint (prefix model.diffusion_model.) or a
    bare diffusion model, plus the text encoders a full SD checkpoint carries."""

    def has(name: str) -> bool:
        return name in keys or f"model.diffusion_model.{name}" in keys

    if has("txt_in.individual_token_refiner.blocks.0.norm1.weight"):  # tested before Flux: same blocks
        return HUNYUAN_VIDEO
    # Flux needs img_in.weight; Chroma Radiance has none but a distilled guidance layer.
    if has("double_blocks.0.img_attn.norm.key_norm.scale") and (
        has("img_in.weight") or has("distilled_guidance_layer.norms.0.scale")
    ):
        if has("distilled_guidance_layer.0.norms.0.scale") or has("distilled_guidance_layer.norms.0.scale"):
            return CHROMA_RADIANCE if has("nerf_blocks.0.norm.scale") else CHROMA
        return FLUX_DEV if has("guidance_in.in_layer.weight") else FLUX_SCHNELL  # guidance_embed
    if has("joint_blocks.0.context_block.attn.qkv.weight"):  # mmdit
        return SD3
    if "conditioner.embedders.1.model.ln_final.weight" in keys:
        return _inpaint(keys, SDXL, SDXL_INPAINT)
    if any(k.startswith("conditioner.embedders.0.model.") for k in keys):
        return SDXL_REFINER
    if any(k.startswith("cond_stage_model.model.transformer.resblocks") for k in keys):
        return SD2
    if any(k.startswith("cond_stage_model.transformer.") for k in keys):
        return _inpaint(keys, SD15, SD15_INPAINT)
    for prefix in ("model.diffusion_model.", ""):  # a UNet without its text encoders
        if f"{prefix}input_blocks.0.0.weight" in keys:
            base = SDXL if f"{prefix}label_emb.0.0.weight" in keys else _unet_base(keys, prefix, "input_blocks")
            if base:
                return base
    return ""


def _inpaint(keys: dict[str, dict[str, Any]], plain: str, inpaint: str) -> str:
    # detect_unet_config: in_channels = input_blocks.0.0.weight.shape[1]; 9 = latent + mask + masked image
    return inpaint if _dim(keys, "model.diffusion_model.input_blocks.0.0.weight", 1) == 9 else plain


def _other(keys: dict[str, dict[str, Any]]) -> str:
    if "encoder.conv_in.weight" in keys and "decoder.conv_out.weight" in keys:
        return VAE
    if "emb_params" in keys or ({"clip_l", "clip_g"} & set(keys)):
        return EMBEDDING
    return ""
