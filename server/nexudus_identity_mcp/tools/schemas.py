"""What a client sees of each tool: name, title, description, input and output schema, annotations.

The update tool's input schema is generated from the field table, so it cannot drift from the
validator or the API. Every schema here is portable (see DESIGN.md): a flat object, everything
inline, no `$ref`/`$defs`, no `anyOf`/`oneOf`/`allOf`, no nullable type lists, no `format`, no
`additionalProperties` (google-genai's MCP support reads `false` there as a sub-schema and crashes;
the validator refuses unknown properties itself, with a hint), and a description on every property.
Enums are names; the server also accepts the codes (the description says so, without listing them).
What a model reads of the three tools is budgeted (bench/bench.py prints it): keep descriptions short.
"""

from __future__ import annotations

import json
from typing import Any

import mcp.types as types

from ..nexudus.errors import ErrorKind
from ..record.fields import BY_NAME, OPTIONAL_PUT, PUT_FIELDS, RECORD_FIELD_NAMES, Field
from ..record.validation import (
    CLEAR_FIELDS,
    DEFAULT_PAGE_SIZE,
    DRY_RUN,
    EXPECTED_UPDATED_ON,
    FIND_FILTERS,
    MAX_PAGE_SIZE,
    PAGE,
    PAGE_SIZE,
    REASSIGN,
)
from .names import FIND_TOOL, GET_TOOL, LIST_COMMANDS_TOOL, READ_TOOLS, RUN_COMMAND_TOOL, UPDATE_TOOL

FIND_ROW_FIELDS = (
    "Id",
    "Name",
    "CoworkerId",
    "CoworkerFullName",
    "BusinessId",
    "BusinessName",
    "VerificationType",
    "VerificationStatus",
    "UpdatedOn",
)

DATE_HINT = "ISO 8601 date or date-time, e.g. 2031-03-14 or 2031-03-14T00:00:00Z; sent as UTC."
ENUM_NOTE = "Names; codes are also accepted."


def field_property(f: Field) -> dict[str, Any]:
    description = f.description
    if f.enum is not None:
        return {
            "type": "string",
            "enum": f.enum.names,
            "description": f"{description} {ENUM_NOTE}",
        }
    if f.type == "datetime":
        return {"type": "string", "description": f"{description} {DATE_HINT}"}
    if f.pii == "id_document":
        return {
            "type": "string",
            "description": f"{description} Reads show a token like «ID_DOC:3f9a1c2b»; "
            "leave it out (or pass the token back) to keep it.",
        }
    return {"type": {"integer": "integer", "boolean": "boolean"}.get(f.type, "string"), "description": description}


def update_input_schema() -> dict[str, Any]:
    properties = {f.name: field_property(f) for f in PUT_FIELDS}
    properties[CLEAR_FIELDS] = {
        "type": "array",
        "items": {"type": "string", "enum": list(OPTIONAL_PUT)},
        "description": 'Optional fields to blank. Only these are cleared; "" for a text or date field '
        "does the same. A field left out or null keeps its value.",
    }
    properties[DRY_RUN] = {
        "type": "boolean",
        "description": "true: return the Changes and the exact body without writing, to show the user "
        "before they confirm.",
    }
    properties[EXPECTED_UPDATED_ON] = {
        "type": "string",
        "description": "The UpdatedOn you read. If the record changed since, nothing is written.",
    }
    properties[REASSIGN] = {
        "type": "boolean",
        "description": "true only when the user asked to move the check to another BusinessId or "
        "CoworkerId; otherwise those must match the record.",
    }
    return {
        "type": "object",
        "properties": properties,
        "required": [f.name for f in PUT_FIELDS if f.required],
    }


GET_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"Id": {"type": "integer", "description": "The Id of the CoworkerIdentityCheck record to read."}},
    "required": ["Id"],
}

_FIND_FILTER_TEXT = {
    "CoworkerFullName": "Member's name or part of it (any case, accents optional).",
    "CoworkerId": "Only the checks of this coworker (member) Id.",
    "BusinessId": "Only the checks at this business (location) Id.",
    "Name": "The check's own title (e.g. 'Passport check'), or part of it. Not the member's name.",
    "VerificationStatus": "Only checks in this status.",
    "VerificationType": "Only checks of this type.",
}


