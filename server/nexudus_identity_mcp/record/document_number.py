"""Whether a number a member shows at the desk is the identity-document number on file, without the
number on file ever leaving the server.

Two numbers match when they are the same after normalising what a person varies in writing one
down: case, spaces and dashes (`cb-773 4129` is `CB7734129`), in any Unicode form (full-width
digits, non-breaking spaces, en dashes). Nothing else is forgiven: a different letter or digit, or
one more or fewer, does not match. The comparison is constant-time over digests of the two
normalised numbers, so neither the time it takes nor an early exit says how much of a guess was right
(not even its length).
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from typing import Literal

Verdict = Literal["matches", "does_not_match", "no_number_on_file"]


def normalise_number(text: str) -> str:
    """The number as compared: NFKC (full-width forms become plain ones), without whitespace or dashes,
    case-folded."""
    plain = unicodedata.normalize("NFKC", text)
    kept = (c for c in plain if not c.isspace() and unicodedata.category(c) != "Pd" and c != "\u2212")
    return "".join(kept).casefold()


def compare_number(given: str, on_file: str | None) -> Verdict:
    """`matches`, `does_not_match`, or `no_number_on_file` when the record holds no number."""
    stored = normalise_number(on_file) if isinstance(on_file, str) else ""
    if not stored:
        return "no_number_on_file"
    same = hmac.compare_digest(_digest(normalise_number(given)), _digest(stored))
    return "matches" if same else "does_not_match"


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()
