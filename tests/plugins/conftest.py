"""Plugin fixtures: folder plugins written into a temp data root, the repo's example plugins copied
there, and a webhook receiver on 127.0.0.1 that records every POST."""

from __future__ import annotations

import contextlib
import json
import shutil
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from tests.conftest import REPO
from tests.http_server import serve


def write_plugin(root: Path, name: str, code: str, *, api: str = "1.0", version: str = "0.1.0") -> Path:
    folder = root / "plugins" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plugin.toml").write_text(
        f'name = "{name}"\nversion = "{version}"\ndescription = "test plugin {name}"\napi = "{api}"\n'
    )
    (folder / "plugin.py").write_text(textwrap.dedent(code))
    return folder


def copy_example(root: Path, name: str) -> Path:
    dest = root / "plugins" / name
    shutil.copytree(REPO / "plugins" / name, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def enable(root: Path, name: str, **settings) -> Path:
    folder = root / "config" / "plugins"
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["enabled = true"] + [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    path = folder / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)  # settings may hold secrets: others must not read them (as `plugins enable` writes it)
    return path


@dataclass
class Receiver:
    url: str = ""
    posts: list[dict] = field(default_factory=list)  # {"body": parsed JSON, "raw": bytes, "headers": {...}}

    def events(self) -> list[str]:
        return [p["body"]["event"] for p in self.posts]


@contextlib.asynccontextmanager
async def webhook_receiver(status: int = 200) -> AsyncIterator[Receiver]:
    receiver = Receiver()

    async def hook(request: web.Request) -> web.Response:
        raw = await request.read()
        receiver.posts.append({"body": json.loads(raw), "raw": raw, "headers": dict(request.headers)})
        return web.Response(status=status, text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    async with serve(app) as base:
        receiver.url = base + "/hook"
        yield receiver
