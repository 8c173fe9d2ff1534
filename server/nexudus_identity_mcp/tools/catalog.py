"""Every tool of the server, each declared once: name, title, description, annotations (from
`writes`/`idempotent`), input model (its arguments and their rules: the input schema and the parser),
result schema and handler. The tool list, the argument parsing and the dispatch in `mcpserver/app.py`
all come from `TOOLS`; adding a tool is one declaration here (and its handler). docs/development.md,
"Adding a tool", says how.

A tool's name is spelled here only (tests/test_layout.py holds it): every other module, message and
description takes it from these constants, so a rename is one change.
"""

from __future__ import annotations

from typing import Any

import mcp.types as types

from ..record.fields import (
    BY_NAME,
    NOT_WRITABLE,
    OPTIONAL_PUT,
    PUT_FIELDS,
    SEARCH_FILTERS,
    STATUS_FIELDS,
    SearchFilter,
)
from ..record.members import MEMBER_FILTERS
from ..record.validation import (
    CLEAR_FIELDS,
    DEFAULT_PAGE_SIZE,
    DRY_RUN,
    EXPECTED_UPDATED_ON,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    REASSIGN,
    REQUIRED_MESSAGE,
    FindRequest,
    UpdateRequest,
    clear_list,
    problem,
)
from .arguments import (
    Arg,
    Boolean,
    DateTime,
    Day,
    FieldValue,
    InputModel,
    Integer,
    Names,
    NameValues,
    Parsed,
    RecordIds,
    Rule,
    Since,
    Text,
)
from .declaration import Tool
from .requests import ChangesRequest, ListRequest, MemberFindRequest, NumberRequest, RunRequest, UndoRequest
from .schemas import (
    CHANGE_ITEM,
    CHECK_STATUS_ITEM,
    COMMAND_ITEM,
    ENTRY_ITEM,
    FIND_ROW_ITEM,
    MEMBER_ITEM,
    RECORD_ITEM,
    nullable,
    result_schema,
)

FIND_TOOL = "find_coworker_identity_checks"
GET_TOOL = "get_coworker_identity_check"
UPDATE_TOOL = "update_coworker_identity_check"
# The command tools: the only way to change a check's VerificationStatus.
LIST_COMMANDS_TOOL = "list_coworker_identity_check_commands"
RUN_COMMAND_TOOL = "run_coworker_identity_check_command"
# Members, and a document number checked without being seen.
FIND_MEMBERS_TOOL = "find_coworkers"
COMPARE_NUMBER_TOOL = "compare_identity_document_number"
# The journal of writes: what changed, and undo.
LIST_CHANGES_TOOL = "list_coworker_identity_check_changes"
UNDO_TOOL = "undo_coworker_identity_check_update"
MAX_CHANGES_PAGE = 50

MAX_IDS = 50
MAX_PARAMETER = 2000
PAGE, PAGE_SIZE = "Page", "PageSize"


# ----------------------------------------------------------------------------------------- find
_DAY = "is not a date: give YYYY-MM-DD, e.g. 2030-03-01"


def _filter_arg(f: SearchFilter) -> Arg:
    """A find tool's argument for one of its filters, as the filter declares it: a window's bound is a
    day, a filter on a check field takes that field's values, any other plain text. "" from a strict
    client means no filter."""
    rule: Rule
    if f.window:
        rule = Day(_DAY)
    elif f.value_rule:
        rule = FieldValue(BY_NAME[f.value_rule])
    else:
        rule = Text("must be text")
    return Arg(f.argument, rule, f.description, blank="absent")


def _paging(noun: str) -> dict[str, Any]:
    """The paging facts of a find's answer (read.page_result writes them), for checks and members."""
    return {
        "Page": {"type": "integer", "description": "This page's number."},
        "PageSize": {"type": "integer", "description": "Rows per page."},
        "TotalItems": {"type": "integer", "description": f"{noun} matching the filters, on all pages."},
        "TotalPages": {"type": "integer", "description": "Pages in all."},
        "HasNextPage": {"type": "boolean", "description": "true: call again with Page + 1 for more."},
    }


