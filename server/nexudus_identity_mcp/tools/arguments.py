"""A tool's input model: its arguments, each with one rule, from which both the portable input
schema a client sees and the parser that enforces it are derived, so what is advertised and what is
enforced cannot drift apart.

A rule turns one raw argument into a clean value (or `FieldError`, or `Problems` for several at
once) and says what JSON schema describes it. The model parses every argument, lists every problem
at once in the API's error shape (`record/validation.py`), refuses properties the tool does not
take (with the closest one as Hint), and hands the clean values to the tool's `build`, which applies
the rules that span several arguments and returns the tool's typed request.

The same leniency everywhere (one rule per kind): `null` means "not given"; integers also as numeric
strings or integral floats; booleans also as "true"/"false"; enums by name in any case or by code.

Portable schemas (what every schema here must be; `tests/test_tool_schemas.py` walks them): a flat
object, everything inline, no `$ref`/`$defs`, no `anyOf`/`oneOf`/`allOf`, no nullable type lists, no
`format`, no `additionalProperties` (google-genai reads `false` there as a sub-schema and crashes; the
parser refuses unknown properties itself, with a hint), and a description on every property.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, Literal, Protocol, TypeVar

from ..record.fields import Field, calendar_day
from ..record.timefmt import parse_datetime, parse_since
from ..record.validation import (
    ArgumentErrors,
    FieldError,
    Problem,
    boolean,
    cap,
    coerce,
    integer,
    problem,
    unknown_properties,
)
from .schemas import field_property

R = TypeVar("R")


class Problems(Exception):
    """Several problems with one argument (each item of a list, say)."""

    def __init__(self, errors: list[Problem]) -> None:
        super().__init__(f"{len(errors)} problem(s)")
        self.errors = errors


class Rule(Protocol):
    def schema(self) -> dict[str, Any]:
        """The JSON schema of the argument, without its description (the `Arg` gives that)."""
        ...

    def parse(self, name: str, raw: Any) -> Any:
        """The clean value, or FieldError / Problems."""
        ...


@dataclass(frozen=True)
class FieldValue:
    """A field of the record, by the field table's own rule (`validation.coerce`)."""

    field: Field

    def schema(self) -> dict[str, Any]:
        return {k: v for k, v in field_property(self.field).items() if k != "description"}

    def parse(self, name: str, raw: Any) -> Any:
        return coerce(self.field, raw)


@dataclass(frozen=True)
class Boolean:
    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}

    def parse(self, name: str, raw: Any) -> bool:
        return boolean(raw)


@dataclass(frozen=True)
class Integer:
    minimum: int | None = None
    maximum: int | None = None
    show_maximum: bool = True  # in the schema (a bound no caller should meet need not be read)

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer"}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.show_maximum and self.maximum is not None:
            out["maximum"] = self.maximum
        return out

    def parse(self, name: str, raw: Any) -> int:
        value = integer(raw)
        low = self.minimum if self.minimum is not None else value
        high = self.maximum if self.maximum is not None else value
        if not low <= value <= high:
            raise FieldError(f"must be between {low} and {high}")
        return value


@dataclass(frozen=True)
class Text:
    """A non-blank string; `message` says what it must be. Over `max_length` characters (stripped) it
    is refused with its length in the message and no attempted value, never the text (it may be a
    document number).
    The limit stays out of the schema (not every client takes `maxLength`)."""

    message: str
    max_length: int | None = None

    def schema(self) -> dict[str, Any]:
        return {"type": "string"}

    def parse(self, name: str, raw: Any) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise FieldError(self.message)
        text = raw.strip()
        if self.max_length is not None and len(text) > self.max_length:
            # Six words before any digit: the redaction takes what follows a document-number field's
            # name for the number itself, up to the first six words ("must be at most 100" was).
            said = f"is longer than this server takes for it: {len(text)} characters, at most {self.max_length}"
            raise Problems([problem(name, said, None)])
        return text


