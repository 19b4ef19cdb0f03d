"""Import other UIs' models into the library, link library models out to them, and undo both.

Every operation is first a `Plan` (the dry-run preview), then applied action by action. Applying is
idempotent (a second run finds nothing to do), journaled in the index so `unlink` undoes exactly
what was done, and never deletes a user's bytes: a file is only replaced by a link to a file with
the same content, and a name is only removed when another name for the same data remains.
Subfolders are kept both ways: the library's `checkpoints/SDXL/x.safetensors` is linked as
`SDXL/x.safetensors` under the UI's checkpoints folder (saved workflows name it so), and an
imported file keeps its subfolder under the library's kind folder. A folder that link or import
had to create is journaled too, and `unlink` removes it when nothing else is left in it.
Blocking: call from a thread.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from aiui_tui.core.format import human_bytes
from aiui_tui.core.library import ModelRecord
from aiui_tui.logs import get_logger
from aiui_tui.services.library import uiconfig
from aiui_tui.services.library.detect import UiInstall
from aiui_tui.services.library.index import LibraryIndex, walk_models

if TYPE_CHECKING:
    from aiui_tui.services.library.progress import OpProgress

log = get_logger(__name__)

# Operations, as shown in previews and stored in the journal.
HARDLINK_IN = "hardlink-in"  # library gains a second name for a UI's file (same filesystem)
MOVE_IN = "move-in"  # file moved into the library, a symlink left at its old place (other filesystem)
SAME_AS_LIBRARY = "same-as-library"  # UI file identical to a library file: replaced by a link to it
SYMLINK_OUT = "symlink"  # a symlink in a UI folder to a library file
HARDLINK_OUT = "hardlink"  # a hardlink in a UI folder to a library file
CONFIG = "config"  # the UI's own config edited to read the library
FOLDER = "folder"  # journal only: a folder link or import created (its target: the file it was made for)
IMPORT_OPS = (HARDLINK_IN, MOVE_IN, SAME_AS_LIBRARY)

SameContent = Callable[[Path, Path], bool]


@dataclass(frozen=True)
class Action:
    op: str
    path: Path  # the name in the UI's folder (the folder itself for FOLDER)
    target: Path  # the library file (or the config file for CONFIG)
    size: int = 0
    detail: str = ""
    folders: tuple[Path, ...] = ()  # folders this action creates (outermost first) or, undoing, removes

    def line(self) -> str:
        if self.op == FOLDER:
            return f"{'remove folder':15} {self.path}  ({self.detail})"
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
    return next(c for c in _numbered(folder / name) if not os.path.lexists(c) and c not in taken)


def _numbered(path: Path) -> Iterator[Path]:
    """`path`, then the names `_free_name` would try after it (x-2.safetensors, x-3...)."""
    yield path
    stem, dot, suffix = path.name.partition(".")
    n = 2
    while True:
        yield path.with_name(f"{stem}-{n}{dot}{suffix}")
        n += 1


def _imported_before(dest: Path, path: Path) -> bool:
    """Whether the library already has `path`'s data (by hardlink) under `dest` or a free name after it."""
    for candidate in _numbered(dest):
        if not os.path.lexists(candidate):
            return False
        if candidate.exists() and os.path.samefile(candidate, path):
            return True
    return False


def _missing_folders(folder: Path) -> list[Path]:
    """`folder` and its ancestors that do not exist (not even as a dangling link), outermost first."""
    missing = []
    while not os.path.lexists(folder) and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing[::-1]


def _with_folders(action: Action, folders: list[Path], claimed: set[Path]) -> Action:
    """`action`, noting the folders it will create that no earlier action of the plan creates."""
    new = tuple(f for f in folders if f not in claimed)
    claimed.update(new)
    if not new:
        return action
    what = "new folder" if len(new) == 1 else "new folders"
    detail = "; ".join(d for d in (action.detail, f"{what} {', '.join(map(str, new))}") if d)
    return replace(action, detail=detail, folders=new)


# -- import --------------------------------------------------------------------------------------
def plan_import(install: UiInstall, models_dir: Path, same_content: SameContent) -> Plan:
    plan = Plan(install)
    lib_dev = models_dir.stat().st_dev
    claimed: set[Path] = set()
    new_folders: set[Path] = set()
    for folder, kind in install.existing_folders().items():
        for found in walk_models(folder, kind):
            path = Path(found.path)
            if found.link_target is not None:
                if _is_link_to_library(path, models_dir):
                    continue  # already ours
                plan.notes.append(f"{path}: a symlink to {found.link_target}; left alone")
                continue
            dest = models_dir / kind / path.relative_to(folder)  # the UI's subfolder is kept
            if _imported_before(dest, path):
                continue
            if dest.exists() and same_content(dest, path):
                plan.actions.append(Action(SAME_AS_LIBRARY, path, dest, found.size, "identical to the library copy"))
                continue
            if os.path.lexists(dest) or dest in claimed:
                dest = _free_name(dest.parent, path.name, claimed)
            claimed.add(dest)
            op = HARDLINK_IN if found.device == lib_dev else MOVE_IN
            detail = (
                "same filesystem: no bytes copied" if op == HARDLINK_IN else "other filesystem: moved, symlink left"
            )
            action = Action(op, path, dest, found.size, detail)
            plan.actions.append(_with_folders(action, _missing_folders(dest.parent), new_folders))
    return plan


