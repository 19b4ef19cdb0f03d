"""The command line: subcommands render service events with rich; no subcommand starts the TUI."""
