"""`models link --mode config` checked by the other UIs' own code (pinned in ../shared/upstream).

For every data root name that broke writers before (a space, '#', ': ', quotes, non-ASCII), with a
library holding a model in every kind (one in a subfolder): ComfyUI's folder_paths and
utils/extra_config list exactly the library's files under every folder name it has for them;
AUTOMATIC1111's and Forge's own parsers take the flags (after bash sourced webui-user.sh) and each
one names the library folder of its kind; Fooocus' modules/config.py loads our config.txt with the
types its code uses and lists the library's models. `unlink` gives every file its bytes back.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import yaml

from aiui_tui.bus import Bus
from aiui_tui.core.errors import UsageError
from aiui_tui.kinds import model_kinds
from aiui_tui.paths import Layout, ensure_layout
from aiui_tui.services.library import LibraryService
from aiui_tui.services.library.detect import identify
from tests.conftest import init_root, load_services_inputs, run_cli
from tests.library.conftest import LORA_KEYS, fake_comfyui, make_model
from tests.upstream_programs import HOSTILE_ROOT_NAMES, comfyui_files, fooocus_config, webui_args

# ... and what bash would expand inside double quotes ($, backquotes, a backslash).
ROOT_NAMES = (*HOSTILE_ROOT_NAMES, "dollar $HOME `id` back\\slash")
ROOTS = pytest.mark.parametrize("root_name", ROOT_NAMES)


@asynccontextmanager
async def library_at(root: Path):
    layout = Layout(root)
    ensure_layout(layout)
    config, credentials = load_services_inputs(layout)
    service = LibraryService(layout, config, credentials, Bus())
    await service.start(scan=False)
    try:
        yield layout, service
    finally:
        await service.close()


def fill_every_kind(layout: Layout) -> dict[str, list[str]]:
    """A real model file in every kind (the checkpoint in a subfolder), a complete Fooocus prompt
    expansion model; {kind: names relative to the kind's folder}."""
    names: dict[str, list[str]] = {}
    for kind in model_kinds():
        if kind == "prompt_expansion":
            folder = layout.kind_dir(kind) / "fooocus_expansion"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "config.json").write_text('{"model_type": "gpt2"}\n')
            (folder / "pytorch_model.bin").write_bytes(b"PK\x03\x04 stand-in for the expansion weights")
            names[kind] = ["fooocus_expansion/pytorch_model.bin"]
            continue
        name = "SDXL/x.safetensors" if kind == "checkpoints" else f"{kind}-model.safetensors"
        make_model(layout.kind_dir(kind) / name, LORA_KEYS, salt=kind)
        names[kind] = [name]
    return names


