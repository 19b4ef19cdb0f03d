"""`config` mode: write another UI's own settings so it reads the library in place.

Each UI gets what its own code accepts (tests run that code, pinned in ../shared/upstream):

- ComfyUI: a section in `extra_model_paths.yaml`, written by PyYAML (quoted as needed), with one
  absolute path per ComfyUI folder name and no `base_path` (ComfyUI runs expandvars on it, which
  would mangle a root holding `$`). The user's own sections stay byte for byte; a file that is not
  valid YAML, or already has a section of our name, is refused without a change.
- AUTOMATIC1111 / Forge: flags in `webui-user.sh` (webui.sh sources it; modules/paths_internal.py
  shlex-splits COMMANDLINE_ARGS), each value quoted for shlex and the whole for bash, and only the
  flags that install's own parser declares (see `detect.declared_flags`).
- Fooocus: `config.txt` keys of the type modules/config.py expects: a list for path_checkpoints and
  path_loras (the library first, Fooocus' own folders kept after it), one folder for every other
  key, set only where that hides none of Fooocus' own files.

The ComfyUI and webui edits are a marked block that `unlink` removes exactly. Before the first edit
the file is copied to `NAME.aiui-backup`; `unlink` puts those bytes back when the rest of the file
is still as it was (else it only takes our part out), and removes a file that did not exist before.
Blocking: call from a thread.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aiui_tui.core.errors import UsageError
from aiui_tui.kinds import ModelKind, model_kinds
from aiui_tui.services.library.detect import COMFYUI, FOOOCUS, WEBUIS, UiInstall
from aiui_tui.services.library.index import walk_models
from aiui_tui.tomledit import atomic_write
from aiui_tui.uiformats import COMFYUI_SECTION, comfyui_section

BEGIN, END = "# >>> aiui-tui library (managed block: `aiui-tui models unlink` removes it)", "# <<< aiui-tui library"
_BLOCK = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", re.S)
BACKUP_SUFFIX = ".aiui-backup"


@dataclass
class Edit:
    """What config mode would make of the UI's file now."""

    text: str  # the file's new content
    unchanged: bool  # the file already says this (for Fooocus: the same settings)
    settings: list[str] = field(default_factory=list)  # one line per value we set
    notes: list[str] = field(default_factory=list)  # what was left alone, and why


def supported(install: UiInstall) -> bool:
    return install.ui in (*WEBUIS, COMFYUI, FOOOCUS)


def plan_edit(install: UiInstall, models_dir: Path) -> Edit:
    """The edit for the file as it is now; raises UsageError when the file must not be touched."""
    path = _config_path(install)
    current = _read(path)
    if install.ui == COMFYUI:
        return _comfyui_edit(path, current, models_dir)
    if install.ui == FOOOCUS:
        return _fooocus_edit(install, path, current, models_dir)
    return _webui_edit(install, current, models_dir)


def describe_edit(install: UiInstall, edit: Edit) -> str:
    """The preview: which file changes and what it will say (what is left alone: `edit.notes`)."""
    return "\n".join([f"set in {install.config_file}:", *(f"  {s}" for s in edit.settings)])


def apply_edit(install: UiInstall, models_dir: Path) -> None:
    path = _config_path(install)
    current = _read(path)
    edit = plan_edit(install, models_dir)
    backup = _backup(path)
    if not _holds_ours(install, current, models_dir):
        # A fresh edit: keep the file as it is now, or remember that there was none (for Fooocus an
        # empty copy, which cannot be a config.txt we would have edited; for the others no copy).
        if current is not None:
            shutil.copy2(path, backup)
        elif install.ui == FOOOCUS:
            atomic_write(backup, "")
        elif backup.exists():
            backup.unlink()
    atomic_write(path, edit.text)


def remove_edit(install: UiInstall, models_dir: Path) -> bool:
    """Undo `apply_edit`; True when something was removed."""
    path = install.config_file
    if path is None or not supported(install):
        return False
    current = _read(path)
    backup = _backup(path)
    original = _read(backup) if backup.exists() else None
    if current is None:
        return False
    if not _holds_ours(install, current, models_dir):
        if backup.exists():
            backup.unlink()  # our part was taken out by hand: the copy is stale
        return False
    if install.ui == FOOOCUS:
        before = _fooocus_before(original)
        settings = _fooocus_undo(_json_object(path, current), before, models_dir)
        as_before = bool(original) and settings == before
        rest = "" if not settings and not original else _json_text(settings)
        original = original or None  # "" stands for "no file before"
    else:
        rest = _BLOCK.sub("", current)
        # (a file without a final line break got one before our block)
        as_before = original is not None and rest in (original, original + ("" if original.endswith("\n") else "\n"))
    if as_before:
        tmp = path.with_name(f".{path.name}.aiui-restore")
        shutil.copy2(backup, tmp)  # the very bytes (and mode) it had
        os.replace(tmp, path)
    elif original is None and rest == "":
        path.unlink()  # the file did not exist before the edit
    else:
        atomic_write(path, rest)  # changed since: take out only our part
    if backup.exists():
        backup.unlink()
    return True


