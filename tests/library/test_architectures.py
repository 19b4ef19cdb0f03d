"""Architectures from tensor names, on files written by the real `safetensors` library with the key
names each kind of model file carries (the keys ComfyUI's detection and loaders test), tiny tensors.
ControlNets, adapters, LoRAs and Chroma must never pass for the checkpoint whose keys they share."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from aiui_tui.services.library.safetensors import read_header
from aiui_tui.services.library.validate import architecture_family, check_file

DM = "model.diffusion_model."
SD15_TE = {"cond_stage_model.transformer.text_model.embeddings.position_ids": ((1, 77), np.int64)}
SDXL_TE = {
    "conditioner.embedders.0.transformer.text_model.embeddings.position_ids": ((1, 77), np.int64),
    "conditioner.embedders.1.model.ln_final.weight": (4,),
}
FLUX = {
    "double_blocks.0.img_attn.norm.key_norm.scale": (4,),
    "img_in.weight": (4, 64),
    "single_blocks.0.linear1.weight": (4, 4),
    "vector_in.in_layer.weight": (4, 768),
}
CHROMA = {
    "double_blocks.0.img_attn.norm.key_norm.scale": (4,),
    "img_in.weight": (4, 64),
    "distilled_guidance_layer.in_proj.weight": (4, 64),
    "distilled_guidance_layer.layers.0.in_layer.weight": (4, 4),
    "distilled_guidance_layer.norms.0.scale": (4,),
}
UNET_SD15 = {
    "input_blocks.0.0.weight": (4, 4, 3, 3),
    "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (4, 768),
}
UNET_SDXL = {
    "input_blocks.0.0.weight": (4, 4, 3, 3),
    "label_emb.0.0.weight": (4, 2816),
    "input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": (4, 2048),
}
LDM_CONTROL = {"input_hint_block.0.weight": (4, 3, 3, 3), "zero_convs.0.0.weight": (4, 4, 1, 1)}


def prefixed(prefix: str, keys: dict) -> dict:
    return {prefix + k: v for k, v in keys.items()}


CASES = {
    # checkpoints and diffusion models (comfy/model_detection.py detect_unet_config)
    "sd15": ({**SD15_TE, **prefixed(DM, UNET_SD15)}, None, "sd15"),
    "sd15 inpainting": ({**SD15_TE, DM + "input_blocks.0.0.weight": (4, 9, 3, 3)}, None, "sd15-inpaint"),
    "sd2": ({"cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight": (4, 4)}, None, "sd2"),
    "sdxl": ({**SDXL_TE, **prefixed(DM, UNET_SDXL)}, None, "sdxl"),
    "sdxl inpainting": ({**SDXL_TE, DM + "input_blocks.0.0.weight": (4, 9, 3, 3)}, None, "sdxl-inpaint"),
    "sdxl refiner": ({"conditioner.embedders.0.model.ln_final.weight": (4,)}, None, "sdxl-refiner"),
    "sd15 unet alone": (UNET_SD15, None, "sd15"),
    "sdxl unet alone": (prefixed(DM, UNET_SDXL), None, "sdxl"),
    "sd3": (
        prefixed(DM, {"joint_blocks.0.context_block.attn.qkv.weight": (4, 4), "x_embedder.proj.weight": (4, 16, 2, 2)}),
        None,
        "sd3",
    ),
    "flux dev": ({**FLUX, "guidance_in.in_layer.weight": (4, 256)}, None, "flux-dev"),
    "flux dev in a checkpoint": (prefixed(DM, {**FLUX, "guidance_in.in_layer.weight": (4, 256)}), None, "flux-dev"),
    "flux schnell": (FLUX, None, "flux-schnell"),
    "flux blocks without img_in": ({"double_blocks.0.img_attn.norm.key_norm.scale": (4,)}, None, "unknown"),
    "chroma": (CHROMA, None, "chroma"),
    "chroma without img_in": ({k: v for k, v in CHROMA.items() if k != "img_in.weight"}, None, "chroma"),
    "chroma radiance": (
        {**{k: v for k, v in CHROMA.items() if k != "img_in.weight"}, "nerf_blocks.0.norm.scale": (4,)},
        None,
        "chroma-radiance",
    ),
    "hunyuan video": (
        {**FLUX, "txt_in.individual_token_refiner.blocks.0.norm1.weight": (4,), "guidance_in.in_layer.weight": (4, 4)},
        None,
        "hunyuan-video",
    ),
    # ControlNets (comfy/controlnet.py load_controlnet_state_dict)
    "controlnet sd15 ldm": ({**UNET_SD15, **LDM_CONTROL}, None, "controlnet-sd15"),
    "controlnet sd15 with control_model. prefix": (
        prefixed("control_model.", {**UNET_SD15, **LDM_CONTROL}),
        None,
        "controlnet-sd15",
    ),
    "controlnet 1.0 with its sd15 model inside": (
        {**SD15_TE, **prefixed(DM, UNET_SD15), **prefixed("control_model.", {**UNET_SD15, **LDM_CONTROL})},
        None,
        "controlnet-sd15",
    ),
    "controlnet sdxl ldm": ({**UNET_SDXL, **LDM_CONTROL}, None, "controlnet-sdxl"),
    "controlnet sd15 diffusers": (
        {
            "controlnet_cond_embedding.conv_in.weight": (4, 3, 3, 3),
            "conv_in.weight": (4, 4, 3, 3),
            "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight": (4, 768),
            "controlnet_down_blocks.0.weight": (4, 4, 1, 1),
        },
        None,
        "controlnet-sd15",
    ),
    "controlnet sdxl diffusers": (
        {
            "controlnet_cond_embedding.conv_in.weight": (4, 3, 3, 3),
            "conv_in.weight": (4, 4, 3, 3),
            "add_embedding.linear_1.weight": (4, 2816),
            "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight": (4, 2048),
            "controlnet_mid_block.weight": (4, 4, 1, 1),
        },
        None,
        "controlnet-sdxl",
    ),
    "controlnet flux xlabs": (
        {
            **FLUX,
            "guidance_in.in_layer.weight": (4, 256),
            "controlnet_blocks.0.weight": (4, 4),
            "input_hint_block.0.weight": (4, 3, 3, 3),
            "pos_embed_input.weight": (4, 64),
        },
        None,
        "controlnet-flux",
    ),
    "controlnet flux instantx": (
        {
            "controlnet_blocks.0.weight": (4, 4),
            "controlnet_x_embedder.weight": (4, 64),
            "controlnet_mode_embedder.weight": (10, 4),
            "transformer_blocks.0.attn.to_q.weight": (4, 4),
            "single_transformer_blocks.0.attn.to_q.weight": (4, 4),
            "x_embedder.weight": (4, 64),
        },
        None,
        "controlnet-flux",
    ),
    "controlnet flux mistoline": (
        {"controlnet_blocks.0.linear.weight": (4, 4), **FLUX, "guidance_in.in_layer.weight": (4, 256)},
        None,
        "controlnet-flux",
    ),
    "controlnet sd3": (
        {
            "controlnet_blocks.0.weight": (4, 4),
            "pos_embed_input.proj.weight": (4, 16, 2, 2),
            "transformer_blocks.0.attn.to_q.weight": (4, 4),
        },
        None,
        "controlnet-sd3",
    ),
    "control-lora": ({"lora_controlnet": ((), np.float32), **LDM_CONTROL}, None, "control-lora"),
    # T2I adapters (comfy/controlnet.py load_t2i_adapter)
    "t2i adapter sd15 diffusers": (
        {
            "adapter.body.0.resnets.0.block1.weight": (4, 4, 3, 3),
            "adapter.body.0.resnets.0.block2.weight": (4, 4, 3, 3),
            "adapter.conv_in.weight": (4, 192, 3, 3),
        },
        None,
        "t2i-adapter-sd15",
    ),
    "t2i adapter sdxl diffusers": (
        {
            "adapter.body.0.resnets.0.block1.weight": (4, 4, 3, 3),
            "adapter.body.0.resnets.0.block2.weight": (4, 4, 3, 3),
            "adapter.conv_in.weight": (4, 768, 3, 3),
        },
        None,
        "t2i-adapter-sdxl",
    ),
    "t2i adapter sd15 original": (
        {"conv_in.weight": (4, 192, 3, 3), "body.0.block1.weight": (4, 4, 3, 3), "body.0.block2.weight": (4, 4, 3, 3)},
        None,
        "t2i-adapter-sd15",
    ),
    "t2i adapter sdxl original": (
        {"conv_in.weight": (4, 256, 3, 3), "body.0.block1.weight": (4, 4, 3, 3), "body.0.block2.weight": (4, 4, 1, 1)},
        None,
        "t2i-adapter-sdxl",
    ),
    "t2i adapter light": (
        {"body.0.in_conv.weight": (4, 192, 3, 3), "body.0.body.0.block1.weight": (4, 4, 3, 3)},
        None,
        "t2i-adapter-sd15",
    ),
    "stable cascade controlnet": (
        {"backbone.0.0.weight": (4, 3, 3, 3), "projections.0.0.weight": (4, 4, 1, 1)},
        None,
        "controlnet-cascade",
    ),
    # LoRAs (comfy/weight_adapter/lora.py LoRAAdapter.load, comfy/lora.py)
    "lora kohya sd15": (
        {
            "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": (4, 768),
            "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight": (320, 4),
            "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.alpha": ((), np.float32),
            "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": (4, 768),
        },
        None,
        "lora-sd15",
    ),
    "lora kohya sdxl": (
        {
            "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight": (4, 2048),
            "lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": (4, 1280),
        },
        None,
        "lora-sdxl",
    ),
    "lora kohya from its metadata": (
        {"lora_unet_a.lora_down.weight": (4, 8), "lora_unet_a.lora_up.weight": (8, 4)},
        {"ss_base_model_version": "sdxl_base_v1-0", "ss_network_module": "networks.lora"},
        "lora-sdxl",
    ),
    "lora kohya flux": ({"lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight": (4, 3072)}, None, "lora-flux"),
    "lora from modelspec": (
        {"lora_unet_a.lora_down.weight": (4, 8)},
        {"modelspec.architecture": "flux-1-dev/lora"},
        "lora-flux",
    ),
    "lora with no base to tell": ({"lora_unet_a.lora_down.weight": (4, 8)}, None, "lora"),
    "lora diffusers": (
        {"unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora.down.weight": (4, 768)},
        None,
        "lora-sd15",
    ),
    "lora diffusers attention processors": (
        {"down_blocks.1.attentions.0.transformer_blocks.0.attn2.processor.to_k_lora.down.weight": (4, 2048)},
        None,
        "lora-sdxl",
    ),
    "lora peft sdxl": (
        {
            "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight": (4, 2048),
            "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_B.weight": (640, 4),
        },
        None,
        "lora-sdxl",
    ),
    "lora peft flux": (
        {
            "transformer.single_transformer_blocks.0.attn.to_k.lora_A.weight": (4, 3072),
            "transformer.single_transformer_blocks.0.attn.to_k.lora_B.weight": (3072, 4),
        },
        None,
        "lora-flux",
    ),
    "lora on flux blocks (ai-toolkit)": (
        {"diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight": (4, 3072)},
        None,
        "lora-flux",
    ),
    "loha": ({"lora_unet_a.hada_w1_a": (4, 4), "lora_unet_a.hada_w1_b": (4, 4)}, None, "lora"),
    # others
    "vae": ({"encoder.conv_in.weight": (4, 3, 3, 3), "decoder.conv_out.weight": (3, 4, 3, 3)}, None, "vae"),
    "embedding": ({"emb_params": (2, 768)}, None, "embedding"),
    "sdxl embedding": ({"clip_l": (2, 768), "clip_g": (2, 1280)}, None, "embedding"),
    "something else": ({"some.other.weight": (2,)}, None, "unknown"),
}


def save(path, keys: dict, metadata: dict | None = None):
    tensors = {}
    for name, spec in keys.items():
        shape, dtype = spec if len(spec) == 2 and not isinstance(spec[1], int) else (spec, np.float16)
        tensors[name] = np.zeros(shape, dtype=dtype)
    save_file(tensors, path, metadata)
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_architecture_of_files_written_by_safetensors(tmp_path, case):
    keys, metadata, expected = CASES[case]
    path = save(tmp_path / "m.safetensors", keys, metadata)
    with safe_open(str(path), framework="numpy") as real:
        assert set(real.keys()) == set(read_header(path).tensors)
    check = check_file(path)
    assert (check.ok, check.format, check.tensors) == (True, "safetensors", len(keys)), check.problem
    assert check.architecture == expected


@pytest.mark.parametrize(
    ("arch", "family"),
    [
        ("sd15-inpaint", "sd15"),
        ("sdxl-refiner", "sdxl"),
        ("flux-dev", "flux"),
        ("chroma", "chroma"),
        ("chroma-radiance", "chroma"),
        ("lora-sd15", "sd15"),
        ("lora-flux", "flux"),
        ("lora", "lora"),
        ("controlnet-sdxl", "sdxl"),
        ("controlnet-flux", "flux"),
        ("controlnet", "controlnet"),
        ("control-lora", "control-lora"),
        ("t2i-adapter-sd15", "sd15"),
        ("t2i-adapter", "t2i-adapter"),
        ("unknown", "unknown"),
    ],
)
def test_architecture_family(arch, family):
    assert architecture_family(arch) == family