def _find_request(parsed: Parsed) -> FindRequest:
    filters = {f.argument: parsed.values[f.argument] for f in SEARCH_FILTERS if f.argument in parsed.values}
    after, before = filters.get("ExpiresOnOrAfter"), filters.get("ExpiresBefore")
    if after is not None and before is not None and after >= before:
        parsed.errors.append(
            problem("ExpiresOnOrAfter", "must be before ExpiresBefore: no day is in that window", str(after))
        )
    return FindRequest(filters, parsed.values.get(PAGE, 1), parsed.values.get(PAGE_SIZE, DEFAULT_PAGE_SIZE))


FIND = Tool(
    name=FIND_TOOL,
    title="Find coworker identity checks",
    description=(
        "Find Nexudus coworker identity checks, a page at a time (TotalItems, HasNextPage). By member name: "
        "CoworkerFullName (Name is the check's title, like 'Passport check'); narrow with BusinessId (location), "
        "VerificationStatus or VerificationType; ExpiresBefore/ExpiresOnOrAfter find documents about to expire. "
        f"A row holds every field {UPDATE_TOOL} requires, and UpdatedOn: update from it directly; {GET_TOOL} "
        "only for the other fields."
    ),
    input=InputModel(
        (
            *(_filter_arg(f) for f in SEARCH_FILTERS),
            Arg(PAGE, Integer(1, MAX_PAGE, show_maximum=False), "Page number, from 1 (default 1)."),
            Arg(
                PAGE_SIZE,
                Integer(1, MAX_PAGE_SIZE),
                f"Rows per page, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}).",
            ),
        ),
        _find_request,
    ),
    output=result_schema(
        {
            "Checks": {
                "type": "array",
                "description": "On success: one compact row per check, enums as names.",
                "items": FIND_ROW_ITEM,
            },
            **_paging("Checks"),
            "FilteredHere": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Filters this server applied to the rows itself (the API ignored them, or matched "
                "no member name as given).",
            },
            "Complete": {
                "type": "boolean",
                "description": "With FilteredHere: false when the scan stopped at its bound and later matches "
                "may exist.",
            },
        }
    ),
    handler=lambda tools, request, ctx: tools.find(request, ctx),
    refused="nothing was searched.",
)

# ------------------------------------------------------------------------------------------ get
GET = Tool(
    name=GET_TOOL,
    title="Read a coworker identity check",
    description=(
        "Read one Nexudus coworker identity check by Id: every field, enums as names, in the field names "
        f"{UPDATE_TOOL} takes, plus UpdatedOn for ExpectedUpdatedOn. "
        "Identity-document numbers are shown as tokens."
    ),
    input=InputModel(
        (
            Arg(
                "Id",
                FieldValue(BY_NAME["Id"]),
                "The Id of the CoworkerIdentityCheck record to read.",
                required=True,
                missing="is a required field: the check's integer Id",
            ),
        ),
        lambda parsed: int(parsed.values.get("Id", 0)),
    ),
    output=result_schema(
        {
            "Record": RECORD_ITEM,
        }
    ),
    handler=lambda tools, check_id, ctx: tools.get(check_id, ctx),
)


# --------------------------------------------------------------------------------------- update
def _update_request(parsed: Parsed) -> UpdateRequest:
    values = {f.name: parsed.values[f.name] for f in PUT_FIELDS if f.name in parsed.values}
    clear = clear_list(parsed.values.get(CLEAR_FIELDS, []), values, parsed.errors)
    clear += [name for name in parsed.blanked if name not in clear]
    return UpdateRequest(
        check_id=values.get("Id", 0),
        values=values,
        clear=clear,
        dry_run=parsed.values.get(DRY_RUN, False),
        expected_updated_on=parsed.values.get(EXPECTED_UPDATED_ON),
        reassign=parsed.values.get(REASSIGN, False),
        kept=list(parsed.nulled),
    )


