"""The pieces the tools' schemas are built from (`catalog.py` declares each tool with them): how a
field of the record is described as an argument, the keys every result carries (success or
failure, one flat schema per tool), and the items results list. Enums are names: the schema's `enum`
is what a client that validates locally (CrewAI, AutoGen) lets through, so the descriptions say no
more than it does; the server still accepts codes and any case (issue #27 item 11). The rules every input schema
follows are in `arguments.py`'s docstring. What a model reads of the three original tools is
budgeted (bench/bench.py prints it): keep descriptions short.

Output schemas (`result_schema`; `tests/test_tool_schemas.py` walks them):
- One flat object per tool that accepts the success and the failure body alike, because some
  clients validate `structuredContent` against it (the Python SDK raises, the TypeScript SDK
  refuses). The values Nexudus sends are fitted to the piece here that describes them where they
  enter a result (`shape.as_declared`: a record against `RECORD_ITEM`, a find row `FIND_ROW_ITEM`,
  a member `MEMBER_ITEM`, a change `CHANGE_ITEM`, a command's check `CHECK_STATUS_ITEM`, a journal
  entry `ENTRY_ITEM`, an envelope's field its tool's property; an API error is a typed `Problem`,
  `ERROR_ITEM`'s keys, from the client on); the keys the server builds itself match by construction,
  and nothing is fitted on the way out.
- Every property, item and branch carries a validation keyword, a `type` above all: a node with a
  description only accepts any value, and schema linters (the MCP Inspector's `--strict`) and some
  clients refuse or mishandle it.
- A value that can be null (a record's field: the API leaves most of them empty) or that takes
  several types (a change's From/To) is `anyOf` typed branches, one `type` each, `{"type": "null"}`
  among them (`nullable`, `any_value`); never a type list (`"type": ["string", "null"]`, which
  several clients read as one string) and never a bare `{}`. Input schemas use neither (clients
  hand them to models, and the Anthropic API and Cursor trip on unions); output schemas are read
  by validators, which all take `anyOf`.
"""

from __future__ import annotations

from typing import Any

from ..nexudus.errors import ErrorKind
from ..record.fields import BY_NAME, RECORD_FIELD_NAMES, Field
from ..record.members import MEMBER_FIELDS
from ..state.journal import OUTCOMES, READ_BACKS

# A find row: every field the update requires (so a row is enough to update from), UpdatedOn (for
# ExpectedUpdatedOn), and what picks the right row (member, location, kind, status, expiry).
FIND_ROW_FIELDS = (
    "Id",
    "Name",
    "CoworkerId",
    "CoworkerFullName",
    "BusinessId",
    "BusinessName",
    "IdentityCheckProvider",
    "IdentityDocumentType",
    "AddressDocumentType",
    "VerificationType",
    "VerificationStatus",
    "IdentityDocumentExpirationDate",
    "UpdatedOn",
)

# The JSON type of a record field's value as results show it (enums as names, dates and GUIDs as text).
RESULT_TYPES: dict[str, str] = {"integer": "integer", "boolean": "boolean"}
ANY_TYPES = ("string", "number", "boolean", "object", "array")
SCALAR_TYPES = ("string", "integer", "boolean")


def _either(words: tuple[str, ...]) -> str:
    """'a, b or c': a closed set of values in a description."""
    return f"{', '.join(words[:-1])} or {words[-1]}" if len(words) > 1 else "".join(words)


def nullable(kind: str, description: str) -> dict[str, Any]:
    """A result value of one JSON type that may also be null."""
    return {"anyOf": [{"type": kind}, {"type": "null"}], "description": description}


def any_value(description: str, kinds: tuple[str, ...] = ANY_TYPES) -> dict[str, Any]:
    """A result value that takes several JSON types (say, any field's value), or null."""
    return {"anyOf": [*({"type": kind} for kind in kinds), {"type": "null"}], "description": description}


def record_value(f: Field, description: str | None = None) -> dict[str, Any]:
    """A record field's value in a result: its type, or null (the API leaves fields empty)."""
    shown = description if description is not None else f.name
    if f.name == "Id":
        return {"type": "integer", "description": shown}
    return nullable("string" if f.enum is not None else RESULT_TYPES.get(f.type, "string"), shown)


