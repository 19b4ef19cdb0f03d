"""The command line as a user meets it: exit codes, one-line errors, untouched files, plain output."""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest

from aiui_tui import __version__
from tests.conftest import run_cli

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")


def _tree(root):
    return {str(p.relative_to(root)): (p.is_dir(), p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def _no_traceback(result):
    assert "Traceback" not in result.output
    assert result.output.count("\n") <= 2, result.output


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"aiui-tui {__version__}"


def test_help_lists_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("init", "doctor", "config"):
        assert command in result.stdout


def test_init_creates_the_layout_and_is_idempotent(tmp_path):
    root = tmp_path / "x"
    first = run_cli("--root", str(root), "init", "--yes")
    assert first.returncode == 0, first.output
    assert "Data root ready" in first.stdout
    for rel in (
        "config/aiui.toml",
        "models/checkpoints",
        "models/loras",
        "outputs/comfyui",
        "config/apps",
        "config/plugins",
        "logs",
        "plugins",
    ):
        assert (root / rel).exists(), rel
    before = _tree(root)
    second = run_cli("--root", str(root), "init", "--yes")
    assert second.returncode == 0 and "nothing to do" in second.stdout
    assert _tree(root) == before


def test_aiui_root_env_is_used(tmp_path):
    root = tmp_path / "from-env"
    result = run_cli("init", "--yes", env={"AIUI_ROOT": str(root)})
    assert result.returncode == 0 and (root / "config" / "aiui.toml").is_file()


def test_init_without_yes_and_without_a_terminal_asks_for_yes(tmp_path):
    result = run_cli("--root", str(tmp_path / "y"), "init", input="")
    assert result.returncode == 2 and "aiui-tui init --yes" in result.stderr
    assert not (tmp_path / "y").exists()


def test_usage_error_is_one_line_exit_2():
    result = run_cli("doctor", "--bogus")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: unrecognized arguments: --bogus")
    _no_traceback(result)


@needs_root
def test_read_only_root_one_line_exit_2(tmp_path):
    mnt = tmp_path / "ro"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True)
    try:
        run_cli("--root", str(mnt / "root"), "init", "--yes")
        before = _tree(mnt)
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        for args in (("init", "--yes"), ("doctor",), ("config", "show")):
            result = run_cli("--root", str(mnt / "root"), *args)
            assert result.returncode == 2, result.output
            assert result.stderr.strip() == (
                f"Error: {mnt}/root is on a read-only filesystem. Fix: remount it read-write, "
                "or choose another data root with --root DIR or AIUI_ROOT"
            )
            _no_traceback(result)
        assert _tree(mnt) == before
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_broken_config_one_line_exit_2_file_untouched(tmp_path):
    root = tmp_path / "r"
    run_cli("--root", str(root), "init", "--yes")
    cfg = root / "config" / "aiui.toml"
    cfg.write_text(cfg.read_text().replace('log_level = "INFO"', 'log_level = "INFO'))
    digest = hashlib.sha256(cfg.read_bytes()).hexdigest()
    result = run_cli("--root", str(root), "doctor")
    assert result.returncode == 2
    assert result.stderr.startswith(f"Error: {cfg} line 8")
    assert "TOML syntax error" in result.stderr and "Fix:" in result.stderr
    _no_traceback(result)
    assert hashlib.sha256(cfg.read_bytes()).hexdigest() == digest


def test_world_readable_secrets_one_line_exit_2(tmp_path):
    root = tmp_path / "r"
    run_cli("--root", str(root), "init", "--yes")
    secrets = root / "config" / "secrets.toml"
    secrets.write_text('huggingface_token = "hf_qwertyuiopasdfgh"\n')
    secrets.chmod(0o644)
    result = run_cli("--root", str(root), "doctor")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"Error: {secrets} can be read by other users (mode -rw-r--r--); it holds secrets. Fix: chmod 600 {secrets}"
    )
    assert "hf_qwertyuiopasdfgh" not in result.output
    assert secrets.stat().st_mode & 0o777 == 0o644


def test_config_set_keeps_comments_and_rejects_bad_values(tmp_path):
    root = tmp_path / "r"
    ok = run_cli("--root", str(root), "config", "set", "downloads.concurrent", "3")
    assert ok.returncode == 0 and "downloads.concurrent = 3" in ok.stdout
    text = (root / "config" / "aiui.toml").read_text()
    assert "# Downloads that run at the same time.\nconcurrent = 3" in text
    bad = run_cli("--root", str(root), "config", "set", "downloads.concurrent", "zero")
    assert bad.returncode == 2 and "downloads.concurrent" in bad.stderr
    assert (root / "config" / "aiui.toml").read_text() == text
    got = run_cli("--root", str(root), "config", "get", "downloads.concurrent")
    assert got.stdout.strip() == "3"


def test_binding_all_interfaces_warns(tmp_path):
    result = run_cli("--root", str(tmp_path / "r"), "config", "set", "network.bind_address", "0.0.0.0")
    assert result.returncode == 0
    assert "Warning: apps will listen on 0.0.0.0" in result.stderr


def test_set_secret_from_stdin_is_private_and_not_echoed(tmp_path):
    root = tmp_path / "r"
    result = run_cli("--root", str(root), "config", "set-secret", "huggingface_token", input="hf_fromstdin1234567890\n")
    assert result.returncode == 0, result.output
    assert "hf_fromstdin1234567890" not in result.output
    secrets = root / "config" / "secrets.toml"
    assert secrets.stat().st_mode & 0o777 == 0o600
    assert 'huggingface_token = "hf_fromstdin1234567890"' in secrets.read_text()


def test_output_is_plain_when_not_a_terminal_or_no_color(tmp_path):
    root = tmp_path / "r"
    for env in ({}, {"NO_COLOR": "1", "FORCE_COLOR": ""}):
        result = run_cli("--root", str(root), "init", "--yes", env=env)
        assert "\x1b[" not in result.output
    colored = run_cli("--root", str(root), "config", "set", "downloads.retries", "2", env={"FORCE_COLOR": "1"})
    assert "\x1b[32m" in colored.stdout  # green success when colours are forced on


def test_unexpected_error_is_one_line_and_logged(tmp_path, monkeypatch, capsys):
    """A bug in a command never prints a traceback: one line on screen, the traceback in the log."""
    from aiui_tui.cli import doctor_cmd
    from aiui_tui.cli.main import main

    def broken(ctx):
        raise RuntimeError("kaboom at https://x.test/f?token=abc123xyz")

    monkeypatch.setattr(doctor_cmd, "run", broken)
    root = tmp_path / "r"
    assert main(["--root", str(root), "doctor"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "Error: Unexpected error: RuntimeError: kaboom at https://x.test/f?token=[REDACTED] "
        "Fix: details are in logs/aiui.log; please report it"
    )
    log = (root / "logs" / "aiui.log").read_text()
    assert "Traceback (most recent call last)" in log and "in broken" in log
    assert "abc123xyz" not in log


def test_dashboard_without_a_terminal_says_so(tmp_path):
    result = run_cli("--root", str(tmp_path / "r"))
    assert result.returncode == 2
    assert "the dashboard needs a terminal" in result.stderr