UPDATE = Tool(
    name=UPDATE_TOOL,
    title="Update a coworker identity check",
    description=(
        f"Update a Nexudus coworker identity check. Copy its required fields from a {FIND_TOOL} row or "
        f"{GET_TOOL}; change only what the user asked for. A field left out or null keeps its value; only "
        "ClearFields blanks. VerificationStatus and VerificationType are read-only here (a status changes with "
        f"{RUN_COMMAND_TOOL}; the type is set when the check is created in Nexudus). DryRun shows the changes "
        "without writing. The result is read back from Nexudus (Changes: the new values; UpdatedOn: the new one): "
        "no need to read the check again. Errors name each PropertyName to fix, with a Hint."
    ),
    input=InputModel(
        (
            *(
                Arg(
                    f.name,
                    FieldValue(f),
                    required=f.required,
                    missing=REQUIRED_MESSAGE if f.required else None,
                    null_keeps=f.required and f.name != "Id",  # null: keep the record's value (Agno's "None")
                    # "" for an optional text or date field: cleared, like naming it in ClearFields
                    blank="clear" if not f.required and f.type in ("string", "date") else "value",
                )
                for f in PUT_FIELDS
            ),
            Arg(
                CLEAR_FIELDS,
                Names(OPTIONAL_PUT, "must be a list of optional field names"),
                'Optional fields to blank (Billed blanks to false). Only these are cleared; "" for a text or '
                "date field does the same.",
            ),
            Arg(
                DRY_RUN,
                Boolean(),
                "true: return the Changes and the body that would be sent, without writing, to show the user "
                "before they confirm.",
            ),
            Arg(
                EXPECTED_UPDATED_ON,
                DateTime(f"is not an ISO 8601 date-time; copy UpdatedOn from {GET_TOOL}"),
                "The UpdatedOn you read. If the record changed since, nothing is written.",
            ),
            Arg(
                REASSIGN,
                Boolean(),
                "true only when the user asked to move the check to another BusinessId or "
                "CoworkerId; otherwise those must match the record.",
            ),
        ),
        _update_request,
        read_only=NOT_WRITABLE,
        read_only_notes=dict.fromkeys(STATUS_FIELDS, f". To change a check's status use {RUN_COMMAND_TOOL}"),
        record_id="Id",
    ),
    output=result_schema(
        {
            "Value": {
                "type": "object",
                "description": "On success: the Id of the updated record.",
                "properties": {"Id": {"type": "integer", "description": "The record's Id."}},
            },
            "UpdatedOn": {
                "type": "string",
                "description": "On success: the record's new UpdatedOn, as read back (the next ExpectedUpdatedOn).",
            },
            "UpdatedBy": {"type": "string", "description": "On success: who the API recorded as the updater."},
            "Changes": {
                "type": "array",
                "items": CHANGE_ITEM,
                "description": "The fields that change, each with its value before and its new value.",
            },
            "ReadBack": {
                "type": "string",
                "enum": ["verified", "not_read"],
                "description": "After a write: verified (read back from Nexudus, every field holds the value "
                "sent: no second read needed) or not_read (the read-back failed: read it again).",
            },
            "DryRun": {"type": "boolean", "description": "true when nothing was written on purpose."},
            "EntryId": {"type": "integer", "description": f"The journal entry of this write ({UNDO_TOOL} takes it)."},
            "Body": {
                "type": "object",
                "description": "On a dry run: the whole record that would be sent (a full replace), enums as "
                "names (sent as codes), a document number as its token (sent as stored); the Message names the "
                "fields carried back unchanged and those sent but not shown.",
            },
        }
    ),
    handler=lambda tools, request, ctx: tools.update(request, ctx),
    writes=True,
    refused="nothing was sent to Nexudus. Fix each property in Errors and call again.",
    hint_invalid=lambda tools, invalid, ctx: tools.invalid_update(invalid, ctx),
)

# ------------------------------------------------------------------------------------- commands
LIST_COMMANDS = Tool(
    name=LIST_COMMANDS_TOOL,
    title="List identity-check commands",
    description=(
        "List the commands Nexudus offers for coworker identity checks on this account (e.g. mark as verified, "
        "mark as rejected): each with the Key to run it, its Name, whether it takes one Id or many, its "
        "parameters, and its Effect on a check (seen on this account, or assumed). The Keys come from the live "
        "API and differ between accounts: read them here, never guess. VerificationStatus is changed by these "
        "commands, not by the update tool."
    ),
    input=InputModel(
        (
            Arg(
                "Refresh",
                Boolean(),
                "true: ask Nexudus for the list again instead of using the copy kept for a few minutes.",
            ),
            Arg(
                "Id",
                FieldValue(BY_NAME["Id"]),
                "A check's Id: only the commands Nexudus offers for that check.",
                blank="absent",
            ),
        ),
        lambda parsed: ListRequest(refresh=parsed.values.get("Refresh", False), check_id=parsed.values.get("Id")),
    ),
    output=result_schema(
        {
            "Commands": {
                "type": "array",
                "items": COMMAND_ITEM,
                "description": "On success: every command, in Nexudus's order (or those for Id).",
            },
            "ForCheck": {"type": "integer", "description": "The Id the list is for, when one was given."},
            "FilteredByNexudus": {
                "type": "boolean",
                "description": "With Id: true when Nexudus answered a shorter list for the check; false when "
                "it answered the full list (every command may apply, or it ignored the Id).",
            },
        }
    ),
    handler=lambda tools, request, ctx: tools.list_commands(request, ctx),
)


