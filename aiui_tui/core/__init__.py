"""Pure building blocks: events, errors and formatting. Nothing here does I/O."""
