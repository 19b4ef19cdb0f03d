"""The data root: precedence, layout creation, and every permission problem as one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from aiui_tui.core.errors import PathProblem
from aiui_tui.kinds import kind_names
from aiui_tui.paths import Layout, ensure_layout, layout_problems, resolve_root
from tests.conftest import as_user

NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching users and mounting need root")


@pytest.fixture
def world_tmp():
    """A temp dir another user can reach (pytest's own lives under a 0700 folder)."""
    path = Path(tempfile.mkdtemp(prefix="aiui-perm-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_root_precedence_cli_over_env_over_default(tmp_path):
    assert resolve_root(str(tmp_path / "cli"), {"AIUI_ROOT": str(tmp_path / "env")}) == tmp_path / "cli"
    assert resolve_root(None, {"AIUI_ROOT": str(tmp_path / "env")}) == tmp_path / "env"
    default = resolve_root(None, {})
    assert default.is_absolute() and default.name == "aiui-tui"


def test_root_expands_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_root("~/ai", {}) == tmp_path / "ai"


def test_layout_created_with_every_folder(root):
    created = ensure_layout(Layout(root))
    for rel in [
        "config",
        "config/fooocus",
        "config/automatic1111",
        "config/comfyui",
        "config/plugins",
        "config/apps",
        "logs",
        "plugins",
        "models",
        "outputs/fooocus",
        "outputs/automatic1111",
        "outputs/comfyui",
        "state",
    ]:
        assert (root / rel).is_dir(), rel
    for kind in ["checkpoints", "loras", "vae", "embeddings", "upscale_models", "controlnet", "clip_vision"]:
        assert kind in kind_names()
        assert (root / "models" / kind).is_dir()
    assert root in created and len(created) == len(Layout(root).folders())


def test_second_run_changes_nothing(root):
    layout = Layout(root)
    ensure_layout(layout)
    (root / "models" / "checkpoints" / "keep.safetensors").write_bytes(b"x")
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    assert ensure_layout(layout) == []
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before


def test_file_where_a_folder_should_be(root):
    root.mkdir()
    (root / "models").write_text("not a folder")
    with pytest.raises(PathProblem) as err:
        ensure_layout(Layout(root))
    assert str(root / "models") in err.value.message and "is a file" in err.value.message
    assert "mv " in err.value.fix
    assert (root / "models").read_text() == "not a folder"


def test_dangling_symlink_folder_is_named(root):
    root.mkdir()
    (root / "models").symlink_to(root / "gone")
    with pytest.raises(PathProblem) as err:
        ensure_layout(Layout(root))
    assert "does not exist" in err.value.message and "gone" in err.value.message


def _run_as_nobody(code: str) -> subprocess.CompletedProcess:
    import sys

    return subprocess.run([*as_user(NOBODY), sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


@needs_root
def test_unwritable_folder_names_path_and_chmod_fix(world_tmp):
    tmp_path = world_tmp
    root = tmp_path / "root"
    ensure_layout(Layout(root))
    os.chown(tmp_path, NOBODY, NOBODY)
    for p in [root, *root.rglob("*")]:
        os.chown(p, NOBODY, NOBODY)
    (root / "logs").chmod(0o555)
    code = f"""
from aiui_tui.paths import Layout, ensure_layout
from aiui_tui.core.errors import PathProblem
try:
    ensure_layout(Layout({str(root)!r}))
except PathProblem as e:
    print(e.one_line())
"""
    out = _run_as_nobody(code).stdout
    assert f"{root}/logs is not writable (mode dr-xr-xr-x)" in out
    assert f"chmod u+rwx {root}/logs" in out


@needs_root
def test_root_owned_folder_left_by_a_container(world_tmp):
    """A folder the user owns holding a root-owned outputs folder: the fix is chown, not chmod."""
    tmp_path = world_tmp
    root = tmp_path / "root"
    ensure_layout(Layout(root))
    os.chown(tmp_path, NOBODY, NOBODY)
    for p in [root, *root.rglob("*")]:
        os.chown(p, NOBODY, NOBODY)
    os.chown(root / "outputs" / "comfyui", 0, 0)  # as a container running as root leaves it
    code = f"""
from aiui_tui.paths import Layout, layout_problems
for p in layout_problems(Layout({str(root)!r})):
    print(p.one_line())
"""
    out = _run_as_nobody(code).stdout.strip().splitlines()
    assert len(out) == 1
    assert f"{root}/outputs/comfyui is owned by root, not by you (nobody)" in out[0]
    assert f"sudo chown -R nobody: {root}/outputs/comfyui" in out[0]


@needs_root
def test_read_only_filesystem(tmp_path):
    mnt = tmp_path / "ro"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True)
    try:
        (mnt / "root").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        with pytest.raises(PathProblem) as err:
            ensure_layout(Layout(mnt / "root"))
        assert err.value.message == f"{mnt}/root is on a read-only filesystem."
        problems = layout_problems(Layout(mnt / "root"))
        assert problems and "read-only" in problems[0].message
        with pytest.raises(PathProblem) as err:
            ensure_layout(Layout(mnt / "new"))
        assert "read-only" in err.value.message
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_layout_problems_reports_nothing_for_a_good_root(layout):
    assert layout_problems(layout) == []


def test_missing_layout_under_writable_parent_is_no_problem(tmp_path):
    assert layout_problems(Layout(tmp_path / "not-yet")) == []


def test_a_file_in_the_way_above_the_root_is_not_ours_to_move(tmp_path):
    """`--root /etc/passwd/x`: the fix names another root; moving /etc/passwd is never suggested."""
    (tmp_path / "passwd").write_text("root:x:0:0\n")
    for root in (tmp_path / "passwd", tmp_path / "passwd" / "x" / "y"):
        with pytest.raises(PathProblem) as err:
            ensure_layout(Layout(root))
        assert err.value.fix == "choose another data root with --root DIR or AIUI_ROOT"
        assert [p.one_line() for p in layout_problems(Layout(root))] == [err.value.one_line()]
    assert (tmp_path / "passwd").read_text() == "root:x:0:0\n"


@needs_root
def test_a_root_under_a_folder_the_user_cannot_write_names_both(world_tmp):
    code = f"""
from aiui_tui.paths import root_problem
from pathlib import Path
print(root_problem(Path({str(world_tmp / "ai" / "deep")!r})).one_line())
"""
    out = _run_as_nobody(code).stdout.strip()
    assert out.startswith(f"{world_tmp}/ai/deep cannot be created: you (nobody) cannot write to {world_tmp}.")
    assert f"sudo mkdir -p {world_tmp}/ai/deep && sudo chown nobody: {world_tmp}/ai/deep" in out


def test_layout_helpers(layout: Layout):
    assert layout.kind_dir("loras") == layout.root / "models" / "loras"
    assert layout.app_outputs_dir("x") == layout.root / "outputs" / "x"
    assert layout.config_file == layout.root / "config" / "aiui.toml"
    assert isinstance(layout.state_dir, Path)


@needs_root
def test_an_existing_folder_that_is_not_a_data_root_is_not_ours_to_chown(world_tmp):
    """`--root /etc` as a user: never `sudo chown -R` it; a root of ours left owned by root: chown it back."""
    foreign, ours = world_tmp / "etc", world_tmp / "ours"
    foreign.mkdir()
    ensure_layout(Layout(ours))
    code = f"""
from pathlib import Path
from aiui_tui.paths import root_problem
for root in ({str(foreign)!r}, {str(ours)!r}):
    print(root_problem(Path(root)).fix)
"""
    foreign_fix, ours_fix = _run_as_nobody(code).stdout.strip().splitlines()
    assert foreign_fix == "choose another data root with --root DIR or AIUI_ROOT"
    assert ours_fix == f"take it back: sudo chown -R nobody: {ours}"
