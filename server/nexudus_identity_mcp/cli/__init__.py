"""The commands a person types: `main` (the argument parser and `serve`, the only place that exits
the process), `demo`, `probe`, `check`, `bundle` and `bundle_entry` (the Claude Desktop extension's
entry point). Imports everything; nothing imports it."""
