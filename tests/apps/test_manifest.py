"""App manifests and the container spec built from them: no engine needed."""

from __future__ import annotations

import pytest

from aiui_tui.config import AppOverride, Config
from aiui_tui.core.errors import ConfigError
from aiui_tui.services.apps.errors import AppError
from aiui_tui.services.apps.manifest import builtin_manifests, load_manifests, parse_manifest
from aiui_tui.services.apps.spec import LABEL_APP, LABEL_ROOT, build_spec, container_name, resolve_profile

GOOD = """\
name = "stand-in"
title = "Stand-in web UI"
image = "local/busybox:1"
command = ["httpd", "-f", "-p", "127.0.0.1:{port}", "-h", "/www"]
port = 18765
network = "host"
gpu = "none"

[ready]
http_path = "/"
timeout_s = 20

[mounts]
outputs = "/www/outputs"

[mounts.models]
checkpoints = "/models/checkpoints"

[profiles]
low = ["--small"]
"""


def write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


def test_builtins_cover_the_three_uis_with_their_ports():
    apps = builtin_manifests()
    assert {n: a.manifest.port for n, a in apps.items()} == {"fooocus": 7865, "automatic1111": 7860, "comfyui": 8188}
    assert all(a.source == "built-in" for a in apps.values())
    assert apps["comfyui"].manifest.ready.http_path == "/system_stats"


def test_a_user_manifest_adds_an_app_and_can_replace_a_builtin(tmp_path):
    write(tmp_path, "stand-in", GOOD)
    write(tmp_path, "comfyui", GOOD.replace('"stand-in"', '"comfyui"'))
    apps = load_manifests(tmp_path).apps
    assert apps["stand-in"].manifest.command[3] == "127.0.0.1:{port}"
    assert apps["comfyui"].source == str(tmp_path / "comfyui.toml")
    assert apps["fooocus"].source == "built-in"


def test_a_broken_manifest_is_listed_with_its_line_and_the_others_load(tmp_path):
    """Issue 16: one bad file is one broken app, like a plugin that fails; everything else loads."""
    write(tmp_path, "stand-in", GOOD)
    write(tmp_path, "broken", 'name = "broken"\nimage = "x"\nport = "high"\n')
    write(tmp_path, "comfyui", "port = [")  # a broken replacement hides the built-in it meant to replace
    found = load_manifests(tmp_path)
    assert {"stand-in", "fooocus", "automatic1111"} <= set(found.apps) and "comfyui" not in found.apps
    assert set(found.broken) == {"broken", "comfyui"}
    broken = found.broken["broken"]
    assert broken.source == str(tmp_path / "broken.toml")
    assert broken.error.message.startswith(f"{tmp_path / 'broken.toml'} line 3, key port:")
    assert "(got 'high')" in broken.error.message and broken.error.exit_code == 2
    assert "line 1" in found.broken["comfyui"].error.message


@pytest.mark.parametrize(
    "change, message",
    [
        (('name = "stand-in"', 'name = "Stand In"'), "line 1, key name: must be lowercase"),
        (("port = 18765", "port = 99999"), "line 5, key port"),
        (('network = "host"', 'network = "overlay"'), "key network"),
        (('checkpoints = "/models/checkpoints"', 'weights = "/models/x"'), "unknown model kind 'weights'"),
        (('outputs = "/www/outputs"', 'outputs = "www/outputs"'), "container paths must be absolute"),
        (('low = ["--small"]', 'tiny = ["--small"]'), "unknown profile 'tiny'"),
        (('gpu = "none"', 'gpu = "none"\ncolour = "red"'), "key colour: unknown key"),
        (('image = "local/busybox:1"\n', ""), "key image: required key is missing"),
        (("[ready]", "[ready"), "TOML syntax error"),
        # Values Docker itself would reject at create ("Unexpected error: APIError" before):
        (('outputs = "/www/outputs"', 'outputs = "/"'), "outputs: a container path cannot be /"),
        (('outputs = "/www/outputs"', 'outputs = "/models/checkpoints"'), "are both mounted at /models/checkpoints"),
        (('outputs = "/www/outputs"', 'outputs = "/models//checkpoints/"'), "are both mounted at"),
        (('gpu = "none"', 'gpu = "none"\nargs_to = "env"'), 'args_to = "env" needs args_env'),
        (('gpu = "none"', 'gpu = "none"\nworkdir = "srv"'), "container paths must be absolute"),
        (('outputs = "/www/outputs"', 'config = "/c"\nconfig_subdirs = { "../up" = "/x" }'), "plain relative path"),
    ],
)
def test_bad_manifests_name_the_file_line_and_key(tmp_path, change, message):
    path = write(tmp_path, "stand-in", GOOD.replace(*change))
    with pytest.raises(ConfigError) as err:
        parse_manifest(path)
    assert str(path) in err.value.message
    assert message in err.value.message
    assert err.value.fix


