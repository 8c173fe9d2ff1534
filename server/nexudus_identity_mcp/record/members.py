"""The member (coworker) record, as far as this server reads it: the fields a find-members row shows,
which of them are personal (redacted with NEXUDUS_MCP_REDACT=name), and the find-members filters.

Nexudus calls members coworkers (`/api/spaces/coworkers`, roles Coworker-List and Coworker-Read). The search
filters follow the API's `{Entity}_{Field}` pattern (`Coworker_FullName`, …); only `Coworker_Email` is
confirmed by a public client, and it matches the whole address (docs/development.md, "What is known of the
Nexudus API"). So, as for checks, every returned row is checked against every filter sent (tools/search.py),
and a filter the API ignores is applied here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .fields import PiiCategory, SearchFilter


@dataclass(frozen=True)
class MemberField:
    name: str
    description: str
    pii: PiiCategory | None = None
    type: Literal["string", "integer", "boolean"] = "string"


MEMBER_FIELDS: tuple[MemberField, ...] = (
    MemberField("Id", "The member's Id: the CoworkerId of their checks.", type="integer"),
    MemberField("FullName", "The member's full name.", pii="name"),
    MemberField("Email", "The member's email address.", pii="name"),
    MemberField("InvoicingBusinessId", "The member's home location (business) Id.", type="integer"),
    MemberField("InvoicingBusinessName", "The member's home location's name."),
    MemberField("CompanyName", "The member's company, if any.", pii="name"),
    MemberField("Active", "Whether the member is active (false: a former or suspended member).", type="boolean"),
)
MEMBER_ROW_FIELDS: tuple[str, ...] = tuple(f.name for f in MEMBER_FIELDS)

MEMBER_FILTERS: tuple[SearchFilter, ...] = (
    SearchFilter("FullName", "Coworker_FullName", "contains", "Name or part of it (any case, accents optional)."),
    SearchFilter("Email", "Coworker_Email", "same_text", "The whole email address (any case)."),
    SearchFilter(
        "InvoicingBusinessId",
        "Coworker_InvoicingBusiness",
        "equals",
        "Only members whose home location is this business Id.",
        value_rule="BusinessId",
    ),
)
MEMBER_FILTER_BY_ARGUMENT: dict[str, SearchFilter] = {f.argument: f for f in MEMBER_FILTERS}


def member_locations(member: dict[str, object]) -> set[int]:
    """Every location (business) Id a coworker record says the member belongs to: the home location
    and the `Businesses` list."""
    found: set[int] = set()
    home = member.get("InvoicingBusinessId")
    if isinstance(home, int) and not isinstance(home, bool):
        found.add(home)
    others = member.get("Businesses")
    if isinstance(others, list):
        found.update(b for b in others if isinstance(b, int) and not isinstance(b, bool))
    return found
