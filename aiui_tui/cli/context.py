"""What every command receives: the data root's layout, the config, the tokens and the console."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

from aiui_tui.cli.console import Output
from aiui_tui.config import Config, load_config, write_default_config
from aiui_tui.credentials import Credentials, load_credentials
from aiui_tui.logs import get_logger, setup_logging
from aiui_tui.paths import Layout, ensure_layout, resolve_root


@dataclass
class Context:
    args: argparse.Namespace
    out: Output
    layout: Layout
    config: Config
    credentials: Credentials
    _plugins: Any = field(default=None, repr=False)

    @property
    def plugins(self) -> Any:
        """The enabled plugins, loaded on first use; each failure is one warning line on stderr."""
        if self._plugins is None:
            from aiui_tui.services.plugins import PluginService

            service = PluginService(self.layout, on_warning=self.out.warn)
            service.load()
            self._plugins = service
        return self._plugins


def bootstrap(args: argparse.Namespace, out: Output, *, create: bool = True, write_config: bool = True) -> Context:
    """Resolve the root, create what is missing, start logging, load config and tokens.

    With `create=False` (init) nothing is created here; the command does it after asking.
    """
    layout = Layout(resolve_root(args.root))
    if create:
        ensure_layout(layout)
        if write_config:
            write_default_config(layout)
    if layout.logs_dir.is_dir():
        setup_logging(layout.log_file, args.log_level or "INFO")
    config = load_config(layout)
    level = args.log_level or config.general.log_level
    if layout.logs_dir.is_dir() and level != (args.log_level or "INFO"):
        setup_logging(layout.log_file, level)
    credentials = load_credentials(layout)
    get_logger("aiui_tui.cli").debug("started", command=args.command, root=str(layout.root))
    return Context(args=args, out=out, layout=layout, config=config, credentials=credentials)