def find_input_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name in FIND_FILTERS:
        f = BY_NAME[name]
        codes = f" {ENUM_NOTE}" if f.enum else ""
        properties[name] = {**field_property(f), "description": _FIND_FILTER_TEXT[name] + codes}
    properties[PAGE] = {"type": "integer", "minimum": 1, "description": "Page number, from 1 (default 1)."}
    properties[PAGE_SIZE] = {
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_PAGE_SIZE,
        "description": f"Rows per page, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}).",
    }
    return {"type": "object", "properties": properties}


_ERROR_ITEM: dict[str, Any] = {
    "type": "object",
    "description": "One problem, in the API's error shape.",
    "properties": {
        "PropertyName": {"type": "string", "description": "The argument to fix."},
        "Message": {"type": "string", "description": "What is wrong with it."},
        "AttemptedValue": {"description": "The value that was given (identity-document numbers redacted)."},
        "AllowedValues": {"type": "array", "items": {"type": "string"}, "description": "Valid names, for enums."},
        "Hint": {
            "type": "string",
            "description": "The closest valid name or property; for a required field, the record's current value.",
        },
    },
}

# Keys every failure carries; one flat schema per tool accepts success and failure alike.
_ERROR_PROPERTIES: dict[str, Any] = {
    "WasSuccessful": {"type": "boolean", "description": "true on success; false on any failure."},
    "Message": {"type": "string", "description": "What happened, in one or a few sentences."},
    "ErrorKind": {
        "type": "string",
        "enum": [kind.value for kind in ErrorKind],
        "description": "On failure: what kind of problem it is.",
    },
    "Errors": {"type": "array", "items": _ERROR_ITEM, "description": "On failure: each problem found."},
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

_CHANGE_ITEM: dict[str, Any] = {
    "type": "object",
    "description": "One field that changes.",
    "properties": {
        "Field": {"type": "string", "description": "The field's name."},
        "From": {"description": "Its value before (enums as names)."},
        "To": {"description": "Its value after (enums as names)."},
    },
}

UPDATE_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **_ERROR_PROPERTIES,
        "Value": {
            "type": "object",
            "description": "On success: the Id of the updated record.",
            "properties": {"Id": {"type": "integer", "description": "The record's Id."}},
        },
        "UpdatedOn": {"type": "string", "description": "On success: the record's new UpdatedOn."},
        "UpdatedBy": {"type": "string", "description": "On success: who the API recorded as the updater."},
        "Changes": {"type": "array", "items": _CHANGE_ITEM, "description": "The fields that change."},
        "Warnings": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Changes to tell the user about, e.g. a required enum that changes or becomes None.",
        },
        "DryRun": {"type": "boolean", "description": "true when nothing was written on purpose."},
        "Body": {
            "type": "object",
            "description": "On a dry run: the body that would be sent (identity-document numbers redacted; "
            "text fields this server does not know are sent unchanged but not shown).",
        },
    },
    "required": ["WasSuccessful", "Message"],
}

GET_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **_ERROR_PROPERTIES,
        "Record": {
            "type": "object",
            "description": "On success: the whole record, enums as names, with the "
            "same field names the update tool takes.",
            "properties": {name: {"description": name} for name in RECORD_FIELD_NAMES},
        },
    },
    "required": ["WasSuccessful", "Message"],
}

FIND_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **_ERROR_PROPERTIES,
        "Checks": {
            "type": "array",
            "description": "On success: one compact row per check, enums as names.",
            "items": {
                "type": "object",
                "description": "A check.",
                "properties": {name: {"description": name} for name in FIND_ROW_FIELDS},
            },
        },
        "Page": {"type": "integer", "description": "This page's number."},
        "PageSize": {"type": "integer", "description": "Rows per page."},
        "TotalItems": {"type": "integer", "description": "Checks matching the filters, on all pages."},
        "TotalPages": {"type": "integer", "description": "Pages in all."},
        "HasNextPage": {"type": "boolean", "description": "true: call again with Page + 1 for more."},
        "FilteredHere": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Filters this server applied to the rows itself (the API ignored them, or matched "
            "no member name as given).",
        },
        "Complete": {
            "type": "boolean",
            "description": "With FilteredHere: false when the scan stopped at its bound and later matches may exist.",
        },
    },
    "required": ["WasSuccessful", "Message"],
}

FIND_DESCRIPTION = (
    "Find Nexudus coworker identity checks, a page at a time (TotalItems, HasNextPage). To find a member's "
    "checks by their name, use CoworkerFullName (Name is the check's title, like 'Passport check'); narrow "
    "with BusinessId (location), VerificationStatus or VerificationType. Rows are compact: read one with "
    "get_coworker_identity_check before updating it."
)

