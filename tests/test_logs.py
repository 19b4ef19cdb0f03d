"""Logging: JSON lines in the file, rotation at 10 MB keeping 5, secrets redacted everywhere."""

from __future__ import annotations

import json
import logging

import pytest

from aiui_tui.logs import BACKUP_COUNT, MAX_BYTES, REDACTED, get_logger, register_secret, setup_logging
from tests.conftest import REPO


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / "aiui.log"
    setup_logging(path, "DEBUG")
    yield path
    setup_logging(tmp_path / "after.log", "INFO")  # release the file


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_structlog_and_stdlib_lines_are_json_with_levels(log_file):
    get_logger("aiui_tui.test").info("hello", answer=42)
    logging.getLogger("aiohttp.client").warning("from a library %s", "x")
    get_logger("aiui_tui.test").debug("details")
    lines = _lines(log_file)
    assert [(line["event"], line["level"]) for line in lines] == [
        ("hello", "info"),
        ("from a library x", "warning"),
        ("details", "debug"),
    ]
    assert lines[0]["answer"] == 42 and lines[0]["logger"] == "aiui_tui.test" and "timestamp" in lines[0]


def test_level_filters(tmp_path):
    path = tmp_path / "w.log"
    setup_logging(path, "WARNING")
    get_logger("x").info("hidden")
    get_logger("x").error("shown")
    assert [line["event"] for line in _lines(path)] == ["shown"]


def test_errors_carry_the_full_traceback(log_file):
    def inner():
        raise ValueError("deep problem")

    try:
        inner()
    except ValueError:
        get_logger("x").exception("it broke")
    line = _lines(log_file)[-1]
    assert line["level"] == "error"
    assert "Traceback (most recent call last)" in line["exception"]
    assert "in inner" in line["exception"] and "ValueError: deep problem" in line["exception"]


def test_secrets_redacted_wherever_they_appear(log_file):
    register_secret("civitai-secret-value-1")
    log = get_logger("x")
    log.info(
        "request",
        headers={"Authorization": "Bearer hf_abcdefghijklmnopqrstu", "Accept": "*/*"},
        url="https://civitai.com/api/download/models/1?token=abc123secret&type=Model",
    )
    log.info("raw header text: Authorization: Bearer sk-live-123456789 sent")
    log.info("configured", huggingface_token="hf_zzzzzzzzzzzzzzzzzz", api_key="k-1234567")
    logging.getLogger("urllib3").warning("GET %s", "/x?api_key=leaky&b=1")
    try:
        raise RuntimeError("failed with token civitai-secret-value-1 in message")
    except RuntimeError:
        log.exception("boom")
    text = log_file.read_text()
    for secret in (
        "hf_abcdefghijklmnopqrstu",
        "abc123secret",
        "sk-live-123456789",
        "hf_zzzzzzzzzzzzzzzzzz",
        "k-1234567",
        "leaky",
        "civitai-secret-value-1",
    ):
        assert secret not in text, secret
    lines = _lines(log_file)
    assert lines[0]["headers"] == {"Authorization": REDACTED, "Accept": "*/*"}
    assert lines[0]["url"].endswith(f"?token={REDACTED}&type=Model")
    assert REDACTED in lines[-1]["exception"]


def test_logs_rotate_at_10_mib_by_default(log_file):
    import logging

    from aiui_tui import logs

    assert MAX_BYTES == 10 * 1024 * 1024 and BACKUP_COUNT == 5
    assert logs._handler is not None and logs._handler.maxBytes == MAX_BYTES
    assert logs._handler.backupCount == BACKUP_COUNT
    assert logs._handler in logging.getLogger().handlers
    guide = (REPO / "docs" / "user-guide.md").read_text()  # what the user is told
    assert "aiui.log (JSON lines, rotated at 10 MB, 5 old files kept)" in guide
    assert "It rotates at 10 MB and keeps five older" in guide


def test_rotation_keeps_five_old_files_of_whole_lines(tmp_path):
    # The size is a parameter so the rotation is tested on 200 KiB files, not 70 MB of writes.
    limit = 200 * 1024
    log_file = tmp_path / "aiui.log"
    setup_logging(log_file, "DEBUG", max_bytes=limit)
    try:
        log = get_logger("bulk")
        payload = "x" * 2000
        for i in range((limit * 7) // 2100):
            log.info("bulk", n=i, payload=payload)
        files = sorted(log_file.parent.glob("aiui.log*"))
        assert [f.name for f in files] == ["aiui.log"] + [f"aiui.log.{i}" for i in range(1, BACKUP_COUNT + 1)]
        for f in files:
            assert f.stat().st_size <= limit
        assert all(f.stat().st_size > limit * 0.9 for f in files[1:])
        # Every rotated file is still whole JSON lines.
        for f in files:
            for line in f.read_text().splitlines():
                json.loads(line)
    finally:
        setup_logging(tmp_path / "after.log", "INFO")


def test_structlog_style_calls_keep_their_shape(log_file, caplog):
    """The logger is structlog's API on the standard library: bound values, %-arguments, the
    caller's line for other handlers, and no structlog (or rich) imported."""
    import subprocess
    import sys

    log = get_logger("aiui_tui.shape").bind(app="comfyui")
    log.warning("container %s stopped", "c1", code=137)
    log.bind(token="hf_abcdefghijklmnop").info("bound secret")
    line, secret = _lines(log_file)[-2:]
    assert (line["event"], line["app"], line["code"], line["level"]) == (
        "container c1 stopped",
        "comfyui",
        137,
        "warning",
    )
    assert secret["token"] == REDACTED
    record = next(r for r in caplog.records if r.name == "aiui_tui.shape")
    assert record.filename == "test_logs.py" and "code=137" in record.getMessage()
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, aiui_tui.logs; print('structlog' in sys.modules, 'rich' in sys.modules)"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split()  # fmt: skip
    assert loaded == ["False", "False"]
