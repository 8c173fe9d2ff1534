"""Keeps identity-document numbers (and, if asked, member names) out of what the model sees.

A redacted value becomes a deterministic token, `«ID_DOC:3f9a1c2b»`: an HMAC of the value under a
server secret (`NEXUDUS_MCP_SECRET`; random per process when unset, so tokens cannot be linked
across processes). The same value always gives the same token within a process, so a model can
still tell "unchanged" from "changed" and copy a token back: the update tool reads a token that
matches the current value as "keep it", and refuses one that does not.

`NEXUDUS_MCP_REDACT` picks the categories: `id_document` (default), `name` adds member names and
the `UpdatedBy` user, `none` turns redaction off. Categories come from the field table.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from typing import Any

from .fields import FIELDS

CATEGORY_LABELS = {"id_document": "ID_DOC", "name": "NAME"}
TOKEN_PATTERN = re.compile(r"«(ID_DOC|NAME):([0-9a-f]{8})»")


def parse_categories(raw: str | None) -> frozenset[str]:
    """`id_document` when unset; a comma list of categories, or `none`."""
    if raw is None or not raw.strip():
        return frozenset({"id_document"})
    parts = {p.strip().lower() for p in raw.split(",") if p.strip()}
    if parts == {"none"}:
        return frozenset()
    aliases = {"names": "name", "id_documents": "id_document", "id_doc": "id_document", "all": "*"}
    parts = {aliases.get(p, p) for p in parts}
    if "*" in parts:
        return frozenset(CATEGORY_LABELS)
    unknown = parts - set(CATEGORY_LABELS)
    if unknown:
        raise ValueError(f"NEXUDUS_MCP_REDACT: unknown categories {sorted(unknown)}; use id_document, name or none")
    # Names alone would leave document numbers visible; id_document stays on unless `none`.
    return frozenset(parts | {"id_document"})


class Redactor:
    def __init__(self, categories: Iterable[str] = ("id_document",), secret: str | None = None) -> None:
        self.categories = frozenset(categories)
        self._key = (secret or secrets.token_hex(32)).encode()
        self.fields: dict[str, str] = {f.name: f.pii for f in FIELDS if f.pii and f.pii in self.categories}

    def token(self, category: str, value: str) -> str:
        digest = hmac.new(self._key, f"{category}\0{value}".encode(), hashlib.sha256).hexdigest()[:8]
        return f"«{CATEGORY_LABELS[category]}:{digest}»"

    def is_token(self, value: Any) -> bool:
        return isinstance(value, str) and TOKEN_PATTERN.fullmatch(value.strip()) is not None

    def value(self, field_name: str, value: Any) -> Any:
        """One field's value as the model may see it."""
        category = self.fields.get(field_name)
        if category is None or not isinstance(value, str) or not value:
            return value
        return self.token(category, value)

    def record(self, record: dict[str, Any]) -> dict[str, Any]:
        return {k: self.value(k, v) for k, v in record.items()}

    def text(self, text: str, values: Iterable[tuple[str, Any]]) -> str:
        """Replace every occurrence of the given field values in free text (API messages)."""
        for field_name, value in values:
            if isinstance(value, str) and len(value) >= 3 and field_name in self.fields:
                text = text.replace(value, self.value(field_name, value))
        return text

    def sensitive_values(self, *records: dict[str, Any] | None) -> list[tuple[str, Any]]:
        """(field, value) pairs of every redacted field in these records, for `text`."""
        out = []
        for record in records:
            for name in self.fields:
                if record and isinstance(record.get(name), str) and record[name]:
                    out.append((name, record[name]))
        return out
