"""What a model reads of the tool list, and its ceilings: shared by the tests that hold the budgets
(test_model_facing, test_model_reads_round2) and `bench/bench.py`, which prints the figures. The
server itself never measures this, so it lives here, not in the package."""

from __future__ import annotations

import json

import mcp.types as types

MODEL_VISIBLE_BUDGET = 7600
"""Bytes a model reads of the three original tools (find, get, update): issue #13's ceiling."""

TOTAL_VISIBLE_BUDGET = 14400
"""Bytes a model reads of every tool and the server's instructions together: issue #27's ceiling,
below the 14,736 B of the nine tools and instructions before it."""


def model_visible_bytes(tool: types.Tool) -> int:
    """What a model reads of a tool: the JSON of its name, description and input schema (UTF-8)."""
    seen = {"name": tool.name, "description": tool.description, "inputSchema": tool.input_schema}
    return len(json.dumps(seen, ensure_ascii=False).encode())
