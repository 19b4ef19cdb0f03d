"""Hostile settings files through the real CLI: huge, malformed, not UTF-8, links that go nowhere.

Every one is a single `Error:` line naming the file (and the line where there is one) with the
fix, exit code 2, and the file left exactly as it was; none reaches "Unexpected error".
"""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest

from aiui_tui.tomledit import MAX_TOML_BYTES
from tests.cli_inprocess import main_cli
from tests.conftest import one_line_error, run_cli

NO_SUDO = {"SUDO_UID": "", "SUDO_GID": ""}  # the suite may run under sudo: the tests choose the owners


def digest(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    root = tmp_path_factory.mktemp("template") / "root"
    result = main_cli("--root", str(root), "init", "--yes")
    assert result.returncode == 0, result.output
    return root


@pytest.fixture
def root(template, tmp_path):
    """A data root made by `aiui-tui init`, copied for each test."""
    return shutil.copytree(template, tmp_path / "root", symlinks=True)


# --- item 7: sizes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "command"),
    [
        ("config/aiui.toml", ("config", "show")),
        ("config/secrets.toml", ("config", "show")),
        ("config/apps/huge.toml", ("app", "start", "huge")),  # `app list` lists it as broken, with this line
    ],
    ids=["settings", "secrets", "manifest"],
)
def test_a_50_mb_file_is_refused_before_it_is_read(root, relative, command):
    path = root / relative
    with open(path, "ab") as fh:
        fh.write(b'# a valid start\nname = "huge"\n')
        fh.truncate(50 * 1024 * 1024)
    path.chmod(0o600)
    before = digest(path)
    result = main_cli("--root", str(root), *command, env=NO_SUDO)
    one_line_error(result, f"{path} is 50.0 MiB, larger than a settings file can be (1.0 MiB)", f"mv {path} {path}.bak")
    assert digest(path) == before


# --- item 15: aiui.toml -----------------------------------------------------------------------


def _config_with(root, find: str, replace: str) -> tuple[str, int]:
    path = root / "config" / "aiui.toml"
    text = path.read_text()
    assert find in text
    text = text.replace(find, replace, 1)
    path.write_text(text)
    return text, text.splitlines().index(replace.splitlines()[-1]) + 1


def test_a_key_repeated_inside_a_table_names_its_line(root):
    path = root / "config" / "aiui.toml"
    _, line = _config_with(root, "retries = 1", "retries = 1\nconcurrent = 3")
    before = digest(path)
    result = main_cli("--root", str(root), "config", "show")
    one_line_error(result, f"{path} line {line}, column ", 'Key "concurrent" already exists', "correct that line")
    assert digest(path) == before


def test_a_table_declared_twice_names_the_second_header(root):
    path = root / "config" / "aiui.toml"
    text = path.read_text() + "\n[downloads]\nretries = 3\n"
    path.write_text(text)
    line = len(text.splitlines()) - 1
    result = main_cli("--root", str(root), "config", "show")
    one_line_error(result, f"{path} line {line}, column ", "table [downloads] is declared twice")


def test_invalid_utf8_names_the_line_and_column(root):
    path = root / "config" / "aiui.toml"
    text = path.read_text()
    number = text.splitlines().index("retries = 1") + 1
    path.write_bytes(text.encode().replace(b"retries = 1", b'retries = 1 # caf\xe9 "latin-1"', 1))
    before = digest(path)
    result = main_cli("--root", str(root), "config", "show")
    one_line_error(result, f"{path} line {number}, column 18: not UTF-8 text (byte 0xe9)", "save the file as UTF-8")
    assert digest(path) == before


def test_a_byte_order_mark_is_accepted(root):
    """TOML 1.0 has no BOM, but Windows editors write one: read past it, write plain UTF-8 back."""
    path = root / "config" / "aiui.toml"
    text = path.read_text().replace("retries = 1", "retries = 4  # mine")
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    result = main_cli("--root", str(root), "config", "get", "downloads.retries")
    assert result.returncode == 0 and result.stdout.strip() == "4", result.output
    result = main_cli("--root", str(root), "config", "set", "downloads.concurrent", "3")
    assert result.returncode == 0, result.output
    assert path.read_bytes() == text.replace("concurrent = 2", "concurrent = 3").encode()


@pytest.mark.parametrize("command", [("config", "show"), ("config", "set", "downloads.retries", "2")])
def test_a_dangling_link_is_not_silently_the_defaults(root, command):
    path = root / "config" / "aiui.toml"
    path.unlink()
    path.symlink_to(root / "dotfiles" / "aiui.toml")
    result = main_cli("--root", str(root), *command)
    one_line_error(result, f"{path} is a link to {root}/dotfiles/aiui.toml, which does not exist", f"rm {path}")
    assert path.is_symlink() and not (root / "dotfiles").exists()


def test_a_loop_of_links_is_one_line(root):
    path = root / "config" / "aiui.toml"
    path.unlink()
    other = root / "config" / "other.toml"
    path.symlink_to(other)
    other.symlink_to(path)
    result = main_cli("--root", str(root), "config", "show")
    one_line_error(result, f"{path} is a loop of symbolic links ({path} -> {other})", f"rm {path}")
    assert path.is_symlink() and other.is_symlink()


