"""One wiring: `open_services` builds every service, for the dashboard and for each CLI command (the
import contract in pyproject.toml keeps the CLI from building its own)."""

from __future__ import annotations

import pytest

from aiui_tui.services import open_services, selection
from tests.conftest import load_services_inputs
from tests.plugins.conftest import enable, write_plugin

NO_ENGINE = "unix:///nonexistent/docker.sock"
CATALOG_PLUGIN = """
from aiui_tui.plugins import hookimpl

@hookimpl
def aiui_catalog_entries(context):
    return [{"id": "house-style", "name": "House style", "kind": "loras",
             "url": "http://127.0.0.1:9/house-style.safetensors", "filename": "house-style.safetensors"}]
"""


async def test_only_starts_the_selected_services(layout, clean_env):
    config, credentials = load_services_inputs(layout)
    async with open_services(
        layout, config, credentials, only=("downloads",), supervise=False, run_downloads=False
    ) as services:
        assert services.downloads is not None and services.downloads.store is not None  # started
        assert not services.downloads.runs_queue
        assert (services.apps, services.monitor, services.library, services.plugins) == (None, None, None, None)


async def test_the_library_brings_the_queue_and_the_plugins_catalog(layout, clean_env):
    write_plugin(layout.root, "house", CATALOG_PLUGIN)
    enable(layout.root, "house")
    config, credentials = load_services_inputs(layout)
    async with open_services(layout, config, credentials, only=("plugins", "library"), supervise=False) as services:
        library, plugins = services.library, services.plugins
        assert library is not None and plugins is not None and services.downloads is not None
        assert library.downloads is services.downloads
        assert library.extra_catalog is plugins.catalog and library.extra_sources is plugins.sources
        assert [entry.id for entry in plugins.catalog] == ["house-style"]
        assert library.index is not None
        assert (services.apps, services.monitor) == (None, None)


async def test_a_command_with_no_plugin_enabled_has_no_plugin_service(layout, clean_env):
    """Plugins found but none enabled: a command (no `supervise`) builds no plugin service, the library
    gets no plugin catalog; the dashboard (`supervise`) has one, to show plugins copied in later."""
    write_plugin(layout.root, "house", CATALOG_PLUGIN)
    config, credentials = load_services_inputs(layout)
    async with open_services(layout, config, credentials, only=("plugins", "library"), supervise=False) as services:
        assert services.library is not None and services.plugins is None
        assert not services.library.extra_catalog and not services.library.extra_sources
    async with open_services(layout, config, credentials, only=("plugins",), scan=False) as services:
        assert services.plugins is not None and services.plugins.plugins == {}  # discovered, nothing loaded


async def test_a_command_runs_nothing_periodically(layout, clean_env):
    """Without `supervise` (a CLI command): no ticker, the monitor built but not sampling, the apps'
    engine asked once; the monitor names GPU processes through the apps."""
    config, credentials = load_services_inputs(layout)
    config.docker.host = NO_ENGINE
    async with open_services(layout, config, credentials, only=("monitor", "apps"), supervise=False) as services:
        monitor, apps = services.monitor, services.apps
        assert monitor is not None and apps is not None and services.plugins is None
        assert monitor.ticker is None and apps.ticker is None
        assert apps.engine_problem is not None  # asked once, at start
        assert monitor.app_of_container("c0ffee") is None
        apps.app_of_container = {"c0ffee": "sd-webui"}.get  # as if adopted: asked at each sample
        assert monitor.app_of_container("c0ffee") == "sd-webui"


def test_an_unknown_service_is_refused():
    assert selection(None) == ("plugins", "downloads", "library", "monitor", "apps")
    assert selection(["apps", "library"]) == ("downloads", "library", "apps")  # start order, with needs
    with pytest.raises(ValueError, match="unknown services"):
        selection(["queue"])  # type: ignore[list-item]


def test_every_lazy_name_the_cli_uses_resolves_to_the_object_of_its_module():
    """A misspelt entry in `_LAZY` would only fail when a command first used it, as an unexpected
    error; each is resolved here, and is the module's own object (not a copy)."""
    import importlib

    import aiui_tui.services as services_package

    for name, (module, attribute) in services_package._LAZY.items():
        assert getattr(services_package, name) is getattr(importlib.import_module(module), attribute), name
