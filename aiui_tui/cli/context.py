"""What every command receives: the data root's layout, the config, the tokens and the console."""

from __future__ import annotations

import argparse
import os
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from aiui_tui.cli.console import Output
from aiui_tui.config import Config, load_config
from aiui_tui.core.errors import PathProblem
from aiui_tui.credentials import Credentials, load_credentials
from aiui_tui.logs import get_logger, setup_logging
from aiui_tui.paths import Layout, ensure_layout, folder_problem, resolve_root, root_problem

if TYPE_CHECKING:
    from aiui_tui.services import PluginService

# How a command uses the data root. "existing": it must exist (created by init or the wizard); missing
# folders inside it are added. "create": the dashboard, whose wizard creates it. "init": checked, not
# created (init asks first). "inspect": doctor, which reports what is wrong instead of stopping at it.
RootUse = Literal["existing", "create", "init", "inspect"]
PROG_ENV = "AIUI_PROG"  # set by scripts/run to its own path, so hints name the command the user typed


def command_line(root_arg: str | None, *words: str) -> str:
    """`aiui-tui [--root DIR] WORDS...` as the user invoked it (scripts/run, --root), quoted for a shell."""
    prog = os.environ.get(PROG_ENV) or "aiui-tui"
    root = ["--root", str(root_arg)] if root_arg else []
    return " ".join([shlex.quote(prog), *map(shlex.quote, [*root, *words])]).strip()


@dataclass
class Context:
    args: argparse.Namespace
    out: Output
    layout: Layout
    config: Config
    credentials: Credentials
    _plugins: PluginService | None = field(default=None, repr=False)

    @property
    def plugins(self) -> PluginService:
        """The enabled plugins, loaded on first use, for commands that open no services (`plugins ...`);
        each failure is one warning line on stderr."""
        if self._plugins is None:
            from aiui_tui.services import load_plugins

            self._plugins = load_plugins(self.layout, on_warning=self.out.warn)
        return self._plugins


def bootstrap(args: argparse.Namespace, out: Output, *, root_use: RootUse = "existing") -> Context:
    """Resolve the root, check it (see `RootUse`), start logging, load config and tokens."""
    layout = Layout(resolve_root(args.root))
    problem = root_problem(layout.root)
    if problem is not None and root_use != "inspect":
        raise problem
    if problem is not None:  # doctor on an unusable root: it reports the root with the other checks
        return Context(args=args, out=out, layout=layout, config=Config(), credentials=Credentials())
    if root_use == "existing" and not os.path.lexists(layout.root):
        raise PathProblem(
            f"There is no data root at {layout.root}.",
            f"create it with `{command_line(args.root, 'init')}`, or name the right one with --root DIR",
        )
    if root_use in ("existing", "create"):
        ensure_layout(layout)
    can_log = layout.logs_dir.is_dir() and folder_problem(layout.logs_dir) is None
    if can_log:
        setup_logging(layout.log_file, args.log_level or "INFO")
    config = load_config(layout)
    level = args.log_level or config.general.log_level
    if can_log and level != (args.log_level or "INFO"):
        setup_logging(layout.log_file, level)
    credentials = load_credentials(layout)
    get_logger("aiui_tui.cli").debug("started", command=args.command, root=str(layout.root))
    return Context(args=args, out=out, layout=layout, config=config, credentials=credentials)
