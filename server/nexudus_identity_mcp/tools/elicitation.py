"""How the server asks the user a yes/no question through the MCP client (form-mode elicitation).

Two protocol eras, two mechanisms (mcp 2.3):
- Handshake era (2025-11-25 and older): the tool call sends `elicitation/create` to the client on the
  request's own channel and waits for the answer (`ctx.session.elicit_form`), at most
  `confirm.ANSWER_WAIT_SECONDS` (no lock is held meanwhile). A transport with no channel back (stateless
  HTTP) cannot carry it: `can_send_request` is false, and the server behaves as with a client that
  cannot ask.
- 2026-07-28 (stateless): the tool call answers `input_required` with the question; the client asks
  the user and calls the tool again with the answer in `inputResponses` and our `requestState`
  echoed. The state is a random name under which the state store keeps, for `STATE_SECONDS`, a
  keyed digest of the exact write asked about (`binding`: command key, check Ids, every parameter in
  full, the caller; for an update the exact changes and the record's UpdatedOn). The answer counts
  only when that entry is taken (atomically, once: a replayed answer finds nothing) and the call
  being answered is the same write; otherwise the question is asked again. (A client can always
  answer "accept" on its own, in either era; elicitation is a way to reach the user, not a proof
  that one did.)

Before a question leaves the process it goes through the redaction pass (`redact`), as every
result does. Only an accepted answer whose `Confirm` is the boolean true is a yes.

Either way, the capability must be declared: `elicitation` with `form` (or bare, from before modes).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

import anyio
import mcp.types as types
from mcp.server.context import ServerRequestContext
from mcp.types.version import is_version_at_least

from ..state import StateError, StateStore
from . import confirm as policy
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


STATE_PREFIX = "confirm-v2:"
STATE_SECONDS = 300.0  # how long an asked question's answer may come back (2026-07-28)
# The key of the binding digests when NEXUDUS_MCP_SECRET is not set (one process: fine; several
# workers need the shared secret, as they do for the tokens shown to the model).
_PROCESS_KEY = secrets.token_bytes(32)


def binding_of(*parts: Any) -> str:
    """The exact write a question is about, as one canonical text (see the module doc)."""
    return json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)


def _outcome(result: Any) -> Answer:
    if not isinstance(result, types.ElicitResult):
        return Answer("failed")
    if result.action == "accept":
        given = (result.content or {}).get(CONFIRM_FIELD, "nothing")
        if given is True:
            return Answer("accepted")
        return Answer("declined", detail=f"the answer's Confirm was {json.dumps(given)[:40]}")
    return Answer("declined" if result.action == "decline" else "cancelled")


class ClientConfirmer:
    """Asks through the client of one tool call."""

    def __init__(
        self,
        ctx: ServerRequestContext[Any],
        params: types.CallToolRequestParams,
        store: StateStore,
        redact: Callable[[str], str],
        secret: str | None = None,
    ) -> None:
        self.ctx = ctx
        self.params = params
        self.store = store
        self.redact = redact
        self.key = secret.encode() if secret else _PROCESS_KEY
        self.modern = is_version_at_least(ctx.protocol_version, MODERN_VERSION)

    def _digest(self, binding: str) -> bytes:
        return hmac.new(self.key, binding.encode(), hashlib.sha256).hexdigest().encode()

    @property
    def available(self) -> bool:
        if not declared_form_elicitation(self.ctx.session.client_capabilities):
            return False
        return self.modern or self.ctx.session.can_send_request

    async def ask(self, question: str, binding: str) -> Answer:
        if not self.available:
            return Answer("unavailable")
        message = self.redact(question)
        if self.modern:
            return await self._ask_modern(message, binding)
        try:
            with anyio.move_on_after(policy.ANSWER_WAIT_SECONDS):
                return _outcome(await self.ctx.session.elicit_form(message, CONFIRM_SCHEMA, self.ctx.request_id))
        except Exception as exc:  # the client's error answer, a closed channel: not a confirmation
            log.warning("elicitation failed: %s", type(exc).__name__)
            return Answer("failed")
        return Answer("timeout")

    async def _ask_modern(self, message: str, binding: str) -> Answer:
        answered = (self.params.input_responses or {}).get(INPUT_KEY)
        state = self.params.request_state or ""
        try:
            if answered is not None and state.startswith(STATE_PREFIX):
                stored = await self.store.pop(f"confirm:{state[len(STATE_PREFIX) :]}")
                if stored is not None and hmac.compare_digest(stored, self._digest(binding)):
                    return _outcome(answered)
            name = secrets.token_urlsafe(18)
            await self.store.put(f"confirm:{name}", self._digest(binding), STATE_SECONDS)
        except StateError as exc:
            log.warning("confirmation state not kept: %s", type(exc).__name__)
            return Answer("failed")
        request = types.ElicitRequest(
            params=types.ElicitRequestFormParams(message=message, requested_schema=CONFIRM_SCHEMA)
        )
        return Answer(
            "pending",
            types.InputRequiredResult(input_requests={INPUT_KEY: request}, request_state=STATE_PREFIX + name),
        )
