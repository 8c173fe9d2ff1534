"""The README's field reference is generated from the field table; this keeps them equal.
To regenerate: python -c "from nexudus_identity_mcp.reference import readme_block; print(readme_block())"
"""

from __future__ import annotations

import re
from pathlib import Path

from nexudus_identity_mcp.reference import readme_block

README = Path(__file__).parent.parent / "README.md"


def test_readme_field_reference_is_generated_from_the_field_table() -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- fields:start -->\n(.*?)\n<!-- fields:end -->", text, re.S)
    assert match, "README.md lost its fields markers"
    assert match.group(1) == readme_block()


def test_readme_names_the_two_newcomer_commands_and_ci_runs_the_test_one() -> None:
    text = README.read_text(encoding="utf-8")
    demo = ".venv/bin/nexudus-identity-mcp demo"
    tests = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"
    assert demo in text and tests in text
    assert tests in (README.parent / ".ci" / "run").read_text(encoding="utf-8")
