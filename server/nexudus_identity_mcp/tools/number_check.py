"""Check a number without seeing it: whether a number a member shows at the desk is the identity-
document number on a check, answered only `matches`, `does_not_match` or `no_number_on_file`.

The number on file never leaves the server (reads show it as a token), and neither does the number
asked about: the argument is registered for redaction like any document number, so it becomes a
token in the result, in log lines and in the audit line (which holds no value at all). Because a
yes/no answer can still be used to guess, tries are counted in the shared state store before the
record is read, against the caller and against the check at once, in one atomic step (both or
neither): `PER_CHECK` tries per check and `PER_CALLER` per caller in `WINDOW_SECONDS`. When the store
cannot be reached the check is refused: without the count, the limit would not hold.
"""

from __future__ import annotations

from ..nexudus import ErrorKind, NexudusError
from ..record.document_number import compare_number
from ..record.validation import problem
from ..state import AttemptsExhausted, StateUnavailable
from .base import ToolBase
from .catalog import COMPARE_NUMBER, NUMBER_ARG
from .context import CallContext
from .requests import NumberRequest
from .results import ToolResult, audit, failure

PER_CHECK = 5
PER_CALLER = 10
WINDOW_SECONDS = 600.0
MESSAGES = {
    "matches": "The number given matches the identity-document number on file for check {id}.",
    "does_not_match": "The number given does not match the identity-document number on file for check {id}. "
    "Ask the member to show the document again rather than trying variants.",
    "no_number_on_file": "Check {id} has no identity-document number on file, so there is nothing to compare with.",
}


class NumberCheckTools(ToolBase):
    async def compare_number(self, request: NumberRequest, ctx: CallContext) -> ToolResult:
        check_id, caller = request.check_id, ctx.caller.label
        if self.redactor.looks_like_token(request.number):  # the parser cannot know: it needs the redactor
            why = "is a redaction token: give the number as the member's document shows it"
            return COMPARE_NUMBER.refuse([problem(NUMBER_ARG, why, request.number)])
        try:
            await self.state.count_attempt(
                [(f"number:check:{check_id}", PER_CHECK), (f"number:caller:{caller}", PER_CALLER)], WINDOW_SECONDS
            )
        except AttemptsExhausted as full:
            audit(caller, check_id, [], "limited", action="number_check")
            whose = "this check" if full.key.startswith("number:check:") else "you"
            return failure(
                ErrorKind.RATE_LIMITED,
                f"Too many number checks for {whose}: at most {PER_CHECK} per check and {PER_CALLER} per caller "
                f"in {WINDOW_SECONDS / 60:g} minutes, so the check cannot be used to guess a number. Nothing was "
                f"compared; try again in {full.retry_after / 60:.0f} minute(s).",
                source="local",
                retryable=True,
                RetryAfterSeconds=round(full.retry_after, 1),
            )
        except StateUnavailable:
            audit(caller, check_id, [], "state_unavailable", action="number_check")
            return failure(
                ErrorKind.UPSTREAM_UNAVAILABLE,
                f"The shared state store ({self.state.backend}) cannot be reached, so the number check's limit "
                "cannot be kept; nothing was compared. Retry when the store is back.",
                source="local",
                retryable=True,
            )
        try:
            record = await self.client.get_check(check_id, caller=ctx.caller)
        except NexudusError as error:
            audit(caller, check_id, [], error.kind.value, action="number_check")
            return self._api_failure(error, check_id=check_id)
        self.redactor.note_record(record, ctx.redaction)
        verdict = compare_number(request.number, record.get("IdentityDocumentNumber"))
        audit(caller, check_id, [], verdict, action="number_check")
        words = verdict.replace("_", " ")
        return ToolResult(
            {
                "WasSuccessful": True,
                "Message": MESSAGES[verdict].format(id=check_id),
                "Id": check_id,
                "Match": verdict,
            },
            False,
            f"Check {check_id}: {words}. The number itself is never shown.",
        )
