"""`aiui-tui download` and `queue add` in-process: a failed one-shot leaves nothing behind, a
corrected URL goes through, `--json` for scripts."""

from __future__ import annotations

import asyncio
import hashlib
import json

from aiui_tui.cli.main import main
from tests.downloads.conftest import payload
from tests.downloads.fault_server import Fault

MiB = 1024 * 1024


async def run(root, capsys, *args: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, ["--root", str(root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def queue_items(root, capsys) -> list[dict]:
    code, out, err = await run(root, capsys, "downloads", "list", "--json")
    assert code == 0, err
    return json.loads(out)["items"]


def everything_in(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


async def test_a_failed_download_leaves_nothing_and_the_corrected_url_goes_through(server, layout, capsys, clean_env):
    root, models = layout.root, layout.kind_dir("checkpoints")
    wrong = f"{server.base}/f/typo.bin"
    code, _, err = await run(root, capsys, "download", wrong, "--kind", "checkpoints", "--name", "m.bin")
    assert code == 1 and "Not found (HTTP 404)" in err and "Traceback" not in err
    assert await queue_items(root, capsys) == []  # not left in the shared queue
    assert everything_in(models) == []

    refused = server.add("r.bin", payload(1000), Fault(statuses=[403]))
    code, _, err = await run(root, capsys, "download", refused, "--kind", "checkpoints", "--name", "m.bin")
    assert code == 1 and "refused access (HTTP 403)" in err
    assert await queue_items(root, capsys) == [] and everything_in(models) == []

    data = payload(MiB)
    right = server.add("m.bin", data)
    code, out, err = await run(root, capsys, "download", right, "--kind", "checkpoints", "--name", "m.bin")
    assert code == 0, err
    assert out.strip() == str(models / "m.bin") and (models / "m.bin").read_bytes() == data


async def test_a_connection_lost_after_some_bytes_keeps_them_paused_for_the_same_command(
    server, layout, capsys, clean_env, tmp_path
):
    data = payload(2 * MiB)
    url = server.add("cut.bin", data, Fault(cut_at=[MiB]))
    args = ("download", url, "--dest", str(tmp_path), "--retries", "0", "--connections", "1")
    code, _, err = await run(layout.root, capsys, *args)
    assert code == 1 and "run the same command again to resume" in err
    (item,) = await queue_items(layout.root, capsys)
    assert item["state"] == "paused"
    code, _, err = await run(layout.root, capsys, *args)
    assert code == 0, err
    assert (tmp_path / "cut.bin").read_bytes() == data
    assert server.bytes_sent("cut.bin") < len(data) + MiB  # resumed, not fetched again


async def test_queue_add_and_download_print_json_for_scripts(server, layout, capsys, clean_env, tmp_path):
    data = payload(1000)
    url = server.add("j.bin", data)
    sha = hashlib.sha256(data).hexdigest()
    code, out, err = await run(layout.root, capsys, "downloads", "add", url, "--dest", str(tmp_path), "--json")
    assert code == 0, err
    added = json.loads(out)
    assert added["new"] is True and added["queue_running"] is False
    assert added["item"]["state"] == "pending" and added["item"]["name"] == "j.bin"
    code, out, _ = await run(layout.root, capsys, "downloads", "add", url, "--dest", str(tmp_path), "--json")
    again = json.loads(out)
    assert again["new"] is False and again["item"]["id"] == added["item"]["id"]

    code, out, err = await run(layout.root, capsys, "download", url, "--dest", str(tmp_path), "--sha256", sha, "--json")
    assert code == 0, err
    done = json.loads(out)["item"]
    assert done["state"] == "done" and done["result_sha256"] == sha and done["id"] == added["item"]["id"]


async def test_every_queue_change_prints_json_for_scripts(server, layout, capsys, clean_env, tmp_path):
    """pause, resume, move, cancel and retry answer with the item, like `download --json`."""
    ids = []
    for name in ("a.bin", "b.bin"):
        url = server.add(name, payload(1000))
        code, out, err = await run(layout.root, capsys, "downloads", "add", url, "--dest", str(tmp_path), "--json")
        assert code == 0, err
        ids.append(json.loads(out)["item"]["id"])
    first, second = ids

    async def answer(*args: str) -> dict:
        code, out, err = await run(layout.root, capsys, "downloads", *args, "--json")
        assert code == 0, err
        return json.loads(out)["item"]

    assert (await answer("pause", first))["state"] == "paused"
    assert (await answer("resume", first))["state"] == "pending"
    moved = await answer("move", second, "up")
    assert moved["id"] == second and [i["id"] for i in await queue_items(layout.root, capsys)][:2] == [second, first]
    code, out, err = await run(layout.root, capsys, "downloads", "cancel", second, "--json")
    assert code == 0, err
    cancelled = json.loads(out)
    assert cancelled["item"]["id"] == second and cancelled["removed"] is True
    assert [i["id"] for i in await queue_items(layout.root, capsys)] == [first]
    code, out, err = await run(layout.root, capsys, "downloads", "retry", first, "--json")
    assert code == 2 and out == ""  # one line, no JSON
    assert err == (
        f"Error: Download {first} is pending; only a failed or paused download can be retried."
        " Fix: see `aiui-tui downloads list`\n"
    )
