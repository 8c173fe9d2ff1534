"""Async client for the Nexudus REST API's coworker identity-check resource.

One shared `httpx2.AsyncClient` per process. Every operation returns parsed JSON or raises
`NexudusError`, whose `kind` says what a caller can do about it (fix the input, fix the
credentials, wait, give up); no raw HTTP exception ever leaves this module.

What the documentation says and this module does (the API's public documentation):
- Auth (auth.py, an httpx2.Auth flow): a bearer token, or username + password (+ the 2FA code)
  exchanged at /api/token (form-encoded) and cached until shortly before `expires_in`, refreshed
  with the refresh token, with one re-authentication after a 401 and never a loop; or HTTP Basic.
- Throttling answers 409 "You must wait…" (legacy) or 429, the wait in Retry-After or in the body:
  honoured, capped (throttle.py); the daily write cap is not retried.
- 500/502/503/504 and dropped connections are retried with exponential backoff and full jitter.
  GET and PUT (a full replace) are idempotent, so both may be retried. Attempts and the total time
  of a call are bounded.
- Every answer is read within NEXUDUS_MAX_RESPONSE_BYTES, raw and after decompression, by the
  transport (envelopes.BoundedTransport), the token requests' included.
- A 200 whose envelope says WasSuccessful: false or carries Errors is a failure, on every route.
Logs name the operation, status and timing; never a header, token, password, query or body.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2

from .. import __version__
from ..record.fields import COMMANDS_RECORD_PARAMS, COWORKERS_PATH, RESOURCE_PATH
from ..record.operations import OPERATIONS
from ..settings import CREDENTIAL_VARIABLES, Settings, scrub_secrets
from ..telemetry.metrics import METRICS
from ..telemetry.traces import end_upstream_span, upstream_span
from .auth import Auth, CallerBearer
from .caller import Caller
from .envelopes import (
    MAX_MESSAGE,
    TRANSIENT_STATUSES,
    TRANSPORT_ERRORS,
    Answer,
    as_int,
    bounded_client,
    errors_of,
    json_or_none,
    loggable_path,
    transport_error,
)
from .errors import ErrorKind, NexudusError, Operation
from .sanitise import sanitise_excerpt
from .throttle import THROTTLE_STATUSES, throttle_error

log = logging.getLogger("nexudus_identity_mcp.nexudus")


@dataclass(frozen=True)
class SearchPage:
    records: list[dict[str, Any]]
    current_page: int
    page_size: int
    total_items: int
    total_pages: int
    has_next_page: bool
    has_previous_page: bool


SleepFn = Callable[[float], Awaitable[None]]


class NexudusClient:
    """The API client. Use as an async context manager, or call `aclose()`."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
        sleep: SleepFn = anyio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`transport`: an in-process one (the sandbox's) instead of the network; `sleep` and `rng`:
        the retries' waits and their jitter; `clock`: what the token cache reads the time from, to
        know when a token is due (monotonic seconds; a test moves it forward instead of waiting).
        A call's own deadlines stay on the real monotonic clock: they bound real waits."""
        self.settings = settings
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._secrets = settings.secrets()
        self._transport = transport
        self._client: httpx2.AsyncClient | None = None
        # Called before each API call with the operation and the call's deadline (monotonic): the
        # shared request budget (nexudus/budget.py) waits or raises here, before anything is sent.
        self.before_request: Callable[[Operation, float, Caller | None], Awaitable[None]] | None = None
        self._auth = Auth(settings, lambda: self._http, self._scrub, clock)
        # An in-process transport (the sandbox's ASGI app) ignores httpx timeouts, so each exchange
        # through one gets its own bound; on the network httpx's connect/read timeouts apply.
        self._exchange_limit = settings.connect_timeout + settings.read_timeout if transport is not None else None

    async def __aenter__(self) -> NexudusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def _http(self) -> httpx2.AsyncClient:
        """The one connection pool, made on first use: building its TLS context costs tens of
        milliseconds that a server start should not wait for."""
        if self._client is None:
            self._client = bounded_client(
                self.settings,
                self._transport,
                self.settings.max_response_bytes,
                Accept="application/json",
                **{"User-Agent": f"nexudus-identity-mcp/{__version__}"},
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    @property
    def auth(self) -> httpx2.Auth:
        """The configured credentials' auth flow (every request without a caller's own token)."""
        return self._auth

    @property
    def token_refusal(self) -> str | None:
        """The token endpoint's latest refusal as `error: description` (scrubbed, capped), if any."""
        refusal = self._auth.last_refusal
        return f"{refusal.error}: {refusal.description or 'no description'}" if refusal else None

    @property
    def token_requests(self) -> int:
        """How many times this client asked /api/token for a token (password auth only)."""
        return self._auth.token_requests

    # ----------------------------------------------------------------- operations
    async def read_as_sent(self, op: Operation, path: str, params: dict[str, Any] | None = None) -> Any:
        """A GET of `path` answered with the envelope as Nexudus sent it, not read into records: for
        `probe`, which compares what the API sends with what the tools assume. Same credentials,
        retries, size bound and failures as every operation."""
        return await self._call(op, "GET", path, params=params)

    async def get_check(
        self, check_id: int, *, deadline: float | None = None, caller: Caller | None = None
    ) -> dict[str, Any]:
        body = await self._call("get", "GET", f"{RESOURCE_PATH}/{int(check_id)}", deadline=deadline, caller=caller)
        if not isinstance(body, dict) or not body:
            raise NexudusError(
                ErrorKind.NOT_FOUND, f"No coworker identity check with Id {check_id}.", status=200, operation="get"
            )
        if body.get("Id") != check_id:
            raise NexudusError(
                ErrorKind.UPSTREAM_ERROR,
                f"Nexudus answered the read of check {check_id} with something other than that record.",
                status=200,
                operation="get",
            )
        return body

    async def search_checks(
        self,
        *,
        page: int = 1,
        size: int = 25,
        filters: Mapping[str, Any] | None = None,
        order_by: str | None = None,
        descending: bool | None = None,
        caller: Caller | None = None,
    ) -> SearchPage:
        """One page of the identity-checks search, `filters` by their API names
        (`CoworkerIdentityCheck_…`, `fields.SEARCH_FILTERS`). The API ignores a parameter it does not
        know, so a caller must check the rows (tools/search.py does)."""
        params: dict[str, Any] = {"page": page, "size": size}
        params.update({k: v for k, v in (filters or {}).items() if v is not None})
        return await self._search_page("search", RESOURCE_PATH, params, order_by, descending, caller)

    async def search_coworkers(
        self,
        *,
        page: int = 1,
        size: int = 25,
        filters: Mapping[str, Any] | None = None,
        order_by: str | None = None,
        descending: bool | None = None,
        caller: Caller | None = None,
    ) -> SearchPage:
        """One page of the members (coworkers) search, `filters` by their API names (`Coworker_…`). Needs
        the Coworker-List role. The API ignores a parameter it does not know: check the rows."""
        params: dict[str, Any] = {"page": page, "size": size}
        params.update({k: v for k, v in (filters or {}).items() if v is not None})
        return await self._search_page("coworker_search", COWORKERS_PATH, params, order_by, descending, caller)

    async def get_coworker(
        self, coworker_id: int, *, deadline: float | None = None, caller: Caller | None = None
    ) -> dict[str, Any]:
        """One member (coworker) record by Id. Needs the Coworker-Read role."""
        body = await self._call(
            "coworker_get", "GET", f"{COWORKERS_PATH}/{int(coworker_id)}", deadline=deadline, caller=caller
        )
        if not isinstance(body, dict) or body.get("Id") != coworker_id:
            raise NexudusError(
                ErrorKind.UPSTREAM_ERROR,
                f"Nexudus answered the read of coworker {coworker_id} with something other than that record.",
                status=200,
                operation="coworker_get",
            )
        return body

    async def _search_page(
        self,
        op: Operation,
        path: str,
        params: dict[str, Any],
        order_by: str | None,
        descending: bool | None,
        caller: Caller | None,
    ) -> SearchPage:
        if order_by:
            params["orderBy"] = order_by
            if descending is not None:
                # The docs disagree on `dir` (1/-1 or 0/1); -1 and 1 mean the same in both readings
                # only for descending=False, so descending is sent as the documented -1.
                params["dir"] = -1 if descending else 1
        page, size = params["page"], params["size"]
        body = await self._call(op, "GET", path, params=params, caller=caller)
        if not isinstance(body, dict) or not isinstance(body.get("Records"), list):
            raise NexudusError(
                ErrorKind.UPSTREAM_ERROR,
                f"Nexudus answered the {OPERATIONS[op].noun} with something other than a page of records.",
                status=200,
                operation=op,
            )
        records = [r for r in body["Records"] if isinstance(r, dict)]
        return SearchPage(
            records=records,
            current_page=as_int(body.get("CurrentPage"), page),
            page_size=as_int(body.get("CurrentPageSize"), size),
            total_items=as_int(body.get("TotalItems"), len(records)),
            total_pages=as_int(body.get("TotalPages"), 1),
            has_next_page=bool(body.get("HasNextPage")),
            has_previous_page=bool(body.get("HasPreviousPage")),
        )

    async def update_check(
        self, body: Mapping[str, Any], *, deadline: float | None = None, caller: Caller | None = None
    ) -> dict[str, Any]:
        """PUT a full record. Returns the success envelope; raises on anything else."""
        envelope: dict[str, Any] = await self._call(
            "update", "PUT", RESOURCE_PATH, json=dict(body), deadline=deadline, caller=caller
        )
        return envelope

    # ----------------------------------------------------------------- commands
    # The API's server-side actions on identity checks (docs/development.md, "What is known of the
    # Nexudus API"): listed by GET …/commands, run by POST …/runcommand. The keys are not published;
    # they are discovered here. A run is not idempotent (it may email the member), so `_call` never
    # sends it twice once it may have reached the API: only a connection that could not be made is
    # retried.
    async def list_commands(
        self, *, caller: Caller | None = None, check_id: int | None = None, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The commands the API lists for identity checks, each a dict with at least a `Key`; with
        `check_id`, those available for that check (every candidate name of the parameter sent:
        `COMMANDS_RECORD_PARAMS`), or with `params` exactly those query parameters (the probe)."""
        if params is None and check_id is not None:
            params = dict.fromkeys(COMMANDS_RECORD_PARAMS, check_id)
        body = await self._call("commands", "GET", f"{RESOURCE_PATH}/commands", params=params, caller=caller)
        if isinstance(body, dict):
            body = body.get("Records", body.get("Value"))
        if not isinstance(body, list):
            raise NexudusError(
                ErrorKind.UPSTREAM_ERROR,
                "Nexudus answered the list of commands with something other than a list.",
                status=200,
                operation="commands",
            )
        return [c for c in body if isinstance(c, dict) and isinstance(c.get("Key"), str) and c["Key"]]

    async def run_command(
        self,
        key: str,
        ids: list[int],
        parameters: list[dict[str, Any]],
        *,
        caller: Caller | None = None,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        """POST …/runcommand. Returns the success envelope; raises on anything else (a 200 whose
        envelope says WasSuccessful false included)."""
        payload = {"Key": key, "Ids": [int(i) for i in ids], "Parameters": parameters}
        envelope: dict[str, Any] = await self._call(
            "run_command", "POST", f"{RESOURCE_PATH}/runcommand", json=payload, caller=caller, deadline=deadline
        )
        return envelope

    # ----------------------------------------------------------------- machinery
    async def _call(
        self,
        op: Operation,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        deadline: float | None = None,
        caller: Caller | None = None,
    ) -> Any:
        """One API operation, retries included, bounded by NEXUDUS_MAX_CALL_SECONDS from now or by
        `deadline` (time.monotonic()) when that is sooner: a tool call that makes several API calls
        passes one deadline to all of them. `caller`: who the request is for; their own Nexudus token
        (sign-in mode) is sent instead of the configured credentials, and the request budget is theirs."""
        bearer = _bearer(caller)
        if not self.settings.configured and bearer is None:
            raise NexudusError(
                ErrorKind.NOT_CONFIGURED,
                "No Nexudus credentials are configured: set "
                f"{CREDENTIAL_VARIABLES} (and NEXUDUS_BASE_URL if not the default).",
                operation=op,
            )
        started = time.monotonic()
        own = started + self.settings.max_call_seconds
        deadline = own if deadline is None else min(own, deadline)
        sending = False  # whether the request may have left this process (then its outcome is unknown)
        try:
            if deadline <= started:
                raise TimeoutError  # out of time before anything was sent
            with anyio.fail_after(deadline - started):
                if self.before_request is not None:
                    await self.before_request(op, deadline, caller)
                sending = True
                return await self._call_with_retries(op, method, path, params, json, deadline, bearer)
        except TimeoutError:
            raise NexudusError(
                ErrorKind.UPSTREAM_UNAVAILABLE,
                f"Nexudus did not complete the {op} within the call's time limit "
                f"(NEXUDUS_MAX_CALL_SECONDS={self.settings.max_call_seconds:g}).",
                operation=op,
                transient=True,
                unsent=not sending,
            ) from None

    async def _call_with_retries(
        self,
        op: Operation,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        json: dict[str, Any] | None,
        deadline: float,
        bearer: str | None,
    ) -> Any:
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            status: int | None = None
            try:
                with upstream_span(op, method) as span:
                    try:
                        # The auth flow sets the header, signs in when needed and re-authenticates once after a 401.
                        answer = await self._exchange(method, path, bearer, params=params, json=json)
                        status = answer.status_code
                        result = self._interpret(op, answer, bearer)
                    except NexudusError as error:
                        status = status or error.status
                        end_upstream_span(span, status, error.kind.value)
                        raise
                    finally:
                        METRICS.upstream_request(op, status, time.perf_counter() - started)
                    end_upstream_span(span, status, None)
                    return result
            except NexudusError as error:
                error.operation = error.operation or op
                wait = self._retry_wait(error, attempt)
                if not OPERATIONS[op].idempotent and not error.unsent:
                    wait = None  # it may have run: never send it again
                if wait is None or time.monotonic() + wait > deadline:
                    raise
                log.warning(
                    "nexudus %s: %s (%s); retry %d of %d in %.2fs",
                    op,
                    error.kind,
                    error.status or "no answer",
                    attempt,
                    self.settings.max_attempts - 1,
                    wait,
                )
                METRICS.throttle_wait("throttled" if error.kind == ErrorKind.RATE_LIMITED else "transient", wait)
                await self._sleep(wait)

    def _retry_wait(self, error: NexudusError, attempt: int) -> float | None:
        if attempt >= self.settings.max_attempts or error.daily_cap:
            return None
        if error.kind == ErrorKind.RATE_LIMITED:
            if error.retry_after is None:
                backoff: float = max(1.0, self.settings.backoff_base * 2 ** (attempt - 1))
                return min(backoff, self.settings.max_retry_after)
            return min(max(error.retry_after, 0.0), self.settings.max_retry_after)
        if error.transient:
            ceiling = self.settings.backoff_base * (2 ** (attempt - 1))
            return self._rng.uniform(0, ceiling)
        return None

    async def _exchange(self, method: str, path: str, bearer: str | None, **kwargs: Any) -> Answer:
        """One request (plus the auth flow's own), its answer read within the size bound."""
        auth: httpx2.Auth = self._auth if bearer is None else CallerBearer(bearer)
        started = time.monotonic()
        try:
            with anyio.fail_after(self._exchange_limit):  # None: no extra scope deadline
                # Read within NEXUDUS_MAX_RESPONSE_BYTES by the transport (envelopes.BoundedTransport).
                response = await self._http.request(method, path, auth=auth, **kwargs)
                answer = Answer(response.status_code, response.headers, response.content)
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc, self.settings) from None
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s -> %d in %.0f ms",
                method,
                loggable_path(path),
                answer.status_code,
                (time.monotonic() - started) * 1000,
            )
        return answer

    def _interpret(self, op: Operation, response: Answer, bearer: str | None) -> Any:
        """The one reading of an answer, for every operation: a 2xx is a success unless its envelope
        says otherwise (WasSuccessful false, Errors, or a Status of 400 or more: Nexudus answers some
        failures 200 with `{"Status": 500, …}`); a write's success must be its envelope with
        WasSuccessful true; any other status is classified by `classify`."""
        status = response.status_code
        body = json_or_none(response)
        spec = OPERATIONS[op]
        if not 200 <= status < 300:
            raise self.classify(op, response, body, bearer)
        if isinstance(body, dict) and (
            body.get("WasSuccessful") is False or errors_of(body) or _envelope_status(body) >= 400
        ):
            errors = errors_of(body)
            said = _envelope_status(body)
            said_status = f" (its envelope said Status {said})" if said >= 400 else ""
            raise NexudusError(
                ErrorKind.VALIDATION if errors else ErrorKind.UPSTREAM_ERROR,
                self._message(
                    body,
                    f"Nexudus rejected the {spec.noun}." if errors else f"Nexudus did not complete the {spec.noun}.",
                    bearer,
                )
                + said_status,
                status=status,
                errors=errors,
                operation=op,
            )
        if spec.envelope:
            if not isinstance(body, dict) or body.get("WasSuccessful") is not True:
                raise self._unexpected(op, response, f"an answer that is not the {spec.noun} envelope", bearer)
            return body
        if body is None and response.content.strip() not in (b"", b"null"):
            raise self._unexpected(op, response, "a body that is not JSON", bearer)
        return body

    def classify(self, op: Operation, response: Answer, body: Any, bearer: str | None = None) -> NexudusError:
        """A status other than 2xx. A 5xx is retried when transient whatever its body; a body that is
        not JSON there (a proxy's HTML error page) is shown only as a short plain-text excerpt."""
        status = response.status_code
        noun = OPERATIONS[op].noun
        if status == 400 and isinstance(body, dict) and ("Errors" in body or "Message" in body):
            return NexudusError(
                ErrorKind.VALIDATION,
                self._message(body, f"Nexudus rejected the {noun}.", bearer),
                status=status,
                errors=errors_of(body),
                operation=op,
            )
        if status in (401, 403):
            return NexudusError(
                ErrorKind.UNAUTHORIZED, self._unauthorized_message(op, status, bearer), status=status, operation=op
            )
        if status == 404:
            return NexudusError(
                ErrorKind.NOT_FOUND,
                f"Nexudus found no such {OPERATIONS[op].resource} (HTTP 404).",
                status=status,
                operation=op,
            )
        if status in THROTTLE_STATUSES:
            return throttle_error(op, response, lambda text: self._scrub(text, bearer))
        if status >= 500:
            return NexudusError(
                ErrorKind.UPSTREAM_UNAVAILABLE,
                f"Nexudus failed with HTTP {status}.",
                status=status,
                operation=op,
                transient=status in TRANSIENT_STATUSES,
                excerpt=self._excerpt(response, bearer),
            )
        return self._unexpected(op, response, f"HTTP {status}", bearer)

    def _unauthorized_message(self, op: Operation, status: int, bearer: str | None) -> str:
        """Which of wrong credentials, API access not enabled, or a missing role is most likely."""
        needs = (
            f"{OPERATIONS[op].role_text} (or full unrestricted administrator)"
            if OPERATIONS[op].role
            else "the role for it"
        )
        mode = "caller" if bearer is not None else self._auth.mode
        if mode == "password":
            # The flow signed in afresh after the first 401, so the credentials work: the route is refused.
            likely = (
                f"the sign-in worked, so this user most likely lacks {needs}, or API access is not enabled for it "
                "in Nexudus (Settings > Users)."
            )
        elif mode == "basic":
            likely = (
                f"wrong NEXUDUS_USERNAME/NEXUDUS_PASSWORD, API access not enabled for this user, or the user lacks "
                f"{needs}."
            )
        elif mode == "caller":
            likely = f"your Nexudus sign-in has expired (sign in again), or your user lacks {needs}."
        else:
            likely = f"NEXUDUS_TOKEN is wrong or expired (most likely), or its user lacks {needs} or API access."
        return f"Nexudus refused the credentials for the {OPERATIONS[op].noun} (HTTP {status}): {likely}"

    def _unexpected(self, op: Operation, response: Answer, what: str, bearer: str | None) -> NexudusError:
        return NexudusError(
            ErrorKind.UPSTREAM_ERROR,
            f"Nexudus answered the {OPERATIONS[op].noun} with {what}.",
            status=response.status_code,
            operation=op,
            excerpt=self._excerpt(response, bearer),
        )

    def _message(self, body: dict[str, Any], default: str, bearer: str | None) -> str:
        message = body.get("Message")
        return self._scrub(str(message), bearer)[:MAX_MESSAGE] if message else default

    def _excerpt(self, response: Answer, bearer: str | None) -> str | None:
        return sanitise_excerpt(response.text, self._all_secrets(bearer))

    def _all_secrets(self, bearer: str | None = None) -> list[str]:
        """The configured secrets, the tokens obtained at run time, and the caller's own token."""
        return [*self._secrets, *self._auth.runtime_secrets(), *([bearer] if bearer else [])]

    def _scrub(self, text: str, bearer: str | None = None) -> str:
        return scrub_secrets(text, self._all_secrets(bearer))


def _envelope_status(body: dict[str, Any]) -> int:
    """The `Status` an envelope carries (0 when it carries none, or not a number)."""
    status = body.get("Status")
    return status if isinstance(status, int) and not isinstance(status, bool) else 0


def _bearer(caller: Caller | None) -> str | None:
    return caller.nexudus_bearer if caller is not None else None