# -- link out ------------------------------------------------------------------------------------
def _relative_in_kind(record: ModelRecord, models_dir: Path) -> Path:
    """The record's path under its kind folder (`SDXL/x.safetensors`); its name when outside it."""
    path = Path(record.path)
    for base in (models_dir / (record.kind or ""), models_dir.resolve() / (record.kind or "")):
        if path.is_relative_to(base) and path != base:
            return path.relative_to(base)
    return Path(record.name)


def plan_link(install: UiInstall, records: list[ModelRecord], models_dir: Path, mode: str) -> Plan:
    plan = Plan(install)
    if mode == CONFIG:
        if not uiconfig.supported(install):
            plan.notes.append(f"{install.title} has no config this program can write; use --mode symlink")
        else:
            edit = uiconfig.plan_edit(install, models_dir)
            plan.notes += edit.notes  # kinds left alone, and why
            if not edit.unchanged:
                target = install.config_file
                assert target is not None
                plan.actions.append(Action(CONFIG, install.path, target, 0, uiconfig.describe_edit(install, edit)))
        return plan
    library = models_dir.resolve()
    claimed: set[Path] = set()
    new_folders: set[Path] = set()
    for record in records:
        folders = install.folders.get(record.kind or "")
        if not folders:
            plan.notes.append(f"{record.name}: {install.title} has no folder for {record.kind}")
            continue
        source = Path(record.path)
        link = folders[0] / _relative_in_kind(record, models_dir)
        if link in claimed:
            plan.notes.append(f"{link}: another library file of another kind links here; left alone")
            continue
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
        missing = _missing_folders(link.parent)
        parent = missing[0].parent if missing else link.parent  # where the first new name goes
        if not parent.is_dir():
            plan.notes.append(f"{parent}: not a folder (a file or a dangling link) in the way of {link}; left alone")
            continue
        if Path(os.path.realpath(parent)).is_relative_to(library):
            plan.notes.append(f"{link}: that folder is inside the library itself; left alone")
            continue
        claimed.add(link)
        op, detail = SYMLINK_OUT, ""
        if mode == HARDLINK_OUT:
            if parent.stat().st_dev == source.stat().st_dev:
                op = HARDLINK_OUT
            else:
                detail = "other filesystem: symlink instead of hardlink"
        action = Action(op, link, source, record.size, detail)
        plan.actions.append(_with_folders(action, missing, new_folders))
    return plan


# -- apply ---------------------------------------------------------------------------------------
def apply_plan(plan: Plan, index: LibraryIndex, models_dir: Path, progress: OpProgress | None = None) -> list[str]:
    """Carry out `plan`, journaling each action; returns one line per problem (others go on)."""
    ui = str(plan.install.path)
    problems = []
    for action in plan.actions:
        try:
            _make_folders(action, index, ui)
            _apply(action, plan.install, models_dir, progress.reader(str(action.path)) if progress else None)
        except OSError as exc:
            problems.append(f"{action.path}: {exc.strerror or exc}")
            log.warning("link action failed", op=action.op, path=str(action.path), error=str(exc))
            continue
        finally:
            if progress:
                progress.file_done(str(action.path), action.size)
        index.add_link(ui, action.op, str(action.path), str(action.target))
    return problems


def _make_folders(action: Action, index: LibraryIndex, ui: str) -> None:
    """Create the folders the new name needs, journaling each one made here (not one made meanwhile)."""
    if action.op in (SYMLINK_OUT, HARDLINK_OUT):
        new_name = action.path
    elif action.op in (HARDLINK_IN, MOVE_IN):
        new_name = action.target
    else:
        return
    for folder in _missing_folders(new_name.parent):
        try:
            os.mkdir(folder)
        except FileExistsError:
            continue  # someone else made it: not ours to remove later
        index.add_link(ui, FOLDER, str(folder), str(new_name))


def _apply(action: Action, install: UiInstall, models_dir: Path, on_read: Callable[[int], None] | None = None) -> None:
    path, target = action.path, action.target
    if action.op == CONFIG:
        uiconfig.apply_edit(install, models_dir)
    elif action.op == HARDLINK_IN:
        os.link(path, target)
    elif action.op == MOVE_IN:
        _copy_durably(path, target, on_read)
        _replace_with_symlink(path, target)
    elif action.op == SAME_AS_LIBRARY:
        replace_with_link(path, target)
    elif action.op == SYMLINK_OUT:
        os.symlink(target, path)
    elif action.op == HARDLINK_OUT:
        try:
            os.link(target, path)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            os.symlink(target, path)


