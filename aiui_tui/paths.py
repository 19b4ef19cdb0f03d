"""The data root: where it is, what it holds, and whether we can write there.

All user data lives under one root: `--root DIR` > `AIUI_ROOT` > the platformdirs user data dir.
Every problem found here is a `PathProblem` naming the path and the fix, never a traceback.
"""

from __future__ import annotations

import errno
import os
import pwd
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aiui_tui.core.errors import PathProblem

ROOT_ENV = "AIUI_ROOT"
APP_NAME = "aiui-tui"
# Apps whose config and outputs folders exist from the start; others get theirs when first started.
BUILTIN_APPS = ("fooocus", "automatic1111", "comfyui")


def default_root() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def resolve_root(cli_root: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None) -> Path:
    """`--root` wins over `AIUI_ROOT`, which wins over the platform's user data folder."""
    env = os.environ if env is None else env
    chosen = cli_root or env.get(ROOT_ENV) or default_root()
    return Path(chosen).expanduser().absolute()


@dataclass(frozen=True)
class Layout:
    """Every folder and well-known file under one data root."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "aiui.toml"

    @property
    def secrets_file(self) -> Path:
        return self.config_dir / "secrets.toml"

    @property
    def user_apps_dir(self) -> Path:
        return self.config_dir / "apps"

    @property
    def plugin_config_dir(self) -> Path:
        return self.config_dir / "plugins"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs_dir / "aiui.log"

    @property
    def plugins_dir(self) -> Path:
        return self.root / "plugins"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def outputs_dir(self) -> Path:
        return self.root / "outputs"

    @property
    def state_dir(self) -> Path:
        """SQLite databases (download queue, model index)."""
        return self.root / "state"

    def kind_dir(self, kind: str) -> Path:
        return self.models_dir / kind

    def app_config_dir(self, app: str) -> Path:
        return self.config_dir / app

    def app_outputs_dir(self, app: str) -> Path:
        return self.outputs_dir / app

    def folders(self) -> list[Path]:
        """Every folder of the layout, parents before children."""
        dirs = [self.root, self.config_dir]
        dirs += [self.app_config_dir(a) for a in BUILTIN_APPS]
        dirs += [self.plugin_config_dir, self.user_apps_dir, self.logs_dir, self.plugins_dir]
        from aiui_tui.kinds import kind_names  # here: the dashboard's first frame needs no kinds table

        dirs += [self.models_dir] + [self.kind_dir(k) for k in kind_names()]
        dirs += [self.outputs_dir] + [self.app_outputs_dir(a) for a in BUILTIN_APPS]
        dirs += [self.state_dir]
        return dirs


def existing_parent(path: Path) -> Path:
    """`path`, or its nearest ancestor that is a folder we can see (where a folder would be created)."""
    while not os.path.isdir(path) and path != path.parent:
        path = path.parent
    return path


def invoking_ids() -> tuple[int, int]:
    """The user behind the command: under sudo that is SUDO_UID, not root."""
    if os.geteuid() == 0 and os.environ.get("SUDO_UID", "").isdigit():
        return int(os.environ["SUDO_UID"]), int(os.environ.get("SUDO_GID", os.environ["SUDO_UID"]))
    return os.getuid(), os.getgid()


def ensure_layout(layout: Layout) -> list[Path]:
    """Create the missing folders and check every one is usable; return the folders created.

    Raises PathProblem for the first folder that cannot be used. Existing folders and files are
    never changed. Under sudo the folders created belong to the user behind sudo, not root: the
    containers that run as that user write into them.
    """
    if problem := root_problem(layout.root):
        raise problem
    created: list[Path] = []
    uid, gid = invoking_ids()
    for folder in layout.folders():
        if _make_folder(folder):
            created.append(folder)
            if os.geteuid() == 0 and uid != 0:
                os.chown(folder, uid, gid)
        problem = folder_problem(folder)
        if problem:
            raise problem
    return created


def missing_folders(layout: Layout) -> list[Path]:
    """The layout's folders that do not exist yet, parents before children."""
    return [f for f in layout.folders() if not os.path.lexists(f)]


def remove_new_folders(layout: Layout, new: list[Path]) -> None:
    """Undo a session that created `new` (folders missing when it began) and was not finished.

    Only what such a session writes goes: the files directly in a new state or logs folder (its
    databases and log), then each new folder, children first, if it is empty. Anything else found
    there stays, and so does its folder.
    """
    ours = {layout.state_dir, layout.logs_dir}
    for folder in reversed(new):
        if folder in ours and folder.is_dir() and not folder.is_symlink():
            for entry in folder.iterdir():
                if entry.is_file() and not entry.is_symlink():
                    entry.unlink(missing_ok=True)
        try:
            folder.rmdir()
        except OSError:
            continue


def layout_problems(layout: Layout) -> list[PathProblem]:
    """Every problem with an existing layout, without creating anything (for doctor)."""
    if problem := root_problem(layout.root):
        return [problem]
    problems = []
    for folder in layout.folders():
        if not folder.exists() and not folder.is_symlink():
            parent = _nearest_existing(folder)
            problem = folder_problem(parent) if parent else None
            if problem:
                problems.append(problem)
            continue
        problem = folder_problem(folder)
        if problem:
            problems.append(problem)
    # One unwritable parent makes all its children fail the same way: report it once.
    unique: dict[str, PathProblem] = {}
    for p in problems:
        unique.setdefault(p.message, p)
    return list(unique.values())


