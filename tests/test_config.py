"""config/aiui.toml: defaults, errors with file/line/key, edits that keep comments."""

from __future__ import annotations

import hashlib
import os

import pytest
import tomlkit

from aiui_tui.config import (
    Config,
    default_config_text,
    get_value,
    load_config,
    set_from_cli,
    set_values,
    write_default_config,
)
from aiui_tui.core.errors import ConfigError
from aiui_tui.paths import Layout
from aiui_tui.tomledit import MAX_TOML_BYTES


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_commented_default_file_equals_the_schema_defaults():
    parsed = Config.model_validate(tomlkit.parse(default_config_text()).unwrap())
    assert parsed == Config()
    assert default_config_text().count("#") > 20  # it explains itself


def test_first_run_writes_defaults_once(layout: Layout):
    assert write_default_config(layout) is True
    layout.config_file.write_text(layout.config_file.read_text() + "\n# mine\n")
    assert write_default_config(layout) is False
    assert layout.config_file.read_text().endswith("# mine\n")


def test_missing_file_means_defaults(layout: Layout):
    assert load_config(layout, env={}) == Config()


def test_syntax_error_names_file_line_and_column_and_leaves_file(layout: Layout):
    write_default_config(layout)
    text = layout.config_file.read_text().replace("retries = 1", "retries = = 1")
    layout.config_file.write_text(text)
    before = _digest(layout.config_file)
    line = text.splitlines().index("retries = = 1") + 1
    with pytest.raises(ConfigError) as err:
        load_config(layout, env={})
    assert err.value.message.startswith(f"{layout.config_file} line {line}, column ")
    assert "TOML syntax error" in err.value.message
    assert err.value.exit_code == 2
    assert _digest(layout.config_file) == before


@pytest.mark.parametrize(
    ("find", "replace", "key", "expect"),
    [
        ("concurrent = 2", "concurrent = -1", "downloads.concurrent", "greater than or equal to 1 (got -1)"),
        ('bind_address = "127.0.0.1"', 'bind_address = "localhost:80"', "network.bind_address", "IPv4 or IPv6"),
        ('profile = "auto"', 'profile = "turbo"', "apps.profile", "'auto', 'low', 'normal', 'high' or 'cpu'"),
        ("interval_s = 1.0", 'interval_s = "fast"', "monitor.interval_s", "valid number"),
        ("hash_workers = 2", "hash_workerz = 2", "library.hash_workerz", "unknown key"),
    ],
)
def test_bad_value_names_line_and_key(layout: Layout, find, replace, key, expect):
    write_default_config(layout)
    text = layout.config_file.read_text()
    assert find in text
    text = text.replace(find, replace)
    layout.config_file.write_text(text)
    line = text.splitlines().index(replace) + 1
    before = _digest(layout.config_file)
    with pytest.raises(ConfigError) as err:
        load_config(layout, env={})
    assert f"{layout.config_file} line {line}, key {key}:" in err.value.message
    assert expect in err.value.message
    assert _digest(layout.config_file) == before


def test_bad_value_in_a_nested_table_added_by_the_user(layout: Layout):
    write_default_config(layout)
    text = layout.config_file.read_text() + '\n[apps.overrides.comfyui]\nimage = "x"\nhost_port = 70000\n'
    layout.config_file.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(layout, env={})
    line = text.splitlines().index("host_port = 70000") + 1
    assert f"line {line}, key apps.overrides.comfyui.host_port" in err.value.message


def test_config_that_is_a_folder(layout: Layout):
    layout.config_file.mkdir()
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(layout, env={})


def test_edits_keep_comments_and_layout(layout: Layout):
    write_default_config(layout)
    original = layout.config_file.read_text()
    layout.config_file.write_text(original.replace("concurrent = 2", "concurrent = 2  # my own note"))
    config = set_values(layout, {"downloads.concurrent": 3, "apps.overrides.comfyui.host_port": 8190})
    text = layout.config_file.read_text()
    assert "concurrent = 3  # my own note" in text
    assert "# Downloads that run at the same time." in text
    assert "[apps.overrides.comfyui]" in text and "host_port = 8190" in text
    assert config.downloads.concurrent == 3
    assert load_config(layout, env={}).apps.overrides["comfyui"].host_port == 8190
    # Every other line is unchanged.
    changed = set(text.splitlines()) ^ set(original.splitlines())
    assert changed <= {
        "concurrent = 2",
        "concurrent = 3  # my own note",
        "[apps.overrides.comfyui]",
        "host_port = 8190",
    }