def _run_request(parsed: Parsed) -> RunRequest:
    return RunRequest(
        parsed.values.get("Key", ""),
        parsed.values.get("Ids", []),
        parsed.values.get("Parameters", {}),
        parsed.values.get(DRY_RUN, False),
    )


_KEY_MESSAGE = f"is required: a command Key from {LIST_COMMANDS_TOOL}"

RUN_COMMAND = Tool(
    name=RUN_COMMAND_TOOL,
    title="Run an identity-check command",
    description=(
        "Run a Nexudus command on coworker identity checks (e.g. mark as verified, or as rejected with notes); "
        f"the Key and parameter names come from {LIST_COMMANDS_TOOL}. It cannot be undone and Nexudus may email "
        "the member. The server asks the user in their client when it can; otherwise call with DryRun: true "
        "first, show the user, and run it only after they agree. The result's Confirmation: user_accepted (asked "
        "in the client: yes), client_cannot_ask (this client cannot ask: only you can have asked), not_asked "
        "(confirmation turned off by the server's settings), declined or cancelled (the user said no: nothing ran; "
        "do not retry unless they ask again). Checks: each check's VerificationStatus before and, read back, after."
    ),
    input=InputModel(
        (
            Arg(
                "Key",
                Text(_KEY_MESSAGE),
                f"The command's Key as {LIST_COMMANDS_TOOL} lists it (not its Name); Keys differ between "
                "accounts: never guess one.",
                required=True,
                missing=_KEY_MESSAGE,
            ),
            Arg(
                "Ids",
                RecordIds(MAX_IDS, "A check's Id."),
                "The checks' Ids; a command listed with OneIdOnly takes exactly one, with ManyIdsOnly two or more.",
                required=True,  # in the schema; a command that needs none is told by the command list
            ),
            Arg(
                "Parameters",
                NameValues(
                    {
                        "Name": {"type": "string", "description": "The parameter's name, as listed."},
                        "Value": {"type": "string", "description": "Its value, as text."},
                    },
                    MAX_PARAMETER,
                ),
                "The command's parameters, by the names the list gives (e.g. the rejection "
                "notes of a rejection). Leave out when it takes none.",
            ),
            Arg(
                DRY_RUN,
                Boolean(),
                "true: check the arguments, read the checks and say what would happen, running nothing: "
                "to show the user before they confirm.",
            ),
        ),
        _run_request,
    ),
    output=result_schema(
        {
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
                "client_cannot_ask (the client cannot ask; the Message says whether a dry run came first), "
                "not_asked (confirmation turned off), declined or cancelled (the user said no: nothing was run).",
            },
            "UpdatedOn": nullable("string", "On success: when Nexudus recorded the run."),
            "OutcomeUnknown": {
                "type": "boolean",
                "description": "true: the request was sent but no clear answer came back; it may or may not have "
                "run. Checks shows them as they are now. Never simply run it again.",
            },
            "Checks": {
                "type": "array",
                "items": CHECK_STATUS_ITEM,
                "description": "Each check with its VerificationStatus before and, read back after the run, now.",
            },
            "ReadBack": {
                "type": "string",
                "enum": ["verified", "not_read"],
                "description": "After a run: verified (every check read back: Checks is how they are now, no "
                "second read needed) or not_read (some could not be read: read them again).",
            },
            "EntryIds": {
                "type": "array",
                "items": {"type": "integer", "description": "An entry's Id."},
                "description": "The journal entries of this run, one per check.",
            },
        }
    ),
    handler=lambda tools, request, ctx: tools.run_command(request, ctx),
    writes=True,
    idempotent=False,
    refused="nothing was sent to Nexudus. Fix each property in Errors and call again.",
)


