"""The subcommands, in the order `--help` lists them. Each module has `register(subparsers)`."""

from aiui_tui.cli import config_cmd, doctor_cmd, init_cmd

COMMANDS = [init_cmd, doctor_cmd, config_cmd]
