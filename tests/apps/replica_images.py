"""Offline replicas of the built-in apps' images, for starting the real manifests on the real engine.

Each replica reproduces the part of its upstream image's contract that aiui-tui depends on: the
USER, the WORKDIR, the CMD, the image's own entrypoint script (the real upstream file where
busybox can run it, loaded from ../shared/upstream at build time, never kept in this repository)
with its first-start copying, and where the program reads models and writes images (a shell
stand-in for the Python program, in tests/apps/replicas/<app>/, citing the files it follows).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.conftest import static_busybox

REPLICAS = Path(__file__).parent / "replicas"
APPLETS = (
    "sh", "cp", "mv", "rm", "ln", "mkdir", "chmod", "chown", "cat", "echo", "printf", "id", "pwd", "ls",
    "find", "sed", "tr", "date", "dirname", "basename", "httpd", "test", "[", "[[", "true", "false",
    "sleep", "touch", "env", "grep", "head", "tail", "sort", "wc", "stat",
)  # fmt: skip
PASSWD = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n"
GROUP = "root:x:0:\nuser:x:1000:\n"
# What each app's Dockerfile says, which variants change (see tests of the contract check).
DEFAULTS = {
    "fooocus": {"USER": "user", "WORKDIR": "/content"},
    "comfyui": {"USER": "root", "WORKDIR": "/root"},
    "automatic1111": {"USER": "root"},
}
# Fooocus' models/ folder as its repository has it: placeholders and the prompt expansion's
# tokenizer files (what the entrypoint copies from models.org at every start).
FOOOCUS_MODELS = [
    "checkpoints/put_checkpoints_here",
    "loras/put_loras_here",
    "embeddings/put_embeddings_here",
    "vae_approx/put_vae_approx_here",
    "vae/put_vae_here",
    "upscale_models/put_upscale_models_here",
    "inpaint/put_inpaint_here",
    "controlnet/put_controlnet_here",
    "clip_vision/put_clip_vision_here",
    "prompt_expansion/fooocus_expansion/config.json",
    "prompt_expansion/fooocus_expansion/tokenizer.json",
    "prompt_expansion/fooocus_expansion/positive.txt",
]
COMFYUI_FOLDERS = [
    "checkpoints", "loras", "vae", "vae_approx", "text_encoders", "diffusion_models", "clip_vision",
    "embeddings", "controlnet", "upscale_models", "hypernetworks",
]  # fmt: skip


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _copy(source: Path, dest: Path, mode: int = 0o644) -> None:
    _write(dest, source.read_text(), mode)


def _rootfs(ctx: Path) -> None:
    rootfs = ctx / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy2(static_busybox(), rootfs / "bin" / "busybox")
    for applet in APPLETS:
        (rootfs / "bin" / applet).symlink_to("busybox")
    shutil.copy2(REPLICAS / "common" / "bash", rootfs / "bin" / "bash")
    (rootfs / "usr" / "local" / "bin").mkdir(parents=True)
    shutil.copy2(REPLICAS / "common" / "cp", rootfs / "usr" / "local" / "bin" / "cp")  # GNU's long options
    _copy(REPLICAS / "common" / "lib.sh", rootfs / "replica" / "lib.sh")
    _write(rootfs / "etc" / "passwd", PASSWD)
    _write(rootfs / "etc" / "group", GROUP)
    (rootfs / "tmp").mkdir()


def _entrypoint(source: Path) -> str:
    """The upstream script as it is, but for `cp`: busybox's shell runs its own cp applet for a bare
    `cp`, so the GNU-compatible wrapper is named by its path."""
    script = source.read_text()
    changed, count = re.subn(r"(?<![\w/.-])cp (?=-)", "/usr/local/bin/cp ", script)
    assert count, f"{source}: no cp call found; the upstream script changed, update the replica"
    return changed


def _fooocus(ctx: Path, upstream: Path) -> None:
    # Dockerfile: COPY entrypoint.sh /content/ (the real one); COPY . /content/app; models -> models.org
    _write(ctx / "entrypoint.sh", _entrypoint(upstream / "images" / "fooocus" / "entrypoint.sh"), 0o755)
    _write(ctx / "app" / "launch.py", "# Fooocus' launch.py is replaced by the stand-in `python`\n")
    for name in FOOOCUS_MODELS:
        _write(ctx / "app" / "models" / name, "{}\n" if name.endswith(".json") else "")
    _copy(REPLICAS / "fooocus" / "python", ctx / "rootfs" / "usr" / "local" / "bin" / "python", 0o755)


def _comfyui(ctx: Path, upstream: Path) -> None:
    source = upstream / "images" / "yanwk-comfyui-docker" / "cu126-slim" / "runner-scripts" / "entrypoint.sh"
    _write(ctx / "runner-scripts" / "entrypoint.sh", _entrypoint(source), 0o755)
    for example in ("set-proxy.sh.example", "pre-start.sh.example"):
        _write(ctx / "runner-scripts" / example, "#!/bin/bash\n# example\n", 0o755)
    bundle = ctx / "bundle" / "ComfyUI"
    _write(bundle / "main.py", "# ComfyUI's main.py is replaced by the stand-in `python3`\n")
    for folder in COMFYUI_FOLDERS:
        _write(bundle / "models" / folder / f"put_{folder}_here", "")
    _copy(REPLICAS / "comfyui" / "python3", ctx / "rootfs" / "usr" / "local" / "bin" / "python3", 0o755)


def _automatic1111(ctx: Path, upstream: Path) -> None:
    webui = ctx / "opt" / "stable-diffusion-webui"
    _write(webui / "launch.py", "# A1111's launch.py is replaced by the venv's stand-in `python`\n")
    _write(webui / "models" / "VAE-approx" / "model.pt", "")  # shipped in A1111's repository
    venv = ctx / "opt" / "environments" / "python" / "webui" / "bin"
    _copy(REPLICAS / "automatic1111" / "python", venv / "python", 0o755)
    build = upstream / "images" / "ai-dock-stable-diffusion-webui" / "build" / "COPY_ROOT_1"
    script = "opt/ai-dock/bin/supervisor-webui.sh"  # kept for reference: the replica runs its last step
    _copy(build / script, ctx / script)
    _copy(REPLICAS / "automatic1111" / "init.sh", ctx / "rootfs" / "usr" / "local" / "bin" / "init.sh", 0o755)


_FILES = {"fooocus": _fooocus, "comfyui": _comfyui, "automatic1111": _automatic1111}


def build_replica(client, upstream: Path, app: str, work: Path, tag: str, **changes: str) -> str:
    """Build the replica of `app`'s image as `tag`; `changes` alter its Dockerfile (USER=, WORKDIR=)."""
    ctx = work / tag.replace("/", "_").replace(":", "_")
    shutil.rmtree(ctx, ignore_errors=True)
    ctx.mkdir(parents=True)
    _rootfs(ctx)
    _FILES[app](ctx, upstream)
    dockerfile = (REPLICAS / app / "Dockerfile").read_text()
    for key, value in {**DEFAULTS[app], **changes}.items():
        dockerfile = dockerfile.replace(f"@{key}@", value)
    assert not re.search(r"@[A-Z]+@", dockerfile), "a Dockerfile placeholder was left unset"
    (ctx / "Dockerfile").write_text(dockerfile)
    client.images.build(path=str(ctx), tag=tag, rm=True, forcerm=True)
    return tag