@dataclass(frozen=True)
class DateTime:
    message: str

    def schema(self) -> dict[str, Any]:
        return {"type": "string"}

    def parse(self, name: str, raw: Any) -> datetime:
        parsed = parse_datetime(raw) if isinstance(raw, str) else None
        if parsed is None:
            raise FieldError(self.message)
        return parsed


@dataclass(frozen=True)
class Day:
    """A calendar day, as an ISO 8601 date (or a date-time, of which the date as written counts)."""

    message: str

    def schema(self) -> dict[str, Any]:
        return {"type": "string"}

    def parse(self, name: str, raw: Any) -> date:
        day = calendar_day(raw) if isinstance(raw, str) and parse_datetime(raw) is not None else None
        if day is None:
            raise FieldError(self.message)
        return day


@dataclass(frozen=True)
class Since:
    """A moment: `today`, a span back from now (`7d`, `12h`, `30m`), or an ISO date or date-time; the
    clean value is seconds since the epoch."""

    def schema(self) -> dict[str, Any]:
        return {"type": "string"}

    def parse(self, name: str, raw: Any) -> float:
        try:
            return parse_since(str(raw), time.time())
        except ValueError as exc:
            raise FieldError(str(exc)) from None


@dataclass(frozen=True)
class Names:
    """A list of names from `allowed` (also as one comma-separated string); the items are checked by
    the tool's `build`, which knows what they may not clash with."""

    allowed: tuple[str, ...]
    message: str

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string", "enum": list(self.allowed)}}

    def parse(self, name: str, raw: Any) -> list[Any]:
        if raw == "":
            return []
        if isinstance(raw, str):
            raw = [part.strip() for part in raw.split(",") if part.strip()]
        if not isinstance(raw, list):
            raise FieldError(self.message, allowed=list(self.allowed))
        return raw


@dataclass(frozen=True)
class RecordIds:
    """Record Ids by the shared integer rule (positive), in order, each once; one Id alone is a list of one."""

    maximum: int
    item_description: str

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "integer", "description": self.item_description}}

    def parse(self, name: str, raw: Any) -> list[int]:
        if isinstance(raw, (int, str)) and not isinstance(raw, bool):
            raw = [raw]
        if not isinstance(raw, list):
            raise FieldError("must be a list of check Ids (integers)")
        ids: list[int] = []
        errors = []
        for item in raw:
            try:
                value = integer(item)
                if value <= 0:
                    raise FieldError("must be positive")
            except FieldError:
                errors.append(
                    problem(name, f"must be check Ids (positive integers); {cap(item)!r} is not one", cap(item))
                )
                continue
            if value not in ids:
                ids.append(value)
        if len(ids) > self.maximum:
            errors.append(problem(name, f"at most {self.maximum} checks at a time", len(ids)))
        if errors:
            raise Problems(errors)
        return ids


@dataclass(frozen=True)
class NameValues:
    """[{Name, Value}, …] as the API takes them (a list: an object map would need
    `additionalProperties` to say "any key", which some clients reject), or a {name: value} map;
    values become text."""

    item_properties: Mapping[str, Any]
    max_value: int

    def schema(self) -> dict[str, Any]:
        return {
            "type": "array",
            "items": {
                "type": "object",
                "description": "One parameter.",
                "properties": dict(self.item_properties),
                "required": ["Name", "Value"],
            },
        }

    def parse(self, name: str, raw: Any) -> dict[str, str]:
        pairs: list[tuple[Any, Any]] = []
        errors = []
        if isinstance(raw, dict):
            pairs = list(raw.items())
        elif isinstance(raw, list):
            for item in raw:
                if isinstance(item, dict) and "Name" in item:
                    pairs.append((item.get("Name"), item.get("Value")))
                else:
                    errors.append(problem(name, "each item must be an object {Name, Value}", cap(item)))
        else:
            errors.append(problem(name, "must be a list of {Name, Value} objects", cap(raw)))
        out: dict[str, str] = {}
        for key, value in pairs:
            if not isinstance(key, str) or not key.strip():
                errors.append(problem(name, "a parameter's Name must be text", cap(key)))
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, (int, float)):
                value = str(value)
            if not isinstance(value, str):
                errors.append(problem(cap(key), "must be text (a string value)", cap(value)))
                continue
            if len(value) > self.max_value:
                errors.append(problem(cap(key), f"must be at most {self.max_value} characters", len(value)))
                continue
            out[key.strip()] = value
        if errors:
            raise Problems(errors)
        return out


