"""Find other Stable Diffusion UIs on this machine and map their model folders to library kinds.

An install is recognised by its marker files (see the domain notes); the folder tables come from
`data/kinds.toml`, so adding a UI layout is data, not code. Blocking: call from a thread.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from aiui_tui.kinds import model_kinds

A1111, COMFYUI, FOOOCUS, INVOKEAI, STABILITY_MATRIX = (
    "automatic1111",
    "comfyui",
    "fooocus",
    "invokeai",
    "stability-matrix",
)
TITLES = {
    A1111: "AUTOMATIC1111 / Forge",
    COMFYUI: "ComfyUI",
    FOOOCUS: "Fooocus",
    INVOKEAI: "InvokeAI",
    STABILITY_MATRIX: "Stability Matrix",
}

# Fooocus' default folder for each config key, relative to its install.
FOOOCUS_DEFAULTS = {
    "path_checkpoints": "models/checkpoints",
    "path_loras": "models/loras",
    "path_embeddings": "models/embeddings",
    "path_vae_approx": "models/vae_approx",
    "path_upscale_models": "models/upscale_models",
    "path_inpaint": "models/inpaint",
    "path_controlnet": "models/controlnet",
    "path_clip_vision": "models/clip_vision",
    "path_fooocus_expansion": "models/prompt_expansion/fooocus_expansion",
}
# Stability Matrix's shared folder names (SharedFolderType) for each kind.
STABILITY_MATRIX_FOLDERS = {
    "checkpoints": ["StableDiffusion"],
    "loras": ["Lora", "LyCORIS"],
    "vae": ["VAE"],
    "vae_approx": ["ApproxVAE"],
    "embeddings": ["TextualInversion", "Embeddings"],
    "hypernetworks": ["Hypernetwork"],
    "upscale_models": ["ESRGAN", "RealESRGAN", "SwinIR"],
    "controlnet": ["ControlNet"],
    "clip_vision": ["ClipVision"],
    "text_encoders": ["TextEncoders", "CLIP"],
    "diffusion_models": ["DiffusionModels", "Unet"],
}
# InvokeAI keeps models/<base>/<type>/...; its type folder names for each kind.
INVOKEAI_TYPES = {
    "checkpoints": ["main"],
    "loras": ["lora"],
    "vae": ["vae"],
    "embeddings": ["embedding"],
    "controlnet": ["controlnet"],
    "clip_vision": ["clip_vision"],
}

WELL_KNOWN = [
    "stable-diffusion-webui",
    "stable-diffusion-webui-forge",
    "sd-webui-forge",
    "ComfyUI",
    "comfyui",
    "Fooocus",
    "invokeai",
    "StabilityMatrix",
    ".local/share/StabilityMatrix",
    "ai/stable-diffusion-webui",
    "ai/ComfyUI",
    "ai/Fooocus",
]


@dataclass(frozen=True)
class UiInstall:
    ui: str
    path: Path
    folders: dict[str, tuple[Path, ...]] = field(
        default_factory=dict
    )  # kind -> its folders, first = where new files go
    config_file: Path | None = None  # the UI's own file that `config` mode edits

    @property
    def title(self) -> str:
        return TITLES[self.ui]

    def existing_folders(self) -> dict[Path, str]:
        """Every folder that exists, with its kind (for scanning)."""
        out: dict[Path, str] = {}
        for kind, folders in self.folders.items():
            for folder in folders:
                if folder.is_dir():
                    out.setdefault(folder, kind)
        return out


def identify(path: Path) -> UiInstall | None:
    """The UI installed at `path`, or None when it does not look like one we know."""
    path = path.expanduser()
    if not path.is_dir():
        return None
    if (path / "webui.py").is_file() and (path / "models" / "Stable-diffusion").is_dir():
        return _a1111(path)
    if (path / "main.py").is_file() and (path / "comfy").is_dir() and (path / "models").is_dir():
        return _comfyui(path)
    if (path / "entry_with_update.py").is_file() or (
        (path / "launch.py").is_file() and (path / "config.txt").is_file()
    ):
        return _fooocus(path)
    if (path / "invokeai.yaml").is_file() and (path / "models").is_dir():
        return _invokeai(path)
    for models in (path / "Data" / "Models", path / "Models"):
        if models.is_dir() and ((path / "settings.json").is_file() or (path / "Data" / "settings.json").is_file()):
            return _stability_matrix(path, models)
    return None


def detect(extra_paths: list[str] | tuple[str, ...] = (), home: Path | None = None) -> list[UiInstall]:
    """Installs at well-known places under `home` and at `extra_paths`, each once."""
    home = home or Path.home()
    candidates = [home / p for p in WELL_KNOWN] + [Path(p).expanduser() for p in extra_paths]
    seen: set[Path] = set()
    found = []
    for candidate in candidates:
        try:
            real = candidate.resolve()
        except OSError:
            continue
        if real in seen:
            continue
        seen.add(real)
        install = identify(candidate)
        if install:
            found.append(install)
    return found


def _a1111(path: Path) -> UiInstall:
    folders = {k.name: tuple(path / f for f in k.a1111) for k in model_kinds().values() if k.a1111}
    return UiInstall(A1111, path, folders, path / "webui-user.sh")


def _comfyui(path: Path) -> UiInstall:
    folders = {k.name: tuple(path / "models" / f for f in k.comfyui) for k in model_kinds().values() if k.comfyui}
    return UiInstall(COMFYUI, path, folders, path / "extra_model_paths.yaml")


def _fooocus(path: Path) -> UiInstall:
    config_file = path / "config.txt"
    try:
        settings = json.loads(config_file.read_text(encoding="utf-8"))
        if not isinstance(settings, dict):
            settings = {}
    except (OSError, ValueError):
        settings = {}
    folders: dict[str, tuple[Path, ...]] = {}
    for kind in model_kinds().values():
        if not kind.fooocus:
            continue
        value = settings.get(kind.fooocus, FOOOCUS_DEFAULTS.get(kind.fooocus))
        values = value if isinstance(value, list) else [value] if value else []
        folders[kind.name] = tuple((path / os.path.expanduser(str(v))).resolve() for v in values)
    return UiInstall(FOOOCUS, path, folders, config_file)


def _invokeai(path: Path) -> UiInstall:
    models = path / "models"
    folders: dict[str, list[Path]] = {}
    for base in sorted(p for p in models.iterdir() if p.is_dir()) if models.is_dir() else []:
        for kind, names in INVOKEAI_TYPES.items():
            folders.setdefault(kind, []).extend(base / n for n in names if (base / n).is_dir())
    return UiInstall(INVOKEAI, path, {k: tuple(v) for k, v in folders.items() if v}, None)


def _stability_matrix(path: Path, models: Path) -> UiInstall:
    folders = {kind: tuple(models / n for n in names) for kind, names in STABILITY_MATRIX_FOLDERS.items()}
    return UiInstall(STABILITY_MATRIX, path, folders, None)
