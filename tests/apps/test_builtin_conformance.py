"""The built-in apps' container specs, fed to each program's own code (../shared/upstream).

What aiui-tui puts into a container (arguments, variables, extra_model_paths.yaml) is parsed by
the real ComfyUI, AUTOMATIC1111 and Fooocus code: every VRAM profile and performance option must
be a flag the program knows, and every library kind the program reads must arrive where it
reads it. Paths are container paths; where a program needs them to exist, they are mapped to the
host folders Docker would mount there.
"""

from __future__ import annotations

import itertools
import shlex
from pathlib import Path

import pytest
import yaml

from aiui_tui.config import Config
from aiui_tui.kinds import model_kinds
from aiui_tui.services.apps.manifest import AppManifest, builtin_manifests
from aiui_tui.services.apps.spec import ContainerSpec, build_spec
from tests.upstream_programs import comfyui_args, comfyui_files, fooocus_config, run_upstream, webui_args

BUILTINS = builtin_manifests()


def every_setting(manifest: AppManifest):
    """(profile, options) for every profile and every choice of every performance option."""
    options = manifest.performance.options
    for profile in ("low", "normal", "high", "cpu"):
        for name, option in options.items():
            for choice in option.choices:
                yield profile, {name: choice}
        yield profile, {}


def spec_of(name: str, layout, profile="normal", options=None, *, network="bridge") -> ContainerSpec:
    manifest = BUILTINS[name].manifest
    if network != manifest.network:
        manifest = manifest.model_copy(update={"network": network})
    config = Config.model_validate({"apps": {"overrides": {name: {"options": options or {}}}}})
    return build_spec(manifest, layout=layout, config=config, profile=profile, gpu_available=True, uid=1234, gid=1234)


def host_path_of(spec: ContainerSpec, container_path: str) -> Path:
    """The host folder Docker shows at `container_path` (the deepest mount that holds it)."""
    best = None
    for host, mount in spec.volumes.items():
        bind = mount["bind"].rstrip("/")
        inside = container_path == bind or container_path.startswith(bind + "/")
        if inside and (best is None or len(bind) > len(best[1])):
            best = (host, bind)
    assert best is not None, f"{container_path} is not inside any mount"
    host, bind = best
    return Path(host) / container_path[len(bind) :].lstrip("/")


def fill_library(layout, kinds) -> dict[str, str]:
    """One model file (in a subfolder) per kind; {kind: relative name}."""
    names = {}
    for kind in kinds:
        folder = layout.kind_dir(kind) / "sub"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{kind}-model.safetensors").write_bytes(b"x")
        names[kind] = f"sub/{kind}-model.safetensors"
    return names


# --- ComfyUI ---------------------------------------------------------------------------------


def test_comfyui_cli_args_are_accepted_by_comfyui_for_every_profile_and_option(upstream, layout, conformance):
    manifest = BUILTINS["comfyui"].manifest
    settings = list(itertools.product(every_setting(manifest), ("bridge", "host")))
    refused = []
    for (profile, options), network in settings:
        spec = spec_of("comfyui", layout, profile, options, network=network)
        # runner-scripts/entrypoint.sh: python3 ./ComfyUI/main.py --listen --port 8188 ${CLI_ARGS}
        argv = ["--listen", "--port", "8188", *spec.environment["CLI_ARGS"].split()]
        outcome = comfyui_args(upstream, argv)
        if outcome.returncode != 0:
            refused.append(f"{profile} {options}: {outcome.stderr[-300:]}")
            continue
        args = outcome.result
        assert args["listen"] == ("0.0.0.0" if network == "bridge" else "127.0.0.1")
        assert args["port"] == 8188 and args["output_directory"] == "/outputs"
        assert args["extra_model_paths_config"] == [["/root/aiui/extra_model_paths.yaml"]]
    conformance(f"ComfyUI container CLI_ARGS: {len(settings)} profile/option/network settings, {len(refused)} refused")
    assert refused == []


