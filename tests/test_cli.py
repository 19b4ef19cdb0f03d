"""The command line as a user meets it: exit codes, one-line errors, untouched files, plain output."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from aiui_tui import __version__
from tests.cli_inprocess import main_cli
from tests.conftest import REPO, init_root, run_cli

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
    result = main_cli("--help")
    assert result.returncode == 0
    for command in ("init", "doctor", "config"):
        assert command in result.stdout


def test_init_creates_the_layout_and_is_idempotent(tmp_path):
    root = tmp_path / "x"
    first = main_cli("--root", str(root), "init", "--yes")
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
    second = main_cli("--root", str(root), "init", "--yes")
    assert second.returncode == 0 and "nothing to do" in second.stdout
    assert _tree(root) == before


def test_aiui_root_env_is_used(tmp_path):
    root = tmp_path / "from-env"
    result = main_cli("init", "--yes", env={"AIUI_ROOT": str(root)})
    assert result.returncode == 0 and (root / "config" / "aiui.toml").is_file()


def test_init_without_yes_and_without_a_terminal_asks_for_yes(tmp_path):
    result = main_cli("--root", str(tmp_path / "y"), "init", input="")
    assert result.returncode == 2 and f"aiui-tui --root {tmp_path / 'y'} init --yes" in result.stderr
    assert not (tmp_path / "y").exists()


def test_usage_error_is_one_line_exit_2():
    result = main_cli("doctor", "--bogus")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: unrecognized arguments: --bogus")
    _no_traceback(result)


@needs_root
def test_read_only_root_one_line_exit_2(tmp_path):
    mnt = tmp_path / "ro"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True)
    try:
        main_cli("--root", str(mnt / "root"), "init", "--yes")
        before = _tree(mnt)
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        for args in (("init", "--yes"), ("config", "show")):
            result = main_cli("--root", str(mnt / "root"), *args)
            assert result.returncode == 2, result.output
            assert result.stderr.strip() == (
                f"Error: {mnt}/root is on a read-only filesystem. Fix: remount it read-write, "
                "or choose another data root with --root DIR or AIUI_ROOT"
            )
            _no_traceback(result)
        doctor = main_cli("--root", str(mnt / "root"), "doctor", "--json", env={"DOCKER_HOST": "unix:///nonexistent"})
        checks = json.loads(doctor.stdout)["checks"]
        assert {
            "name": "data root",
            "status": "fail",
            "detail": f"{mnt}/root is on a read-only filesystem.",
        }.items() <= (next(c for c in checks if c["name"] == "data root").items())
        assert doctor.returncode == 1 and "Traceback" not in doctor.output
        assert _tree(mnt) == before
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_broken_config_one_line_exit_2_file_untouched(tmp_path):
    root = tmp_path / "r"
    init_root(root)
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
    init_root(root)
    secrets = root / "config" / "secrets.toml"
    secrets.write_text('huggingface_token = "hf_qwertyuiopasdfgh"\n')
    secrets.chmod(0o644)
    result = main_cli("--root", str(root), "doctor")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"Error: {secrets} can be read by other users (mode -rw-r--r--); it holds secrets. Fix: chmod 600 {secrets}"
    )
    assert "hf_qwertyuiopasdfgh" not in result.output
    assert secrets.stat().st_mode & 0o777 == 0o644


def test_config_set_keeps_comments_and_rejects_bad_values(tmp_path):
    root = tmp_path / "r"
    init_root(root)
    ok = main_cli("--root", str(root), "config", "set", "downloads.concurrent", "3")
    assert ok.returncode == 0 and "downloads.concurrent = 3" in ok.stdout
    text = (root / "config" / "aiui.toml").read_text()
    assert "# Downloads that run at the same time.\nconcurrent = 3" in text
    bad = main_cli("--root", str(root), "config", "set", "downloads.concurrent", "zero")
    assert bad.returncode == 2 and "downloads.concurrent" in bad.stderr
    assert (root / "config" / "aiui.toml").read_text() == text
    got = main_cli("--root", str(root), "config", "get", "downloads.concurrent")
    assert got.stdout.strip() == "3"


def test_binding_all_interfaces_warns(tmp_path):
    init_root(tmp_path / "r")
    result = main_cli("--root", str(tmp_path / "r"), "config", "set", "network.bind_address", "0.0.0.0")
    assert result.returncode == 0
    assert "Warning: apps will listen on 0.0.0.0" in result.stderr


def test_set_secret_from_stdin_is_private_and_not_echoed(tmp_path):
    root = tmp_path / "r"
    init_root(root)
    result = main_cli(
        "--root", str(root), "config", "set-secret", "huggingface_token", input="hf_fromstdin1234567890\n"
    )
    assert result.returncode == 0, result.output
    assert "hf_fromstdin1234567890" not in result.output
    secrets = root / "config" / "secrets.toml"
    assert secrets.stat().st_mode & 0o777 == 0o600
    assert 'huggingface_token = "hf_fromstdin1234567890"' in secrets.read_text()


def test_output_is_plain_when_not_a_terminal_or_no_color(tmp_path):
    root = tmp_path / "r"
    for env in ({}, {"NO_COLOR": "1", "FORCE_COLOR": ""}):
        result = main_cli("--root", str(root), "init", "--yes", env=env)
        assert "\x1b[" not in result.output
    colored = main_cli("--root", str(root), "config", "set", "downloads.retries", "2", env={"FORCE_COLOR": "1"})
    assert "\x1b[32m" in colored.stdout  # green success when colours are forced on


def test_unexpected_error_is_one_line_and_logged(tmp_path, monkeypatch, capsys):
    """A bug in a command never prints a traceback: one line on screen, the traceback in the log."""
    from aiui_tui.cli import doctor_cmd
    from aiui_tui.cli.main import main

    def broken(ctx):
        raise RuntimeError("kaboom at https://x.test/f?token=abc123xyz")

    monkeypatch.setattr(doctor_cmd, "run", broken)
    root = tmp_path / "r"
    init_root(root)
    assert main(["--root", str(root), "doctor"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "Error: Unexpected error: RuntimeError: kaboom at https://x.test/f?token=[REDACTED] "
        f"Fix: details are in {root}/logs/aiui.log; please report it"
    )
    log = (root / "logs" / "aiui.log").read_text()
    assert "Traceback (most recent call last)" in log and "in broken" in log
    assert "abc123xyz" not in log


def test_dashboard_without_a_terminal_says_so(tmp_path):
    result = main_cli("--root", str(tmp_path / "r"))
    assert result.returncode == 2
    assert "the dashboard needs a terminal" in result.stderr


def run_main(capsys, *args: str):
    """`aiui-tui ARGS` in this process: (exit code, stdout, stderr)."""
    from aiui_tui.cli.main import main

    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "command",
    [
        ("config", "show"),
        ("config", "set", "downloads.retries", "2"),
        ("stats",),
        ("app", "list"),
        ("downloads", "list"),
        ("models", "list"),
    ],
)
def test_a_missing_root_is_refused_in_one_line_and_nothing_is_created(capsys, tmp_path, command, monkeypatch):
    """A mistyped --root must not become a fresh data root: only init and the wizard create one."""
    monkeypatch.delenv("AIUI_PROG", raising=False)
    root = tmp_path / "typo"
    code, out, err = run_main(capsys, "--root", str(root), *command)
    assert code == 2 and out == ""
    assert err.strip() == (
        f"Error: There is no data root at {root}. "
        f"Fix: create it with `aiui-tui --root {root} init`, or name the right one with --root DIR"
    )
    assert not root.exists()


def test_commands_fill_in_the_folders_an_existing_root_lacks_without_writing_settings(capsys, tmp_path):
    root = tmp_path / "mine"
    root.mkdir()
    code, out, _err = run_main(capsys, "--root", str(root), "config", "get", "downloads.retries")
    assert code == 0 and out.strip().isdigit()
    assert (root / "models" / "checkpoints").is_dir() and (root / "state").is_dir()
    assert not (root / "config" / "aiui.toml").exists()  # the dashboard's first-run wizard still opens


@pytest.mark.parametrize("where", ["root", "parent"])
@pytest.mark.parametrize("command", [("init", "--yes"), ("config", "show"), ()])
def test_a_root_that_is_a_file_or_under_one_is_one_line_naming_another_root(capsys, tmp_path, where, command):
    """Outside the root nothing is ours: the fix never moves the file in the way (`--root /etc/passwd/x`)."""
    file = tmp_path / "notes.txt"
    file.write_text("keep me")
    root = file if where == "root" else file / "x"
    code, out, err = run_main(capsys, "--root", str(root), *command)
    assert code == 2 and out == ""
    what = (
        f"{file} is a file, not a folder: it cannot be the data root."
        if where == "root"
        else (f"{root} cannot be created: {file} is a file, not a folder.")
    )
    assert err.strip() == f"Error: {what} Fix: choose another data root with --root DIR or AIUI_ROOT"
    assert file.read_text() == "keep me"


@needs_root
def test_a_root_under_a_folder_the_user_cannot_write_is_one_line():
    base = Path(tempfile.mkdtemp(prefix="aiui-perm-"))  # pytest's tmp_path is under a 0700 folder
    base.chmod(0o755)
    parent = base / "shared"
    parent.mkdir(mode=0o755)
    for command in (("init", "--yes"), ("config", "show")):
        result = run_cli("--root", str(parent / "ai"), *command, user=65534)
        assert result.returncode == 2, result.output
        assert result.stderr.strip() == (
            f"Error: {parent}/ai cannot be created: you (nobody) cannot write to {parent}. "
            f"Fix: choose another data root with --root DIR or AIUI_ROOT, or have it made for you: "
            f"sudo mkdir -p {parent}/ai && sudo chown nobody: {parent}/ai"
        )
    assert not (parent / "ai").exists()
    shutil.rmtree(base)


def test_doctor_reports_a_bad_root_among_the_other_checks(capsys, tmp_path, monkeypatch):
    from aiui_tui.services import doctor

    async def no_internet(_ctx):  # the boundary tests may not cross
        return []

    monkeypatch.setattr(doctor, "check_network", no_internet)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    file = tmp_path / "passwd"
    file.write_text("root:x:0:0\n")
    code, out, err = run_main(capsys, "--root", str(file / "x"), "doctor", "--json")
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert code == 1 and err == ""
    assert checks["data root"]["detail"] == f"{file}/x cannot be created: {file} is a file, not a folder."
    assert "mv " not in checks["data root"]["fix"]
    assert checks["docker"]["status"] == "fail" and checks["python"]["status"] == "ok"


def test_doctor_on_a_missing_root_says_how_to_create_it_as_invoked(capsys, tmp_path, monkeypatch):
    from aiui_tui.services import doctor

    async def no_internet(_ctx):
        return []

    monkeypatch.setattr(doctor, "check_network", no_internet)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    monkeypatch.setenv("AIUI_PROG", "scripts/run")
    root = tmp_path / "new root"
    code, out, _err = run_main(capsys, "--root", str(root), "doctor", "--json")
    (check,) = [c for c in json.loads(out)["checks"] if c["name"] == "data root"]
    assert check == {
        "name": "data root",
        "status": "warn",
        "detail": f"{root} does not exist yet",
        "fix": f"create it: scripts/run --root '{root}' init",
    }
    assert not root.exists() and code == 1  # docker fails


def test_init_names_the_next_commands_as_the_user_invoked_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("AIUI_PROG", "scripts/run")
    root = tmp_path / "my ai"
    code, out, _err = run_main(capsys, "--root", str(root), "init", "--yes")
    assert code == 0
    assert out.strip().splitlines()[-1] == (
        f"Next: `scripts/run --root '{root}' doctor` checks Docker and the GPU; "
        f"`scripts/run --root '{root}'` opens the dashboard."
    )
    monkeypatch.delenv("AIUI_PROG")
    monkeypatch.setenv("AIUI_ROOT", str(tmp_path / "env-root"))
    code, out, _err = run_main(capsys, "init", "--yes")
    assert out.strip().splitlines()[-1] == (
        "Next: `aiui-tui doctor` checks Docker and the GPU; `aiui-tui` opens the dashboard."
    )


def test_scripts_run_names_itself_for_the_hints():
    script = (REPO / "scripts" / "run").read_text()
    exported = subprocess.run(
        ["bash", "-c", 'set -- ; eval "$(grep AIUI_PROG= "$0")"; echo "$AIUI_PROG"', str(REPO / "scripts" / "run")],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
    )
    assert 'exec "$venv/bin/aiui-tui"' in script and exported.stdout.strip() == str(REPO / "scripts" / "run")


def test_unexpected_error_without_a_log_does_not_point_at_one(tmp_path, monkeypatch, capsys):
    from aiui_tui.cli import doctor_cmd

    def broken(ctx):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(doctor_cmd, "run", broken)
    code, _out, err = run_main(capsys, "--root", str(tmp_path / "none"), "doctor")
    assert code == 1 and "logs/aiui.log" not in err
    assert err.strip().endswith(
        "please report it with the command you ran (no log was written: the data root has no logs folder)"
    )


@pytest.mark.parametrize("command", [("config", "show"), ("stats", "--json")])
def test_a_closed_pipe_ends_quietly_like_coreutils(tmp_path, command):
    """`aiui-tui stats --json | head -c0`: no 'Unexpected error', no traceback, the SIGPIPE exit status."""
    init_root(tmp_path / "r")
    env = {k: v for k, v in os.environ.items() if k != "AIUI_ROOT"} | {"DOCKER_HOST": "unix:///nonexistent.sock"}
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte is written
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "aiui_tui", "--root", str(tmp_path / "r"), *command],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert proc.stderr == "" and proc.returncode == 141


def test_stats_measures_cpu_over_an_interval_under_load(capsys, tmp_path, monkeypatch):
    """A busy process (`yes`) shows as CPU use, not 0.0%."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    init_root(tmp_path / "r")
    busy = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)
    try:
        code, out, _err = run_main(capsys, "--root", str(tmp_path / "r"), "stats", "--json")
    finally:
        busy.kill()
        busy.wait()
    system = json.loads(out)["system"]
    assert code == 0
    assert system["cpu_percent"] > 0 and max(system["cpu_per_core"]) > 0
