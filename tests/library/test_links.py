"""Import, link out and unlink with other UIs' real folder layouts: previews change nothing, round
trips keep every byte and leave no dangling link, a second run does nothing, nothing is deleted."""

from __future__ import annotations

import json
import os

import pytest

from aiui_tui.bus import Bus
from aiui_tui.core.errors import UsageError
from aiui_tui.services.library import LibraryService
from aiui_tui.services.library.detect import detect, identify
from tests.conftest import load_services_inputs
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
    tree_bytes,
)


@pytest.fixture
async def library(layout):
    config, credentials = load_services_inputs(layout)
    service = LibraryService(layout, config, credentials, Bus())
    await service.start(scan=False)
    yield service
    await service.close()


def populate_a1111(base):
    fake_a1111(base)
    make_model(base / "models/Stable-diffusion/dreamshaper.safetensors", SD15_KEYS)
    make_model(base / "models/Lora/detail.safetensors", LORA_KEYS)
    make_model(base / "models/VAE/vae-ft-mse.safetensors", VAE_KEYS)
    (base / "models/Stable-diffusion/dreamshaper.yaml").write_text("config: not a model")
    return base


def test_detection_recognises_each_ui_by_its_markers(tmp_path):
    home = tmp_path / "home"
    fake_a1111(home / "stable-diffusion-webui")
    fake_comfyui(home / "ComfyUI")
    fake_fooocus(home / "Fooocus")
    (home / "invokeai" / "models" / "sdxl" / "main").mkdir(parents=True)
    (home / "invokeai" / "invokeai.yaml").write_text("schema_version: 4\n")
    (home / "sm" / "Data" / "Models" / "StableDiffusion").mkdir(parents=True)
    (home / "sm" / "Data" / "settings.json").write_text("{}")
    (home / "not-a-ui").mkdir()
    found = {i.ui: i for i in detect([str(home / "sm"), str(home / "not-a-ui")], home=home)}
    assert set(found) == {"automatic1111", "comfyui", "fooocus", "invokeai", "stability-matrix"}
    assert found["automatic1111"].folders["loras"][0] == home / "stable-diffusion-webui/models/Lora"
    assert found["comfyui"].folders["text_encoders"][0] == home / "ComfyUI/models/text_encoders"
    assert found["fooocus"].folders["checkpoints"][0] == (home / "Fooocus/models/checkpoints").resolve()
    assert found["invokeai"].folders["checkpoints"] == (home / "invokeai/models/sdxl/main",)
    assert found["stability-matrix"].folders["checkpoints"][0] == home / "sm/Data/Models/StableDiffusion"
    assert identify(home / "not-a-ui") is None


async def test_import_dry_run_changes_nothing_then_import_round_trip_keeps_every_byte(library, layout, tmp_path):
    ui = populate_a1111(tmp_path / "webui")
    before = tree_bytes(ui)
    install = await library.install_at(ui)
    plan = await library.plan_import(install)
    assert sorted(a.op for a in plan.actions) == ["hardlink-in"] * 3
    assert tree_bytes(ui) == before and not list(layout.kind_dir("checkpoints").iterdir())

    assert await library.apply(plan) == []
    lib_ckpt = layout.kind_dir("checkpoints") / "dreamshaper.safetensors"
    ui_ckpt = ui / "models/Stable-diffusion/dreamshaper.safetensors"
    assert os.path.samefile(lib_ckpt, ui_ckpt)  # one copy of the bytes, two names
    assert tree_bytes(ui) == before
    kinds = {r.name: (r.kind, r.architecture) for r in await library.records()}
    assert kinds == {
        "dreamshaper.safetensors": ("checkpoints", "sd15"),
        "detail.safetensors": ("loras", "lora"),
        "vae-ft-mse.safetensors": ("vae", "vae"),
    }
    assert (await library.plan_import(install)).empty  # idempotent

    undo = await library.plan_unlink(install)
    assert len(undo.actions) == 3
    assert await library.apply_unlink(undo) == []
    assert tree_bytes(ui) == before
    assert await library.records() == []
    assert dangling_links(ui, layout.models_dir) == []