def file_state(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


async def link_config(library: LibraryService, ui: Path):
    """Preview (which must write nothing), apply, and check a second run finds nothing to do.
    Returns the install and the preview: the action's detail, then the plan's notes ("note: ...")."""
    install = await library.install_at(ui)
    before = file_state(install.config_file)
    plan = await library.plan_link(install, "config")
    assert [a.op for a in plan.actions] == ["config"], plan.notes
    assert file_state(install.config_file) == before  # the preview changed nothing
    assert await library.apply(plan) == []
    assert (await library.plan_link(install, "config")).empty
    return install, "\n".join([plan.actions[0].detail, *(f"note: {n}" for n in plan.notes)])


async def unlink(library: LibraryService, ui: Path) -> None:
    install = await library.install_at(ui)
    plan = await library.plan_unlink(install)
    assert await library.apply_unlink(plan) == []
    assert not Path(str(install.config_file) + ".aiui-backup").exists()


# --- ComfyUI ---------------------------------------------------------------------------------------


@ROOTS
async def test_comfyui_lists_every_library_kind_and_keeps_the_users_own_section(
    root_name, tmp_path, upstream, conformance
):
    async with library_at(tmp_path / root_name) as (layout, library):
        names = fill_every_kind(layout)
        comfy = fake_comfyui(tmp_path / "ComfyUI")
        a1111 = tmp_path / "webui"
        make_model(a1111 / "models/Stable-diffusion/theirs.safetensors", LORA_KEYS, salt="theirs")
        yaml_file = comfy / "extra_model_paths.yaml"
        # The user's own section (ComfyUI's example), last line without a line break.
        own = f"#config for a1111 ui\na111:\n    base_path: {a1111}/\n\n    checkpoints: models/Stable-diffusion"
        yaml_file.write_text(own)
        await library.scan()

        await link_config(library, comfy)
        written = yaml_file.read_text()
        assert written.startswith(own + "\n")  # the user's part byte for byte
        comfy_kinds = {k.comfyui_name: k.name for k in model_kinds().values() if k.comfyui_name}
        seen = comfyui_files(upstream, [yaml_file], list(comfy_kinds))
        missing, extra = [], []
        for folder_name, kind in comfy_kinds.items():
            expected = set(names[kind]) | ({"theirs.safetensors"} if kind == "checkpoints" else set())
            missing += sorted(expected - set(seen["files"][folder_name]))
            extra += sorted(set(seen["files"][folder_name]) - expected)
            assert str(layout.kind_dir(kind)) in seen["folders"][folder_name]
        assert "theirs.safetensors" in seen["files"]["checkpoints"]  # the user's section still loads
        assert yaml.safe_load(written)["a111"]["checkpoints"] == "models/Stable-diffusion"
        conformance(
            f"ComfyUI config mode, root {root_name!r}: {len(comfy_kinds)} kinds listed by folder_paths, "
            f"{len(missing)} files missing, {len(extra)} extra; user's a111 section kept and loaded"
        )
        assert missing == [] and extra == []

        await unlink(library, comfy)
        assert yaml_file.read_text() == own  # exactly as before, no added line break


async def test_comfyui_without_a_file_gets_one_and_unlink_removes_it(tmp_path, upstream):
    async with library_at(tmp_path / "root") as (layout, library):
        names = fill_every_kind(layout)
        comfy = fake_comfyui(tmp_path / "ComfyUI")
        await link_config(library, comfy)
        seen = comfyui_files(upstream, [comfy / "extra_model_paths.yaml"], ["checkpoints", "controlnet"])
        assert seen["files"]["checkpoints"] == names["checkpoints"]
        await unlink(library, comfy)
        assert not (comfy / "extra_model_paths.yaml").exists()


@pytest.mark.parametrize(
    "content, says",
    [
        ("a111:\n  base_path: /x\n  checkpoints: [unclosed\n", "is not valid YAML (line 4)"),  # where PyYAML finds it
        ("aiui_tui:\n  checkpoints: /mine\n", "already has a section named 'aiui_tui'"),
        ("- just\n- a list\n", "is not a YAML mapping"),
    ],
)
async def test_comfyui_file_we_must_not_touch_is_refused_in_one_line_and_left_as_it_is(
    content, says, tmp_path, clean_env
):
    root = init_root(tmp_path / "hash #x").root
    comfy = fake_comfyui(tmp_path / "ComfyUI")
    (comfy / "extra_model_paths.yaml").write_text(content)
    result = run_cli("--root", str(root), "models", "link", str(comfy), "--mode", "config")
    assert result.returncode == 2, result.output
    assert says in result.stderr and "nothing was changed" in result.stderr
    assert "Traceback" not in result.output
    assert (comfy / "extra_model_paths.yaml").read_text() == content
    assert sorted(p.name for p in comfy.iterdir()) == ["comfy", "extra_model_paths.yaml", "main.py", "models"]


async def test_comfyui_link_and_unlink_through_the_cli_with_a_dollar_in_the_root(tmp_path, upstream, clean_env):
    root = tmp_path / "cost $HOME ${x}"
    layout = Layout(root)
    ensure_layout(layout)
    names = fill_every_kind(layout)
    comfy = fake_comfyui(tmp_path / "ComfyUI")
    linked = run_cli("--root", str(root), "models", "link", str(comfy), "--mode", "config")
    assert linked.returncode == 0, linked.output
    seen = comfyui_files(upstream, [comfy / "extra_model_paths.yaml"], ["checkpoints", "loras"])
    assert seen["files"] == {"checkpoints": names["checkpoints"], "loras": names["loras"]}
    undone = run_cli("--root", str(root), "models", "unlink", str(comfy))
    assert undone.returncode == 0, undone.output
    assert not (comfy / "extra_model_paths.yaml").exists()


# --- AUTOMATIC1111 and Forge -------------------------------------------------------------------------

# A minimal sd-webui-controlnet extension: its preload.py as Mikubill/sd-webui-controlnet has it
# (the extension adds --controlnet-dir to AUTOMATIC1111's parser). Our test fixture, not upstream code.
CONTROLNET_PRELOAD = """def preload(parser):
    parser.add_argument("--controlnet-dir", type=str, help="Path to directory with ControlNet models", default=None)
    parser.add_argument("--no-half-controlnet", action='store_true', default=None)
"""
USER_LINE = 'export COMMANDLINE_ARGS="--api"\n'


def webui_install(upstream: Path, dest: Path, flavour: str, controlnet_extension: bool = False) -> Path:
    """An AUTOMATIC1111 or Forge checkout's layout: its parser files from the pinned corpus (a copy in
    tmp_path, as an install holds them), webui.py, models/, its webui-user.sh with the user's line."""
    source = upstream / flavour
    for folder in ("modules", "extensions-builtin", "backend"):
        if (source / folder).is_dir():
            shutil.copytree(source / folder, dest / folder)
    if flavour == "forge":
        (dest / "modules_forge").mkdir()  # beside backend/, what a Forge checkout has
    (dest / "models/Stable-diffusion").mkdir(parents=True)
    (dest / "webui.py").write_text("# webui\n")
    (dest / "webui-user.sh").write_text((source / "webui-user.sh").read_text() + USER_LINE)
    if controlnet_extension:
        (dest / "extensions/sd-webui-controlnet").mkdir(parents=True)
        (dest / "extensions/sd-webui-controlnet/preload.py").write_text(CONTROLNET_PRELOAD)
    for path in [dest, *dest.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    return dest


def sourced_commandline_args(install: Path) -> str:
    """COMMANDLINE_ARGS as webui.sh has it after `source webui-user.sh`, by the real bash."""
    env = {k: v for k, v in os.environ.items() if k != "COMMANDLINE_ARGS"}
    out = subprocess.run(
        ["bash", "-c", 'source ./webui-user.sh; printf %s "$COMMANDLINE_ARGS"'],
        cwd=install,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


WEBUI_CASES = {
    "AUTOMATIC1111": ("automatic1111", False),
    "AUTOMATIC1111 + sd-webui-controlnet": ("automatic1111", True),
    "Forge": ("forge", False),
}


@ROOTS
@pytest.mark.parametrize("case", list(WEBUI_CASES))
async def test_webui_parsers_take_every_flag_and_each_names_the_library_folder(
    case, root_name, tmp_path, upstream, conformance
):
    flavour, extension = WEBUI_CASES[case]
    async with library_at(tmp_path / root_name) as (layout, library):
        fill_every_kind(layout)
        ui = webui_install(upstream, tmp_path / "webui", flavour, extension)
        original = (ui / "webui-user.sh").read_bytes()
        install, detail = await link_config(library, ui)
        assert install.ui == flavour

        commandline = sourced_commandline_args(ui)
        outcome = webui_args(upstream, flavour, commandline, argv=["--data-dir", str(ui)])
        unknown = re.findall(r"--[\w-]+", outcome.stderr.split("unrecognized arguments:")[-1]) if outcome.stderr else []
        wanted = {k.webui_flag: k.name for k in model_kinds().values() if k.webui_flag in install.flags}
        resolved = []
        if outcome.returncode == 0:
            args = outcome.result["args"]
            assert args["api"] is True  # the user's own flag still there
            resolved = [f for f, kind in wanted.items() if args[f[2:].replace("-", "_")] == str(layout.kind_dir(kind))]
        not_set = sorted(re.findall(r"note: (\w+):", detail))
        conformance(
            f"{case} config mode, root {root_name!r}: {len(wanted)} directory flags, exit {outcome.returncode}, "
            f"{len(unknown)} unknown flags, {len(resolved)}/{len(wanted)} resolve to the library; "
            f"no flag here for: {', '.join(not_set) or '-'}"
        )
        assert outcome.returncode == 0, outcome.stderr[-2000:]
        assert sorted(resolved) == sorted(wanted)
        expected = {"--ckpt-dir", "--lora-dir", "--vae-dir", "--embeddings-dir", "--hypernetwork-dir"}
        expected |= {"--esrgan-models-path"}
        if extension or flavour == "forge":
            expected.add("--controlnet-dir")
        if flavour == "forge":
            expected.add("--text-encoder-dir")
        assert set(wanted) == expected
        assert ("--controlnet-dir" in commandline) == (extension or flavour == "forge")
        if not (extension or flavour == "forge"):
            assert "controlnet" in not_set  # vanilla AUTOMATIC1111: said, not written
        if flavour == "forge":
            assert "diffusion_models" in not_set  # Forge has no flag for a second checkpoint folder

        await unlink(library, ui)
        assert (ui / "webui-user.sh").read_bytes() == original


async def test_a_disabled_controlnet_extension_does_not_get_its_flag(tmp_path, upstream):
    async with library_at(tmp_path / "root") as (_layout, library):
        ui = webui_install(upstream, tmp_path / "webui", "automatic1111", controlnet_extension=True)
        (ui / "config.json").write_text(json.dumps({"disabled_extensions": ["sd-webui-controlnet"]}))
        await link_config(library, ui)
        commandline = sourced_commandline_args(ui)
        assert "--controlnet-dir" not in commandline
        assert webui_args(upstream, "automatic1111", commandline, argv=["--data-dir", str(ui)]).returncode == 0


# --- Fooocus ---------------------------------------------------------------------------------------

LIST_KEYS = ("path_checkpoints", "path_loras")


def fooocus_install(upstream: Path, workdir: Path, config_txt: str | None) -> Path:
    """A copy of Fooocus that has started once (its modules/config.py made its folders)."""
    fooocus_config(upstream, workdir, config_txt if config_txt is not None else "{}")
    app = workdir / "fooocus-app"
    if config_txt is None:
        (app / "config.txt").unlink()
    return app


@ROOTS
async def test_fooocus_loads_our_config_with_its_own_types_and_lists_the_library(
    root_name, tmp_path, upstream, conformance
):
    async with library_at(tmp_path / root_name) as (layout, library):
        names = fill_every_kind(layout)
        user = json.dumps({"path_checkpoints": ["models/checkpoints"], "default_performance": "Speed"}, indent=2)
        app = fooocus_install(upstream, tmp_path / "fooocus", user)
        make_model(app / "models/checkpoints/own.safetensors", LORA_KEYS, salt="own")
        original = (app / "config.txt").read_bytes()

        await link_config(library, app)
        loaded = fooocus_config(upstream, tmp_path / "fooocus")
        paths = loaded["paths"]
        type_errors = [k for k, v in paths.items() if not isinstance(v, list if k in LIST_KEYS else str)]
        wrong = []
        for kind in model_kinds().values():
            if not kind.fooocus:
                continue
            library_folder = str(layout.models_dir / (kind.fooocus_folder or kind.name))
            value = paths[kind.fooocus]
            if (value[0] if isinstance(value, list) else value) != library_folder:
                wrong.append(kind.fooocus)
        assert paths["path_checkpoints"][1:] == ["models/checkpoints"]  # Fooocus' own folder kept, after ours
        listed = {
            "checkpoints": loaded["models"],
            "loras": loaded["loras"],
            "vae": loaded["vaes"],
        }
        missing = [n for kind, seen in listed.items() for n in names[kind] if n not in seen]
        keys = [k.fooocus for k in model_kinds().values() if k.fooocus]
        conformance(
            f"Fooocus config mode, root {root_name!r}: {len(keys)} path_* keys, {len(type_errors)} type errors, "
            f"{len(keys) - len(wrong)}/{len(keys)} at the library, {len(missing)} library models missing "
            "from its model/LoRA/VAE lists"
        )
        assert type_errors == [] and wrong == [] and missing == []
        assert "own.safetensors" in loaded["models"] and json.loads((app / "config.txt").read_text())[
            "default_performance"
        ] == ("Speed")

        await unlink(library, app)
        assert (app / "config.txt").read_bytes() == original


async def test_fooocus_keeps_a_key_whose_folder_holds_files_the_library_lacks_until_they_are_imported(
    tmp_path, upstream
):
    async with library_at(tmp_path / "root") as (layout, library):
        fill_every_kind(layout)
        shutil.rmtree(layout.kind_dir("prompt_expansion") / "fooocus_expansion")
        app = fooocus_install(upstream, tmp_path / "fooocus", None)  # no config.txt yet
        own = make_model(app / "models/inpaint/inpaint_v26.safetensors", LORA_KEYS, salt="inpaint")

        install = await library.install_at(app)
        plan = await library.plan_link(install, "config")
        detail = "\n".join(plan.notes)  # what is left alone is a note of the plan, not the action
        assert "path_inpaint left as it is" in detail and "aiui-tui models import" in detail
        assert "path_fooocus_expansion left as it is" in detail and "pytorch_model.bin missing" in detail
        await library.apply(plan)
        written = json.loads((app / "config.txt").read_text())
        assert "path_inpaint" not in written and "path_fooocus_expansion" not in written
        paths = fooocus_config(upstream, tmp_path / "fooocus")["paths"]
        assert paths["path_inpaint"] == str(app / "models/inpaint")  # still Fooocus' own, a string
        assert isinstance(paths["path_fooocus_expansion"], str)

        await library.apply(await library.plan_import(install))  # the file gets a name in the library
        again = await library.plan_link(install, "config")
        assert [a.op for a in again.actions] == ["config"] and "path_inpaint left" not in again.actions[0].detail
        await library.apply(again)
        paths = fooocus_config(upstream, tmp_path / "fooocus")["paths"]
        assert paths["path_inpaint"] == str(layout.kind_dir("inpaint"))
        assert own.exists()

        undo = await library.plan_unlink(install)
        await library.apply_unlink(undo)
        assert not (app / "config.txt").exists()  # there was none before


async def test_fooocus_config_written_by_an_older_version_is_repaired(tmp_path, upstream):
    """Lists under one-folder keys (what config mode wrote before) become the strings Fooocus needs,
    also where the key must stay on Fooocus' own folder."""
    async with library_at(tmp_path / "root") as (layout, library):
        fill_every_kind(layout)
        app = fooocus_install(upstream, tmp_path / "fooocus", "{}")
        make_model(app / "models/vae_approx/xl-to-v1_interposer.safetensors", LORA_KEYS, salt="theirs")
        old = {
            "path_inpaint": [str(app / "models/inpaint"), str(layout.kind_dir("inpaint"))],
            "path_vae_approx": [str(app / "models/vae_approx"), str(layout.kind_dir("vae_approx"))],
        }
        (app / "config.txt").write_text(json.dumps(old))
        install = await library.install_at(app)
        plan = await library.plan_link(install, "config")
        assert any("path_vae_approx left as it is" in note for note in plan.notes)
        await library.apply(plan)
        paths = fooocus_config(upstream, tmp_path / "fooocus")["paths"]
        assert paths["path_inpaint"] == str(layout.kind_dir("inpaint"))
        assert paths["path_vae_approx"] == str(app / "models/vae_approx")  # a string, Fooocus' own


def test_invalid_fooocus_config_is_refused_with_nothing_changed(tmp_path):
    from aiui_tui.services.library import uiconfig

    app = tmp_path / "Fooocus"
    app.mkdir()
    (app / "entry_with_update.py").write_text("")
    (app / "config.txt").write_text("{not json")
    install = identify(app)
    with pytest.raises(UsageError, match="not valid JSON; nothing was changed"):
        uiconfig.apply_edit(install, tmp_path / "root" / "models")
    assert (app / "config.txt").read_text() == "{not json"
    assert not (app / "config.txt.aiui-backup").exists()


# --- import reads the folders the UIs really read ----------------------------------------------------


async def test_import_takes_controlnet_models_from_every_folder_the_uis_read(tmp_path):
    async with library_at(tmp_path / "root") as (layout, library):
        comfy = fake_comfyui(tmp_path / "ComfyUI")
        make_model(comfy / "models/t2i_adapter/t2i-sketch.safetensors", LORA_KEYS, salt="t2i")
        webui = tmp_path / "webui"
        (webui / "models/Stable-diffusion").mkdir(parents=True)
        (webui / "webui.py").write_text("")
        make_model(webui / "models/ControlNet/canny.safetensors", LORA_KEYS, salt="canny")
        make_model(webui / "extensions/sd-webui-controlnet/models/depth.safetensors", LORA_KEYS, salt="depth")
        (webui / "extensions/sd-webui-controlnet/models/cldm_v15.yaml").write_text("model: {}\n")
        imported = {}
        for ui in (comfy, webui):
            plan = await library.plan_import(await library.install_at(ui))
            imported.update({a.path.name: a.target.parent for a in plan.actions})
        assert imported == {
            "t2i-sketch.safetensors": layout.kind_dir("controlnet"),
            "canny.safetensors": layout.kind_dir("controlnet"),
            "depth.safetensors": layout.kind_dir("controlnet"),
        }


def test_forge_is_told_from_automatic1111_and_each_declares_its_own_flags(tmp_path, upstream):
    a1111 = identify(webui_install(upstream, tmp_path / "a1111", "automatic1111"))
    forge = identify(webui_install(upstream, tmp_path / "forge", "forge"))
    with_cn = identify(webui_install(upstream, tmp_path / "cn", "automatic1111", controlnet_extension=True))
    assert (a1111.ui, a1111.title, forge.ui, forge.title) == ("automatic1111", "AUTOMATIC1111", "forge", "Forge")
    assert "--ckpt-dir" in a1111.flags and "--lora-dir" in a1111.flags  # the built-in Lora extension
    assert "--controlnet-dir" not in a1111.flags and "--controlnet-dir" in with_cn.flags
    assert {"--controlnet-dir", "--text-encoder-dir", "--lora-dir"} <= forge.flags
    assert forge.folders["text_encoders"] == (tmp_path / "forge/models/text_encoder",)
    assert "text_encoders" not in a1111.folders


# Issue 15: 18. Files as editors leave them: CRLF line ends, no final newline, a BOM-less JSON with
# its own key order and a repeated key (json keeps the last; Fooocus reads it so).
FOOOCUS_ODD = (
    '{\r\n  "default_model": "a.safetensors",\r\n  "path_outputs": "x",\r\n  "default_model": "b.safetensors"\r\n}'
)
WEBUI_ODD = '#!/bin/bash\r\nexport COMMANDLINE_ARGS="--api"\r\n# no final newline'
COMFY_ODD = "a111:\r\n    base_path: /srv/a1111\r\n    checkpoints: models/Stable-diffusion"


@pytest.mark.parametrize("ui", ["comfyui", "automatic1111", "fooocus"])
async def test_link_then_unlink_gives_back_the_users_file_byte_for_byte(ui, tmp_path, upstream):
    async with library_at(tmp_path / "root") as (layout, library):
        fill_every_kind(layout)
        if ui == "comfyui":
            install = fake_comfyui(tmp_path / "ComfyUI")
            path, odd = install / "extra_model_paths.yaml", COMFY_ODD
        elif ui == "automatic1111":
            install = webui_install(upstream, tmp_path / "webui", "automatic1111")
            path, odd = install / "webui-user.sh", WEBUI_ODD
        else:
            install = fooocus_install(upstream, tmp_path / "fooocus", "{}")
            path, odd = install / "config.txt", FOOOCUS_ODD
        path.write_bytes(odd.encode())
        await library.scan()
        await link_config(library, install)
        assert path.read_bytes() != odd.encode()
        await unlink(library, install)
        assert path.read_bytes() == odd.encode()
        assert not path.with_name(path.name + ".aiui-backup").exists()  # nothing of ours left beside it
