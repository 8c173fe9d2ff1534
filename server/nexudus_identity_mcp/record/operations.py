"""Every API operation the server makes, and what is known of each, in one table: the noun messages use
("Nexudus rejected the update"), the resource it acts on ("no such coworker"), whether it writes (the
request budget's write bucket, the sandbox's write rate), whether it may be sent twice (a command run may
email the member each time, so it is never re-sent once it may have reached the API), the role the API
asks for (docs/development.md, "What is known of the Nexudus API": the command roles are inferred, not
documented), and whether a success is answered with the `{WasSuccessful: true, …}` envelope (the writes)
rather than the data itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Operation = Literal["get", "search", "update", "token", "commands", "run_command", "coworker_search", "coworker_get"]


# The resources the operations act on, as messages name them.
CHECK = "coworker identity check"
MEMBER = "coworker"  # a member: the API calls the resource Coworkers


@dataclass(frozen=True)
class Op:
    noun: str
    resource: str
    writes: bool = False
    idempotent: bool = True
    role: str | None = None
    envelope: bool = False
    # Other names the role may have: the pages disagree (one run-command page names `…-Update`, not
    # `…-Edit`), so messages and the role table name each until probe knows.
    also: tuple[str, ...] = ()

    @property
    def roles(self) -> tuple[str, ...]:
        """Every name the role may have, the likeliest first."""
        return ((self.role,) if self.role else ()) + self.also

    @property
    def role_text(self) -> str:
        """The role in a sentence: "the CoworkerIdentityCheck-Edit role", or both names when unsure."""
        if not self.also:
            return f"the {self.role} role"
        return f"the {' or '.join(self.roles)} role (the pages disagree on its name)"

    @property
    def action(self) -> str:
        """The operation in a sentence: "the read", "the list of commands"."""
        return f"the {self.noun}"


OPERATIONS: dict[Operation, Op] = {
    "get": Op("read", CHECK, role="CoworkerIdentityCheck-Read"),
    "search": Op("search", CHECK, role="CoworkerIdentityCheck-List"),
    "update": Op("update", CHECK, writes=True, role="CoworkerIdentityCheck-Edit", envelope=True),
    "token": Op("token request", "token"),
    "commands": Op("list of commands", CHECK, role="CoworkerIdentityCheck-Read"),
    "run_command": Op(
        "command",
        CHECK,
        writes=True,
        idempotent=False,
        role="CoworkerIdentityCheck-Edit",
        envelope=True,
        also=("CoworkerIdentityCheck-Update",),
    ),
    # The members (coworkers) resource: finding a member, and naming one in a reassignment.
    "coworker_search": Op("coworker search", MEMBER, role="Coworker-List"),
    "coworker_get": Op("coworker read", MEMBER, role="Coworker-Read"),
}
# The operations that write: the sandbox's write rate and daily cap, the evaluations' count of writes.
WRITES: frozenset[Operation] = frozenset(name for name, op in OPERATIONS.items() if op.writes)


def role_of(op: Operation) -> str:
    """The role the API asks for `op` (every operation but the token request has one)."""
    role = OPERATIONS[op].role
    assert role is not None, op
    return role
