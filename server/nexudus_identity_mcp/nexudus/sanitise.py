"""Upstream text made safe to show: a short plain-text excerpt of an unexpected answer (HTML
included), and secrets scrubbed from any text before it leaves the client."""

from __future__ import annotations

import html
import re

from ..settings import scrub_secrets

MAX_EXCERPT = 300
_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)


def sanitise_excerpt(text: str, secrets: list[str], limit: int = MAX_EXCERPT) -> str | None:
    """A short, plain-text, secret-free excerpt of an unexpected answer (HTML pages included)."""
    plain = " ".join(html.unescape(_TAG.sub(" ", (text or "")[:100_000])).split())
    if not plain:
        return None
    plain = scrub_secrets(plain, secrets)
    return plain if len(plain) <= limit else plain[: limit - 1] + "…"


def cap(text: str, limit: int) -> str:
    """Upstream text cut to `limit` characters, with a visible mark when cut."""
    text = " ".join(text.split()) if len(text) <= limit * 4 else " ".join(text[: limit * 4].split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
