"""What aiui-tui prepares on the host before a container starts, owned by the user it acts for.

Under `sudo` the process is root but acts for SUDO_UID: folders and files it creates for a
container running as that user must belong to that user, or the container cannot write its
outputs (and the user later meets root-owned folders in their own data root). Blocking: call
from a thread.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from aiui_tui.logs import get_logger
from aiui_tui.paths import invoking_ids
from aiui_tui.tomledit import atomic_write

log = get_logger(__name__)


def _acting_for_another(uid: int) -> bool:
    return os.geteuid() == 0 and uid != 0


def make_dirs(path: str | Path, uid: int, gid: int) -> None:
    """`mkdir -p`; the folders it creates belong to uid:gid when root acts for another user."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    path.mkdir(parents=True, exist_ok=True)
    if _acting_for_another(uid):
        for folder in missing:
            os.chown(folder, uid, gid)


def write_file(path: str | Path, text: str, uid: int, gid: int) -> None:
    """Write `text` atomically (only when it changed), its folders made as by `make_dirs`."""
    path = Path(path)
    make_dirs(path.parent, uid, gid)
    with contextlib.suppress(FileNotFoundError):
        if path.read_text(encoding="utf-8") == text:
            return
    atomic_write(path, text)
    if _acting_for_another(uid):
        os.chown(path, uid, gid)


def merge_json_settings(path: str, settings: dict[str, Any], uid: int | None = None, gid: int | None = None) -> None:
    """Set `settings` in the app's JSON settings file, keeping every other key the UI wrote there."""
    target = Path(path)
    current: dict[str, Any] = {}
    with contextlib.suppress(FileNotFoundError):
        try:
            loaded = json.loads(target.read_text(encoding="utf-8") or "{}")
        except ValueError:
            log.warning("app settings file is not JSON; left as it is", path=path)
            return
        current = loaded if isinstance(loaded, dict) else {}
    if all(current.get(k) == v for k, v in settings.items()):
        return
    current.update(settings)
    if uid is None or gid is None:
        uid, gid = invoking_ids()
    write_file(target, json.dumps(current, indent=4) + "\n", uid, gid)


def chown_tree(folder: str | Path, uid: int, gid: int) -> None:
    """Give every entry under `folder` (links themselves, not their targets) to uid:gid."""
    for dirpath, dirnames, filenames in os.walk(folder):
        for entry in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
            with contextlib.suppress(OSError):
                st = os.lstat(entry)
                if st.st_uid != uid or st.st_gid != gid:
                    os.lchown(entry, uid, gid)
