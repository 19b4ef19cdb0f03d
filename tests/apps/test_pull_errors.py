"""Image pulls that fail say what happened in one whole line with the fix (issue 16, 5): no such
image, no way to reach the registry, a login needed. The engine's raw words go to the log only.

Real registries on 127.0.0.1: the local one (scripts/test), a closed port, and a stand-in that
answers every request with 401 as a registry needing a login does.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time

import pytest

from aiui_tui.core.apps import NOT_CREATED
from aiui_tui.services.apps.errors import AppError
from tests.apps.test_app_cli import run_main
from tests.apps.test_docker_apps import free_port, manifest, open_service

pytestmark = pytest.mark.docker


class LoginRegistry(http.server.BaseHTTPRequestHandler):
    """The registry API's answer without credentials (distribution's `UNAUTHORIZED`)."""

    def do_GET(self) -> None:
        body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="test"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *args) -> None:  # the engine tries TLS first: keep its bad requests quiet
        pass


@pytest.fixture
def login_registry():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), LoginRegistry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def cases(registry: str, login: str, closed: str) -> list[tuple[str, str, str]]:
    """(image, what the line says, a word of the fix)."""
    return [
        (f"{registry}/aiui-test/nope:1", f"no such image on {registry}", "apps.overrides.ghost.image"),
        (f"{closed}/aiui-test/x:1", f"cannot reach {closed} (connection refused)", "check the network"),
        (f"{login}/aiui-test/x:1", f"{login} needs a login", f"docker login {login}"),
    ]


async def test_a_failed_pull_says_what_happened_in_one_whole_line(layout, registry, login_registry, caplog):
    closed = f"127.0.0.1:{free_port()}"
    for image, what, fix in cases(registry, login_registry, closed):
        (layout.user_apps_dir / "ghost.toml").write_text(manifest("ghost", image, free_port()))
        service, _ = await open_service(layout, supervise=False)
        try:
            with pytest.raises(AppError) as err:
                await service.start_app("ghost")
            assert err.value.message == f"Could not pull {image}: {what}.", image
            assert fix in err.value.fix and "\n" not in err.value.fix
            status = service.status("ghost")  # what the card shows: the few words and the fix
            assert status.state == NOT_CREATED and status.reason == f"pull failed: {what}"
            assert status.fix == err.value.fix
        finally:
            await service.close()
    assert "http+docker://" in caplog.text  # the engine's own words are in the log


def test_the_cli_line_is_whole_and_the_update_check_says_it_could_not_run(capsys, layout, login_registry):
    closed = f"127.0.0.1:{free_port()}"
    image = f"{closed}/aiui-test/x:1"
    (layout.user_apps_dir / "ghost.toml").write_text(manifest("ghost", image, free_port()))
    root = ("--root", str(layout.root))
    started = run_main(capsys, *root, "app", "start", "ghost")
    assert started.returncode == 1
    assert started.stderr == (
        f"Error: Could not pull {image}: cannot reach {closed} (connection refused). "
        "Fix: check the network (and the engine's proxy settings), then retry\n"
    )
    checked = run_main(capsys, *root, "app", "check-update", "ghost")
    assert checked.returncode == 1  # a check that could not run is not "up to date"
    assert checked.stderr.startswith(f"Error: Could not check {image} for updates: cannot reach {closed}")
    (layout.user_apps_dir / "ghost.toml").write_text(manifest("ghost", f"{login_registry}/x/y:1", free_port()))
    login = run_main(capsys, *root, "app", "check-update", "ghost")
    assert login.returncode == 1 and f"{login_registry} needs a login" in login.stderr


def test_check_update_exits_zero_when_up_to_date_and_100_when_an_update_exists(
    capsys, layout, registry, busybox_image, docker_client
):
    """Issue 16, 7: scripts can tell the answers apart (dnf check-update's codes)."""
    image = f"{registry}/aiui-test/check:{int(time.time() * 1000)}"
    docker_client.images.get(busybox_image).tag(image)
    for line in docker_client.images.push(image, stream=True, decode=True):
        assert "error" not in line, line
    (layout.user_apps_dir / "checked.toml").write_text(manifest("checked", image, free_port()))
    root = ("--root", str(layout.root))
    try:
        current = run_main(capsys, *root, "app", "check-update", "checked")
        assert current.returncode == 0 and "up to date" in current.stdout, current.output
        docker_client.images.remove(image)  # the registry has it, this engine not: an update to fetch
        update = run_main(capsys, *root, "app", "check-update", "checked", "--json")
        assert update.returncode == 100, update.output
        data = json.loads(update.stdout)
        assert data["update"] == {"available": True, "detail": f"{image} is not pulled yet"}
        assert data["engine"]["available"] is True and "error" not in data
    finally:
        with contextlib.suppress(Exception):
            docker_client.images.remove(image, force=True)


@pytest.mark.parametrize(
    ("raw", "what"),
    [
        (  # Docker Hub answers a missing repository as if it might be private
            "pull access denied for nosuchuser/nosuchimage, repository does not exist or may require "
            "'docker login': denied: requested access to the resource is denied",
            "no such image on docker.io, or it is private",
        ),
        (
            "toomanyrequests: You have reached your pull rate limit.",
            "docker.io refused: its pull rate limit is reached",
        ),
        (
            'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host',
            "cannot reach docker.io (its name does not resolve)",
        ),
        (
            'Get "https://registry-1.docker.io/v2/": net/http: TLS handshake timeout',
            "cannot reach docker.io (timed out)",
        ),
        (
            "failed to register layer: write /usr/lib/x.so: no space left on device",
            "the Docker engine's disk is full",
        ),
        (  # a refusal on the engine's own disk is no login question
            "failed to register layer: open /var/lib/docker/x: permission denied",
            "the engine refused (its words are in logs/aiui.log)",
        ),
    ],
)
def test_the_engines_words_for_docker_hub_are_sorted_too(raw, what):
    """Docker Hub cannot be reached from the tests: its answers, as the engine words them."""
    from aiui_tui.services.apps.pull_errors import classify

    assert classify("nosuchuser/nosuchimage:1", raw).what == what