async def test_import_with_a_name_taken_by_different_bytes_and_with_identical_bytes(library, layout, tmp_path):
    ui = populate_a1111(tmp_path / "webui")
    make_model(layout.kind_dir("loras") / "detail.safetensors", LORA_KEYS, salt="another")  # same name, other bytes
    twin = layout.kind_dir("vae") / "vae-ft-mse.safetensors"
    twin.write_bytes((ui / "models/VAE/vae-ft-mse.safetensors").read_bytes())  # a second copy of the same bytes
    await library.scan()
    before = tree_bytes(ui)
    plan = await library.plan_import(await library.install_at(ui))
    by_name = {a.path.name: a for a in plan.actions}
    assert by_name["detail.safetensors"].target.name == "detail-2.safetensors"
    assert by_name["vae-ft-mse.safetensors"].op == "same-as-library"
    await library.apply(plan)
    assert tree_bytes(ui) == before
    assert os.path.samefile(ui / "models/VAE/vae-ft-mse.safetensors", twin)  # the duplicate became a link
    assert sha256(layout.kind_dir("loras") / "detail.safetensors") != sha256(
        layout.kind_dir("loras") / "detail-2.safetensors"
    )


async def test_import_from_another_filesystem_moves_and_leaves_a_symlink(library, layout, tmp_path):
    disk = tmpfs(tmp_path / "otherdisk", "16m")
    try:
        ui = populate_a1111(disk / "webui")
        before = tree_bytes(ui)
        install = await library.install_at(ui)
        plan = await library.plan_import(install)
        assert {a.op for a in plan.actions} == {"move-in"}
        await library.apply(plan)
        ui_ckpt = ui / "models/Stable-diffusion/dreamshaper.safetensors"
        assert ui_ckpt.is_symlink()
        assert os.path.realpath(ui_ckpt) == str(layout.kind_dir("checkpoints") / "dreamshaper.safetensors")
        assert tree_bytes(ui) == before  # the UI reads the same bytes through the link
        assert (await library.plan_import(install)).empty
        await library.apply_unlink(await library.plan_unlink(install))
        assert not ui_ckpt.is_symlink() and tree_bytes(ui) == before
        assert not list(layout.kind_dir("checkpoints").iterdir())
        assert dangling_links(ui, layout.models_dir) == []
    finally:
        os.system(f"umount {disk}")


async def test_link_out_by_symlink_to_comfyui_and_back(library, layout, tmp_path):
    make_model(layout.kind_dir("checkpoints") / "sdxl.safetensors", SDXL_KEYS)
    make_model(layout.kind_dir("loras") / "style.safetensors", LORA_KEYS)
    make_model(layout.kind_dir("inpaint") / "patch.safetensors", VAE_KEYS)  # ComfyUI has no inpaint folder
    await library.scan()
    ui = fake_comfyui(tmp_path / "ComfyUI")
    own = make_model(ui / "models/checkpoints/mine.safetensors", SD15_KEYS)
    clash = make_model(ui / "models/loras/style.safetensors", LORA_KEYS, salt="theirs")
    install = await library.install_at(ui)
    dry = await library.plan_link(install, "symlink")
    assert [a.path.name for a in dry.actions] == ["sdxl.safetensors"]
    assert any("different file with this name" in n for n in dry.notes)
    assert any("no folder for inpaint" in n for n in dry.notes)
    assert not (ui / "models/checkpoints/sdxl.safetensors").exists()

    await library.apply(dry)
    link = ui / "models/checkpoints/sdxl.safetensors"
    assert link.is_symlink() and sha256(link) == sha256(layout.kind_dir("checkpoints") / "sdxl.safetensors")
    assert (await library.plan_link(install, "symlink")).empty
    await library.apply_unlink(await library.plan_unlink(install))
    assert not link.exists() and not link.is_symlink()
    assert own.exists() and clash.exists()  # the user's files are untouched
    assert len(await library.records()) == 3


async def test_hardlink_mode_falls_back_to_symlinks_across_filesystems(library, layout, tmp_path):
    make_model(layout.kind_dir("checkpoints") / "sdxl.safetensors", SDXL_KEYS)
    await library.scan()
    same_fs = fake_a1111(tmp_path / "webui")
    plan = await library.plan_link(await library.install_at(same_fs), "hardlink")
    assert [a.op for a in plan.actions] == ["hardlink"]
    await library.apply(plan)
    assert os.path.samefile(
        same_fs / "models/Stable-diffusion/sdxl.safetensors", layout.kind_dir("checkpoints") / "sdxl.safetensors"
    )

    disk = tmpfs(tmp_path / "otherdisk", "4m")
    try:
        other = fake_a1111(disk / "webui")
        plan = await library.plan_link(await library.install_at(other), "hardlink")
        assert [(a.op, a.detail) for a in plan.actions] == [
            ("symlink", "other filesystem: symlink instead of hardlink")
        ]
        await library.apply(plan)
        assert (other / "models/Stable-diffusion/sdxl.safetensors").is_symlink()
        await library.apply_unlink(await library.plan_unlink(await library.install_at(other)))
        assert not list((other / "models/Stable-diffusion").iterdir())
    finally:
        os.system(f"umount {disk}")
    await library.apply_unlink(await library.plan_unlink(await library.install_at(same_fs)))
    assert not list((same_fs / "models/Stable-diffusion").iterdir())
    assert (layout.kind_dir("checkpoints") / "sdxl.safetensors").stat().st_nlink == 1


