"""ModelRef: the one parse/format pair for what `models add` takes and the model browser queues
(issue 18.4), and the `models` command's table of actions."""

from __future__ import annotations

import argparse

import pytest

from aiui_tui.cli import models_cmd
from aiui_tui.core.errors import EXIT_USAGE, UsageError
from aiui_tui.core.library import CATALOG, CIVITAI, HF, URL, ModelRef
from tests.cli_inprocess import main_cli
from tests.conftest import init_root

GOOD = [
    ("sdxl-base-1.0", ModelRef(CATALOG, "sdxl-base-1.0")),
    ("hf:org/repo", ModelRef(HF, "org/repo")),
    ("hf:org/repo/sub/dir/model.safetensors", ModelRef(HF, "org/repo/sub/dir/model.safetensors")),
    ("hf:org/repo/model.safetensors@refs/pr/1", ModelRef(HF, "org/repo/model.safetensors", "refs/pr/1")),
    ("civitai:4201", ModelRef(CIVITAI, "4201")),
    ("civitai:4201@130072", ModelRef(CIVITAI, "4201", "130072")),
    ("https://huggingface.co/org/repo/resolve/main/a.safetensors", ModelRef(URL, "https://huggingface.co/org/repo/resolve/main/a.safetensors")),
    ("http://127.0.0.1:9/a.bin", ModelRef(URL, "http://127.0.0.1:9/a.bin")),
    ("mirror:some-model", ModelRef("mirror", "some-model")),
]  # fmt: skip


@pytest.mark.parametrize(("text", "ref"), GOOD)
def test_parse_and_format_round_trip(text, ref):
    assert ModelRef.parse(text) == ref
    assert str(ref) == text
    assert ModelRef.parse(str(ref)) == ref


def test_parts_of_a_huggingface_ref_and_search_hits():
    ref = ModelRef.parse("hf:org/repo/sub/model.safetensors@v2")
    assert (ref.hf_repo, ref.hf_path, ref.version) == ("org/repo", "sub/model.safetensors", "v2")
    assert ModelRef.parse("hf:org/repo").hf_path == ""
    assert ModelRef.parse("  hf:/org/repo/  ") == ModelRef(HF, "org/repo")
    assert ModelRef.for_search_hit("huggingface", "org/repo") == ModelRef(HF, "org/repo")
    assert ModelRef.for_search_hit("catalog", "sdxl-base-1.0") == ModelRef(CATALOG, "sdxl-base-1.0")
    assert ModelRef.for_search_hit("civitai", "7") == ModelRef(CIVITAI, "7")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "No model named."),
        ("   ", "No model named."),
        ("hf:", "Not a HuggingFace repo: 'hf:'."),
        ("hf:owner", "Not a HuggingFace repo: 'hf:owner'."),
        ("hf:owner//file", "Not a HuggingFace repo"),
        ("hf:owner/repo@", "Not a HuggingFace repo"),
        ("civitai:", "Not a CivitAI model: 'civitai:'."),
        ("civitai:abc", "Not a CivitAI model"),
        ("civitai:12@", "Not a CivitAI model"),
        ("civitai:12@v2", "Not a CivitAI model"),
        (":x", "Not a model reference: ':x'."),
        ("mirror:", "Not a model reference"),
        ("no such/thing:x", "Not a model reference"),
    ],
)
def test_bad_input_is_one_usage_error_line_with_a_fix(text, message):
    with pytest.raises(UsageError) as raised:
        ModelRef.parse(text)
    error = raised.value
    assert error.message.startswith(message) and error.fix
    assert error.exit_code == EXIT_USAGE and "\n" not in error.one_line()


def test_models_add_with_a_bad_ref_says_so_in_one_line(tmp_path, clean_env):
    root = init_root(tmp_path / "root").root
    result = main_cli("--root", str(root), "models", "add", "civitai:latest")
    assert result.returncode == EXIT_USAGE, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Not a CivitAI model: 'civitai:latest'." in lines[0] and "Fix:" in lines[0]
    assert "Traceback" not in result.output


def test_every_models_action_has_its_entry_in_the_table():
    commands = argparse.ArgumentParser().add_subparsers()
    models_cmd.register(commands)
    models = commands.choices["models"]
    actions = next(a for a in models._actions if isinstance(a, argparse._SubParsersAction))
    # `check-update` and its hidden old spelling `updates` both run the "updates" action
    reached = {name: parser.get_default("action") or name for name, parser in actions.choices.items()}
    assert set(reached.values()) == set(models_cmd.ACTIONS)
    assert reached["check-update"] == reached["updates"] == "updates"