def test_a_manifest_docker_would_reject_is_one_line_with_exit_2_not_an_unexpected_error(tmp_path, cli):
    root = tmp_path / "root"
    write(root / "config" / "apps", "stand-in", GOOD.replace('outputs = "/www/outputs"', 'outputs = "/"'))
    result = cli("--root", str(root), "app", "start", "stand-in")
    assert result.returncode == 2
    assert "stand-in.toml line" in result.stderr and "a container path cannot be /" in result.stderr
    assert "Unexpected error" not in result.output and "Traceback" not in result.output


def test_the_file_name_must_match_the_app_name(tmp_path):
    path = write(tmp_path, "other", GOOD)
    with pytest.raises(ConfigError, match="differs from its file name"):
        parse_manifest(path)


def spec_for(tmp_path, layout, text=GOOD, config=None, **kwargs):
    manifest = parse_manifest(write(tmp_path / "apps", "stand-in", text))
    options = {"profile": "normal", "gpu_available": False, "uid": 1000, "gid": 1000} | kwargs
    return build_spec(manifest, layout=layout, config=config or Config(), **options)


def test_bridge_ports_are_published_on_loopback_by_default(tmp_path, layout):
    spec = spec_for(tmp_path, layout, GOOD.replace('network = "host"', 'network = "bridge"'))
    assert spec.ports == {"18765/tcp": ("127.0.0.1", 18765)}
    assert spec.network_mode is None and spec.warnings == []
    assert spec.url == "http://127.0.0.1:18765/"


def test_another_bind_address_warns_that_the_ui_is_reachable_from_outside(tmp_path, layout):
    config = Config()
    config.network.bind_address = "0.0.0.0"
    spec = spec_for(tmp_path, layout, GOOD.replace('network = "host"', 'network = "bridge"'), config)
    assert spec.ports["18765/tcp"] == ("0.0.0.0", 18765)
    assert "reachable from other machines" in spec.warnings[0]
    assert spec.url == "http://127.0.0.1:18765/"


def test_labels_user_mounts_command_and_overrides(tmp_path, layout):
    config = Config()
    config.apps.overrides["stand-in"] = AppOverride(image="other:2", host_port=19000, extra_args=["--extra"])
    spec = spec_for(tmp_path, layout, config=config, profile="low")
    assert spec.labels[LABEL_APP] == "stand-in" and spec.labels[LABEL_ROOT] == str(layout.root)
    assert spec.name == container_name("stand-in", layout.root)
    assert spec.image == "other:2"
    assert spec.user == "1000:1000"
    assert spec.command == ["httpd", "-f", "-p", "127.0.0.1:18765", "-h", "/www", "--small", "--extra"]
    assert spec.volumes[str(layout.kind_dir("checkpoints"))] == {"bind": "/models/checkpoints", "mode": "rw"}
    assert spec.volumes[str(layout.app_outputs_dir("stand-in"))]["bind"] == "/www/outputs"
    assert spec.network_mode == "host" and spec.ports == {}