def test_comfyui_reads_every_library_kind_it_knows_through_our_yaml(upstream, layout, tmp_path, conformance):
    spec = spec_of("comfyui", layout)
    comfy_kinds = [k.name for k in model_kinds().values() if k.comfyui]
    mounted = BUILTINS["comfyui"].manifest.mounts.models
    assert sorted(mounted) == sorted(comfy_kinds), "every kind ComfyUI reads is mounted"
    names = fill_library(layout, comfy_kinds)
    (yaml_host,) = spec.files  # config/comfyui/aiui/extra_model_paths.yaml, /root/aiui/... inside
    assert Path(yaml_host) == host_path_of(spec, "/root/aiui/extra_model_paths.yaml")
    written = yaml.safe_load(spec.files[yaml_host])
    # What the container sees at each path is the host folder mounted there.
    seen_inside = {name: {f: str(host_path_of(spec, p)) for f, p in s.items()} for name, s in written.items()}
    rewritten = tmp_path / "extra_model_paths.yaml"
    rewritten.write_text(yaml.safe_dump(seen_inside))
    seen = comfyui_files(upstream, [rewritten], [model_kinds()[k].comfyui[0] for k in comfy_kinds])["files"]
    missing = [k for k in comfy_kinds if names[k] not in seen[model_kinds()[k].comfyui[0]]]
    assert missing == []
    conformance(f"ComfyUI container yaml: {len(comfy_kinds)} kinds read at /library/<kind>, {len(missing)} missing")


# --- AUTOMATIC1111 ---------------------------------------------------------------------------

A1111_DIR_FLAGS = {  # parsed attribute -> library kind
    "ckpt_dir": "checkpoints",
    "lora_dir": "loras",
    "vae_dir": "vae",
    "embeddings_dir": "embeddings",
    "hypernetwork_dir": "hypernetworks",
    "esrgan_models_path": "upscale_models",
}


def test_a1111_command_is_accepted_by_a1111_and_reads_every_kind_where_it_looks(upstream, layout, conformance):
    manifest = BUILTINS["automatic1111"].manifest
    mounts = manifest.mounts
    settings = list(every_setting(manifest))
    refused = []
    for profile, options in settings:
        spec = spec_of("automatic1111", layout, profile, options)
        assert spec.working_dir == "/opt/stable-diffusion-webui"
        python, script, *argv = spec.command
        assert (python, script) == ("/opt/environments/python/webui/bin/python", "launch.py")
        outcome = webui_args(upstream, "automatic1111", argv=argv)
        if outcome.returncode != 0:
            refused.append(f"{profile} {options}: {outcome.stderr[-300:]}")
    assert refused == []
    result = webui_args(upstream, "automatic1111", argv=spec_of("automatic1111", layout).command[2:]).result
    args = result["args"]
    assert result["data_path"] == mounts.config == "/data"
    assert result["default_output_dir"] == mounts.outputs  # A1111 writes txt2img-images etc. there
    for attr, kind in A1111_DIR_FLAGS.items():
        assert args[attr] == mounts.models[kind], attr
    # Read without a flag, where A1111 (VAE-approx) and the ControlNet extension look by default:
    assert mounts.models["vae_approx"] == f"{result['models_path']}/VAE-approx"
    assert mounts.models["controlnet"] == f"{result['models_path']}/ControlNet"
    a1111_kinds = sorted(k.name for k in model_kinds().values() if k.a1111)
    assert sorted(mounts.models) == a1111_kinds
    conformance(
        f"AUTOMATIC1111 container command: {len(settings)} profile/option settings, {len(refused)} refused; "
        f"{len(a1111_kinds)}/{len(a1111_kinds)} kinds where A1111 reads them"
    )


# --- Fooocus ---------------------------------------------------------------------------------


def fooocus_args(upstream: Path, words: list[str]):
    code = f"""
_sys.argv = ["launch.py", *{words!r}]
import args_manager
emit(vars(args_manager.args))
"""
    return run_upstream(code, upstream / "fooocus")


def test_fooocus_cmdargs_are_accepted_by_fooocus_for_every_profile_and_option(upstream, layout, conformance):
    manifest = BUILTINS["fooocus"].manifest
    settings = list(every_setting(manifest))
    refused = []
    for profile, options in settings:
        spec = spec_of("fooocus", layout, profile, options)
        # The image: sh -c "/content/entrypoint.sh ${CMDARGS}" then `python launch.py $*`: field splitting.
        outcome = fooocus_args(upstream, spec.environment["CMDARGS"].split())
        if outcome.returncode != 0:
            refused.append(f"{profile} {options}: {outcome.stderr[-300:]}")
            continue
        assert outcome.result["listen"] == "0.0.0.0" and outcome.result["port"] == 7865
    conformance(f"Fooocus container CMDARGS: {len(settings)} profile/option settings, {len(refused)} refused")
    assert refused == []