ANOTHER_ROOT = "choose another data root with --root DIR or AIUI_ROOT"


def root_problem(root: Path) -> PathProblem | None:
    """Why `root` cannot be the data root, or None: a missing root that could be created is fine.

    Outside the root nothing is ours, so the fix never moves, chmods or chowns what is in the way
    (`--root /etc/passwd/x` must not suggest moving /etc/passwd): it names another root instead.
    """
    if os.path.lexists(root):
        if root.exists() and not root.is_dir():
            return PathProblem(f"{root} is a file, not a folder: it cannot be the data root.", ANOTHER_ROOT)
        problem = folder_problem(root)
        if problem is not None and root.is_dir() and not _holds_a_layout(root):
            # Not a data root yet (`--root /etc`): its owner and mode are not ours to change.
            return PathProblem(problem.message, ANOTHER_ROOT)
        return problem
    above = _nearest_existing(root)
    if above is None:
        return None
    me = _user(os.geteuid())
    if not above.is_dir():
        return PathProblem(f"{root} cannot be created: {above} is a file, not a folder.", ANOTHER_ROOT)
    if read_only_fs(above):
        return PathProblem(f"{root} cannot be created: {above} is on a read-only filesystem.", ANOTHER_ROOT)
    if not os.access(above, os.W_OK | os.X_OK):
        return PathProblem(
            f"{root} cannot be created: you ({me}) cannot write to {above}.",
            f"{ANOTHER_ROOT}, or have it made for you: sudo mkdir -p {root} && sudo chown {me}: {root}",
        )
    return None


def _holds_a_layout(root: Path) -> bool:
    try:
        return (root / "config").is_dir() or (root / "models").is_dir()
    except OSError:
        return False


def folder_problem(folder: Path) -> PathProblem | None:
    """Why `folder` cannot hold our data, or None when it can."""
    try:
        st = folder.stat()
    except FileNotFoundError:
        if folder.is_symlink():
            return PathProblem(
                f"{folder} is a link to a folder that does not exist ({os.readlink(folder)}).",
                f"create the target folder, or remove the link: rm {folder}",
            )
        return PathProblem(f"{folder} does not exist.", f"create it: aiui-tui --root {folder} init")
    except PermissionError:
        return PathProblem(
            f"{folder} cannot be reached: a parent folder denies access.",
            f"give yourself access to its parents (ls -ld {folder.parent}), or choose another root with --root",
        )
    if not stat.S_ISDIR(st.st_mode):
        return PathProblem(
            f"{folder} is a file, but a folder is expected there.",
            f"move the file away (mv {folder} {folder}.bak), then run the command again",
        )
    if read_only_fs(folder):
        return PathProblem(
            f"{folder} is on a read-only filesystem.",
            "remount it read-write, or choose another data root with --root DIR or AIUI_ROOT",
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        me = os.geteuid()
        if st.st_uid != me:
            return PathProblem(
                f"{folder} is owned by {_user(st.st_uid)}, not by you ({_user(me)}), and you cannot write to it"
                " (containers running as root leave such folders).",
                f"take it back: sudo chown -R {_user(me)}: {folder}",
            )
        return PathProblem(
            f"{folder} is not writable (mode {stat.filemode(st.st_mode)}).",
            f"chmod u+rwx {folder}",
        )
    return None


def _make_folder(folder: Path) -> bool:
    if folder.is_dir():
        return False
    if folder.exists() or folder.is_symlink():
        return False  # a file or a broken link: folder_problem names it
    try:
        folder.mkdir(mode=0o755)
        return True
    except FileExistsError:
        return False
    except FileNotFoundError:
        # A missing parent above the root: create the chain.
        parent = _nearest_existing(folder)
        if parent is not None and (problem := folder_problem(parent)):
            raise problem from None
        try:
            folder.mkdir(mode=0o755, parents=True)
        except OSError as exc:
            raise _mkdir_problem(folder, exc) from None
        return True
    except OSError as exc:
        parent_problem = folder_problem(folder.parent)
        raise (parent_problem or _mkdir_problem(folder, exc)) from None


def _mkdir_problem(folder: Path, exc: OSError) -> PathProblem:
    if exc.errno == errno.EROFS:
        return PathProblem(
            f"{folder} cannot be created: the filesystem is read-only.",
            "choose another data root with --root DIR or AIUI_ROOT",
        )
    if exc.errno == errno.ENOSPC:
        return PathProblem(f"{folder} cannot be created: the disk is full.", "free some space, then retry")
    return PathProblem(
        f"{folder} cannot be created: {exc.strerror}.",
        f"check the permissions of {folder.parent}, or choose another root with --root",
    )


def _nearest_existing(path: Path) -> Path | None:
    for candidate in path.parents:
        if os.path.lexists(candidate):
            return candidate
    return None


def read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"