def test_gpu_follows_the_runtime_and_the_profile(tmp_path, layout):
    auto = GOOD.replace('gpu = "none"', 'gpu = "auto"')
    with_gpu = spec_for(tmp_path, layout, auto, gpu_available=True)
    assert with_gpu.gpu and "device_requests" in with_gpu.create_kwargs()
    without = spec_for(tmp_path, layout, auto, gpu_available=False)
    assert not without.gpu and "starts on the CPU" in without.warnings[0]
    cpu = spec_for(tmp_path, layout, auto, gpu_available=True, profile="cpu")
    assert not cpu.gpu


def test_run_as_user_names_the_user_even_root_and_image_users_are_left_alone(tmp_path, layout):
    as_image = spec_for(tmp_path, layout, GOOD.replace('gpu = "none"', 'gpu = "none"\nrun_as_user = false'))
    assert as_image.user is None  # the image's own USER; outputs are handed back after a stop
    # A root host user is named too: an image whose USER is uid 1000 would otherwise write as 1000.
    assert spec_for(tmp_path, layout, uid=0, gid=0).user == "0:0"


@pytest.mark.parametrize(
    "requested, memory, expected",
    [("auto", None, "cpu"), ("auto", 6 * 1024**3, "low"), ("auto", 12 * 1024**3, "normal"),
     ("auto", 80 * 1024**3, "high"), ("low", 80 * 1024**3, "low")],
)  # fmt: skip
def test_auto_profile_from_gpu_memory(requested, memory, expected):
    assert resolve_profile(requested, memory) == expected


def test_fooocus_arguments_go_into_cmdargs_as_plain_words(tmp_path, layout):
    manifest = builtin_manifests()["fooocus"].manifest
    spec = build_spec(manifest, layout=layout, config=Config(), profile="low", gpu_available=True, uid=1234, gid=99)
    assert spec.environment["CMDARGS"] == "--listen 0.0.0.0 --port 7865 --always-low-vram"
    assert spec.user == "1234:99" and spec.command is None  # the image's own CMD runs, as you
    config = Config.model_validate({"apps": {"overrides": {"fooocus": {"extra_args": ["--preset", "my preset"]}}}})
    with pytest.raises(AppError) as err:
        build_spec(manifest, layout=layout, config=config, profile="low", gpu_available=True, uid=1234, gid=99)
    assert "'my preset'" in err.value.message and "splits $CMDARGS at spaces" in err.value.message


# --- performance options, GPU instances, recommendation ------------------------------------------


def test_performance_options_default_choice_and_settings_file(layout):
    from aiui_tui.services.apps.manifest import builtin_manifests

    a1111 = builtin_manifests()["automatic1111"].manifest
    config = Config.model_validate(
        {"apps": {"overrides": {"automatic1111": {"options": {"precision": "fp32", "model_cache": "2", "nope": "x"}}}}}
    )
    spec = build_spec(a1111, layout=layout, config=config, profile="high", gpu_available=True, uid=0, gid=0)
    assert spec.options == {"attention": "sdp", "precision": "fp32", "model_cache": "2"}
    assert "--opt-sdp-attention" in spec.command and spec.command[-3:] == ["--precision", "full", "--no-half"]
    assert spec.settings == {"sd_checkpoints_limit": 2, "sd_checkpoint_cache": 0}
    assert spec.settings_file == str(layout.app_config_dir("automatic1111") / "config.json")
    assert any("no performance option 'nope'" in w for w in spec.warnings)

    cpu = build_spec(a1111, layout=layout, config=config, profile="cpu", gpu_available=True, uid=0, gid=0)
    assert "--opt-sdp-attention" not in cpu.command and cpu.options == {"model_cache": "2"}  # gpu-only skipped


def test_a_bad_choice_falls_back_to_the_default_with_a_warning(layout):
    from aiui_tui.services.apps.manifest import builtin_manifests

    comfy = builtin_manifests()["comfyui"].manifest
    config = Config.model_validate({"apps": {"overrides": {"comfyui": {"options": {"precision": "fp64"}}}}})
    spec = build_spec(comfy, layout=layout, config=config, profile="normal", gpu_available=True, uid=0, gid=0)
    assert spec.options["precision"] == "auto"
    assert any("precision = 'fp64' is not one of auto, fp16, bf16, fp8, fp32" in w for w in spec.warnings)


