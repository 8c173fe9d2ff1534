"""Keeps identity-document numbers (and, if asked, member names) out of what the model sees.

A redacted value becomes a deterministic token, `«ID_DOC:3f9a1c2b»`: an HMAC of the value under a
server secret (`NEXUDUS_MCP_SECRET`; random per process when unset, so tokens cannot be linked
across processes). The same value always gives the same token within a process, so a model can
still tell "unchanged" from "changed" and copy a token back: the update tool reads a token that
matches the current value as "keep it", and refuses anything else that looks like a token, so a
token is never stored as data.

`NEXUDUS_MCP_REDACT` picks the categories: `id_document` (default), `name` adds member names and
the `UpdatedBy` user (and a member's name, email and company, `record/members.py`), `none` turns
redaction off. Categories come from the field tables.

Two layers. The tools show a record's redacted fields as tokens (`record`, `value`). And one final
pass (`scrub`) runs over everything that leaves the server towards a model: tool results, prompt
text and log lines. `app.py` opens a per-call `RedactionScope` around each tool call and puts it in
the call's context; the tools register every record they read or write into it (`note_record`,
passed the scope; the log filter finds it as the scope opened around the code), the call's
arguments are registered too, and the pass then replaces each known sensitive value wherever it
appears, in any casing, with separators (spaces, hyphens, dots, slashes, punctuation) or markup
(`K7Q<b>9</b>20`, `&nbsp;`) between its characters, in dict keys, and as a JSON number. Values the
server was never told about are still caught when labelled: under a key or `PropertyName` that
names a redacted field (any casing), or after the field's name in text (`IdentityDocumentNumber:
'…'`). Each check's values are also remembered (bounded: HISTORY_CHECKS), so a call that read
nothing, or an answer that echoes a number since changed, is still covered. The pass compiles one
regex per call from the values present (cached by value set) and walks the result once to discover
labelled values and once to replace.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import re
import secrets
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from .fields import FIELDS
from .members import MEMBER_FIELDS

# What stands in a text for what may not be shown: a secret (settings.scrub_secrets) or a redacted tail.
SECRET_MARK = "«redacted»"

CATEGORY_LABELS = {"id_document": "ID_DOC", "name": "NAME"}
# Every field that holds a redactable value, whatever categories are on: a token-like value given for
# one of these is never written (see `Redactor.resolve_given`).
PII_FIELDS: dict[str, str] = {f.name: f.pii for f in FIELDS if f.pii}
# Shorter values are not looked for in free text (they would match ordinary words and numbers).
MIN_FREE_TEXT = 4
# Values shorter than this match only as a whole word (not glued to other letters or digits).
SHORT_VALUE = 8
# A text that ends in this many or more first characters of a value was cut through it.
MIN_CUT = 5
TAIL_WINDOW = 200
# Record ids remembered with their sensitive values, so a value that changed is still caught later.
HISTORY_CHECKS = 2048
HISTORY_VALUES = 4

# What may stand between two characters of a sensitive value: separators and punctuation (anything
# that is not a letter or digit), markup tags and HTML entities; at most 8 pieces, possessive so a
# long run of punctuation cannot make the regex backtrack.
_TAG = r"<[^<>]{0,100}>"
_ENTITY = r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]{2,10});"
_GAP = rf"(?:{_TAG}|{_ENTITY}|[^\w<]|_|<){{0,8}}+"
_STRIP_MARKUP = re.compile(rf"{_TAG}|{_ENTITY}")
_STRIP_ENTITY = re.compile(_ENTITY)
_NOT_ALNUM = re.compile(r"[\W_]+")
# A token as the server writes it: kept as it is by the final pass (never re-redacted).
_TOKEN_ALT = r"«(?:ID_DOC|NAME):[0-9a-f]{8}»"
# Looks like a token in any form (used on values given for redacted fields).
_TOKENISH = re.compile(r"(?i)\bID[\W_]*DOC\b|«|»|‹|›|<<|>>|\bPII\b|\bNAME\s*[:=]")
_TOKEN_CORE = re.compile(r"(?i)(?:PII\s*[:_]\s*)?(ID[\W_]*DOC|NAME)\s*[:=]\s*([0-9a-f]{8})")
_WRAPPERS = "\"'`«»‹›<>[](){} \t\r\n"


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


def normalise(text: str) -> str:
    """The comparison key of a value: markup removed, accents dropped, letters and digits only, folded."""
    return _alnum(_STRIP_MARKUP.sub("", text))


def _alnum(text: str) -> str:
    """Letters and digits only (accents dropped: NFKD, and combining marks are not \\w), folded."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
    return _NOT_ALNUM.sub("", text).casefold()