def test_a_named_pipe_is_refused_without_waiting(root):
    path = root / "config" / "aiui.toml"
    path.unlink()
    os.mkfifo(path)
    # A subprocess with a timeout: a regression would block on the pipe, not hang the suite.
    result = run_cli("--root", str(root), "config", "show", timeout=30)
    one_line_error(result, f"{path} is a named pipe, but a TOML file is expected", f"mv {path} {path}.bak")


@pytest.mark.parametrize(
    ("value", "expect"),
    [
        ("[" * 5000 + "]" * 5000, "nested more than 100 levels deep"),
        ("9" * 5000, "Invalid number"),
        ('"\\ud800"', "Invalid unicode value"),
    ],
    ids=["deep", "long-integer", "surrogate"],
)
def test_values_that_break_parsers_are_one_line(root, value, expect):
    path = root / "config" / "aiui.toml"
    _, line = _config_with(root, "retries = 1", f"retries = {value}")
    result = main_cli("--root", str(root), "config", "show")
    one_line_error(result, f"{path} line {line}", expect)


def test_the_limit_is_counted_in_bytes(root):
    path = root / "config" / "aiui.toml"
    text = path.read_text()
    path.write_text(text + "#" * (MAX_TOML_BYTES - len(text.encode()) + 1))
    one_line_error(main_cli("--root", str(root), "config", "show"), f"{path} is 1.0 MiB, larger than")
    path.write_text(text + "#" * (MAX_TOML_BYTES - len(text.encode()) - 1) + "\n")
    assert main_cli("--root", str(root), "config", "show").returncode == 0


# --- item 16: secrets.toml ----------------------------------------------------------------------


def test_secrets_owned_by_another_user_are_refused(root):
    path = root / "config" / "secrets.toml"
    path.write_text('huggingface_token = "hf_planted00000000000"\n')
    path.chmod(0o600)
    os.chown(path, 4321, 4321)
    result = main_cli("--root", str(root), "config", "show", env=NO_SUDO)
    one_line_error(
        result,
        f"{path} belongs to uid 4321, not to you (root): that user can read or replace the secrets in it",
        f"sudo chown root: {path} && chmod 600 {path}",
    )
    assert path.stat().st_uid == 4321


@pytest.mark.parametrize("kind", ["loop", "dangling"])
def test_secrets_link_that_leads_nowhere(root, kind):
    path = root / "config" / "secrets.toml"
    if kind == "loop":
        path.symlink_to(path)
        expect = f"{path} is a loop of symbolic links"
    else:
        path.symlink_to(root / "vault" / "secrets.toml")
        expect = f"{path} is a link to {root}/vault/secrets.toml, which does not exist"
    for command in (("config", "show"), ("config", "set-secret", "huggingface_token")):
        result = main_cli("--root", str(root), *command, input="hf_new0000000000000000\n", env=NO_SUDO)
        one_line_error(result, expect, f"rm {path}")
        assert path.is_symlink() and not (root / "vault").exists()


def test_set_secret_writes_a_links_target_and_keeps_the_link(root):
    vault = root / "vault"
    vault.mkdir()
    target = vault / "aiui-secrets.toml"
    target.write_text('# my vault\ncivitai_api_token = "civitai-key-123456"\n')
    target.chmod(0o600)
    path = root / "config" / "secrets.toml"
    path.symlink_to(target)
    result = main_cli("--root", str(root), "config", "set-secret", "huggingface_token", input="hf_new00000000000001\n")
    assert result.returncode == 0, result.output
    assert path.is_symlink() and os.readlink(path) == str(target)
    assert target.stat().st_mode & 0o777 == 0o600
    text = target.read_text()
    assert (
        "# my vault" in text and "civitai-key-123456" in text and 'huggingface_token = "hf_new00000000000001"' in text
    )
    assert sorted(p.name for p in vault.iterdir()) == ["aiui-secrets.toml"]  # no temp file left


@pytest.mark.parametrize(
    ("mode", "expect"),
    [
        (0o602, "can be written by users outside your group (mode -rw-----w-)"),
        (0o620, "can be written by your group (mode -rw--w----)"),
        (0o604, "can be read by users outside your group (mode -rw----r--)"),
        (0o644, "can be read by other users (mode -rw-r--r--)"),
        (0o666, "can be read and written by other users (mode -rw-rw-rw-)"),
        (0o640, "can be read by your group (mode -rw-r-----)"),
        (0o642, "can be read by your group and can be written by users outside your group"),
    ],
    ids=lambda v: oct(v) if isinstance(v, int) else "",
)
def test_secrets_mode_says_who_can_do_what(root, mode, expect):
    path = root / "config" / "secrets.toml"
    path.write_text('huggingface_token = "hf_x0000000000000"\n')
    path.chmod(mode)
    result = main_cli("--root", str(root), "config", "show", env=NO_SUDO)
    one_line_error(result, f"{path} {expect}", f"chmod 600 {path}")
    assert path.stat().st_mode & 0o777 == mode


@pytest.mark.parametrize(
    "data", ["hf_caf\u00e9\n", "x" * 5000 + "\n", "hf_a\x07b\n"], ids=["non-ascii", "long", "bell"]
)
def test_set_secret_refuses_input_that_is_no_token(root, data):
    result = main_cli("--root", str(root), "config", "set-secret", "huggingface_token", input=data)
    one_line_error(result, "huggingface_token", "paste the token alone")
    assert not (root / "config" / "secrets.toml").exists()
