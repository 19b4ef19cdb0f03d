"""Link-out and import keep subfolders (issue 14): the library's `checkpoints/SDXL/x.safetensors`
appears as `SDXL/x.safetensors` in the other UI, as ComfyUI's and Fooocus' own listing code sees it;
same-name files in different subfolders never collide; `unlink` leaves each folder exactly as it was
(a full lstat listing compared), removing only the links and the folders link itself created."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from aiui_tui.bus import Bus
from aiui_tui.services.library import LibraryService
from tests.conftest import load_services_inputs, run_cli
from tests.downloads.conftest import tmpfs
from tests.library.conftest import (
    LORA_KEYS,
    SD15_KEYS,
    SDXL_KEYS,
    VAE_KEYS,
    dangling_links,
    fake_a1111,
    fake_comfyui,
    fake_fooocus,
    make_model,
    sha256,
)
from tests.upstream_programs import comfyui_files, fooocus_config

# The library: same names in different subfolders, nested subfolders, and a kind (controlnet)
# whose folder the fake ComfyUI and Fooocus installs do not have yet.
LIBRARY_FILES = {
    "checkpoints/SDXL/x.safetensors": (SDXL_KEYS, "sdxl"),
    "checkpoints/SD15/x.safetensors": (SD15_KEYS, "sd15"),
    "checkpoints/top.safetensors": (SDXL_KEYS, "top"),
    "loras/styles/anime/y.safetensors": (LORA_KEYS, ""),
    "controlnet/canny/c.safetensors": (VAE_KEYS, "canny"),
}


@pytest.fixture
async def library(layout):
    config, credentials = load_services_inputs(layout)
    service = LibraryService(layout, config, credentials, Bus())
    await service.start(scan=False)
    yield service
    await service.close()


def populate_library(models_dir: Path) -> None:
    for rel, (keys, salt) in LIBRARY_FILES.items():
        make_model(models_dir / rel, keys, salt=salt)


def listing(folder: Path) -> dict[str, tuple]:
    """Every entry under `folder`, links not followed, with its lstat facts: type, permissions,
    inode, link count, owner, and for non-folders size, mtime and link target. (A folder's own
    mtime changes whenever a name in it comes and goes, so it is left out.)"""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            is_dir = stat.S_ISDIR(st.st_mode)
            out[os.path.relpath(path, folder)] = (
                stat.S_IFMT(st.st_mode),
                stat.S_IMODE(st.st_mode),
                st.st_ino,
                st.st_nlink,
                st.st_uid,
                st.st_gid,
                None if is_dir else st.st_size,
                None if is_dir else st.st_mtime_ns,
                os.readlink(path) if stat.S_ISLNK(st.st_mode) else None,
            )
    return out


def check_linked(ui_folder: Path, lib_folder: Path, rel: str, mode: str) -> None:
    link, source = ui_folder / rel, lib_folder / rel
    assert os.path.samefile(link, source), rel
    assert link.is_symlink() == (mode == "symlink"), rel
    if mode == "symlink":
        assert os.readlink(link) == str(source)


def by_kind(prefix: str) -> set[str]:
    return {rel.split("/", 1)[1] for rel in LIBRARY_FILES if rel.startswith(prefix + "/")}


@pytest.mark.parametrize("mode", ["symlink", "hardlink"])
async def test_comfyui_lists_linked_models_in_their_subfolders_and_unlink_restores_every_entry(
    library, layout, tmp_path, upstream, conformance, mode
):
    populate_library(layout.models_dir)
    await library.scan()
    ui = fake_comfyui(tmp_path / "ComfyUI")
    make_model(ui / "models/checkpoints/mine.safetensors", SD15_KEYS, salt="mine")  # the user's own files,
    make_model(ui / "models/checkpoints/SD15/own.safetensors", SD15_KEYS, salt="own")  # in a folder of theirs
    (ui / "models/checkpoints/SD15/readme.txt").write_text("my SD 1.5 models\n")
    before = listing(ui)
    install = await library.install_at(ui)

    dry = await library.plan_link(install, mode)
    assert listing(ui) == before  # the preview changed nothing
    assert dry.notes == []
    assert sorted(str(a.path.relative_to(ui / "models")) for a in dry.actions) == sorted(LIBRARY_FILES)
    assert [a.op for a in dry.actions] == [mode] * len(LIBRARY_FILES)
    lines = {str(a.path.relative_to(ui / "models")): a.line() for a in dry.actions}
    assert f"{ui}/models/checkpoints/SDXL/x.safetensors -> " in lines["checkpoints/SDXL/x.safetensors"]
    assert f"new folder {ui}/models/checkpoints/SDXL" in lines["checkpoints/SDXL/x.safetensors"]
    assert "new folder" not in lines["checkpoints/SD15/x.safetensors"]  # the user's SD15 folder exists
    assert (
        f"new folders {ui}/models/controlnet, {ui}/models/controlnet/canny" in lines["controlnet/canny/c.safetensors"]
    )

    assert await library.apply(dry) == []
    for rel in LIBRARY_FILES:
        check_linked(ui / "models", layout.models_dir, rel, mode)
    assert sha256(ui / "models/checkpoints/SDXL/x.safetensors") != sha256(ui / "models/checkpoints/SD15/x.safetensors")
    assert (await library.plan_link(install, mode)).empty  # a second run finds nothing to do

    linked_view = listing(ui)
    seen = comfyui_files(upstream, [], ["checkpoints", "loras", "controlnet"], argv=["--base-directory", str(ui)])
    made_by_comfyui = set(listing(ui)) - set(linked_view)  # ComfyUI creates its input/ folder at start
    assert not any(p.startswith("models") for p in made_by_comfyui)
    figures = []
    for kind in ("checkpoints", "loras", "controlnet"):
        listed, wanted = set(seen["files"][kind]), by_kind(kind)
        assert wanted <= listed, (kind, listed)
        figures.append(f"{kind} {len(wanted & listed)}/{len(wanted)}")
    assert {"mine.safetensors", "SD15/own.safetensors"} <= set(seen["files"]["checkpoints"])
    total = sum(len(by_kind(k)) for k in ("checkpoints", "loras", "controlnet"))
    conformance(
        f"ComfyUI {mode} mode: {total}/{total} library files listed with subfolders by folder_paths "
        f"({', '.join(figures)})"
    )

    undo = await library.plan_unlink(install)
    assert len(undo.actions) == len(LIBRARY_FILES) and undo.notes == []
    assert await library.apply_unlink(undo) == []
    after = {p: facts for p, facts in listing(ui).items() if p not in made_by_comfyui}
    assert after == before  # exactly as it was: the links and the folders link made are gone
    assert (await library.plan_unlink(install)).empty
    assert len(await library.records()) == len(LIBRARY_FILES)  # the library keeps every model
    assert all((layout.models_dir / rel).stat().st_nlink == 1 for rel in LIBRARY_FILES)


@pytest.mark.parametrize("mode", ["symlink", "hardlink"])
async def test_fooocus_lists_linked_models_in_their_subfolders(library, layout, tmp_path, upstream, conformance, mode):
    populate_library(layout.models_dir)
    await library.scan()
    ui = fake_fooocus(tmp_path / "Fooocus")
    before = listing(ui)
    install = await library.install_at(ui)
    assert await library.apply(await library.plan_link(install, mode)) == []
    for rel in LIBRARY_FILES:
        check_linked(ui / "models", layout.models_dir, rel, mode)

    config_txt = json.dumps(
        {"path_checkpoints": [str(ui / "models/checkpoints")], "path_loras": [str(ui / "models/loras")]}
    )
    seen = await asyncio.to_thread(fooocus_config, upstream, tmp_path / "run", config_txt)
    for key, kind in (("models", "checkpoints"), ("loras", "loras")):
        assert by_kind(kind) <= set(seen[key]), (kind, seen[key])
    wanted = by_kind("checkpoints") | by_kind("loras")
    listed = (set(seen["models"]) & by_kind("checkpoints")) | (set(seen["loras"]) & by_kind("loras"))
    conformance(
        f"Fooocus {mode} mode: {len(listed)}/{len(wanted)} checkpoints and LoRAs listed with subfolders "
        "by modules/config.py"
    )

    assert await library.apply_unlink(await library.plan_unlink(install)) == []
    assert listing(ui) == before


async def test_same_name_in_two_subfolders_both_link_from_the_command_line(tmp_path, clean_env):
    root = tmp_path / "root"
    for rel in ("checkpoints/SDXL/x.safetensors", "checkpoints/SD15/x.safetensors"):
        keys, salt = LIBRARY_FILES[rel]
        make_model(root / "models" / rel, keys, salt=salt)
    ui = fake_comfyui(tmp_path / "ComfyUI")
    before = listing(ui)

    def cli(*args: str):
        return run_cli("--root", str(root), "models", *args, str(ui), env={"COLUMNS": "400"}, timeout=120)

    dry = await asyncio.to_thread(cli, "link", "--dry-run")
    assert dry.returncode == 0, dry.output
    assert "checkpoints/SDXL/x.safetensors" in dry.stdout and "checkpoints/SD15/x.safetensors" in dry.stdout
    assert listing(ui) == before
    linked = await asyncio.to_thread(cli, "link")
    assert linked.returncode == 0 and "Done: 2 of 2 actions" in linked.stdout, linked.output
    for rel in ("SDXL/x.safetensors", "SD15/x.safetensors"):
        assert os.readlink(ui / "models/checkpoints" / rel) == str(root / "models/checkpoints" / rel)
    undone = await asyncio.to_thread(cli, "unlink")
    assert undone.returncode == 0 and "Done: 2 of 2 actions" in undone.stdout, undone.output
    assert listing(ui) == before


async def test_a_name_or_folder_of_the_users_is_left_alone(library, layout, tmp_path):
    populate_library(layout.models_dir)
    await library.scan()
    ui = fake_comfyui(tmp_path / "ComfyUI")
    theirs = make_model(ui / "models/checkpoints/SDXL/x.safetensors", SDXL_KEYS, salt="theirs")
    (ui / "models/loras/styles").write_text("a file where the library has a folder")
    before = listing(ui)
    install = await library.install_at(ui)
    plan = await library.plan_link(install, "symlink")
    linked = {str(a.path.relative_to(ui / "models")) for a in plan.actions}
    assert linked == {"checkpoints/SD15/x.safetensors", "checkpoints/top.safetensors", "controlnet/canny/c.safetensors"}
    assert any(str(theirs) in n and "different file with this name" in n for n in plan.notes)
    assert any(n.startswith(f"{ui}/models/loras/styles: not a folder") for n in plan.notes)
    assert await library.apply(plan) == []
    now = listing(ui)
    for rel in ("models/checkpoints/SDXL/x.safetensors", "models/loras/styles"):
        assert now[rel] == before[rel]  # their file and the file in the way: untouched
    await library.apply_unlink(await library.plan_unlink(install))
    assert listing(ui) == before


async def test_unlink_keeps_a_folder_link_made_once_the_user_puts_something_in_it(library, layout, tmp_path):
    populate_library(layout.models_dir)
    await library.scan()
    ui = fake_comfyui(tmp_path / "ComfyUI")
    install = await library.install_at(ui)
    await library.apply(await library.plan_link(install, "symlink"))
    note = ui / "models/checkpoints/SDXL/notes.txt"
    note.write_text("the user's own file, in a folder link made")
    deeper = ui / "models/loras/styles/anime/mine"
    deeper.mkdir()  # the user's own folder inside folders link made

    undo = await library.plan_unlink(install)
    assert any(n.startswith(f"{ui}/models/checkpoints/SDXL: holds 1 other entries (notes.txt)") for n in undo.notes)
    assert any(n.startswith(f"{ui}/models/loras/styles/anime: holds 1 other entries (mine)") for n in undo.notes)
    assert await library.apply_unlink(undo) == []
    assert note.read_text() == "the user's own file, in a folder link made" and deeper.is_dir()
    assert not (ui / "models/checkpoints/SDXL/x.safetensors").is_symlink()
    assert not (ui / "models/controlnet").exists()  # made by link, empty again: gone
    assert sorted(p.name for p in (ui / "models/checkpoints").iterdir()) == ["SD15", "SDXL"][1:]
    assert (await library.plan_unlink(install)).empty  # those folders are the user's now: forgotten


async def test_unlink_removes_empty_folders_even_after_the_user_deleted_the_links(library, layout, tmp_path):
    populate_library(layout.models_dir)
    await library.scan()
    ui = fake_comfyui(tmp_path / "ComfyUI")
    before = listing(ui)
    install = await library.install_at(ui)
    await library.apply(await library.plan_link(install, "symlink"))
    for rel in LIBRARY_FILES:
        (ui / "models" / rel).unlink()  # the user removed every link by hand
    undo = await library.plan_unlink(install)
    removals = sorted(str(a.path.relative_to(ui / "models")) for a in undo.actions)
    assert {a.op for a in undo.actions} == {"folder"}
    assert removals == sorted(
        ["checkpoints/SDXL", "checkpoints/SD15", "loras/styles", "loras/styles/anime", "controlnet", "controlnet/canny"]
    )
    assert all(line.startswith("remove folder") for line in map(lambda a: a.line(), undo.actions))
    assert await library.apply_unlink(undo) == []
    assert listing(ui) == before


async def test_import_keeps_the_uis_subfolders_and_picks_free_names_within_them(library, layout, tmp_path):
    ui = fake_a1111(tmp_path / "webui")
    make_model(ui / "models/Stable-diffusion/SDXL/x.safetensors", SDXL_KEYS, salt="ui-sdxl")
    make_model(ui / "models/Stable-diffusion/SD15/x.safetensors", SD15_KEYS, salt="ui-sd15")
    make_model(ui / "models/Lora/styles/anime/y.safetensors", LORA_KEYS)
    make_model(ui / "models/LyCORIS/styles/anime/y.safetensors", LORA_KEYS, salt="lycoris")  # same kind, same path
    make_model(layout.kind_dir("checkpoints") / "SDXL/x.safetensors", SDXL_KEYS, salt="library's own")
    await library.scan()
    ui_before, lib_before = listing(ui), listing(layout.models_dir)
    install = await library.install_at(ui)

    plan = await library.plan_import(install)
    assert listing(ui) == ui_before and listing(layout.models_dir) == lib_before
    targets = {str(a.path.relative_to(ui)): str(a.target.relative_to(layout.models_dir)) for a in plan.actions}
    assert targets == {
        "models/Stable-diffusion/SDXL/x.safetensors": "checkpoints/SDXL/x-2.safetensors",  # free name in SDXL/
        "models/Stable-diffusion/SD15/x.safetensors": "checkpoints/SD15/x.safetensors",
        "models/Lora/styles/anime/y.safetensors": "loras/styles/anime/y.safetensors",
        "models/LyCORIS/styles/anime/y.safetensors": "loras/styles/anime/y-2.safetensors",
    }
    assert {a.op for a in plan.actions} == {"hardlink-in"}
    assert await library.apply(plan) == []
    for ui_rel, lib_rel in targets.items():
        assert os.path.samefile(ui / ui_rel, layout.models_dir / lib_rel)
    names = {str(Path(r.path).relative_to(layout.models_dir)) for r in await library.records()}
    assert names == {*targets.values(), "checkpoints/SDXL/x.safetensors"}
    assert (await library.plan_import(install)).empty

    assert await library.apply_unlink(await library.plan_unlink(install)) == []
    assert listing(ui) == ui_before
    assert listing(layout.models_dir) == lib_before  # SD15/ and styles/anime/ made by the import: gone


async def test_import_from_another_filesystem_keeps_subfolders_and_round_trips(library, layout, tmp_path):
    disk = tmpfs(tmp_path / "otherdisk", "16m")
    try:
        ui = fake_a1111(disk / "webui")
        make_model(ui / "models/Stable-diffusion/SDXL/x.safetensors", SDXL_KEYS)
        make_model(ui / "models/Stable-diffusion/SD15/x.safetensors", SD15_KEYS)
        ui_bytes = {p: sha256(p) for p in ui.rglob("*.safetensors")}
        lib_before = listing(layout.models_dir)
        install = await library.install_at(ui)
        plan = await library.plan_import(install)
        assert {a.op for a in plan.actions} == {"move-in"}
        assert await library.apply(plan) == []
        for sub in ("SDXL", "SD15"):
            moved = ui / "models/Stable-diffusion" / sub / "x.safetensors"
            assert os.readlink(moved) == str(layout.kind_dir("checkpoints") / sub / "x.safetensors")
        assert {p: sha256(p) for p in ui_bytes} == ui_bytes
        assert await library.apply_unlink(await library.plan_unlink(install)) == []
        assert {p: sha256(p) for p in ui_bytes} == ui_bytes and not any(p.is_symlink() for p in ui_bytes)
        assert listing(layout.models_dir) == lib_before
        assert dangling_links(ui, layout.models_dir) == []
    finally:
        os.system(f"umount {disk}")


async def test_an_unlink_that_fails_midway_keeps_the_journal_and_a_second_run_finishes(library, layout, tmp_path):
    populate_library(layout.models_dir)
    await library.scan()
    disk = tmpfs(tmp_path / "otherdisk", "4m")
    try:
        ui = fake_comfyui(disk / "ComfyUI")
        before = listing(ui)
        install = await library.install_at(ui)
        assert await library.apply(await library.plan_link(install, "symlink")) == []
        linked = listing(ui)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        problems = await library.apply_unlink(await library.plan_unlink(install))
        assert len(problems) == len(LIBRARY_FILES) and all("Read-only file system" in p for p in problems)
        assert listing(ui) == linked  # nothing removed, nothing forgotten
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        undo = await library.plan_unlink(install)
        assert len(undo.actions) == len(LIBRARY_FILES) and undo.notes == []
        assert await library.apply_unlink(undo) == []
        assert listing(ui) == before
    finally:
        os.system(f"umount {disk}")