# -- ComfyUI ---------------------------------------------------------------------------------------


def comfyui_folders(models_dir: Path) -> dict[str, str]:
    """ComfyUI folder name -> the library folder, for every kind ComfyUI reads."""
    return {k.comfyui_name: str(models_dir / k.name) for k in model_kinds().values() if k.comfyui_name}


def _comfyui_edit(path: Path, current: str | None, models_dir: Path) -> Edit:
    theirs = _BLOCK.sub("", current or "")
    try:
        loaded = yaml.safe_load(theirs) if theirs.strip() else None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise UsageError(
            f"{path} is not valid YAML{at}, so ComfyUI cannot read it either; nothing was changed.",
            "fix the file (or move it away), then link again",
        ) from None
    if loaded is not None and not isinstance(loaded, dict):
        raise UsageError(
            f"{path} is not a YAML mapping of named sections; nothing was changed.", "fix the file, then link again"
        )
    if loaded and COMFYUI_SECTION in loaded:
        raise UsageError(
            f"{path} already has a section named {COMFYUI_SECTION!r} outside aiui-tui's block; nothing was changed.",
            f"rename or remove your {COMFYUI_SECTION!r} section, then link again",
        )
    if "\n" in str(models_dir):
        raise UsageError(
            f"The data root {models_dir.parent} has a line break in its name, which ComfyUI reads as two folders.",
            "use a data root without one",
        )
    folders = comfyui_folders(models_dir)
    body = comfyui_section(folders)
    gap = "\n" if theirs and not theirs.endswith("\n") else ""
    text = f"{theirs}{gap}{BEGIN}\n{body}{END}\n"
    if yaml.safe_load(text) != {**(loaded or {}), COMFYUI_SECTION: folders}:  # what ComfyUI will load
        raise UsageError(f"{path}: adding aiui-tui's section would change your own; nothing was changed.", "")
    return Edit(text, text == current, [f"{COMFYUI_SECTION}.{name}: {p}" for name, p in folders.items()])


# -- AUTOMATIC1111 / Forge ---------------------------------------------------------------------------