# ------------------------------------------------------------------------------------- members
def _member_request(parsed: Parsed) -> MemberFindRequest:
    filters = {f.argument: parsed.values[f.argument] for f in MEMBER_FILTERS if f.argument in parsed.values}
    return MemberFindRequest(filters, parsed.values.get(PAGE, 1), parsed.values.get(PAGE_SIZE, DEFAULT_PAGE_SIZE))


FIND_MEMBERS = Tool(
    name=FIND_MEMBERS_TOOL,
    title="Find members (coworkers)",
    description=(
        "Find Nexudus members by name, email or home location, a page at a time: each row's Id is the CoworkerId "
        "a check takes. Names can be alike: pick by location and Active, and ask the user when unsure."
    ),
    input=InputModel(
        (
            *(_filter_arg(f) for f in MEMBER_FILTERS),
            Arg(PAGE, Integer(1, MAX_PAGE, show_maximum=False), "Page number, from 1 (default 1)."),
            Arg(
                PAGE_SIZE,
                Integer(1, MAX_PAGE_SIZE),
                f"Rows per page, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}).",
            ),
        ),
        _member_request,
    ),
    output=result_schema(
        {
            "Members": {
                "type": "array",
                "description": "On success: one row per member.",
                "items": MEMBER_ITEM,
            },
            **_paging("Members"),
            "FilteredHere": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Filters this server applied to the rows itself (FullName always; others the API "
                "ignored).",
            },
            "Complete": {
                "type": "boolean",
                "description": "With FilteredHere: false when the scan stopped at its bound and later matches "
                "may exist.",
            },
        }
    ),
    handler=lambda tools, request, ctx: tools.find_members(request, ctx),
    refused="nothing was searched.",
)

# ----------------------------------------------------------------------------- document number
NUMBER_ARG = "IdentityDocumentNumber"
MAX_NUMBER = 100  # characters of a given number, before normalising
_NUMBER_MESSAGE = "is required: the number as the member's document shows it"

COMPARE_NUMBER = Tool(
    name=COMPARE_NUMBER_TOOL,
    title="Check a document number without seeing it",
    description=(
        "Say whether a number a member shows is the identity-document number on a check: Match is matches, "
        "does_not_match or no_number_on_file; the number is never shown. Case, spaces and dashes do not "
        "matter. A few tries per check per 10 minutes: never try variants."
    ),
    input=InputModel(
        (
            Arg(
                "Id",
                FieldValue(BY_NAME["Id"]),
                "The check's Id.",
                required=True,
                missing="is a required field: the check's integer Id",
            ),
            Arg(
                NUMBER_ARG,
                Text(_NUMBER_MESSAGE, MAX_NUMBER),
                "The number as shown on the document.",
                required=True,
                missing=_NUMBER_MESSAGE,
            ),
        ),
        lambda parsed: NumberRequest(int(parsed.values.get("Id", 0)), str(parsed.values.get(NUMBER_ARG, ""))),
    ),
    output=result_schema(
        {
            "Id": {"type": "integer", "description": "The check's Id."},
            "Match": {
                "type": "string",
                "enum": ["matches", "does_not_match", "no_number_on_file"],
                "description": "On success: whether the number given is the one on file.",
            },
        }
    ),
    handler=lambda tools, request, ctx: tools.compare_number(request, ctx),
    refused="nothing was compared.",
)