COPY_CHUNK = 8 * 1024 * 1024


def _copy_durably(source: Path, dest: Path, on_read: Callable[[int], None] | None = None) -> None:
    part = dest.with_name(dest.name + ".part")
    with open(source, "rb") as src, open(part, "wb") as out:
        if on_read is None:
            shutil.copyfileobj(src, out, COPY_CHUNK)
        else:
            while chunk := src.read(COPY_CHUNK):
                out.write(chunk)
                on_read(len(chunk))
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
    ui = str(install.path)
    plan = Plan(install)
    folder_rows: list[Path] = []
    for _ui, op, path_s, target_s in index.links(ui):
        path, target = Path(path_s), Path(target_s)
        if op == FOLDER:
            folder_rows.append(path)
            continue
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
            index.drop_link(ui, op, path_s)
            continue
        plan.actions.append(Action(op, path, target, detail="undo"))
    _plan_folder_removal(plan, folder_rows, index)
    return plan


def _removed_by(action: Action) -> Path | None:
    """The name undoing `action` removes."""
    if action.op in (SYMLINK_OUT, HARDLINK_OUT):
        return action.path
    if action.op in (HARDLINK_IN, MOVE_IN):
        return action.target
    return None


def _plan_folder_removal(plan: Plan, folders: list[Path], index: LibraryIndex) -> None:
    """Give each journaled folder that will be empty after the undo to the action that empties it
    (or to an action of its own); forget folders that are gone or hold things this undo keeps."""
    ui = str(plan.install.path)
    removed = {p for p in map(_removed_by, plan.actions) if p is not None}
    going: set[Path] = set()
    owner: dict[Path, int] = {}  # folder -> index of the action whose undo empties it
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):  # deepest first
        if not os.path.lexists(folder):
            index.drop_link(ui, FOLDER, str(folder))
            continue
        if folder.is_symlink() or not folder.is_dir():
            plan.notes.append(f"{folder}: no longer the folder link made; left alone")
            index.drop_link(ui, FOLDER, str(folder))
            continue
        kept = [e.name for e in os.scandir(folder) if Path(e.path) not in removed and Path(e.path) not in going]
        if kept:
            plan.notes.append(
                f"{folder}: holds {len(kept)} other entries ({', '.join(sorted(kept)[:3])}); left in place"
            )
            index.drop_link(ui, FOLDER, str(folder))
            continue
        going.add(folder)
        inside = [i for i, a in enumerate(plan.actions) if (p := _removed_by(a)) and p.is_relative_to(folder)]
        if inside:
            owner[folder] = max(inside)
        else:
            plan.actions.append(Action(FOLDER, folder, folder, detail="empty; made by an earlier link or import"))
    for i, action in enumerate(plan.actions):
        mine = tuple(f for f, o in owner.items() if o == i)  # deepest first, as they are removed
        if mine:
            shown = ", ".join(map(str, mine))
            plan.actions[i] = replace(action, folders=mine, detail=f"undo; then remove empty folder {shown}")


def apply_unlink(plan: Plan, index: LibraryIndex, models_dir: Path, progress: OpProgress | None = None) -> list[str]:
    ui = str(plan.install.path)
    problems = []
    folders: set[Path] = set()
    for action in plan.actions:
        if action.op == FOLDER:
            folders.add(action.path)
            continue
        try:
            _undo(action, plan.install, models_dir, progress.reader(str(action.path)) if progress else None)
        except OSError as exc:
            problems.append(f"{action.path}: {exc.strerror or exc}")
            continue
        finally:
            if progress:
                progress.file_done(str(action.path), action.size)
        index.drop_link(ui, action.op, str(action.path))
        folders.update(action.folders)
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):  # deepest first
        problem = _remove_folder(folder, index, ui)
        if problem:
            problems.append(problem)
    return problems


def _remove_folder(folder: Path, index: LibraryIndex, ui: str) -> str:
    """Remove a journaled folder if it is empty now; a problem line, or ''."""
    try:
        os.rmdir(folder)
    except FileNotFoundError:
        pass
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            return f"{folder}: {exc.strerror or exc}"
        # Something arrived meanwhile, or an undo inside it failed: keep the row while a journaled
        # name of ours is still inside, so a later unlink tries again; else the folder is the user's.
        for _ui, op, path, target in index.links(ui):
            if op != FOLDER and (Path(path).is_relative_to(folder) or Path(target).is_relative_to(folder)):
                return ""
    index.drop_link(ui, FOLDER, str(folder))
    return ""


def _undo(action: Action, install: UiInstall, models_dir: Path, on_read: Callable[[int], None] | None = None) -> None:
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
        _copy_durably(target, tmp, on_read)
        os.replace(tmp, path)
        target.unlink()
    elif action.op == SAME_AS_LIBRARY:
        # The UI had its own copy: give it one again (a real file, not a link).
        tmp = path.with_name(f".{path.name}.aiui-restore")
        _copy_durably(target, tmp, on_read)
        os.replace(tmp, path)
