"""The sandbox's identity-check commands (`GET …/commands`, `POST …/runcommand`).

INVENTED: Nexudus does not publish the command keys for identity checks (docs/development.md, "What is known
of the Nexudus API"), so the keys, names and parameters below are made up to be plausible, after the admin
panel's buttons ("Mark as verified", "Mark as rejected" with rejection notes). Only the shapes follow the
documentation: a command is `{Key, Name, NeedsEntitiesToRun, AppliesOnlyToOneEntity,
AppliesOnlyToMultipleEntities, Order, DisplayInDropdown, Icon, RequiresParameters: [{Name, Type}]}`
(listed here out of `Order`, as nothing says the API sorts them), a run is `{Key, Ids, Parameters:
[{Name, Value}]}` answered with the usual envelope. With `?id=N` (`SandboxState.commands_record_param`;
the live name is not published) the list holds only the commands available for check N: those that
would change its status. The server under test
must not rely on these keys: it discovers them, as it does live.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .state import success_envelope

# VerificationStatus codes: 1 Pending, 3 Successful, 4 Failed, 5 Cancelled.
PENDING, SUCCESSFUL, FAILED, CANCELLED = 1, 3, 4, 5


@dataclass(frozen=True)
class SandboxCommand:
    key: str
    name: str
    status: int  # the VerificationStatus a run sets
    one_entity: bool = False
    many_entities: bool = False  # AppliesOnlyToMultipleEntities: two or more Ids
    order: int = 0
    icon: str = "fa-check"
    parameters: tuple[str, ...] = ()  # required parameter names
    error_from: str | None = None  # the parameter whose value becomes LastError
    clears_error: bool = False

    def listed(self) -> dict[str, Any]:
        return {
            "Key": self.key,
            "Name": self.name,
            "NeedsEntitiesToRun": True,
            "AppliesOnlyToOneEntity": self.one_entity,
            "AppliesOnlyToMultipleEntities": self.many_entities,
            "AppliesOnlyToTwoEntities": False,
            "DisplayInDropdown": True,
            "DisplayInGrid": False,
            "Icon": self.icon,
            "Order": self.order,
            "RequiresParameters": [{"Name": p, "Type": "String", "Required": True} for p in self.parameters],
        }


COMMANDS: tuple[SandboxCommand, ...] = (
    SandboxCommand("IDENTITYCHECK_MARK_AS_VERIFIED", "Mark as verified", SUCCESSFUL, order=1, clears_error=True),
    SandboxCommand(
        "IDENTITYCHECK_MARK_AS_REJECTED",
        "Mark as rejected",
        FAILED,
        order=2,
        icon="fa-times",
        parameters=("RejectionNotes",),
        error_from="RejectionNotes",
    ),
    SandboxCommand(
        "IDENTITYCHECK_REQUEST_NEW_DOCUMENT",
        "Ask the member for a new document",
        PENDING,
        order=4,
        icon="fa-envelope",
        one_entity=True,
        clears_error=True,
    ),
    SandboxCommand("IDENTITYCHECK_CANCEL", "Cancel identity check", CANCELLED, order=3, icon="fa-ban"),
    SandboxCommand(
        "IDENTITYCHECK_CANCEL_SELECTED",
        "Cancel the selected identity checks",
        CANCELLED,
        order=5,
        icon="fa-ban",
        many_entities=True,
    ),
)
BY_KEY = {c.key: c for c in COMMANDS}


def listed_commands(hidden: set[str], record: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The command list, less any key a test hides (discovery is known to miss commands); with a
    `record`, only those that would change its status."""
    return [
        c.listed()
        for c in COMMANDS
        if c.key not in hidden and (record is None or record.get("VerificationStatus") != c.status)
    ]


def run_command(
    records: dict[int, dict[str, Any]], body: Any, now: str, user: str | None
) -> tuple[int, dict[str, Any]]:
    """Run a command on `records` in place; (HTTP status, envelope). All checks first, then all changes."""
    if not isinstance(body, dict):
        return 400, _failed([_error("", "The request body must be a JSON object.", None)])
    key, raw_ids, parameters = body.get("Key"), body.get("Ids"), body.get("Parameters") or []
    command = BY_KEY.get(key) if isinstance(key, str) else None
    if command is None:
        # Seen in public notes on other entities: an unknown key is a 200 whose envelope says no.
        return 200, _failed([], f"Unknown command '{key}'.")
    errors = []
    ids: list[int] = raw_ids if isinstance(raw_ids, list) else []
    if not ids or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        errors.append(_error("Ids", "must be a non-empty list of record Ids", raw_ids))
    elif command.one_entity and len(ids) > 1:
        errors.append(_error("Ids", f"'{command.name}' can only run on one record at a time", ids))
    elif command.many_entities and len(ids) < 2:
        errors.append(_error("Ids", f"'{command.name}' applies only to multiple records", ids))
    else:
        missing = [i for i in ids if i not in records]
        if missing:
            errors.append(_error("Ids", f"No CoworkerIdentityCheck with Id {', '.join(map(str, missing))}", missing))
    given: dict[str, Any] = {}
    if not isinstance(parameters, list) or not all(isinstance(p, dict) for p in parameters):
        errors.append(_error("Parameters", "must be a list of {Name, Value}", parameters))
    else:
        given = {str(p.get("Name")): p.get("Value") for p in parameters}
    for name in command.parameters:
        value = given.get(name)
        if not isinstance(value, str) or not value.strip():
            errors.append(_error(name, "is a required parameter", value))
    if errors:
        return 400, _failed(errors)
    for check_id in ids:
        record = records[check_id]
        record["VerificationStatus"] = command.status
        if command.error_from:
            record["LastError"] = str(given[command.error_from])[:1000]
        elif command.clears_error:
            record["LastError"] = None
        record["UpdatedOn"] = now
        record["UpdatedBy"] = user
    return 200, success_envelope(f"{command.name} was run on {len(ids)} record(s).", None, now, user)


def _error(prop: str, message: str, attempted: Any) -> dict[str, Any]:
    return {"AttemptedValue": copy.deepcopy(attempted), "Message": message, "PropertyName": prop}


def _failed(errors: list[dict[str, Any]], message: str | None = None) -> dict[str, Any]:
    text = message or "\n".join(f"{e['PropertyName']}: {e['Message']}" for e in errors)
    return {
        "Status": 400 if errors else 200,
        "Message": text,
        "Value": None,
        "Errors": errors or None,
        "WasSuccessful": False,
    }
