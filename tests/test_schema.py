"""Settings checked without pydantic on the common path give what pydantic gives, or pydantic's error."""

from __future__ import annotations

import subprocess
import sys

import pytest

from aiui_tui.config import AppOverride, Config, load_config, write_default_config
from aiui_tui.paths import Layout
from aiui_tui.schema import InvalidSettings, pydantic_model

INPUTS = [
    {},
    {"downloads": {"concurrent": 3, "retry_backoff_s": 2}},  # an int for a float
    {"downloads": {"concurrent": "3"}},  # pydantic converts "3"
    {"downloads": {"concurrent": 3.0}},
    {"downloads": {"concurrent": True}},
    {"downloads": {"concurrent": 0}},
    {"general": {"log_level": "debug"}},
    {"general": {"log_level": "loud"}},
    {"network": {"bind_address": "::1", "check_timeout_s": 60}},
    {"network": {"bind_address": "localhost"}},
    {"network": {"check_timeout_s": 0}},
    {"sources": {"huggingface_url": "https://mirror.example/"}},
    {"sources": {"civitai_url": "ftp://x"}},
    {"apps": {"enabled": ["comfyui"], "overrides": {"comfyui": {"host_port": 8190, "network": "host"}}}},
    {"apps": {"overrides": {"x": {"host_port": 70000}}}},
    {"apps": {"overrides": {"x": {"options": {"attention": 1}}}}},
    {"apps": {"enabled": "comfyui"}},
    {"apps": {"profile": "turbo"}},
    {"docker": {"host": "tcp://gpu-box:2376", "timeout_s": 5}},
    {"docker": {"hots": ""}},
    {"monitor": {"interval_s": 0.05}},
    {"library": {"other_ui_paths": ["/a", 2]}},
    {"general": []},
]


def _pydantic(data):
    try:
        return pydantic_model(Config).model_validate(data).model_dump()
    except Exception as exc:
        return [(e["loc"], e["type"]) for e in exc.errors()]


def _ours(data):
    try:
        return Config.model_validate(data).model_dump()
    except InvalidSettings as exc:
        return [(e["loc"], e["type"]) for e in exc.errors()]


@pytest.mark.parametrize("data", INPUTS, ids=range(len(INPUTS)))
def test_same_values_or_same_errors_as_pydantic(data):
    assert _ours(data) == _pydantic(data)


def test_assignment_is_checked():
    config = Config()
    config.downloads.retry_backoff_s = 2  # converted as pydantic does
    assert config.downloads.retry_backoff_s == 2.0 and type(config.downloads.retry_backoff_s) is float
    with pytest.raises(InvalidSettings):
        config.downloads.connections = 99
    assert config.downloads.connections == 4
    config.apps.overrides["a"] = AppOverride(network="host")
    assert Config.model_validate(config.model_dump()) == config


def test_default_config_file_loads_without_pydantic(tmp_path):
    layout = Layout(tmp_path)
    layout.config_dir.mkdir(parents=True)
    write_default_config(layout)
    assert load_config(layout, env={}) == Config()
    code = (
        "import sys; from aiui_tui.config import load_config; from aiui_tui.paths import Layout;"
        f"load_config(Layout({str(tmp_path)!r}), env={{}});"
        "print(sorted(m for m in ('pydantic', 'tomlkit') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({"network": {"bind_address": "localhost"}}, ("network", "bind_address")),  # a validator's ValueError
        ({"downloads": {"concurrent": 0}}, ("downloads", "concurrent")),  # a bound
        ({"apps": {"overrides": {"x": {"host_port": 70000}}}}, ("apps", "overrides", "x", "host_port")),
        ({"docker": {"hots": ""}}, ("docker", "hots")),  # an unknown key
    ],
)
def test_bad_values_are_refused_with_their_place(data, loc):
    with pytest.raises(InvalidSettings) as err:
        Config.model_validate(data)
    assert err.value.errors()[0]["loc"] == loc


def test_a_whole_section_check_runs_on_both_paths(tmp_path):
    from aiui_tui.services.apps.manifest import AppManifest

    good = {"name": "x", "image": "i", "port": 1, "args_to": "env", "args_env": "ARGS"}
    assert AppManifest.model_validate(good).arguments_go_to == "env"
    for data in ({**good, "args_env": None}, {**good, "port": "1", "args_env": None}):  # plain, then pydantic
        with pytest.raises(InvalidSettings, match="args_env"):
            AppManifest.model_validate(data)