async def test_unlink_leaves_alone_what_the_user_changed_since(library, layout, tmp_path):
    make_model(layout.kind_dir("checkpoints") / "sdxl.safetensors", SDXL_KEYS)
    await library.scan()
    ui = fake_comfyui(tmp_path / "ComfyUI")
    install = await library.install_at(ui)
    await library.apply(await library.plan_link(install, "symlink"))
    link = ui / "models/checkpoints/sdxl.safetensors"
    link.unlink()
    make_model(link, SD15_KEYS)  # the user put their own file under that name
    undo = await library.plan_unlink(install)
    assert undo.empty and "changed since" in undo.notes[0]
    await library.apply_unlink(undo)
    assert link.exists() and not link.is_symlink()


async def test_config_mode_for_comfyui_a1111_and_fooocus_round_trips(library, layout, tmp_path):
    make_model(layout.kind_dir("checkpoints") / "sdxl.safetensors", SDXL_KEYS)
    await library.scan()
    comfy = fake_comfyui(tmp_path / "ComfyUI")
    (comfy / "extra_model_paths.yaml").write_text("# my other paths\nother:\n    base_path: /data\n    loras: loras/\n")
    a1111 = fake_a1111(tmp_path / "webui")
    (a1111 / "modules").mkdir()  # config mode writes only the flags the install's own parser declares
    (a1111 / "modules/cmd_args.py").write_text('parser.add_argument("--ckpt-dir")\nparser.add_argument("--lora-dir")\n')
    fooocus = fake_fooocus(tmp_path / "Fooocus")
    originals = {
        p: p.read_text() for p in (comfy / "extra_model_paths.yaml", a1111 / "webui-user.sh", fooocus / "config.txt")
    }
    for ui in (comfy, a1111, fooocus):
        install = await library.install_at(ui)
        current = {p: p.read_text() for p in originals}
        dry = await library.plan_link(install, "config")
        assert [a.op for a in dry.actions] == ["config"]
        assert {p: p.read_text() for p in originals} == current  # the preview wrote nothing
        await library.apply(dry)
        assert (await library.plan_link(install, "config")).empty

    yaml_text = (comfy / "extra_model_paths.yaml").read_text()
    assert yaml_text.startswith("# my other paths\nother:\n")
    ours = yaml_text.split(">>> aiui-tui library")[1]
    assert f"  checkpoints: {layout.models_dir}/checkpoints\n" in ours and "base_path" not in ours
    shell = (a1111 / "webui-user.sh").read_text()
    assert f"--ckpt-dir {layout.models_dir}/checkpoints" in shell and f"--lora-dir {layout.models_dir}/loras" in shell
    settings = json.loads((fooocus / "config.txt").read_text())
    assert settings["path_checkpoints"] == [str(layout.models_dir / "checkpoints"), "models/checkpoints"]
    assert settings["theme"] == "dark"

    for ui in (comfy, a1111, fooocus):
        install = await library.install_at(ui)
        await library.apply_unlink(await library.plan_unlink(install))
    assert {p: p.read_text() for p in originals if p.name != "config.txt"} == {
        p: t for p, t in originals.items() if p.name != "config.txt"
    }
    assert json.loads((fooocus / "config.txt").read_text()) == json.loads(originals[fooocus / "config.txt"])


async def test_unknown_folder_and_unsupported_config_are_clear_errors(library, tmp_path):
    with pytest.raises(UsageError, match="does not look like a UI install"):
        await library.install_at(tmp_path)
    (tmp_path / "invokeai" / "models").mkdir(parents=True)
    (tmp_path / "invokeai" / "invokeai.yaml").write_text("")
    plan = await library.plan_link(await library.install_at(tmp_path / "invokeai"), "config")
    assert plan.empty and "no config this program can write" in plan.notes[0]
