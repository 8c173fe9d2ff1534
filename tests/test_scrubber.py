"""Issue #31 item 4 (the scrubber half): secrets are scrubbed by one function with one marker,
wherever they would show (a settings error, an API message, an excerpt)."""

from __future__ import annotations

from pathlib import Path

from nexudus_identity_mcp.nexudus.sanitise import sanitise_excerpt
from nexudus_identity_mcp.record.redaction import SECRET_MARK
from nexudus_identity_mcp.settings import scrub_secrets

PACKAGE = Path(__file__).resolve().parents[1] / "server" / "nexudus_identity_mcp"
SECRET = "s3cret-token-value-1234"


def test_one_scrubber_one_marker() -> None:
    text = f"refused {SECRET} and {SECRET[:10]} with Authorization: Bearer abcdefgh12345678"
    out = scrub_secrets(text, [SECRET[:10], SECRET])
    assert SECRET not in out and "abcdefgh12345678" not in out
    assert out.count(SECRET_MARK) == 3  # the longer secret first: no half of it left behind
    excerpt = sanitise_excerpt(f"<html><body>{SECRET}</body></html>", [SECRET])
    assert excerpt == SECRET_MARK


def test_no_other_marker_or_scrubber_is_left() -> None:
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assert "«secret»" not in text, path
        assert "def scrub(text" not in text, path
        # The marker is spelled once, as record.redaction.SECRET_MARK (settings.py spelled it too).
        assert text.count(SECRET_MARK) == (path.relative_to(PACKAGE).as_posix() == "record/redaction.py"), path