def test_settings_are_merged_into_the_apps_own_file(tmp_path):
    import json

    from aiui_tui.services.apps.service import merge_json_settings

    path = tmp_path / "config.json"
    path.write_text(json.dumps({"samples_format": "png", "sd_checkpoints_limit": 1}))
    merge_json_settings(str(path), {"sd_checkpoints_limit": 3, "sd_checkpoint_cache": 0})
    assert json.loads(path.read_text()) == {
        "samples_format": "png",
        "sd_checkpoints_limit": 3,
        "sd_checkpoint_cache": 0,
    }
    path.write_text("{not json")
    merge_json_settings(str(path), {"sd_checkpoints_limit": 2})
    assert path.read_text() == "{not json"  # the UI's broken file is left for the user, not replaced


def test_a_manifest_option_default_must_be_a_choice(tmp_path):
    path = tmp_path / "odd.toml"
    path.write_text(
        'name = "odd"\nimage = "x"\nport = 1\n[performance.options.attention]\ntitle = "A"\ndefault = "zzz"\n'
        'choices.sdp = { args = ["--sdp"] }\n'
    )
    with pytest.raises(ConfigError) as err:
        parse_manifest(path)
    assert "default 'zzz' is not one of the choices (sdp)" in str(err.value)


def test_gpu_instance_ports_names_and_outputs(layout):
    from aiui_tui.services.apps.manifest import LoadedApp, builtin_manifests, gpu_instance

    fooocus = builtin_manifests()["fooocus"]
    one = gpu_instance(fooocus, 1)
    assert one.manifest.name == "fooocus-gpu1" and one.manifest.published_port == 7866 and one.instance_of == "fooocus"
    config = Config.model_validate({"apps": {"overrides": {"fooocus": {"host_port": 9000, "image": "mine:1"}}}})
    spec = build_spec(one.manifest, layout=layout, config=config, profile="high", gpu_available=True, uid=0, gid=0,
                      instance_of="fooocus", gpu_index=1)  # fmt: skip
    assert spec.ports == {"7865/tcp": ("127.0.0.1", 9001)} and spec.image == "mine:1"
    assert spec.gpu_ids == ("1",) and spec.create_kwargs()["device_requests"][0]["DeviceIDs"] == ["1"]
    assert str(layout.app_outputs_dir("fooocus") / "gpu1") in spec.volumes
    assert spec.labels["aiui.instance-of"] == "fooocus" and spec.labels["aiui.gpu"] == "1"
    assert isinstance(one, LoadedApp) and one.base == "fooocus"


def test_recommendation_follows_vram_and_compute_capability():
    from aiui_tui.services.apps.manifest import builtin_manifests
    from aiui_tui.services.apps.recommend import recommend
    from aiui_tui.services.monitor.nvml import GpuInfo

    apps = builtin_manifests()
    none = recommend([], apps["comfyui"].manifest)
    assert none.profile == "cpu" and "no NVIDIA GPU" in none.why()
    h100 = GpuInfo(0, "NVIDIA H100 80GB HBM3", 80 * 1024**3, compute_capability=(9, 0))
    rec = recommend([h100, h100], apps["comfyui"].manifest)
    assert rec.profile == "high" and rec.options == {"precision": "bf16", "attention": "sdp", "model_cache": "lru"}
    assert "compute capability 9.0" in rec.why() and "--all-gpus" in rec.why()
    gtx = GpuInfo(0, "NVIDIA GeForce GTX 1060 6GB", 6 * 1024**3, compute_capability=(6, 1))
    rec = recommend([gtx], apps["automatic1111"].manifest)
    assert rec.profile == "low" and rec.options == {"precision": "fp32", "attention": "sdp"}
    assert "Pascal" in rec.why()
    t4 = GpuInfo(0, "Tesla T4", 15 * 1024**3, compute_capability=(7, 5))
    assert recommend([t4], apps["fooocus"].manifest).options == {"precision": "fp16", "attention": "sdp"}
