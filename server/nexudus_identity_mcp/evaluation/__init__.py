"""Evaluations of the server with an agent in the loop: `scenarios` (the TOML files), `session` (what
an agent talks to), `grading` (by final state), `harness` (sandbox + server over stdio per
scenario), `report` (table, totals, JSON) and `agents/` (scripted and model). The command line that
runs them is `cli.py`'s `eval`."""
