"""Asking the user before an irreversible write, through the client when it can (MCP elicitation).

The tools say *what* to ask and apply the policy (`NEXUDUS_MCP_CONFIRM`: auto, always, never); how
the question reaches the user depends on the client and the protocol era, so `app.py` puts a
`Confirmer` in each tool call's context (see `elicitation.py`). Outside a client call (tests, the
demo's own calls) the default confirmer cannot ask, which is the same as a client without elicitation.

The outcomes: the user accepted (run it: only an answer whose `Confirm` is the boolean true),
declined or cancelled or answered anything else (write nothing, answer `declined`, saying which), did
not answer in time (write nothing), the client cannot ask (auto: carry on as without confirmation,
the model having been told to dry-run and ask; always: refuse with `confirmation_required`), or, in
the 2026-07-28 era, the question is pending: the tool call answers `input_required` and the client
calls again with the user's answer.

What a question binds (`binding`): the tools pass the exact write (the command key, the check Ids,
every parameter in full; for an update the exact changes and the record's UpdatedOn) and an answer
counts only for that (see `elicitation.py`). Waiting for the person happens outside the check's lock
and outside the call's upstream deadline: the tools read, ask, and only then lock, read again, compare
with what was shown, and write.

Every value a question shows goes through `shown_value`: in double quotes, control characters
removed, and cut only with an explicit "… (N more characters)" marker.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..nexudus import ErrorKind
from .results import ToolResult, failure

Outcome = Literal["accepted", "declined", "cancelled", "unavailable", "failed", "pending", "timeout"]
# How long a question put through the handshake era's channel may wait for the person (no lock is held).
ANSWER_WAIT_SECONDS = 300.0
# A question's value is shown in full up to this many characters, then cut with an explicit marker.
MAX_SHOWN = 1000

# What the result's `Confirmation` says about how a write was (or was not) confirmed.
CONFIRMED_BY_USER = "user_accepted"
NOT_ASKED_CLIENT_CANNOT = "client_cannot_ask"
NOT_ASKED_DISABLED = "not_asked"


@dataclass
class Answer:
    outcome: Outcome
    # For "pending": the protocol object the tool call must answer with instead of a result.
    pending: Any = None
    # For "declined": what the answer was when it was not a plain decline (e.g. Confirm "false").
    detail: str | None = None


class Confirmer(Protocol):
    @property
    def available(self) -> bool:
        """Whether this client can be asked at all (declared form elicitation, and a channel)."""
        ...

    async def ask(self, question: str, binding: str) -> Answer:
        """Put `question` to the user; `binding` is the exact write it is about (see the module doc)."""
        ...


class CannotAsk:
    """The confirmer outside a client's tool call: it cannot ask anyone."""

    available = False

    async def ask(self, question: str, binding: str) -> Answer:
        return Answer("unavailable")


def will_ask(confirmer: Confirmer, mode: str) -> bool:
    """Whether `confirm` would put a question to the user in this call (policy and client)."""
    return mode != "never" and confirmer.available


def shown_value(value: object, limit: int = MAX_SHOWN) -> str:
    """A value as a question shows it: in double quotes (inner quotes and backslashes escaped),
    control, format and line-separator characters removed (each becomes a space), and cut after
    `limit` characters with an explicit marker of how many more there are."""
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in str(value))
    more = len(text) - limit
    text = text[:limit].replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"' + (f" … ({more} more characters)" if more > 0 else "")


@dataclass(frozen=True)
class PendingInput(ToolResult):
    """Not a result: the call waits for the user's answer (2026-07-28 `input_required`)."""

    pending: Any = field(default=None)


async def confirm(
    confirmer: Confirmer, question: str, *, mode: str, what: str, binding: str
) -> tuple[ToolResult | None, str]:
    """Apply the confirmation policy, asking through the call's `confirmer`. Returns (None, how) to go
    ahead, or (a result to answer with instead, how). `what` names the write in messages ("command",
    "update"); `binding` is the exact write the answer will be good for."""
    if mode == "never":
        return None, NOT_ASKED_DISABLED
    if not confirmer.available:
        return _cannot_ask(mode, what)
    answer = await confirmer.ask(question, binding)
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
    if answer.outcome == "timeout":
        return (
            failure(
                ErrorKind.CONFIRMATION_REQUIRED,
                f"The user did not answer the confirmation within {ANSWER_WAIT_SECONDS:g} s, so the {what} was "
                "not made: nothing was sent to Nexudus. Ask the user in the conversation; call again only if "
                "they still want it.",
                source="local",
                Confirmation="timeout",
            ),
            "timeout",
        )
    said = "declined" if answer.outcome == "declined" else "dismissed (cancelled)"
    if answer.detail:
        said = f"did not confirm ({answer.detail}; only a ticked Confirm, true, is a yes), that is, declined"
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
