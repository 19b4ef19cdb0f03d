"""Import other UIs' models into the library, link library models out to them, and undo both.

Every operation is first a `Plan` (the dry-run preview), then applied action by action. Applying is
idempotent (a second run finds nothing to do), journaled in the index so `unlink` undoes exactly
what was done, and never deletes a user's bytes: a file is only replaced by a link to a file with
the same content, and a name is only removed when another name for the same data remains.
Blocking: call from a thread.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiui_tui.core.format import human_bytes
from aiui_tui.core.library import ModelRecord
from aiui_tui.logs import get_logger
from aiui_tui.paths import existing_parent
from aiui_tui.services.library import uiconfig
from aiui_tui.services.library.detect import UiInstall
from aiui_tui.services.library.index import LibraryIndex, walk_models

log = get_logger(__name__)

# Operations, as shown in previews and stored in the journal.
HARDLINK_IN = "hardlink-in"  # library gains a second name for a UI's file (same filesystem)
MOVE_IN = "move-in"  # file moved into the library, a symlink left at its old place (other filesystem)
SAME_AS_LIBRARY = "same-as-library"  # UI file identical to a library file: replaced by a link to it
SYMLINK_OUT = "symlink"  # a symlink in a UI folder to a library file
HARDLINK_OUT = "hardlink"  # a hardlink in a UI folder to a library file
CONFIG = "config"  # the UI's own config edited to read the library

SameContent = Callable[[Path, Path], bool]


@dataclass(frozen=True)
class Action:
    op: str
    path: Path  # the name in the UI's folder
    target: Path  # the library file (or the config file for CONFIG)
    size: int = 0
    detail: str = ""

    def line(self) -> str:
        arrow = {CONFIG: "edit"}.get(self.op, "->")
        extra = f"  ({self.detail})" if self.detail else ""
        size = f" [{human_bytes(self.size)}]" if self.size else ""
        return f"{self.op:15} {self.path} {arrow} {self.target}{size}{extra}"


@dataclass
class Plan:
    install: UiInstall
    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # things left alone, and why

    @property
    def empty(self) -> bool:
        return not self.actions


def _is_link_to_library(path: Path, models_dir: Path) -> bool:
    if not path.is_symlink():
        return False
    target = Path(os.path.realpath(path))
    return target.is_relative_to(models_dir.resolve())


def _free_name(folder: Path, name: str, taken: set[Path]) -> Path:
    candidate = folder / name
    stem, dot, suffix = name.partition(".")
    n = 2
    while candidate.exists() or candidate.is_symlink() or candidate in taken:
        candidate = folder / f"{stem}-{n}{dot}{suffix}"
        n += 1
    return candidate


# -- import --------------------------------------------------------------------------------------
def plan_import(install: UiInstall, models_dir: Path, same_content: SameContent) -> Plan:
    plan = Plan(install)
    lib_dev = models_dir.stat().st_dev
    claimed: set[Path] = set()
    for folder, kind in install.existing_folders().items():
        for found in walk_models(folder, kind):
            path = Path(found.path)
            if found.link_target is not None:
                if _is_link_to_library(path, models_dir):
                    continue  # already ours
                plan.notes.append(f"{path}: a symlink to {found.link_target}; left alone")
                continue
            dest = models_dir / kind / path.name
            if dest.exists() and os.path.samefile(dest, path):
                continue  # imported before, by hardlink
            if dest.exists() and same_content(dest, path):
                plan.actions.append(Action(SAME_AS_LIBRARY, path, dest, found.size, "identical to the library copy"))
                continue
            if dest.exists() or dest in claimed:
                dest = _free_name(models_dir / kind, path.name, claimed)
            claimed.add(dest)
            op = HARDLINK_IN if found.device == lib_dev else MOVE_IN
            detail = (
                "same filesystem: no bytes copied" if op == HARDLINK_IN else "other filesystem: moved, symlink left"
            )
            plan.actions.append(Action(op, path, dest, found.size, detail))
    return plan


# -- link out ------------------------------------------------------------------------------------
def plan_link(install: UiInstall, records: list[ModelRecord], models_dir: Path, mode: str) -> Plan:
    plan = Plan(install)
    if mode == CONFIG:
        if not uiconfig.supported(install):
            plan.notes.append(f"{install.title} has no config this program can write; use --mode symlink")
        elif not uiconfig.has_edit(install, models_dir):
            target = install.config_file
            assert target is not None
            plan.actions.append(Action(CONFIG, install.path, target, 0, uiconfig.describe_edit(install, models_dir)))
        return plan
    for record in records:
        folders = install.folders.get(record.kind or "")
        if not folders:
            plan.notes.append(f"{record.name}: {install.title} has no folder for {record.kind}")
            continue
        source = Path(record.path)
        link = folders[0] / record.name
        if link.is_symlink():
            if os.path.realpath(link) == os.path.realpath(source):
                continue
            plan.notes.append(f"{link}: a link to something else exists; left alone")
            continue
        if link.exists():
            if os.path.samefile(link, source):
                continue
            plan.notes.append(f"{link}: a different file with this name exists; left alone")
            continue
        op, detail = SYMLINK_OUT, ""
        if mode == HARDLINK_OUT:
            parent = existing_parent(link.parent)
            if parent.stat().st_dev == source.stat().st_dev:
                op = HARDLINK_OUT
            else:
                detail = "other filesystem: symlink instead of hardlink"
        plan.actions.append(Action(op, link, source, record.size, detail))
    return plan


# -- apply ---------------------------------------------------------------------------------------
def apply_plan(plan: Plan, index: LibraryIndex, models_dir: Path) -> list[str]:
    """Carry out `plan`, journaling each action; returns one line per problem (others go on)."""
    ui = str(plan.install.path)
    problems = []
    for action in plan.actions:
        try:
            _apply(action, plan.install, models_dir)
        except OSError as exc:
            problems.append(f"{action.path}: {exc.strerror or exc}")
            log.warning("link action failed", op=action.op, path=str(action.path), error=str(exc))
            continue
        index.add_link(ui, action.op, str(action.path), str(action.target))
    return problems


def _apply(action: Action, install: UiInstall, models_dir: Path) -> None:
    path, target = action.path, action.target
    if action.op == CONFIG:
        uiconfig.apply_edit(install, models_dir)
    elif action.op == HARDLINK_IN:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target)
    elif action.op == MOVE_IN:
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy_durably(path, target)
        _replace_with_symlink(path, target)
    elif action.op == SAME_AS_LIBRARY:
        replace_with_link(path, target)
    elif action.op == SYMLINK_OUT:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)
    elif action.op == HARDLINK_OUT:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(target, path)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            os.symlink(target, path)


def _copy_durably(source: Path, dest: Path) -> None:
    part = dest.with_name(dest.name + ".part")
    with open(source, "rb") as src, open(part, "wb") as out:
        shutil.copyfileobj(src, out, 8 * 1024 * 1024)
        out.flush()
        os.fsync(out.fileno())
    shutil.copystat(source, part)
    os.replace(part, dest)
    _fsync_dir(dest.parent)


def _replace_with_symlink(path: Path, target: Path) -> None:
    tmp = path.with_name(f".{path.name}.aiui-link")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, path)


def replace_with_link(path: Path, target: Path) -> None:
    """Swap `path` for a hardlink to `target` (same filesystem) or a symlink; atomic either way."""
    tmp = path.with_name(f".{path.name}.aiui-link")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    try:
        os.link(target, tmp)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        os.symlink(target, tmp)
    os.replace(tmp, path)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- undo ----------------------------------------------------------------------------------------
def plan_unlink(install: UiInstall, index: LibraryIndex) -> Plan:
    """Undo what the journal says was done to this UI, where it is still as we left it."""
    plan = Plan(install)
    for _ui, op, path_s, target_s in index.links(str(install.path)):
        path, target = Path(path_s), Path(target_s)
        if op in (SYMLINK_OUT, MOVE_IN):
            ours = path.is_symlink() and os.path.realpath(path) == os.path.realpath(target)
        elif op in (HARDLINK_OUT, HARDLINK_IN, SAME_AS_LIBRARY):
            ours = path.exists() and target.exists() and os.path.samefile(path, target)
            if op == SAME_AS_LIBRARY and path.is_symlink():
                ours = os.path.realpath(path) == os.path.realpath(target)
        else:
            ours = True
        if not ours:
            plan.notes.append(f"{path}: changed since it was linked; left alone")
            index.drop_link(str(install.path), op, path_s)
            continue
        plan.actions.append(Action(op, path, target, detail="undo"))
    return plan


def apply_unlink(plan: Plan, index: LibraryIndex, models_dir: Path) -> list[str]:
    ui = str(plan.install.path)
    problems = []
    for action in plan.actions:
        try:
            _undo(action, plan.install, models_dir)
        except OSError as exc:
            problems.append(f"{action.path}: {exc.strerror or exc}")
            continue
        index.drop_link(ui, action.op, str(action.path))
    return problems


def _undo(action: Action, install: UiInstall, models_dir: Path) -> None:
    path, target = action.path, action.target
    if action.op == CONFIG:
        uiconfig.remove_edit(install, models_dir)
    elif action.op in (SYMLINK_OUT, HARDLINK_OUT):
        path.unlink()  # the library keeps the data
    elif action.op == HARDLINK_IN:
        target.unlink()  # the UI keeps its own name for the data
    elif action.op == MOVE_IN:
        # Bring the bytes back under their old name, then drop the library copy.
        tmp = path.with_name(f".{path.name}.aiui-restore")
        _copy_durably(target, tmp)
        os.replace(tmp, path)
        target.unlink()
    elif action.op == SAME_AS_LIBRARY:
        # The UI had its own copy: give it one again (a real file, not a link).
        tmp = path.with_name(f".{path.name}.aiui-restore")
        _copy_durably(target, tmp)
        os.replace(tmp, path)
