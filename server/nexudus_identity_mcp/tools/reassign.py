"""Reassignments that name people. A change of CoworkerId is shown with both members beside the Ids
(`FromMember`, `ToMember`: the find-members row, name and location), in dry runs, results and the
question put to the user; and a change of CoworkerId or BusinessId warns when the member the check
will belong to is not a member of the check's location, or is inactive.

The members are read from Nexudus (`GET /api/spaces/coworkers/{id}`, the Coworker-Read role) within
the update's deadline. A member that cannot be read does not stop the update: the change is shown
by Id, with a warning that says why (the missing role, or no such member).
"""

from __future__ import annotations

from typing import Any

from ..nexudus import ErrorKind, NexudusError
from ..record.members import member_locations
from ..record.operations import role_of
from ..record.validation import ChangeWarning
from .confirm import shown_value
from .context import CallContext
from .members import MemberTools


class ReassignNames(MemberTools):
    async def name_members(
        self,
        shown_changes: list[dict[str, Any]],
        current: dict[str, Any],
        body: dict[str, Any],
        deadline: float,
        ctx: CallContext,
    ) -> list[ChangeWarning]:
        """Add FromMember/ToMember to the CoworkerId change (in place) and return the warnings about
        the member the check will belong to. Nothing is read when neither owner field changes."""
        by_field = {c["Field"]: c for c in shown_changes}
        member_change = by_field.get("CoworkerId")
        if member_change is None and "BusinessId" not in by_field:
            return []
        new_id, location = body.get("CoworkerId"), body.get("BusinessId")
        wanted = [i for i in (current.get("CoworkerId"), new_id) if isinstance(i, int)] if member_change else [new_id]
        members: dict[int, dict[str, Any]] = {}
        warnings: list[ChangeWarning] = []
        for member_id in dict.fromkeys(i for i in wanted if isinstance(i, int)):
            try:
                members[member_id] = await self.client.get_coworker(member_id, deadline=deadline, caller=ctx.caller)
            except NexudusError as error:
                unread = _unread(member_id, error)
                warnings.append(ChangeWarning(unread, unread))
        if member_change is not None:
            for side, shown_id in (("FromMember", member_change.get("From")), ("ToMember", member_change.get("To"))):
                if shown_id in members:
                    member_change[side] = self.member_row(members[shown_id], ctx)
        new = members.get(new_id) if isinstance(new_id, int) else None
        if new is None:
            return warnings
        who = f"{new.get('FullName') or 'the member'} ({new_id})"
        if isinstance(location, int) and location not in member_locations(new):
            place = current.get("BusinessName") if location == current.get("BusinessId") else None
            home = new.get("InvoicingBusinessName") or "unknown"
            why = (
                f"{who}, who does not belong to the check's location {place or 'business'} ({location}); their "
                f"location is {home} ({new.get('InvoicingBusinessId')})"
            )
            warnings.append(ChangeWarning(f"the check's member would be {why}", f"the check's member is now {why}"))
        if new.get("Active") is False:
            why = f"{who}, who is inactive (a former or suspended member)"
            warnings.append(ChangeWarning(f"the check's member would be {why}", f"the check's member is now {why}"))
        return warnings


def moves_text(shown_changes: list[dict[str, Any]]) -> str:
    """A sentence naming the members of a CoworkerId change, or "" when there is none (or no names)."""
    change = next((c for c in shown_changes if c["Field"] == "CoworkerId"), None)
    if change is None or not ("FromMember" in change or "ToMember" in change):
        return ""
    return f" It moves the check from {_member(change, 'From')} to {_member(change, 'To')}."


def change_text(change: dict[str, Any]) -> str:
    """One change as the question to the user lists it, members named beside their Ids."""
    if "FromMember" in change or "ToMember" in change:
        return f"{change['Field']}: {_member(change, 'From')} -> {_member(change, 'To')}"
    return f"{change['Field']}: {shown_value(change.get('From'))} -> {shown_value(change.get('To'))}"


def _member(change: dict[str, Any], side: str) -> str:
    member = change.get(f"{side}Member")
    if not isinstance(member, dict):
        return f"member {change.get(side)}"
    return f"{member.get('FullName')} ({change.get(side)}, {member.get('InvoicingBusinessName') or 'no location'})"


def _unread(member_id: int, error: NexudusError) -> str:
    if error.kind == ErrorKind.NOT_FOUND:
        return f"no member with Id {member_id} was found in Nexudus"
    if error.kind == ErrorKind.UNAUTHORIZED:
        return (
            f"member {member_id} could not be named: Nexudus refused to read it (this user lacks the "
            f"{role_of('coworker_get')} role); the change is shown by Id"
        )
    return f"member {member_id} could not be named ({error.kind.value}); the change is shown by Id"