def record_item(names: tuple[str, ...], description: str) -> dict[str, Any]:
    """A record's fields (or some of them) in a result, each its type or null."""
    return {
        "type": "object",
        "description": description,
        "properties": {name: record_value(BY_NAME[name]) for name in names},
    }


DATE_HINT = "A date, e.g. 2031-03-14 (of a date-time only the date as written counts)."


def field_property(f: Field) -> dict[str, Any]:
    description = f.description
    if f.enum is not None:
        return {
            "type": "string",
            "enum": f.enum.names,
            "description": description,
        }
    if f.type == "date":
        return {"type": "string", "description": f"{description} {DATE_HINT}"}
    if f.pii == "id_document":
        return {
            "type": "string",
            "description": f"{description} Reads show a token like «ID_DOC:3f9a1c2b»; "
            "leave it out (or pass the token back) to keep it.",
        }
    return {"type": {"integer": "integer", "boolean": "boolean"}.get(f.type, "string"), "description": description}


ERROR_ITEM: dict[str, Any] = {
    "type": "object",
    "description": "One problem, in the API's error shape.",
    "properties": {
        "PropertyName": {"type": "string", "description": "The argument to fix."},
        "Message": {"type": "string", "description": "What is wrong with it."},
        "AttemptedValue": any_value("The value that was given (identity-document numbers redacted)."),
        "AllowedValues": {"type": "array", "items": {"type": "string"}, "description": "Valid names, for enums."},
        "Hint": {
            "type": "string",
            "description": "The closest valid name or property; for a required field, the record's current value.",
        },
    },
}

RECORD_ITEM = record_item(
    RECORD_FIELD_NAMES,
    "On success: the whole record, enums as names, with the same field names the update tool takes.",
)
FIND_ROW_ITEM = record_item(FIND_ROW_FIELDS, "A check.")

# Keys every failure carries; one flat schema per tool accepts success and failure alike.
ERROR_PROPERTIES: dict[str, Any] = {
    "WasSuccessful": {"type": "boolean", "description": "true on success; false on any failure."},
    "Message": {"type": "string", "description": "What happened, in one or a few sentences."},
    "ErrorKind": {
        "type": "string",
        "enum": [kind.value for kind in ErrorKind],
        "description": "On failure: what kind of problem it is.",
    },
    "Errors": {"type": "array", "items": ERROR_ITEM, "description": "On failure: each problem found."},
    "Retryable": {"type": "boolean", "description": "On failure: whether the same call may succeed later."},
    "Source": {
        "type": "string",
        "enum": ["local", "nexudus"],
        "description": "On failure: whether this server or the Nexudus API found the problem.",
    },
    "RetryAfterSeconds": {"type": "number", "description": "On throttling: seconds to wait before retrying."},
    "Status": {"type": "integer", "description": "On an API failure: the HTTP status Nexudus answered."},
    "CurrentUpdatedOn": {"type": "string", "description": "On conflict: the record's UpdatedOn now."},
    "Confirmation": {
        "type": "string",
        "description": "When the user was asked to confirm a write: what they answered (declined, cancelled).",
    },
}

MEMBER_ITEM: dict[str, Any] = {
    "type": "object",
    "description": "A member (coworker).",
    "properties": {
        f.name: {"type": f.type, "description": f.description} if f.name == "Id" else nullable(f.type, f.description)
        for f in MEMBER_FIELDS
    },
}

CHANGE_ITEM: dict[str, Any] = {
    "type": "object",
    "description": "One field that changes.",
    "properties": {
        "Field": {"type": "string", "description": "The field's name."},
        "From": any_value("Its value before (enums as names).", SCALAR_TYPES),
        "To": any_value("Its value after (enums as names).", SCALAR_TYPES),
        "FromMember": {**MEMBER_ITEM, "description": "For CoworkerId: the member it belonged to."},
        "ToMember": {**MEMBER_ITEM, "description": "For CoworkerId: the member it moves to."},
    },
}