def webui_flags(install: UiInstall, models_dir: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """(flag, library folder) for each kind this install has a declared flag for; notes for the rest."""
    flags, notes = [], []
    for kind in model_kinds().values():
        reads = kind.name in install.folders
        if kind.webui_flag and kind.webui_flag in install.flags:
            flags.append((kind.webui_flag, str(models_dir / kind.name)))
        elif kind.webui_flag and reads:
            notes.append(
                f"{kind.name}: this {install.title} does not declare {kind.webui_flag} (its parser and enabled "
                "extensions' preload.py), so it is not set; `models link --mode symlink` shows these models"
            )
        elif reads:
            notes.append(
                f"{kind.name}: {install.title} has no flag for this kind; "
                "`models link --mode symlink` shows these models"
            )
    return flags, notes


def _webui_edit(install: UiInstall, current: str | None, models_dir: Path) -> Edit:
    flags, notes = webui_flags(install, models_dir)
    if not flags:
        raise UsageError(
            f"{install.title} at {install.path}: its own parser declares none of the library's folder flags "
            "(modules/cmd_args.py missing?); nothing was changed.",
            "use --mode symlink (or hardlink) for it instead",
        )
    # paths_internal.py shlex-splits the value: quote each word for shlex, then the whole for bash's "...".
    words = " ".join(f"{flag} {shlex.quote(folder)}" for flag, folder in flags)
    line = 'export COMMANDLINE_ARGS="${COMMANDLINE_ARGS:-} ' + re.sub(r'([$`"\\])', r"\\\1", words) + '"'
    theirs = _BLOCK.sub("", current or "")
    gap = "\n" if theirs and not theirs.endswith("\n") else ""
    text = f"{theirs}{gap}{BEGIN}\n{line}\n{END}\n"
    return Edit(text, text == current, [f"{flag} {folder}" for flag, folder in flags], notes)


# -- Fooocus ---------------------------------------------------------------------------------------


def _fooocus_kinds() -> list[ModelKind]:
    return [k for k in model_kinds().values() if k.fooocus]


def _fooocus_edit(install: UiInstall, path: Path, current: str | None, models_dir: Path) -> Edit:
    settings = _json_object(path, current) if current is not None else {}
    backup = _backup(path)
    before = _fooocus_before(_read(backup)) if backup.exists() else None
    if _holds_ours(install, current, models_dir):
        settings = _fooocus_undo(settings, before, models_dir)  # start again from the user's own values
    new = dict(settings)
    lines, notes = [], []
    for kind in _fooocus_kinds():
        key = kind.fooocus
        assert key is not None
        library = models_dir / (kind.fooocus_folder or kind.name)
        own = _fooocus_own_folders(install, settings.get(key), kind)
        if kind.fooocus_list:
            # Fooocus takes the list only when every folder in it exists; downloads go to the first.
            resolved = library.resolve()
            kept = [v for v in own if (install.path / v).is_dir() and (install.path / v).resolve() != resolved]
            new[key] = [str(library), *kept]
        elif reason := _why_not(install, kind, own, models_dir, library):
            notes.append(f"{key} left as it is: {reason}")
            if not isinstance(settings.get(key), list):
                continue
            new[key] = own[0]  # one folder, as Fooocus needs here (a list breaks its launch.py)
        else:
            new[key] = str(library)
        lines.append(f"{key} = {json.dumps(new[key], ensure_ascii=False)}")
    unchanged = current is not None and new == _json_object(path, current)
    return Edit(_json_text(new), unchanged, lines, notes)


def _why_not(install: UiInstall, kind: ModelKind, own: list[str], models_dir: Path, library: Path) -> str:
    """Why a one-folder key must keep Fooocus' own folder ("" when the library's can replace it)."""
    if missing := [n for n in kind.fooocus_needs if not (library / n).is_file()]:
        return f"the library has no complete {kind.title} model in {library} ({', '.join(missing)} missing)"
    if not library.is_dir():
        return f"the library folder {library} does not exist"
    if hidden := _not_in_library(install, own, models_dir / kind.name, library):
        return (
            f"Fooocus' {hidden[0].parent} holds {len(hidden)} model file(s) the library lacks (e.g. "
            f"{hidden[0].name}); run `aiui-tui models import {install.path}` (or `models dedupe` for copies "
            "the library has) first, then link again"
        )
    return ""


def _fooocus_own_folders(install: UiInstall, value: object, kind: ModelKind) -> list[str]:
    """The folders Fooocus uses for a key now, as written (its default when absent or invalid)."""
    values = value if isinstance(value, list) else [value]
    folders = [v for v in values if isinstance(v, str) and v and (install.path / v).is_dir()]
    if folders:
        return folders
    return [str(install.path / kind.fooocus_default)] if kind.fooocus_default else []


def _not_in_library(install: UiInstall, own: list[str], kind_dir: Path, library: Path) -> list[Path]:
    """Model files in Fooocus' own folders that are not also a file of the library (same inode)."""
    ours = {(f.device, f.inode) for f in walk_models(kind_dir, None)}
    hidden = []
    for folder in own:
        path = install.path / folder
        if path.resolve() == library.resolve():
            continue
        hidden += [Path(f.path) for f in walk_models(path, None) if (f.device, f.inode) not in ours]
    return sorted(hidden)


def _fooocus_before(backup_text: str | None) -> dict[str, Any] | None:
    """The settings before our edit: {} when there was no config.txt (an empty backup)."""
    return {} if backup_text == "" else _json_or_none(backup_text)


def _fooocus_undo(settings: dict[str, Any], before: dict[str, Any] | None, models_dir: Path) -> dict[str, Any]:
    """`settings` with every key that points at the library back to what it was (`before`)."""
    out = dict(settings)
    for kind in _fooocus_kinds():
        key = kind.fooocus
        if key not in out or not _refers_to(out[key], models_dir):
            continue
        if before is not None:
            if key in before:
                out[key] = before[key]
            else:
                del out[key]
        elif isinstance(out[key], list) and (rest := [v for v in out[key] if not _refers_to(v, models_dir)]):
            out[key] = rest
        else:
            del out[key]  # Fooocus' default again
    return out


def _refers_to(value: object, models_dir: Path) -> bool:
    if isinstance(value, list):
        return any(_refers_to(v, models_dir) for v in value)
    root = str(models_dir)
    return isinstance(value, str) and (value == root or value.startswith(root + os.sep))


def _json_object(path: Path, text: str) -> dict[str, Any]:
    try:
        settings = json.loads(text)
    except ValueError:
        raise UsageError(
            f"{path} is not valid JSON; nothing was changed.", "fix it (Fooocus would not read it either), then retry"
        ) from None
    if not isinstance(settings, dict):
        raise UsageError(f"{path} is not a JSON object; nothing was changed.", "fix it, then retry")
    return settings


def _json_or_none(text: str | None) -> dict[str, Any] | None:
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _json_text(settings: dict[str, Any]) -> str:
    return json.dumps(settings, indent=4, ensure_ascii=False) + "\n"


# -- shared ----------------------------------------------------------------------------------------


def _holds_ours(install: UiInstall, text: str | None, models_dir: Path) -> bool:
    """Whether `text` carries an edit of ours (for Fooocus: a managed key pointing at the library)."""
    if text is None:
        return False
    if install.ui != FOOOCUS:
        return _BLOCK.search(text) is not None
    settings = _json_or_none(text) or {}
    return any(_refers_to(settings.get(k.fooocus), models_dir) for k in _fooocus_kinds() if k.fooocus)


def _config_path(install: UiInstall) -> Path:
    if not supported(install) or install.config_file is None:
        raise UsageError(
            f"{install.title} has no config this program can write.",
            "use --mode symlink (or hardlink) for it instead",
        )
    return install.config_file


def _backup(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


def _read(path: Path) -> str | None:
    """The file's text exactly (no newline translation), None when there is none."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text; nothing was changed.", "fix or move it, then retry") from None
