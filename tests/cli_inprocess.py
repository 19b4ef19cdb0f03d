"""`aiui-tui ARGS` run in the test's own process: `main(argv)` with its output, exit code and environment.

A subprocess costs ~0.3-0.5 s of interpreter start and imports per run; this costs the command alone.
Keep real subprocesses (`tests.conftest.run_cli`) for what only a process shows: the entry point, a
command that may end with `os._exit` (the one-shot `download`), signals, another uid, a closed pipe.

Global state a command changes is put back after each run: the environment, the working folder, stdin,
stdout and stderr, the root logger's handlers and level (commands start logging into their data root),
the secrets to redact, the warnings hook and `os._exit` (a stray call ends the run with that code, not
pytest). Module caches (imported command modules, plugin guards once installed) stay, as in a process
that runs several commands.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Iterator

from tests.conftest import REPO, CliResult

_DROPPED_ENV = ("HF_TOKEN", "CIVITAI_API_TOKEN", "AIUI_ROOT")  # as run_cli: none from the developer
_CHATTY = ("urllib3", "docker", "asyncio", "aiohttp.access")  # setup_logging sets their levels


class _Exited(BaseException):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _exit(code: int) -> None:
    raise _Exited(code)


@contextlib.contextmanager
def _environment(env: dict[str, str] | None) -> Iterator[None]:
    saved = dict(os.environ)
    for name in _DROPPED_ENV:
        os.environ.pop(name, None)
    os.environ.update(env or {})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _logging_state() -> Iterator[None]:
    from aiui_tui import logs

    root = logging.getLogger()
    handlers, level, handler = root.handlers[:], root.level, logs._handler
    levels = {name: logging.getLogger(name).level for name in _CHATTY}
    raise_exceptions, showwarning = logging.raiseExceptions, warnings.showwarning
    secrets = set(logs._known_secrets)  # the tokens a command read are redacted in its run only
    try:
        yield
    finally:
        if logs._handler is not handler and logs._handler is not None:
            logs._handler.close()
        logs._handler = handler
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, value in levels.items():
            logging.getLogger(name).setLevel(value)
        if warnings.showwarning is not showwarning:
            logging.captureWarnings(False)
            warnings.showwarning = showwarning
        logging.raiseExceptions = raise_exceptions
        logs._known_secrets.intersection_update(secrets)


def main_cli(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> CliResult:
    """Run `aiui-tui ARGS` in this process, as `run_cli` runs it in a subprocess (same environment
    rules, cwd the repository, stdin `input` or empty and never a terminal)."""
    import aiui_tui.services.plugins.guard  # noqa: F401 - it keeps the real os._exit from its import
    from aiui_tui.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    stdin = io.TextIOWrapper(io.BytesIO((input or "").encode()), encoding="utf-8")
    cwd, saved_stdin, saved_exit = os.getcwd(), sys.stdin, os._exit
    with _environment(env), _logging_state(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        os.chdir(REPO)
        sys.stdin, os._exit = stdin, _exit
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: --help, --version, usage errors
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except _Exited as exc:
            code = exc.code
        except Exception:  # what the interpreter would print before exiting 1
            traceback.print_exc()
            code = 1
        finally:
            os.chdir(cwd)
            sys.stdin = saved_stdin
            if os._exit is _exit:
                os._exit = saved_exit
    return CliResult(code, out.getvalue(), err.getvalue())