UPDATE_DESCRIPTION = (
    "Update a Nexudus coworker identity check. Read it first with get_coworker_identity_check and copy "
    "its required fields; change only what the user asked for. The tool keeps every field you leave "
    "out (or send as null); only ClearFields blanks. VerificationStatus and VerificationType are "
    f"read-only here (a status changes with {RUN_COMMAND_TOOL}). DryRun shows the changes without "
    "writing. Errors name each PropertyName to fix, with a Hint."
)

GET_DESCRIPTION = (
    "Read one Nexudus coworker identity check by Id: every field, enums as names, in the field names "
    "update_coworker_identity_check takes, plus UpdatedOn for ExpectedUpdatedOn. "
    "Identity-document numbers are shown as tokens."
)


# ----------------------------------------------------------------- commands
# Parameters travel as the API takes them, a list of {Name, Value}: an object map would need
# `additionalProperties` to say "any key", which some clients reject (see DESIGN.md), and an object
# with no properties is dropped or refused by strict clients. The server also accepts a map.
LIST_COMMANDS_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "Refresh": {
            "type": "boolean",
            "description": "true: ask Nexudus for the list again instead of using the copy kept for a few minutes.",
        }
    },
}

RUN_COMMAND_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "Key": {
            "type": "string",
            "description": f"The command's Key, exactly as {LIST_COMMANDS_TOOL} lists it (not its Name). "
            "Keys differ between Nexudus accounts: never guess one.",
        },
        "Ids": {
            "type": "array",
            "items": {"type": "integer", "description": "A check's Id."},
            "description": "The Ids of the checks to run the command on. A command listed with OneIdOnly "
            "takes exactly one.",
        },
        "Parameters": {
            "type": "array",
            "description": "The command's parameters, by the names the list gives (e.g. the rejection "
            "notes of a rejection). Leave out when it takes none.",
            "items": {
                "type": "object",
                "description": "One parameter.",
                "properties": {
                    "Name": {"type": "string", "description": "The parameter's name, as listed."},
                    "Value": {"type": "string", "description": "Its value, as text."},
                },
                "required": ["Name", "Value"],
            },
        },
        DRY_RUN: {
            "type": "boolean",
            "description": "true: check the arguments and read the checks, and say what would happen, "
            "without running anything. Use it to show the user before they confirm.",
        },
    },
    "required": ["Key", "Ids"],
}

_COMMAND_ITEM: dict[str, Any] = {
    "type": "object",
    "description": "A command.",
    "properties": {
        "Key": {"type": "string", "description": "What to pass as Key to run it."},
        "Name": {"type": "string", "description": "Its name, as staff see it in Nexudus."},
        "NeedsIds": {"type": "boolean", "description": "Whether it runs on checks given by Ids."},
        "OneIdOnly": {"type": "boolean", "description": "true: it runs on exactly one check per call."},
        "Parameters": {
            "type": "array",
            "description": "The parameters it takes.",
            "items": {
                "type": "object",
                "description": "A parameter.",
                "properties": {
                    "Name": {"type": "string", "description": "Its name, for Parameters[].Name."},
                    "Required": {"type": "boolean", "description": "Whether it must be given."},
                },
            },
        },
    },
}

LIST_COMMANDS_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **_ERROR_PROPERTIES,
        "Commands": {"type": "array", "items": _COMMAND_ITEM, "description": "On success: every command."},
    },
    "required": ["WasSuccessful", "Message"],
}

_CHECK_STATUS_ITEM: dict[str, Any] = {
    "type": "object",
    "description": "A check the command ran (or would run) on.",
    "properties": {
        "Id": {"type": "integer", "description": "The check's Id."},
        "Name": {"description": "The check's name."},
        "CoworkerFullName": {"description": "The member."},
        "VerificationStatusBefore": {"description": "Its VerificationStatus before the command."},
        "VerificationStatus": {"description": "Its VerificationStatus now (after the command)."},
        "LastError": {"description": "Its LastError now (a rejection's notes)."},
        "UpdatedOn": {"description": "Its UpdatedOn now."},
    },
}

