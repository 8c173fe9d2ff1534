"""The reference's field table is generated from the field table; this keeps them equal.
To regenerate: python -c "from nexudus_identity_mcp.mcpserver.reference import readme_block; print(readme_block())"
"""

from __future__ import annotations

import re
from pathlib import Path

from nexudus_identity_mcp.mcpserver.reference import readme_block

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
REFERENCE = ROOT / "docs" / "reference.md"


def test_reference_field_table_is_generated_from_the_field_table() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    match = re.search(r"<!-- fields:start -->\n(.*?)\n<!-- fields:end -->", text, re.S)
    assert match, "docs/reference.md lost its fields markers"
    assert match.group(1) == readme_block()


def test_readme_names_the_two_newcomer_commands_and_ci_runs_the_test_one() -> None:
    text = README.read_text(encoding="utf-8")
    demo = ".venv/bin/nexudus-identity-mcp demo"
    tests = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest -n auto"
    assert demo in text and f"{tests}\n" in text
    assert f"{tests}\n" in (README.parent / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_links_resolve() -> None:
    text = README.read_text(encoding="utf-8")
    for target in re.findall(r"\]\((docs/[^)]+)\)", text):
        path, _, anchor = target.partition("#")
        assert (ROOT / path).is_file(), target
        if anchor:  # GitHub's heading slugs: lower case, spaces to hyphens, punctuation dropped
            headings = re.findall(r"^#+ (.+)$", (ROOT / path).read_text(encoding="utf-8"), re.MULTILINE)
            slugs = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
            assert anchor in slugs, target
