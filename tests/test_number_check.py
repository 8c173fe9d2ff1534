"""Checking a number without seeing it: the comparison (case, spaces and dashes normalised; nothing
else forgiven; constant-time over digests)."""

from __future__ import annotations

import pytest

from nexudus_identity_mcp.record.document_number import compare_number, normalise_number

ON_FILE = "CB7734129"


@pytest.mark.parametrize(
    "given",
    ["CB7734129", "cb7734129", "CB 773 4129", "cb-773-4129", " CB–7734129 ", "ＣＢ７７３４１２９", "CB\u00a07734129"],
)
def test_the_same_number_written_another_way_matches(given: str) -> None:
    assert compare_number(given, ON_FILE) == "matches"


@pytest.mark.parametrize("given", ["CB7734128", "CB773412", "CB77341299", "C87734129", "CB7734I29", "CB.7734129", ""])
def test_a_near_miss_does_not_match(given: str) -> None:
    assert compare_number(given, ON_FILE) == "does_not_match"


@pytest.mark.parametrize("on_file", [None, "", "  ", "-"])
def test_no_number_on_file(on_file: str | None) -> None:
    assert compare_number("CB7734129", on_file) == "no_number_on_file"


def test_normalising_keeps_letters_and_digits_as_they_are() -> None:
    assert normalise_number("Ab-12 3") == "ab123"
    assert normalise_number("NR5K8L2P7") == "nr5k8l2p7"
