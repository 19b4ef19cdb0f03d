"""Find other Stable Diffusion UIs on this machine and map their model folders to library kinds.

An install is recognised by its marker files (see the domain notes); the folder tables come from
`data/kinds.toml`, so adding a UI layout is data, not code. Blocking: call from a thread.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from aiui_tui.kinds import model_kinds

A1111, FORGE, COMFYUI, FOOOCUS, INVOKEAI, STABILITY_MATRIX = (
    "automatic1111",
    "forge",
    "comfyui",
    "fooocus",
    "invokeai",
    "stability-matrix",
)
WEBUIS = (A1111, FORGE)  # one layout, one launcher (webui.sh sourcing webui-user.sh)
TITLES = {
    A1111: "AUTOMATIC1111",
    FORGE: "Forge",
    COMFYUI: "ComfyUI",
    FOOOCUS: "Fooocus",
    INVOKEAI: "InvokeAI",
    STABILITY_MATRIX: "Stability Matrix",
}

# A Forge checkout has these beside the AUTOMATIC1111 layout (modules_forge/ since 2024-01,
# backend/ since its 2024-08 rewrite).
FORGE_MARKERS = ("modules_forge", "backend/args.py")
# Where AUTOMATIC1111 and Forge declare their command-line flags, in the order their start reads
# them (modules/shared_cmd_options.py): the parser (Forge builds it on backend/args.py; before v1.3
# it lived in modules/shared.py), then the preload.py of each enabled extension and of each
# built-in one. A flag not declared there makes the webui exit at start ("unrecognized arguments").
WEBUI_PARSER_FILES = ("modules/cmd_args.py", "backend/args.py", "modules/shared.py")
_DECLARED_FLAG = re.compile(r"""add_argument\(\s*['"](--[A-Za-z0-9][\w-]*)['"]""")


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
    flags: frozenset[str] = frozenset()  # AUTOMATIC1111/Forge: the command-line flags its parser declares

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
        return _webui(path)
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


def _webui(path: Path) -> UiInstall:
    ui = FORGE if any((path / marker).exists() for marker in FORGE_MARKERS) else A1111
    folders = {
        k.name: tuple(path / f for f in (*k.a1111, *(k.forge if ui == FORGE else ())))
        for k in model_kinds().values()
        if k.a1111 or (ui == FORGE and k.forge)
    }
    return UiInstall(ui, path, folders, path / "webui-user.sh", declared_flags(path))


def declared_flags(path: Path) -> frozenset[str]:
    """The flags an AUTOMATIC1111/Forge install's own parser and extension preloads declare, read
    from their source (not run: an extension's code is not ours to execute)."""
    files = [path / name for name in WEBUI_PARSER_FILES]
    files += [path / "extensions" / name / "preload.py" for name in _enabled_extensions(path)]
    files += sorted((path / "extensions-builtin").glob("*/preload.py"))
    flags: set[str] = set()
    for file in files:
        try:
            flags.update(_DECLARED_FLAG.findall(file.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue
    return frozenset(flags)


def _enabled_extensions(path: Path) -> list[str]:
    """The extensions whose preload the webui runs, as modules/launch_utils.list_extensions picks
    them: none when config.json disables all, else every folder not in disabled_extensions."""
    try:
        settings = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        settings = {}
    if not isinstance(settings, dict):
        settings = {}
    if settings.get("disable_all_extensions", "none") != "none":
        return []
    disabled = settings.get("disabled_extensions") or []
    try:
        names = sorted(os.listdir(path / "extensions"))
    except OSError:
        return []
    return [name for name in names if name not in disabled]


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
        value = settings.get(kind.fooocus, kind.fooocus_default)
        values = value if isinstance(value, list) else [value] if value else []
        # Fooocus runs in its install folder, so relative values are relative to it.
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
