"""`config` mode: write another UI's own settings so it reads the library in place.

ComfyUI gets a section in `extra_model_paths.yaml`, AUTOMATIC1111 a block in `webui-user.sh` with
its `--ckpt-dir`-style flags, Fooocus the library folders appended to the path lists in
`config.txt`. Each edit keeps the rest of the file byte for byte, is marked so it can be found
again, and is removed exactly by `unlink`. A copy of the file as it was is kept beside it once.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from aiui_tui.core.errors import UsageError
from aiui_tui.kinds import model_kinds
from aiui_tui.services.library.detect import A1111, COMFYUI, FOOOCUS, FOOOCUS_DEFAULTS, UiInstall
from aiui_tui.tomledit import atomic_write

BEGIN, END = "# >>> aiui-tui library (managed block: `aiui-tui models unlink` removes it)", "# <<< aiui-tui library"
_BLOCK = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", re.S)

# AUTOMATIC1111 command-line flags that point a kind at another folder.
A1111_FLAGS = {
    "checkpoints": "--ckpt-dir",
    "loras": "--lora-dir",
    "vae": "--vae-dir",
    "embeddings": "--embeddings-dir",
    "hypernetworks": "--hypernetwork-dir",
    "upscale_models": "--esrgan-models-path",
    "controlnet": "--controlnet-dir",
}


def supported(install: UiInstall) -> bool:
    return install.ui in (A1111, COMFYUI, FOOOCUS)


def describe_edit(install: UiInstall, models_dir: Path) -> str:
    """One line for the preview: which file changes and how."""
    if install.ui == FOOOCUS:
        return f"add the library folders to the path lists in {install.config_file}"
    return f"add a managed block to {install.config_file}:\n" + _block(install, models_dir)


def has_edit(install: UiInstall, models_dir: Path) -> bool:
    path = install.config_file
    if path is None or not path.exists():
        return False
    text = path.read_text(encoding="utf-8")
    if install.ui == FOOOCUS:
        return str(models_dir) in text
    return BEGIN in text


def apply_edit(install: UiInstall, models_dir: Path) -> None:
    path = _config_path(install)
    _backup_once(path)
    if install.ui == FOOOCUS:
        settings = _fooocus_settings(path)
        for kind in model_kinds().values():
            if kind.fooocus and kind.name in install.folders:
                # Absent keys mean Fooocus' default folder: keep it in the list beside the library.
                current = settings.get(kind.fooocus, _fooocus_default(install, kind.fooocus))
                values = current if isinstance(current, list) else [current]
                library = str(models_dir / kind.name)
                if library not in values:
                    settings[kind.fooocus] = [*values, library]
        atomic_write(path, json.dumps(settings, indent=4) + "\n")
        return
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    text = _BLOCK.sub("", text)
    if text and not text.endswith("\n"):
        text += "\n"
    atomic_write(path, text + _block(install, models_dir))


def remove_edit(install: UiInstall, models_dir: Path) -> bool:
    """Undo `apply_edit`; True when something was removed."""
    path = install.config_file
    if path is None or not path.exists():
        return False
    if install.ui == FOOOCUS:
        settings = _fooocus_settings(path)
        backup = path.with_name(path.name + ".aiui-backup")
        original = _fooocus_settings(backup) if backup.exists() else settings
        changed = False
        for key, value in list(settings.items()):
            if isinstance(value, list):
                kept = [v for v in value if not str(v).startswith(str(models_dir) + "/")]
                if kept != value:
                    settings[key], changed = kept, True
                    if key not in original and kept == _fooocus_default(install, key):
                        del settings[key]  # we added it: back to Fooocus' default
        if changed:
            atomic_write(path, json.dumps(settings, indent=4) + "\n")
        return changed
    text = path.read_text(encoding="utf-8")
    new = _BLOCK.sub("", text)
    if new == text:
        return False
    atomic_write(path, new)
    return True


def _config_path(install: UiInstall) -> Path:
    if not supported(install) or install.config_file is None:
        raise UsageError(
            f"{install.title} has no config this program can write.",
            "use --mode symlink (or hardlink) for it instead",
        )
    return install.config_file


def _block(install: UiInstall, models_dir: Path) -> str:
    kinds = [k for k in model_kinds().values() if k.name in install.folders]
    if install.ui == COMFYUI:
        lines = ["aiui_tui:", f"    base_path: {models_dir}"]
        lines += [f"    {k.name}: {k.name}/" for k in kinds]
    else:  # A1111: flags appended to COMMANDLINE_ARGS
        flags = " ".join(f"{A1111_FLAGS[k.name]} {models_dir / k.name}" for k in kinds if k.name in A1111_FLAGS)
        lines = [f'export COMMANDLINE_ARGS="${{COMMANDLINE_ARGS:-}} {flags}"']
    return "\n".join([BEGIN, *lines, END]) + "\n"


def _fooocus_default(install: UiInstall, key: str) -> list[str]:
    default = FOOOCUS_DEFAULTS.get(key)
    return [str((install.path / default).resolve())] if default else []


def _fooocus_settings(path: Path) -> dict:
    try:
        settings = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except ValueError:
        raise UsageError(
            f"{path} is not valid JSON.", "fix it (Fooocus would not read it either), then retry"
        ) from None
    if not isinstance(settings, dict):
        raise UsageError(f"{path} is not a JSON object.", "fix it, then retry")
    return settings


def _backup_once(path: Path) -> None:
    backup = path.with_name(path.name + ".aiui-backup")
    if path.exists() and not backup.exists():
        shutil.copy2(path, backup)