# ------------------------------------------------------------------------------ the journal
LIST_CHANGES = Tool(
    name=LIST_CHANGES_TOOL,
    title="List the changes made through this server",
    description=(
        "List the writes this server made to identity checks (updates, commands, undos), newest first, a page "
        "at a time: when, who, the check and member, each field before and after, the outcome. Filter by "
        "CheckId, CoworkerId, Since or Who. EntryId is what "
        f"{UNDO_TOOL} takes."
    ),
    input=InputModel(
        (
            Arg("CheckId", Integer(1), "Only this check's changes."),
            Arg("CoworkerId", Integer(1), "Only changes to this member's checks."),
            Arg("Since", Since(), "Only changes since: today, 7d, 12h, or an ISO date or date-time.", blank="absent"),
            Arg("Who", Text("must be a client or staff member's name"), "Only changes by this caller.", blank="absent"),
            Arg("Before", Integer(1), "The next page: the NextBefore of the previous answer."),
            Arg(PAGE_SIZE, Integer(1, MAX_CHANGES_PAGE), f"Entries per page, 1 to {MAX_CHANGES_PAGE} (default 10)."),
        ),
        lambda parsed: ChangesRequest(
            parsed.values.get("CheckId"),
            parsed.values.get("CoworkerId"),
            parsed.values.get("Who"),
            parsed.values.get("Since"),
            parsed.values.get("Before"),
            parsed.values.get(PAGE_SIZE, 10),
        ),
    ),
    output=result_schema(
        {
            "Entries": {"type": "array", "items": ENTRY_ITEM, "description": "On success: newest first."},
            "HasMore": {"type": "boolean", "description": "true: call again with Before: NextBefore for more."},
            "NextBefore": {"type": "integer", "description": "With HasMore: the Before of the next page."},
        }
    ),
    handler=lambda tools, request, ctx: tools.list_changes(request, ctx),
)

UNDO = Tool(
    name=UNDO_TOOL,
    title="Undo a journaled update",
    description=(
        f"Undo one update (or undo) listed by {LIST_CHANGES_TOOL}: restores each field's value from before it, "
        "only where the check still holds what that change wrote. A field changed since is left alone and named, "
        "and then nothing is written unless RevertRest is true. A write like an update: DryRun shows it first. "
        "Commands cannot be undone."
    ),
    input=InputModel(
        (
            Arg(
                "EntryId",
                Integer(1),
                f"The EntryId of the update to undo, from {LIST_CHANGES_TOOL} or the update's result.",
                required=True,
                missing=f"is required: an EntryId from {LIST_CHANGES_TOOL}",
            ),
            Arg("RevertRest", Boolean(), "true: restore the fields not changed since, even if others were."),
            Arg(DRY_RUN, Boolean(), "true: show what would be restored without writing."),
        ),
        lambda parsed: UndoRequest(
            parsed.values.get("EntryId", 0), parsed.values.get("RevertRest", False), parsed.values.get(DRY_RUN, False)
        ),
    ),
    output=result_schema(
        {
            "Value": {
                "type": "object",
                "description": "On success: the Id of the check.",
                "properties": {"Id": {"type": "integer", "description": "The record's Id."}},
            },
            "Changes": {"type": "array", "items": CHANGE_ITEM, "description": "The fields restored."},
            "UndoOf": {"type": "integer", "description": "The entry undone."},
            "LeftAlone": {
                "type": "array",
                "items": {"type": "string", "description": "A field's name."},
                "description": "Fields changed since, not restored.",
            },
            "EntryId": {"type": "integer", "description": "This undo's own journal entry (it can be undone too)."},
            "ReadBack": {
                "type": "string",
                "enum": ["verified", "not_read"],
                "description": "After a write: verified (read back, every field as sent) or not_read.",
            },
            "UpdatedOn": {"type": "string", "description": "On success: the record's new UpdatedOn."},
            "UpdatedBy": {"type": "string", "description": "On success: who the API recorded as the updater."},
            "DryRun": {"type": "boolean", "description": "true when nothing was written on purpose."},
            "Body": {"type": "object", "description": "On a dry run: the body that would be sent."},
        }
    ),
    handler=lambda tools, request, ctx: tools.undo(request, ctx),
    writes=True,
    refused="nothing was written.",
)

# The tools in the order a client lists them.
TOOLS: tuple[Tool[Any], ...] = (
    FIND,
    GET,
    UPDATE,
    LIST_COMMANDS,
    RUN_COMMAND,
    FIND_MEMBERS,
    COMPARE_NUMBER,
    LIST_CHANGES,
    UNDO,
)
BY_TOOL_NAME: dict[str, Tool[Any]] = {t.name: t for t in TOOLS}


def tool_definitions(*, read_only: bool = False) -> list[types.Tool]:
    """The tools a client sees; read-only mode leaves the writing tools out."""
    return [t.definition() for t in TOOLS if not (read_only and t.writes)]
