"""The subcommands, in the order `--help` lists them. Each module has `register(subparsers)`."""

from aiui_tui.cli import (
    app_cmd,
    bench_cmd,
    config_cmd,
    doctor_cmd,
    download_cmd,
    init_cmd,
    models_cmd,
    plugins_cmd,
    queue_cmd,
    stats_cmd,
)

COMMANDS = [
    init_cmd,
    doctor_cmd,
    config_cmd,
    app_cmd,
    stats_cmd,
    download_cmd,
    queue_cmd,
    models_cmd,
    bench_cmd,
    plugins_cmd,
]
