"""Old CLI spellings (CONTRIBUTING.md, Vocabulary): each still works for one release, says its new name
once on stderr, and is in neither `--help` nor docs/cli.md."""

from __future__ import annotations

import json

import pytest

from aiui_tui.cli.commands import COMMANDS, RENAMED
from tests.conftest import REPO


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    from aiui_tui.cli.main import main

    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def root(tmp_path, capsys, clean_env):
    root = tmp_path / "root"
    assert run_main(capsys, "--root", str(root), "init", "--yes")[0] == 0
    return root


def test_queue_is_downloads_under_its_old_name(root, capsys):
    code, out, err = run_main(capsys, "--root", str(root), "downloads", "add", "http://127.0.0.1:9/a.bin", "--json")
    assert code == 0, err
    assert err == ""  # the new name says nothing more
    item = json.loads(out)["item"]

    code, out, err = run_main(capsys, "--root", str(root), "queue", "list", "--json")
    assert code == 0, err
    assert [i["id"] for i in json.loads(out)["items"]] == [item["id"]]  # the same queue, the same JSON
    assert err.count("`queue` is now `downloads`") == 1

    code, out, err = run_main(capsys, "--root", str(root), "queue", "cancel", item["id"], "--json")
    assert code == 0 and json.loads(out)["removed"] is True, err


def test_models_updates_is_models_check_update_under_its_old_name(root, capsys):
    new = run_main(capsys, "--root", str(root), "models", "check-update")
    old = run_main(capsys, "--root", str(root), "models", "updates")
    assert new[0] == old[0] == 1  # an empty library: nothing could be checked, either way
    assert "Nothing could be checked (the library is empty)" in old[2]
    assert "`models updates` is now `models check-update`" in old[2]
    assert "is now" not in new[2]


def test_old_spellings_are_hidden_from_help_and_the_reference(capsys):
    with pytest.raises(SystemExit):
        run_main(capsys, "--help")
    top = capsys.readouterr().out
    assert "downloads" in top and "queue " not in top.replace("download queue", "")
    with pytest.raises(SystemExit):
        run_main(capsys, "models", "--help")
    models = capsys.readouterr().out
    assert "check-update" in models and "updates  " not in models
    reference = (REPO / "docs/cli.md").read_text()
    assert "aiui-tui queue" not in reference and "aiui-tui models updates" not in reference
    assert set(RENAMED.values()) <= set(COMMANDS) and not set(RENAMED) & set(COMMANDS)


def test_an_old_spelling_with_a_bad_action_is_the_usual_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        run_main(capsys, "queue", "nope")
    assert exited.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