COMMAND_ITEM: dict[str, Any] = {
    "type": "object",
    "description": "A command.",
    "properties": {
        "Key": {"type": "string", "description": "What to pass as Key to run it."},
        "Name": {"type": "string", "description": "Its name, as staff see it in Nexudus."},
        "NeedsIds": {"type": "boolean", "description": "Whether it runs on checks given by Ids."},
        "OneIdOnly": {"type": "boolean", "description": "true: it runs on exactly one check per call."},
        "Effect": {
            "type": "string",
            "description": "What it does to a check (resulting VerificationStatus, LastError), each part marked "
            "seen on this account or assumed.",
        },
        "ManyIdsOnly": {"type": "boolean", "description": "true: it runs only on two or more checks at once."},
        "Order": nullable("integer", "Its place in Nexudus's own list (the list is in this order)."),
        "DisplayInDropdown": nullable("boolean", "Whether Nexudus offers it in its actions menu."),
        "Icon": nullable("string", "Nexudus's icon for it."),
        "Parameters": {
            "type": "array",
            "description": "The parameters it takes.",
            "items": {
                "type": "object",
                "description": "A parameter.",
                "properties": {
                    "Name": {"type": "string", "description": "Its name, for Parameters[].Name."},
                    "Required": {"type": "boolean", "description": "Whether it must be given."},
                    "Type": nullable(
                        "string", "Its type as Nexudus names it (e.g. String); the Value is sent as text."
                    ),
                },
            },
        },
    },
}

ENTRY_ITEM: dict[str, Any] = {
    "type": "object",
    "description": "One journaled write, compact.",
    "properties": {
        "EntryId": {"type": "integer", "description": "The entry's Id (what the undo tool takes)."},
        "At": {"type": "string", "description": "When (UTC)."},
        "Who": {"type": "string", "description": "The client, or the signed-in staff member."},
        "Tool": {"type": "string", "description": "The tool that wrote."},
        "CheckId": {"type": "integer", "description": "The check."},
        "CoworkerId": nullable("integer", "The check's member."),
        "CheckName": nullable("string", "The check's name then."),
        "CoworkerFullName": nullable("string", "The member's name then."),
        "Command": {"type": "string", "description": "A command's Key, for a command run."},
        "Outcome": {"type": "string", "description": f"{_either(OUTCOMES)}."},
        "ReadBack": {
            "type": "string",
            "description": f"{_either(READ_BACKS)} (changed: another writer, or Nexudus stored the value otherwise).",
        },
        "Changes": {"type": "array", "items": CHANGE_ITEM, "description": "Each field before and after."},
        "UndoOf": {"type": "integer", "description": "For an undo: the entry it reverted."},
        "Undo": {"type": "string", "description": "How to undo it, or why it cannot be."},
    },
}

CHECK_STATUS_ITEM: dict[str, Any] = {
    "type": "object",
    "description": "A check the command ran (or would run) on.",
    "properties": {
        "Id": {"type": "integer", "description": "The check's Id."},
        "Name": nullable("string", "The check's name."),
        "CoworkerFullName": nullable("string", "The member."),
        "VerificationStatusBefore": nullable("string", "Its VerificationStatus before the command."),
        "VerificationStatus": nullable("string", "Its VerificationStatus now (after the command)."),
        "LastError": nullable("string", "Its LastError now (a rejection's notes)."),
        "UpdatedOn": nullable("string", "Its UpdatedOn now."),
    },
}


# Any result may carry Warnings: facts for the user, and record text flagged as addressing an assistant.
WARNINGS_PROPERTY: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string"},
    "description": "Facts the user may need to know, and record text flagged as addressed to an assistant.",
}


def result_schema(properties: dict[str, Any]) -> dict[str, Any]:
    """A tool's output schema: the keys every result carries (success or failure) and its own."""
    return {
        "type": "object",
        "properties": {**ERROR_PROPERTIES, "Warnings": WARNINGS_PROPERTY, **properties},
        "required": ["WasSuccessful", "Message"],
    }