def test_invalid_edit_writes_nothing(layout: Layout):
    write_default_config(layout)
    before = _digest(layout.config_file)
    with pytest.raises(ConfigError, match=r"downloads\.connections"):
        set_from_cli(layout, "downloads.connections", "0")
    with pytest.raises(ConfigError, match="unknown key"):
        set_from_cli(layout, "downloads.speed", "3")
    assert _digest(layout.config_file) == before
    assert not list(layout.config_dir.glob(".aiui.toml.*"))  # no temp file left behind


def test_cli_values_are_typed(layout: Layout):
    set_from_cli(layout, "apps.enabled", '["comfyui"]')
    set_from_cli(layout, "network.proxy", "http://proxy:3128")
    set_from_cli(layout, "general.log_level", "debug")
    config = load_config(layout, env={})
    assert config.apps.enabled == ["comfyui"]
    assert config.network.proxy == "http://proxy:3128"
    assert config.general.log_level == "DEBUG"


def test_hf_endpoint_env_overrides_the_file(layout: Layout):
    config = load_config(layout, env={"HF_ENDPOINT": "https://hf-mirror.example/"})
    assert config.sources.huggingface_url == "https://hf-mirror.example"


def test_get_value(layout: Layout):
    config = load_config(layout, env={})
    assert get_value(config, "downloads.retries") == 1
    assert get_value(config, "network")["bind_address"] == "127.0.0.1"
    with pytest.raises(ConfigError, match="Unknown setting"):
        get_value(config, "network.nope")


def test_exposed_bind_address_is_detected():
    config = Config.model_validate({"network": {"bind_address": "0.0.0.0"}})
    assert config.network.exposed
    assert not Config().network.exposed


def test_edits_write_a_links_target_and_keep_the_link(layout: Layout, tmp_path):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "aiui.toml"
    target.write_text(default_config_text())
    target.chmod(0o640)
    layout.config_file.symlink_to(target)
    set_from_cli(layout, "downloads.retries", "5")
    assert layout.config_file.is_symlink() and layout.config_file.resolve() == target
    assert load_config(layout, env={}).downloads.retries == 5
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in dotfiles.iterdir()) == ["aiui.toml"]


@pytest.mark.parametrize(
    ("make", "expect"),
    [
        (lambda p: p.symlink_to(p.parent / "gone.toml"), "which does not exist"),
        (lambda p: p.symlink_to(p), "loop of symbolic links"),
        (lambda p: p.write_bytes(b"\xef\xbb\xbf[downloads]\nretries = 1\nretries = 2\n"), "line 3, column "),
        (lambda p: p.write_bytes(b"[general]\nlog_level = 'INFO'\n# \xff\n"), "line 3, column 3: not UTF-8"),
        (lambda p: p.write_bytes(b"# " + b"x" * MAX_TOML_BYTES), "larger than a settings file can be"),
    ],
    ids=["dangling", "loop", "duplicate-after-bom", "not-utf8", "too-big"],
)
def test_hostile_settings_files_are_config_errors(layout: Layout, make, expect):
    make(layout.config_file)
    before = os.readlink(layout.config_file) if layout.config_file.is_symlink() else _digest(layout.config_file)
    with pytest.raises(ConfigError) as err:
        load_config(layout, env={})
    assert str(layout.config_file) in err.value.message and expect in err.value.message
    assert err.value.exit_code == 2 and err.value.fix
    after = os.readlink(layout.config_file) if layout.config_file.is_symlink() else _digest(layout.config_file)
    assert after == before


def test_manifest_over_the_limit_is_refused(tmp_path):
    from aiui_tui.services.apps.manifest import parse_manifest

    path = tmp_path / "big.toml"
    with open(path, "wb") as fh:
        fh.truncate(MAX_TOML_BYTES + 1)
    with pytest.raises(ConfigError, match=r"big\.toml is 1\.0 MiB, larger than a settings file can be"):
        parse_manifest(path)


@pytest.mark.parametrize(
    ("key", "expect"),
    [("apps.enabled.x", "enabled is a value, not a table"), ("downloads..x", "is not a setting's name"), ("", "name")],
)
def test_set_with_a_key_that_cannot_be_set(layout: Layout, key, expect):
    write_default_config(layout)
    before = _digest(layout.config_file)
    with pytest.raises(ConfigError, match=expect):
        set_from_cli(layout, key, "3")
    assert _digest(layout.config_file) == before
