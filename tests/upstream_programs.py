"""Run the other programs' own code (pinned in ../shared/upstream) on what aiui-tui writes.

Each function starts a fresh Python process (the upstream modules keep global state and parse
sys.argv at import), runs the upstream module the way that program does at start, and returns what
it concluded as plain data. Nothing is copied into this repository: the modules are imported from
the corpus (Fooocus, which writes beside its code, from a temporary copy of it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_MARK = "@@AIUI-RESULT@@"


@dataclass
class Outcome:
    returncode: int
    result: Any  # the JSON the script printed (None when it failed)
    stderr: str


def run_upstream(code: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> Outcome:
    """Run `code` in a fresh interpreter with `cwd` first on sys.path; `emit(obj)` returns obj as JSON."""
    prelude = (
        "import json as _json, sys as _sys\n"
        f"_sys.path.insert(0, {str(cwd)!r})\n"
        f"def emit(obj):\n    print({_MARK!r} + _json.dumps(obj, default=str))\n"
    )
    full_env = {k: v for k, v in os.environ.items() if k not in ("COMMANDLINE_ARGS", "CMDARGS", "CLI_ARGS")}
    full_env["PYTHONDONTWRITEBYTECODE"] = "1"
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-c", prelude + code],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith(_MARK):
            result = json.loads(line[len(_MARK) :])
    return Outcome(proc.returncode, result, proc.stderr)


# --- ComfyUI -------------------------------------------------------------------------------------


def comfyui_files(upstream: Path, yaml_files: list[Path], kinds: list[str], argv: list[str] | None = None) -> dict:
    """ComfyUI's `folder_paths.get_filename_list(kind)` for each kind after loading `yaml_files`
    with its own `utils/extra_config.load_extra_path_config`, as main.py does at start.
    Returns {"files": {kind: [...]}, "folders": {kind: [...]}}; raises with ComfyUI's error."""
    code = f"""
_sys.argv = ["main.py", *{list(argv or [])!r}]
import comfy.options
comfy.options.enable_args_parsing()  # as main.py does before anything reads comfy.cli_args
import folder_paths
from utils.extra_config import load_extra_path_config
for path in {[str(p) for p in yaml_files]!r}:
    load_extra_path_config(path)
kinds = {kinds!r}
emit({{"files": {{k: folder_paths.get_filename_list(k) for k in kinds}},
       "folders": {{k: folder_paths.get_folder_paths(k) for k in kinds}}}})
"""
    outcome = run_upstream(code, upstream / "comfyui")
    if outcome.returncode != 0 or outcome.result is None:
        raise AssertionError(f"ComfyUI refused it (exit {outcome.returncode}):\n{outcome.stderr[-3000:]}")
    return outcome.result


def comfyui_args(upstream: Path, argv: list[str]) -> Outcome:
    """ComfyUI's own `comfy/cli_args.py` parser on `argv` (exit 2 on an unknown flag)."""
    code = f"""
_sys.argv = ["main.py", *{argv!r}]
import comfy.options
comfy.options.enable_args_parsing()  # as main.py does
from comfy.cli_args import args
emit(vars(args))
"""
    return run_upstream(code, upstream / "comfyui")


# --- AUTOMATIC1111 and Forge -----------------------------------------------------------------------


def webui_args(upstream: Path, flavour: str, commandline_args: str = "", argv: list[str] | None = None) -> Outcome:
    """AUTOMATIC1111's (flavour "automatic1111") or Forge's ("forge") own argument parsing at start:
    COMMANDLINE_ARGS shlex-split by `modules.paths_internal`, the extensions' and built-in
    extensions' preload() flags added, then `parse_args()` (exit 2 on an unknown flag).
    The result also carries paths_internal's `data_path`, `models_path` and `default_output_dir`."""
    code = f"""
_sys.argv = ["launch.py", *{list(argv or [])!r}]
import modules.paths_internal as pi
_sys.modules["modules.paths"] = pi  # the real modules.paths imports torch; these names are the same
from modules import cmd_args, script_loading
script_loading.preload_extensions(pi.extensions_dir, cmd_args.parser)
script_loading.preload_extensions(pi.extensions_builtin_dir, cmd_args.parser)
opts = cmd_args.parser.parse_args()
emit({{"args": vars(opts), "data_path": pi.data_path, "models_path": pi.models_path,
       "default_output_dir": pi.default_output_dir}})
"""
    return run_upstream(code, upstream / flavour, env={"COMMANDLINE_ARGS": commandline_args})


# --- Fooocus -------------------------------------------------------------------------------------

FOOOCUS_PATH_ATTRS = {
    "path_checkpoints": "paths_checkpoints",
    "path_loras": "paths_loras",
    "path_embeddings": "path_embeddings",
    "path_vae_approx": "path_vae_approx",
    "path_vae": "path_vae",
    "path_upscale_models": "path_upscale_models",
    "path_inpaint": "path_inpaint",
    "path_controlnet": "path_controlnet",
    "path_clip_vision": "path_clip_vision",
    "path_fooocus_expansion": "path_fooocus_expansion",
    "path_outputs": "path_outputs",
}


def fooocus_config(upstream: Path, workdir: Path, config_txt: str | None = None, env: dict | None = None) -> dict:
    """Fooocus' own `modules/config.py` at start, in a copy of its code under `workdir` holding
    `config_txt` as config.txt (or the file `config_path` in `env` names). Returns the value of
    every path_* setting as Fooocus holds it after loading, and its model/LoRA/VAE listings."""
    app = workdir / "fooocus-app"
    if not app.exists():
        shutil.copytree(upstream / "fooocus", app)
        for path in [app, *app.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)  # the corpus is read-only; Fooocus writes beside itself
    if config_txt is not None:
        (app / "config.txt").write_text(config_txt, encoding="utf-8")
    code = f"""
_sys.argv = ["launch.py"]
import modules.config as config
config.update_files()
emit({{"paths": {{key: getattr(config, attr) for key, attr in {FOOOCUS_PATH_ATTRS!r}.items()}},
       "models": config.model_filenames, "loras": config.lora_filenames, "vaes": config.vae_filenames}})
"""
    outcome = run_upstream(code, app, env=env)
    if outcome.returncode != 0 or outcome.result is None:
        raise AssertionError(f"Fooocus refused it (exit {outcome.returncode}):\n{outcome.stderr[-3000:]}")
    return outcome.result


# Data roots whose names broke writers before: a space, '#', ': ', quotes and non-ASCII.
HOSTILE_ROOT_NAMES = ("with space", "hash #x", "colon: y", "quote ' and \"", "ünïcødé 模型")