def test_fooocus_reads_every_library_kind_from_our_variables(upstream, layout, tmp_path, conformance):
    spec = spec_of("fooocus", layout)
    manifest = BUILTINS["fooocus"].manifest
    fooocus_kinds = [k.name for k in model_kinds().values() if k.fooocus and k.name != "prompt_expansion"]
    names = fill_library(layout, [*fooocus_kinds, "vae"])
    env = dict(spec.environment)
    for key, value in env.items():  # container paths -> the host folders mounted there
        if key.startswith("path_") or key in ("config_path", "config_example_path"):
            host = host_path_of(spec, value)
            host.parent.mkdir(parents=True, exist_ok=True)
            if key.startswith("path_"):
                host.mkdir(parents=True, exist_ok=True)
            env[key] = str(host)
    loaded = fooocus_config(upstream, tmp_path, env=env)
    paths = loaded["paths"]
    wrong_type = [
        key
        for key, value in paths.items()
        if not isinstance(value, list if key in ("path_checkpoints", "path_loras") else str)
    ]
    assert wrong_type == []
    for kind in fooocus_kinds:
        key = model_kinds()[kind].fooocus
        value = paths[key]
        assert (value[0] if isinstance(value, list) else value) == str(layout.kind_dir(kind)), key
    assert paths["path_vae"] == str(layout.kind_dir("vae"))
    assert names["checkpoints"] in loaded["models"] and names["loras"] in loaded["loras"]
    assert names["vae"] in loaded["vaes"]
    assert paths["path_outputs"] == str(host_path_of(spec, manifest.mounts.outputs))
    conformance(
        f"Fooocus container variables: {len(fooocus_kinds) + 1} library kinds read, {len(wrong_type)} type errors"
    )


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtin_arguments_survive_the_way_the_image_splits_them(name, layout):
    """Whatever the image does with its arguments (a variable split in words, or the command), the
    words it ends up with are the app's arguments, then the profile's, then the options' ones."""
    manifest = BUILTINS[name].manifest
    spec = spec_of(name, layout, "low", {"attention": "split"})
    if manifest.arguments_go_to == "env":
        value = spec.environment[manifest.args_env]
        words = value.split() if manifest.args_env_split == "whitespace" else shlex.split(value)
    else:
        words = spec.command[len(manifest.command or []) :]
    tail = [*manifest.profiles["low"], *manifest.performance.options["attention"].choices["split"].args]
    assert words[-len(tail) :] == tail
    assert len(words) == len(manifest.args) + len(tail)


def test_the_forge_plugin_command_is_accepted_by_forge(upstream, layout, conformance):
    """The example plugin's manifest (plugins/forge) through Forge's own parser, every setting."""
    from aiui_tui.services.apps.manifest import parse_manifest
    from tests.conftest import REPO

    forge = parse_manifest(REPO / "plugins" / "forge" / "apps" / "forge.toml")
    refused = []
    settings = list(every_setting(forge))
    for profile, options in settings:
        config = Config.model_validate({"apps": {"overrides": {"forge": {"options": options}}}})
        spec = build_spec(forge, layout=layout, config=config, profile=profile, gpu_available=True, uid=1, gid=1)
        outcome = webui_args(upstream, "forge", argv=spec.command[2:])
        if outcome.returncode != 0:
            refused.append(f"{profile} {options}: {outcome.stderr[-300:]}")
    assert refused == []
    result = outcome.result
    args, mounts = result["args"], forge.mounts
    assert result["default_output_dir"] == mounts.outputs and result["data_path"] == mounts.config
    for attr, kind in {**A1111_DIR_FLAGS, "text_encoder_dir": "text_encoders", "controlnet_dir": "controlnet"}.items():
        assert str(args[attr]) == mounts.models[kind], attr
    assert mounts.models["diffusion_models"] == f"{result['models_path']}/Stable-diffusion"  # listed beside ckpt-dir
    conformance(f"Forge plugin container command: {len(settings)} profile/option settings, {len(refused)} refused")