Blank = Literal["value", "absent", "clear"]


@dataclass(frozen=True)
class Arg:
    """One argument. `description` None: the rule's field describes itself (the field table's text).
    `required`: listed as required in the schema; `missing`: the problem when it is not given (None:
    not given is allowed, the tool's `build` decides). `blank` says what "" means: a value for the
    rule, not given (a strict client's empty filter), or "clear this field"."""

    name: str
    rule: Rule
    description: str | None = None
    required: bool = False
    missing: str | None = None
    blank: Blank = "value"
    # A required argument sent as null (not left out): "keep the record's value" instead of `missing`.
    null_keeps: bool = False

    def schema(self) -> dict[str, Any]:
        if self.description is None:
            assert isinstance(self.rule, FieldValue)
            return field_property(self.rule.field)
        return {**self.rule.schema(), "description": self.description}


@dataclass
class Parsed:
    """What the arguments parsed to: the clean values of those given, the fields given as "" to
    clear, and every problem so far (a tool's `build` may add more)."""

    values: dict[str, Any] = field(default_factory=dict)
    blanked: list[str] = field(default_factory=list)
    nulled: list[str] = field(default_factory=list)  # `null_keeps` arguments sent as null
    errors: list[Problem] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # required arguments left out or sent blank


@dataclass(frozen=True)
class InputModel(Generic[R]):
    args: tuple[Arg, ...]
    build: Callable[[Parsed], R]
    # Fields the record has but this tool cannot write: said to be exactly that, with `read_only_notes`.
    read_only: tuple[str, ...] = ()
    read_only_notes: Mapping[str, str] = field(default_factory=dict)
    # The argument whose valid value names the record (so the tool can hint with its current values).
    record_id: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.args)

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object", "properties": {a.name: a.schema() for a in self.args}}
        required = [a.name for a in self.args if a.required]
        if required:
            schema["required"] = required
        return schema

    def parse(self, arguments: Mapping[str, Any] | None) -> R:
        """The tool's typed request, or ArgumentErrors listing every problem."""
        args = dict(arguments or {})
        parsed = Parsed()
        for arg in self.args:
            raw = args.get(arg.name)
            if raw is None and arg.null_keeps and arg.name in args:
                parsed.nulled.append(arg.name)
                continue
            if raw is None or (raw == "" and arg.blank == "absent"):
                if arg.missing is not None:
                    parsed.errors.append(problem(arg.name, arg.missing, None))
                    parsed.missing.append(arg.name)
                continue
            if raw == "" and arg.blank == "clear":
                parsed.blanked.append(arg.name)
                continue
            try:
                parsed.values[arg.name] = arg.rule.parse(arg.name, raw)
            except FieldError as exc:
                parsed.errors.append(exc.as_problem(arg.name, raw))
                if exc.missing:
                    parsed.missing.append(arg.name)
            except Problems as many:
                parsed.errors.extend(many.errors)
        parsed.errors.extend(unknown_properties(args, self.names, self.read_only, self.read_only_notes))
        request = self.build(parsed)
        if parsed.errors:
            record_id = parsed.values.get(self.record_id) if self.record_id else None
            raise ArgumentErrors(parsed.errors, record_id, tuple(parsed.missing))
        return request