RUN_COMMAND_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **_ERROR_PROPERTIES,
        "Key": {"type": "string", "description": "The command's Key."},
        "CommandName": {"type": "string", "description": "The command's name."},
        "Ids": {
            "type": "array",
            "items": {"type": "integer", "description": "A check's Id."},
            "description": "The checks.",
        },
        "DryRun": {"type": "boolean", "description": "true when nothing was run on purpose."},
        "Confirmation": {
            "type": "string",
            "description": "How the run was confirmed: user_accepted (the user accepted in their client), "
            "client_cannot_ask, not_asked (confirmation turned off), declined or cancelled (the user said "
            "no: nothing was run).",
        },
        "UpdatedOn": {"description": "On success: when Nexudus recorded the run."},
        "OutcomeUnknown": {
            "type": "boolean",
            "description": "true: the request was sent but no clear answer came back; it may or may not have "
            "run. Checks shows them as they are now. Never simply run it again.",
        },
        "Checks": {
            "type": "array",
            "items": _CHECK_STATUS_ITEM,
            "description": "Each check with its VerificationStatus before and after.",
        },
    },
    "required": ["WasSuccessful", "Message"],
}

LIST_COMMANDS_DESCRIPTION = (
    "List the commands Nexudus offers for coworker identity checks on this account (e.g. mark as verified, "
    "mark as rejected): each with the Key to run it, its Name, whether it takes one Id or many, and its "
    "parameters. The Keys come from the live API and differ between accounts: read them here, never guess. "
    "VerificationStatus is changed by these commands, not by the update tool."
)

RUN_COMMAND_DESCRIPTION = (
    "Run a Nexudus command on coworker identity checks, e.g. mark a check as verified, or as rejected with "
    f"rejection notes. Get the Key and parameter names from {LIST_COMMANDS_TOOL}. This cannot be undone and "
    "Nexudus may email the member: the server asks the user to confirm in their client when the client "
    "can; otherwise call with DryRun: true first, show the user what would happen, and run it only after "
    "they agree. The result shows each check's VerificationStatus before and after. A 'declined' result "
    "means the user said no: nothing was run; do not retry unless they ask again."
)


def _tool(
    name: str,
    title: str,
    description: str,
    input_schema: dict[str, Any],
    output_schema: dict[str, Any],
    *,
    writes: bool,
    idempotent: bool = True,
) -> types.Tool:
    """A tool with its annotations: read tools are read-only; the update is destructive (it replaces
    the record) yet idempotent (the same call twice leaves the same record); a command run is
    destructive and not idempotent (it may email the member each time). All reach Nexudus."""
    return types.Tool(
        name=name,
        title=title,
        description=description,
        input_schema=input_schema,
        output_schema=output_schema,
        annotations=types.ToolAnnotations(
            title=title,
            read_only_hint=not writes,
            destructive_hint=writes,
            idempotent_hint=idempotent,
            open_world_hint=True,
        ),
    )


def tool_definitions(*, read_only: bool = False) -> list[types.Tool]:
    """The tools a client sees; read-only mode leaves the update out."""
    tools = [
        _tool(
            FIND_TOOL,
            "Find coworker identity checks",
            FIND_DESCRIPTION,
            find_input_schema(),
            FIND_OUTPUT_SCHEMA,
            writes=False,
        ),
        _tool(
            GET_TOOL,
            "Read a coworker identity check",
            GET_DESCRIPTION,
            GET_INPUT_SCHEMA,
            GET_OUTPUT_SCHEMA,
            writes=False,
        ),
        _tool(
            UPDATE_TOOL,
            "Update a coworker identity check",
            UPDATE_DESCRIPTION,
            update_input_schema(),
            UPDATE_OUTPUT_SCHEMA,
            writes=True,
        ),
        _tool(
            LIST_COMMANDS_TOOL,
            "List identity-check commands",
            LIST_COMMANDS_DESCRIPTION,
            LIST_COMMANDS_INPUT_SCHEMA,
            LIST_COMMANDS_OUTPUT_SCHEMA,
            writes=False,
        ),
        _tool(
            RUN_COMMAND_TOOL,
            "Run an identity-check command",
            RUN_COMMAND_DESCRIPTION,
            RUN_COMMAND_INPUT_SCHEMA,
            RUN_COMMAND_OUTPUT_SCHEMA,
            writes=True,
            idempotent=False,
        ),
    ]
    return [t for t in tools if not read_only or t.name in READ_TOOLS]


MODEL_VISIBLE_BUDGET = 7600
"""Bytes a model reads of the three original tools (find, get, update): issue #13's ceiling."""


def model_visible_bytes(tool: types.Tool) -> int:
    """What a model reads of a tool: the JSON of its name, description and input schema (UTF-8)."""
    seen = {"name": tool.name, "description": tool.description, "inputSchema": tool.input_schema}
    return len(json.dumps(seen, ensure_ascii=False).encode())