@lru_cache(maxsize=4096)
def _label_key(name: str) -> str:
    return _NOT_ALNUM.sub("", name).casefold()


def _char_pattern(c: str) -> str:
    options = {c}
    base = unicodedata.normalize("NFKD", c)[0]
    options.add(base)
    for o in list(options):
        if "!" <= o <= "~":
            options.add(chr(ord(o) + 0xFEE0))  # the full-width form (Ｋ７Ｑ)
    if len(options) == 1:
        return re.escape(c)
    return "[" + "".join(re.escape(o) for o in sorted(options)) + "]"


def _value_pattern(value: str) -> str:
    chars = [c for c in unicodedata.normalize("NFC", value) if c.isalnum()]
    body = _GAP.join(_char_pattern(c) for c in chars)
    if len(chars) < SHORT_VALUE:  # a short value only as a whole word: not inside dates or longer ids
        return rf"(?<![^\W_]){body}(?![^\W_])"
    return body


@lru_cache(maxsize=256)
def _compiled(values: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    """One regex for a set of (category, value): a token (kept), or any variant of any value."""
    groups = [f"(?P<token>{_TOKEN_ALT})"]
    for category in CATEGORY_LABELS:
        mine = sorted({v for c, v in values if c == category}, key=lambda v: (-len(normalise(v)), v))
        if mine:
            groups.append(f"(?P<{category}>" + "|".join(_value_pattern(v) for v in mine) + ")")
    return re.compile("|".join(groups), re.IGNORECASE)


def _prefixes_pattern(chars: list[str]) -> str | None:
    """Every first part of a value, MIN_CUT characters or more but not all of it, as one pattern of
    nested optional groups (c1…c5(?:c6(?:c7…)?)?): its size grows with the value's length, where one
    alternative per first part grew with its square (a 300-character value took 15 s to compile).
    Only first parts that fit the tail window can end a text there, so longer ones are left out."""
    longest = min(len(chars) - 1, TAIL_WINDOW)
    if longest < MIN_CUT:
        return None
    pattern = ""
    for c in reversed(chars[MIN_CUT:longest]):
        pattern = f"(?:{_GAP}{c}{pattern})?"
    return _GAP.join(chars[:MIN_CUT]) + pattern


@lru_cache(maxsize=256)
def _compiled_tail(values: tuple[tuple[str, str], ...]) -> re.Pattern[str] | None:
    """The start of a value at the end of a text that was cut short (an excerpt, a capped message)."""
    alts: set[str] = set()
    for _category, value in values:
        chars = [_char_pattern(c) for c in unicodedata.normalize("NFC", value) if c.isalnum()]
        prefixes = _prefixes_pattern(chars)
        if prefixes is not None:
            alts.add(prefixes)
    if not alts:
        return None
    ordered = sorted(alts, key=lambda a: (-len(a), a))
    return re.compile(rf"(?<![^\W_])(?:{'|'.join(ordered)}){_GAP}(?:…|\.\.\.)?\s*\Z", re.IGNORECASE)


def _label_text_pattern(fields: Mapping[str, str]) -> re.Pattern[str] | None:
    """A field's name in text (any casing and spacing), then what follows it: a quoted or bare value.
    The group `l_<category>` says which category's field was named."""
    by_category: dict[str, list[str]] = {}
    for name, category in sorted(fields.items()):
        words = re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", name)
        by_category.setdefault(category, []).append(r"[\W_]*".join(words))
    if not by_category:
        return None
    labels = "|".join(f"(?P<l_{c}>{'|'.join(alts)})" for c, alts in by_category.items())
    return re.compile(
        rf"(?:{labels})[\"'`]?+(?:[\s:=>\]}}]|{_TAG})*+"
        r"(?:\"(?P<dq>[^\"…]{1,64})|'(?P<sq>[^'…]{1,64})"
        r"|(?P<bare>[^\W_][^\s\"'<>,;]{0,40}(?:[ ./-][^\s\"'<>,;]{1,20}){0,5}))",
        re.IGNORECASE,
    )


def _trim_bare(text: str) -> str:
    """A bare value after a label, without the trailing words that hold no digit ("… is invalid")."""
    pieces = re.findall(r"[ ./-]?[^ ./-]+", text)
    while len(pieces) > 1 and not any(c.isdigit() for c in pieces[-1]):
        pieces.pop()
    return "".join(pieces).strip(" ./-")


class RedactionScope:
    """The sensitive values one tool call has met: every record it read or wrote, its arguments."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.values: dict[str, tuple[str, str]] = {}  # normalised -> (category, value as first seen)

    def note(self, category: str, value: Any) -> None:
        if category not in self.redactor.categories or value is None or isinstance(value, bool):
            return
        if isinstance(value, (int, float)):
            value = _number_text(value)
        if not isinstance(value, str) or _TOKENISH.search(value):  # a token, or an attempt at one: not data
            return
        key = normalise(value)
        if key and key not in self.values:
            self.values[key] = (category, value)


_ACTIVE: ContextVar[RedactionScope | None] = ContextVar("nexudus_mcp_redaction_scope", default=None)


def _occurs(key: str, flat: str) -> bool:
    """Whether a value (or the start of one, cut short) may occur in the normalised text."""
    return key in flat or (len(key) > MIN_CUT and key[:MIN_CUT] in flat)


def _texts(value: Any) -> Iterator[str]:
    """Every string, key and number in a JSON-like value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield _number_text(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _texts(k)
            yield from _texts(v)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _texts(item)


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e18:
        return str(int(value))
    return str(value)


class Redactor:
    def __init__(self, categories: Iterable[str] = ("id_document",), secret: str | None = None) -> None:
        self.categories = frozenset(categories)
        self._key = (secret or secrets.token_hex(32)).encode()
        # The check's fields and a member's (FullName, Email, CompanyName: shown by the member find).
        self.fields: dict[str, str] = {
            **{f.name: f.pii for f in FIELDS if f.pii and f.pii in self.categories},
            **{f.name: f.pii for f in MEMBER_FIELDS if f.pii and f.pii in self.categories},
        }
        self._labels: dict[str, str] = {_label_key(n): c for n, c in self.fields.items()}
        self._label_cache: dict[str, str | None] = {}
        self._label_text = _label_text_pattern(self.fields)
        self._history: OrderedDict[int, list[tuple[str, str]]] = OrderedDict()
        # Remembered values by their first MIN_FREE_TEXT normalised characters, and how many checks hold each.
        self._index: dict[str, dict[str, tuple[str, str]]] = {}
        self._refs: dict[str, int] = {}

    # ------------------------------------------------------------------ what is remembered
    @property
    def remembered_checks(self) -> int:
        """How many checks' earlier values are remembered (at most HISTORY_CHECKS)."""
        return len(self._history)

    def remembered_values(self) -> dict[str, int]:
        """Each remembered value (normalised) and how many remembered checks hold it: what `scrub`
        still catches after the call that read it (a copy; the bound is HISTORY_CHECKS × HISTORY_VALUES)."""
        return dict(self._refs)

    # ------------------------------------------------------------------ tokens
    def token(self, category: str, value: str) -> str:
        digest = hmac.new(self._key, f"{category}\0{value}".encode(), hashlib.sha256).hexdigest()[:8]
        return f"«{CATEGORY_LABELS[category]}:{digest}»"

    def is_token(self, value: Any) -> bool:
        """A token, exactly or in a form a model may copy it (any case, other brackets, quoted)."""
        return isinstance(value, str) and _TOKEN_CORE.fullmatch(value.strip(_WRAPPERS)) is not None

    def looks_like_token(self, value: Any) -> bool:
        """Token-like text (the ID_DOC/NAME label in any form): shown back as sent, never re-tokenised."""
        return isinstance(value, str) and _TOKENISH.search(value) is not None

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

    # ------------------------------------------------------------------ tokens given back
    def resolve_given(self, field_name: str, given: Any, current: Any) -> tuple[Any, str | None]:
        """A value given for a redacted field: (value to use, None) or (None, why it is refused).

        Anything that looks like a token is the current value's token after normalising case and
        brackets (so "unchanged": the current value is used), or it is refused: a token is never data.
        """
        category = PII_FIELDS.get(field_name)
        if category is None or not isinstance(given, str) or not _TOKENISH.search(given):
            return given, None
        core = given.strip(_WRAPPERS)
        match = _TOKEN_CORE.fullmatch(core)
        label = CATEGORY_LABELS[category]
        if match and category in self.categories and isinstance(current, str) and current:
            canonical = f"«{'ID_DOC' if _label_key(match[1]) == 'iddoc' else 'NAME'}:{match[2].lower()}»"
            if canonical == self.token(category, current):
                return current, None
        why = (
            f"looks like a redaction token («{label}:…»), and a token is never stored as data. "
            + (
                "It is not the current value's token. "
                if category in self.categories
                else "This server does not redact the field, so no token stands for its value. "
            )
            + "Leave the field out to keep the current value, pass the exact token the read of the check "
            "showed, or give the real new value to change it."
        )
        return None, why

    # ------------------------------------------------------------------ the per-call scope
    @contextmanager
    def scope(self, arguments: Mapping[str, Any] | None = None) -> Iterator[RedactionScope]:
        """Open the scope that the tools register into and `scrub` reads. The values of `arguments`
        (a tool's) under redacted fields' names are registered, unless they look like tokens."""
        scope = RedactionScope(self)
        for key, raw in (arguments or {}).items():
            category = self._category_of(key)
            if category is not None and not (isinstance(raw, str) and _TOKENISH.search(raw)):
                scope.note(category, raw)
        reset = _ACTIVE.set(scope)
        try:
            yield scope
        finally:
            _ACTIVE.reset(reset)

    def note_record(self, record: Mapping[str, Any] | None, scope: RedactionScope | None = None) -> None:
        """Register a record read or written in this call into `scope` (the call context's, passed
        explicitly; None: only remembered for its Id): its redacted fields' values (now and as
        remembered) are then looked for everywhere in what the call returns."""
        if not record:
            return
        found = [(c, record[n]) for n, c in self.fields.items() if isinstance(record.get(n), (str, int, float))]
        check_id = record.get("Id")
        remembered: list[tuple[str, str]] = []
        if isinstance(check_id, int) and not isinstance(check_id, bool):
            remembered = self._history.pop(check_id, [])
            for category, value in found:
                text = value if isinstance(value, str) else _number_text(value)
                if text and (category, text) not in remembered:
                    remembered.append((category, text))
                    self._remember(category, text, +1)
            for category, text in remembered[:-HISTORY_VALUES]:
                self._remember(category, text, -1)
            self._history[check_id] = remembered = remembered[-HISTORY_VALUES:]
            while len(self._history) > HISTORY_CHECKS:
                for category, text in self._history.popitem(last=False)[1]:
                    self._remember(category, text, -1)
        if scope is not None and scope.redactor is self:
            for category, value in [*found, *remembered]:
                scope.note(category, value)

    # ------------------------------------------------------------------ the final pass
    def scrub(self, value: Any, scope: RedactionScope | None = None, schema: Mapping[str, Any] | None = None) -> Any:
        """`value` (any JSON-like data, or text) with every sensitive value replaced by its token: the
        values `scope` holds (the call's, passed explicitly; None: a scope of its own) and those
        remembered from earlier calls. `schema`: the JSON Schema `value` is declared to match (a tool's
        outputSchema). A token is text, so where it declares a number only, a number that is a
        sensitive value is left out instead (its key, or its list item): the pass never gives a value a
        type its place cannot have."""
        if not self.categories:
            return value
        scope = scope or RedactionScope(self)
        local = RedactionScope(self)
        local.values = dict(scope.values)
        self._discover(value, local, None)
        # The regex holds the scope's values, and any value remembered from an earlier call that occurs
        # in the text in some form (found through an index of their first characters).
        present = dict(local.values)
        index = self._index
        if index and not (len(self._refs) <= len(present) and all(k in present for k in self._refs)):
            texts = list(_texts(value))
            flat = normalise("\n".join(texts))
            # Texts with markup, entities or escapes are also looked at decoded and with tags kept
            # (`<K7Q9205531>` has the shape of a tag; `&#75;7Q9205531` hides a character).
            marked = "\n".join(t for t in texts if "<" in t or "&" in t or "\\u" in t)
            if marked:
                decoded = _decoded(marked)
                flat += "\n".join(("", _alnum(_STRIP_ENTITY.sub("", marked)), normalise(decoded), _alnum(decoded)))
            get = index.get
            for i in range(len(flat) - MIN_FREE_TEXT + 1):
                bucket = get(flat[i : i + MIN_FREE_TEXT])
                if bucket:
                    for key, known in bucket.items():
                        if key not in present and _occurs(key, flat):
                            present[key] = known
        searchable = tuple(sorted(v for k, v in present.items() if len(k) >= MIN_FREE_TEXT))
        out = self._replace(value, _Matcher(self, searchable), None, schema)
        return None if out is _LEFT_OUT else out

    def _remember(self, category: str, value: str, change: int) -> None:
        """Keep the index of remembered values (by their first characters) in step with the history."""
        key = normalise(value)
        if len(key) < MIN_FREE_TEXT or category not in self.categories:
            return
        count = self._refs.get(key, 0) + change
        bucket = self._index.setdefault(key[:MIN_FREE_TEXT], {})
        if count > 0:
            self._refs[key] = count
            bucket.setdefault(key, (category, value))
        else:
            self._refs.pop(key, None)
            bucket.pop(key, None)
            if not bucket:
                del self._index[key[:MIN_FREE_TEXT]]

    def _discover(self, value: Any, scope: RedactionScope, under: str | None) -> None:
        """Register values that are labelled sensitive: under a redacted field's key, as the
        AttemptedValue of an error naming one, or after the field's name in text."""
        if isinstance(value, str):
            if under is not None:
                scope.note(under, value)
            elif self._label_text is not None:
                for m in self._label_text.finditer(value):
                    quoted = m["dq"] or m["sq"]
                    candidate = quoted or _trim_bare(m["bare"] or "")
                    labelled = next((c for c in self.categories if m.groupdict().get(f"l_{c}")), "id_document")
                    # A document number has a digit; a name is taken only when quoted.
                    if candidate and (quoted if labelled == "name" else any(c.isdigit() for c in candidate)):
                        scope.note(labelled, candidate)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if under is not None:
                scope.note(under, value)
        elif isinstance(value, dict):
            named = self._property_category(value)
            for k, v in value.items():
                category = under or self._category_of(k)
                if named is not None and _label_key(str(k)) == "attemptedvalue":
                    category = named
                self._discover(k, scope, None)
                self._discover(v, scope, category)
        elif isinstance(value, (list, tuple)):
            for item in value:
                self._discover(item, scope, under)

    def _category_of(self, name: Any) -> str | None:
        """The category of a key or property name that names a redacted field: in any casing or
        spacing, or ending in one (`identityDocumentNumber`, `Check.IdentityDocumentNumber`, and the
        API's `CoworkerCompanyName` for the table's `CompanyName`)."""
        key = _label_key(str(name))
        found = self._label_cache.get(key, "")
        if found == "":
            found = next((c for label, c in self._labels.items() if key.endswith(label)), None)
            if len(self._label_cache) < 4096:
                self._label_cache[key] = found
        return found

    def _property_category(self, value: dict[Any, Any]) -> str | None:
        for k, v in value.items():
            if _label_key(str(k)) == "propertyname" and isinstance(v, str):
                return self._category_of(v)
        return None

    def _replace(self, value: Any, matcher: _Matcher, forced: str | None, schema: Mapping[str, Any] | None) -> Any:
        """`value` scrubbed; `schema` (None: any value) is what its place declares, `_LEFT_OUT` when
        the number it is must become a token and no text may stand there."""
        if isinstance(value, str):
            # Under a redacted field: a token, unless it already looks like one (a token the model
            # copied imperfectly is shown back as it was sent, so the refusal makes sense).
            if forced is not None and value and not _TOKENISH.search(value):
                return self.token(forced, value)
            return matcher.text(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            text = _number_text(value)
            if forced is not None:
                return self.token(forced, text) if _takes_text(schema) else _LEFT_OUT
            # A number equal to a sensitive value becomes its token; one that merely contains a long
            # one becomes text with the token in it; an Id that happens to contain a short one stays.
            match = matcher.pattern.search(text)
            if match is None or (match.end() - match.start() < len(text) and len(match.group(0)) < 6):
                return value
            return matcher.text(text) if _takes_text(schema) else _LEFT_OUT
        if isinstance(value, dict):
            named = self._property_category(value)
            properties = _part(schema, "object").get("properties") or {}
            out: dict[Any, Any] = {}
            for k, v in value.items():
                category = forced or self._category_of(k)
                if named is not None and _label_key(str(k)) == "attemptedvalue":
                    category = named
                item = self._replace(v, matcher, category, properties.get(k))
                if item is not _LEFT_OUT:
                    # A key its schema declares is the server's word, never data: a document number
                    # that is "Message" must not rename the result's Message (an undeclared key may be).
                    out[k if k in properties else self._replace(k, matcher, None, None)] = item
            return out
        if isinstance(value, (list, tuple)):
            items = _part(schema, "array").get("items")
            replaced = (self._replace(item, matcher, forced, items) for item in value)
            return [item for item in replaced if item is not _LEFT_OUT]
        return value


# What `_replace` gives for a number that must become a token where no text may stand.
_LEFT_OUT: Any = object()


def _part(schema: Mapping[str, Any] | None, kind: str) -> Mapping[str, Any]:
    """The part of `schema` that describes a value of JSON type `kind` (its `anyOf` branch of that
    type); empty when the schema says nothing about it (any value)."""
    if not isinstance(schema, Mapping):
        return {}
    branches = schema.get("anyOf")
    if isinstance(branches, list):
        return next((b for b in branches if isinstance(b, Mapping) and b.get("type") == kind), {})
    return schema if schema.get("type") in (kind, None) else {}


def _takes_text(schema: Mapping[str, Any] | None) -> bool:
    """Whether text (a token) may stand where `schema` is declared: no schema, no type, or a string."""
    if not isinstance(schema, Mapping):
        return True
    branches = schema.get("anyOf")
    if isinstance(branches, list):
        return any(_takes_text(b) for b in branches if isinstance(b, Mapping))
    return schema.get("type") in (None, "string")


_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _decoded(text: str) -> str:
    """HTML entities and \\uXXXX escapes as the characters they stand for."""
    out = html.unescape(text) if "&" in text else text
    return _ESCAPE.sub(lambda m: chr(int(m[1], 16)), out) if "\\u" in out else out


class _Matcher:
    """The compiled regexes of one pass: every variant of every value, and a value cut at the end."""

    def __init__(self, redactor: Redactor, values: tuple[tuple[str, str], ...]) -> None:
        self.redactor = redactor
        self.pattern = _compiled(values)
        self.tail = _compiled_tail(values)
        self.by_key = {normalise(v): (c, v) for c, v in values}

    def _token_for(self, m: re.Match[str]) -> str:
        if m["token"] is not None:
            return m.group(0)
        known = self.by_key.get(normalise(m.group(0)))
        return self.redactor.token(*known) if known else self.redactor.token(m.lastgroup or "id_document", m.group(0))

    def text(self, text: str) -> str:
        if not text or not self.by_key:
            return text
        out = self.pattern.sub(self._token_for, text)
        if "&" in out or "\\u" in out:  # characters written as entities or escapes (`&#67;B7734129`)
            plain = _decoded(out)
            if plain != out:
                again = self.pattern.sub(self._token_for, plain)
                if again != plain:
                    out = again
        if self.tail is not None:
            cut = self.tail.search(out, max(0, len(out) - TAIL_WINDOW))
            if cut is not None:
                out = out[: cut.start()] + SECRET_MARK + (" …" if out.rstrip().endswith(("…", "...")) else "")
        return out


def scrub_log_text(text: str) -> str:
    """`text` scrubbed with the active call's redaction scope, as the log filter scrubs a line (the
    JSON log format's fields: telemetry/jsonlog.py)."""
    scope = _ACTIVE.get()
    if scope is None or not scope.redactor.categories:
        return text
    return str(scope.redactor.scrub(text, scope))


class RedactingLogFilter(logging.Filter):
    """Scrubs each log line (and its traceback) with the active call's redaction scope, if any."""

    def filter(self, record: logging.LogRecord) -> bool:
        scope = _ACTIVE.get()
        if scope is None or not scope.redactor.categories:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: logging reports it when the line is written
            return True
        scrubbed = scope.redactor.scrub(message, scope)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scope.redactor.scrub(record.exc_text, scope)
        return True
