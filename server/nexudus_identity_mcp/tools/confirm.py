"""Asking the user before an irreversible write, through the client when it can (MCP elicitation).

The tools say *what* to ask and apply the policy (`NEXUDUS_MCP_CONFIRM`: auto, always, never); how
the question reaches the user depends on the client and the protocol era, so `app.py` puts a
`Confirmer` in each tool call's context (see `elicitation.py`). Outside a client call (tests, the
demo's own calls) the default confirmer cannot ask, which is the same as a client without elicitation.

The outcomes: the user accepted (run it), declined or cancelled (write nothing, answer `declined`),
the client cannot ask (auto: carry on as without confirmation, the model having been told to dry-run
and ask; always: refuse with `confirmation_required`), or, in the 2026-07-28 era, the question is
pending: the tool call answers `input_required` and the client calls again with the user's answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..nexudus import ErrorKind
from .results import ToolResult, failure

Outcome = Literal["accepted", "declined", "cancelled", "unavailable", "failed", "pending"]

# What the result's `Confirmation` says about how a write was (or was not) confirmed.
CONFIRMED_BY_USER = "user_accepted"
NOT_ASKED_CLIENT_CANNOT = "client_cannot_ask"
NOT_ASKED_DISABLED = "not_asked"


@dataclass
class Answer:
    outcome: Outcome
    # For "pending": the protocol object the tool call must answer with instead of a result.
    pending: Any = None


class Confirmer(Protocol):
    @property
    def available(self) -> bool:
        """Whether this client can be asked at all (declared form elicitation, and a channel)."""
        ...

    async def ask(self, question: str) -> Answer: ...


class CannotAsk:
    """The confirmer outside a client's tool call: it cannot ask anyone."""

    available = False

    async def ask(self, question: str) -> Answer:
        return Answer("unavailable")


@dataclass
class PendingInput(ToolResult):
    """Not a result: the call waits for the user's answer (2026-07-28 `input_required`)."""

    pending: Any = field(default=None)


async def confirm(confirmer: Confirmer, question: str, *, mode: str, what: str) -> tuple[ToolResult | None, str]:
    """Apply the confirmation policy, asking through the call's `confirmer`. Returns (None, how) to go
    ahead, or (a result to answer with instead, how). `what` names the write in messages ("command",
    "update")."""
    if mode == "never":
        return None, NOT_ASKED_DISABLED
    if not confirmer.available:
        return _cannot_ask(mode, what)
    answer = await confirmer.ask(question)
    if answer.outcome == "accepted":
        return None, CONFIRMED_BY_USER
    if answer.outcome == "unavailable":
        return _cannot_ask(mode, what)
    if answer.outcome == "pending":
        return PendingInput({}, False, "Waiting for the user's confirmation.", pending=answer.pending), "pending"
    if answer.outcome == "failed":
        return (
            failure(
                ErrorKind.CONFIRMATION_REQUIRED,
                f"The client could not ask the user to confirm the {what} (it answered the question "
                f"with an error). Nothing was written. Ask the user in the conversation before trying again.",
                source="local",
            ),
            "failed",
        )
    said = "declined" if answer.outcome == "declined" else "dismissed (cancelled)"
    return (
        failure(
            ErrorKind.DECLINED,
            f"The user {said} the confirmation, so the {what} was not made and nothing was written. "
            "Tell the user; do not try again unless they ask for it again.",
            source="local",
            Confirmation=answer.outcome,
        ),
        answer.outcome,
    )


def _cannot_ask(mode: str, what: str) -> tuple[ToolResult | None, str]:
    if mode != "always":
        return None, NOT_ASKED_CLIENT_CANNOT
    return (
        failure(
            ErrorKind.CONFIRMATION_REQUIRED,
            f"This server makes a {what} only after the user confirms it in their MCP client "
            "(NEXUDUS_MCP_CONFIRM=always), and this client cannot ask the user (it did not declare the "
            f"elicitation capability, or has no channel for it). Nothing was written. The {what} must be "
            "made from a client that supports elicitation, or in Nexudus itself.",
            source="local",
        ),
        NOT_ASKED_CLIENT_CANNOT,
    )
