"""The reference's field table is generated from the field table; this keeps them equal.
To regenerate: python -c "from nexudus_identity_mcp.mcpserver.reference import readme_block; print(readme_block())"
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nexudus_identity_mcp.cli.main import build_parser
from nexudus_identity_mcp.evaluation.scenarios import default_scenario_files
from nexudus_identity_mcp.mcpserver.reference import readme_block

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
REFERENCE = ROOT / "docs" / "reference.md"
README_MAX_LINES = 220  # the README is a user's first hour; depth goes to docs/ (#29 item 4)
DOCS = [README, ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]


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


def slugs(path: Path) -> set[str]:
    """GitHub's heading slugs: lower case, spaces to hyphens, punctuation dropped."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    """Every link from the README, the changelog and docs/ to a file of the repository (and its heading)."""
    text = doc.read_text(encoding="utf-8")
    checked = 0
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        resolved = doc.parent / path if path else doc
        assert resolved.is_file(), f"{doc.name}: {target}"
        if anchor:
            assert anchor in slugs(resolved), f"{doc.name}: {target}"
        checked += 1
    if doc == README:
        assert checked >= 10  # the README sends readers to docs/ rather than growing


def test_readme_stays_within_a_first_hour() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move depth to docs/ (at most {README_MAX_LINES})"


def test_development_guide_counts_the_scenarios_there_are() -> None:
    text = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    counted = re.search(r"scenarios in `evals/` \((\d+) of them", text)
    assert counted, "docs/development.md lost its scenario count"
    assert int(counted.group(1)) == len(default_scenario_files())


def test_no_doc_or_docstring_sends_readers_outside_the_repository() -> None:
    """The design notes live outside the repository: the rules the code relies on are in the docs or
    the modules themselves (#29 item 2)."""
    outside = "DESIGN" + ".md"
    files = [*DOCS, *ROOT.glob("server/**/*.py"), *ROOT.glob("tests/*.py"), *ROOT.glob("bench/*.py")]
    for path in files:
        assert outside not in path.read_text(encoding="utf-8"), path.relative_to(ROOT)


def test_changelog_names_where_every_wing_moved() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    package = ROOT / "server" / "nexudus_identity_mcp"
    wings = sorted(p.name for p in package.iterdir() if (p / "__init__.py").is_file())
    assert len(wings) >= 8
    for wing in wings:
        assert f"`{wing}/`" in text or f"nexudus_identity_mcp/{wing}/" in text, wing
    assert "nexudus_identity_mcp.mcpserver.http_app:app" in text


def subcommand_help(name: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([name, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_every_option_with_a_default_says_it_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    """`sandbox --help`, `serve --help`, …: an option that has a default names it (#29 item 7)."""
    names = re.search(r"\{([a-z,-]+)\}", build_parser().format_usage())
    assert names, build_parser().format_usage()
    silent = []
    for name in names.group(1).split(","):
        text = subcommand_help(name, capsys).split(" options: ", 1)[1]  # past the usage line
        defaults = vars(build_parser().parse_known_args([name])[0])
        for dest, default in defaults.items():
            option = "--" + dest.replace("_", "-")
            if default in (None, False) or f"{option} " not in text:
                continue
            block = text.split(f"{option} ", 1)[1].split(" --", 1)[0]
            if "default" not in block:
                silent.append(f"{name} {option}")
    assert silent == []
    assert "(default 8080" in subcommand_help("sandbox", capsys)
