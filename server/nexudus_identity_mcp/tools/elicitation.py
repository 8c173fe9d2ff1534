"""How the server asks the user a yes/no question through the MCP client (form-mode elicitation).

Two protocol eras, two mechanisms (mcp 2.3):
- Handshake era (2025-11-25 and older): the tool call sends `elicitation/create` to the client on the
  request's own channel and waits for the answer (`ctx.session.elicit_form`). A transport with no
  channel back (stateless HTTP) cannot carry it: `can_send_request` is false, and the server behaves
  as with a client that cannot ask.
- 2026-07-28 (stateless): the tool call answers `input_required` with the question; the client asks
  the user and calls the tool again with the answer in `inputResponses` and our `requestState`
  echoed. The state is a digest of the question, so an answer counts only for the question it
  answered: if the question changed (other checks, another status meanwhile), it is asked again.
  (The state is not secret and not sealed: a client can always answer "accept" on its own, in either
  era; elicitation is a way to reach the user, not a proof that one did.)

Either way, the capability must be declared: `elicitation` with `form` (or bare, from before modes).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import mcp.types as types
from mcp.server.context import ServerRequestContext
from mcp.types.version import is_version_at_least

from .confirm import Answer

log = logging.getLogger(__name__)

MODERN_VERSION = "2026-07-28"
INPUT_KEY = "confirm"
CONFIRM_FIELD = "Confirm"
# One yes/no field, on by default: the client's accept button runs the write, decline/cancel do not;
# a client that shows the form and lets the user untick it gets a decline.
CONFIRM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        CONFIRM_FIELD: {
            "type": "boolean",
            "title": "Yes, do it",
            "description": "Leave ticked and accept to go ahead; decline to write nothing.",
            "default": True,
        }
    },
    "required": [],
}


def declared_form_elicitation(capabilities: types.ClientCapabilities | None) -> bool:
    """The client said it can show a form: `elicitation.form`, or a bare `elicitation: {}`."""
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _state_for(question: str) -> str:
    return "confirm-v1:" + hashlib.sha256(question.encode()).hexdigest()[:32]


def _outcome(result: Any) -> Answer:
    if not isinstance(result, types.ElicitResult):
        return Answer("failed")
    if result.action == "accept":
        content = result.content or {}
        return Answer("declined" if content.get(CONFIRM_FIELD) is False else "accepted")
    return Answer("declined" if result.action == "decline" else "cancelled")


class ClientConfirmer:
    """Asks through the client of one tool call."""

    def __init__(self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> None:
        self.ctx = ctx
        self.params = params
        self.modern = is_version_at_least(ctx.protocol_version, MODERN_VERSION)

    @property
    def available(self) -> bool:
        if not declared_form_elicitation(self.ctx.session.client_capabilities):
            return False
        return self.modern or self.ctx.session.can_send_request

    async def ask(self, question: str) -> Answer:
        if not self.available:
            return Answer("unavailable")
        if self.modern:
            state = _state_for(question)
            answered = (self.params.input_responses or {}).get(INPUT_KEY)
            if answered is not None and self.params.request_state == state:
                return _outcome(answered)
            request = types.ElicitRequest(
                params=types.ElicitRequestFormParams(message=question, requested_schema=CONFIRM_SCHEMA)
            )
            return Answer(
                "pending", types.InputRequiredResult(input_requests={INPUT_KEY: request}, request_state=state)
            )
        try:
            result = await self.ctx.session.elicit_form(question, CONFIRM_SCHEMA, self.ctx.request_id)
        except Exception as exc:  # the client's error answer, a closed channel: not a confirmation
            log.warning("elicitation failed: %s", type(exc).__name__)
            return Answer("failed")
        return _outcome(result)
