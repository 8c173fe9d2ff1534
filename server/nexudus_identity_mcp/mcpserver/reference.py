"""Human-readable references generated from the field table: the field section of docs/reference.md and
(later) the server's reference resources. Generated, never written by hand, so they cannot drift."""

from __future__ import annotations

from ..record.enums import ALL_ENUMS
from ..record.fields import PUT_FIELDS, Field
from ..tools.catalog import GET_TOOL, UPDATE_TOOL
from ..tools.schemas import DATE_HINT


def _type_of(f: Field) -> str:
    if f.enum is not None:
        return f"{f.enum.name} (names; codes also accepted)"
    return {"date": "date (ISO 8601)", "datetime": "date-time (ISO 8601)"}.get(f.type, f.type)


def fields_markdown() -> str:
    """The update tool's fields as a Markdown table, in the order of the reference page."""
    lines = ["| Field | Type | Required | Description |", "|---|---|---|---|"]
    for f in PUT_FIELDS:
        description = f.description
        if f.type == "date":
            description += f" {DATE_HINT}"
        if f.pii == "id_document":
            description += " Shown to the model as a token (see Redaction)."
        lines.append(f"| `{f.name}` | {_type_of(f)} | {'yes' if f.required else ''} | {description} |")
    lines += [
        "| `ClearFields` | list of field names | | Optional fields to blank on purpose; all others left out (or "
        'null) keep their value. `""` for a text or date field does the same as naming it here. |',
        "| `DryRun` | boolean | | Do everything but the write; return the changes and the exact body. |",
        "| `ExpectedUpdatedOn` | date-time | | Refuse (`conflict`) if the record's `UpdatedOn` is no longer this. |",
        "| `Reassign` | boolean | | `true` only when the user asked to move the check: without it a `BusinessId` "
        "or `CoworkerId` that differs from the record's is refused. |",
    ]
    return "\n".join(lines)


def enums_markdown() -> str:
    lines = ["| Enum | Values (name = code) |", "|---|---|"]
    for enum in ALL_ENUMS:
        lines.append(f"| {enum.name} | {enum.describe_codes()} |")
    return "\n".join(lines)


def readme_block() -> str:
    return f"{fields_markdown()}\n\n{enums_markdown()}"


# ------------------------------------------------------------------ MCP resources
ENUMS_URI = "nexudus://identity-checks/reference/enums"
FIELDS_URI = "nexudus://identity-checks/reference/fields"


def enums_json() -> str:
    import json

    return json.dumps(
        {
            e.name: {
                "apiName": e.api_name,
                "summary": e.summary,
                "values": [{"name": v.name, "code": v.code, "meaning": v.meaning} for v in e.values],
            }
            for e in ALL_ENUMS
        },
        ensure_ascii=False,
        indent=2,
    )


def fields_resource_markdown() -> str:
    from ..record.fields import FIELDS

    roles = {"put": "update field", "carried": "kept as read (sent back unchanged)", "read_only": "read only"}
    lines = [
        "# Coworker identity check: fields",
        "",
        f"What {UPDATE_TOOL} takes (the PUT reference page's fields; required ones marked):",
        "",
        fields_markdown(),
        "",
        f"Every field {GET_TOOL} returns, and what happens to it on update:",
        "",
        "| Field | Role | Description |",
        "|---|---|---|",
    ]
    lines += [f"| `{f.name}` | {roles[f.role]} | {f.description} |" for f in FIELDS]
    return "\n".join(lines) + "\n"
