"""Fixtures of the app tests."""

from __future__ import annotations

import pytest

from aiui_tui.services.apps.spec import LABEL_ROOT


@pytest.fixture
async def cleanup(docker_client, layout):
    """Remove the containers the test created for its data root."""
    yield
    for c in docker_client.containers.list(all=True, filters={"label": f"{LABEL_ROOT}={layout.root}"}):
        c.remove(force=True)
