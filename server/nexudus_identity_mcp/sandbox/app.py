"""A stand-in for the Nexudus API's coworker identity-check resource (an ASGI app).

It behaves as the documentation says the real API behaves (the public Nexudus API documentation), so that the server
can be run, tested and evaluated with no Nexudus account:

- `POST /api/token`: password and refresh_token grants, form-encoded only; a JSON body gets
  `unsupported_grant_type`, a wrong password 400 `invalid_grant`. Bearer tokens it issued, the
  well-known `SANDBOX_TOKEN`, and HTTP Basic for its users. Anything else: 401. The viewer user has
  the Read and List roles but not Edit, so its PUT gets 401 as the real API answers.
- `GET /api/spaces/coworkeridentitychecks/{id}`, the search (paging, `CoworkerIdentityCheck_*`
  filters), and `PUT /api/spaces/coworkeridentitychecks` as a full replace, validated field by field
  from the field table with every error at once in the documented envelope.
- `GET …/commands` and `POST …/runcommand`: identity-check commands with INVENTED keys (the real
  ones are not published; see `commands.py`): mark as verified, mark as rejected (RejectionNotes),
  cancel, and ask for a new document (one record at a time). A run changes VerificationStatus (and
  LastError), UpdatedOn and UpdatedBy.
- Dates and date-times in the store's form (`dates_with_z`; a value with an offset converted to UTC,
  silently), text trimmed when `trims_text` is set.
- Throttling: past a write rate (PUTs and command runs together) it answers 409 "You must wait
  before accessing this url again"; with `daily_write_cap` set, past that many writes it answers
  the daily cap's text until reset.
- Two-factor users (`TOTP_USER`): the password grant without `totp`, or with a wrong code, gets
  400 `invalid_grant` whose description says a code is needed or wrong (`two_factor_wording` sets
  another description for the missing code, e.g. one the server does not recognise).
- Fault injection (`Fault`): the next N requests to a route answer a status, an HTML page, a
  malformed body, an envelope with errors, a delay, a write applied late (after its caller may have
  given up), a dropped connection, an answer whose dates have no `Z` (`no_z`), or a PUT stored with
  its text trimmed (`trim`). A 429 with the wait
  only in its body is `Fault("status", status=429, body="Wait 3 seconds.")`; a burst of the
  live API's generic 500 is `Fault("status", status=500, body=OOPS_TEXT, count=N)`.
- `/_sandbox/*` control routes (reset, faults, request log, forget the issued tokens) for tests and
  tools out of process.

The request log keeps method, route, status and which auth scheme was used; never a header value,
a query or a body, so that nothing it keeps can leak a secret or a document number.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx2
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..record.fields import BY_NAME, COWORKERS_PATH, RESOURCE_PATH, SENT_FIELDS, fold
from ..record.operations import OPERATIONS, WRITES
from ..record.timefmt import format_utc, parse_datetime
from .commands import listed_commands, run_command
from .state import (
    ADMIN_USER,
    ALL_ROLES,
    SANDBOX_TOKEN,
    THROTTLE_TEXT,
    Fault,
    RequestRecord,
    Route_,
    SandboxConnectionDropped,
    SandboxState,
    api_error,
    success_envelope,
    validate_put,
    with_derived_fields,
)


# --------------------------------------------------------------------- the app
class Sandbox:
    """The sandbox: its state, its ASGI app, and an in-process transport to reach it."""

    def __init__(self, state: SandboxState | None = None) -> None:
        self.state = state or SandboxState()
        self._late: set[asyncio.Task[Response]] = set()  # writes applied late, kept until they finish
        self.app = Starlette(
            routes=[
                Route("/api/token", self._token, methods=["POST"]),
                Route(RESOURCE_PATH, self._search, methods=["GET"]),
                Route(RESOURCE_PATH, self._put, methods=["PUT"]),
                Route(RESOURCE_PATH + "/commands", self._commands, methods=["GET"]),
                Route(RESOURCE_PATH + "/runcommand", self._runcommand, methods=["POST"]),
                Route(RESOURCE_PATH + "/{id}", self._get, methods=["GET"]),
                Route(COWORKERS_PATH, self._coworker_search, methods=["GET"]),
                Route(COWORKERS_PATH + "/{id}", self._coworker_get, methods=["GET"]),
                Route("/_sandbox/reset", self._control_reset, methods=["POST"]),
                Route("/_sandbox/faults", self._control_faults, methods=["POST"]),
                Route("/_sandbox/requests", self._control_requests, methods=["GET"]),
                Route("/_sandbox/tokens/forget", self._control_forget_tokens, methods=["POST"]),
                Route("/_sandbox/records/{id}", self._control_record, methods=["GET"]),
                Route("/healthz", lambda r: PlainTextResponse("ok"), methods=["GET"]),
            ]
        )

    def transport(self) -> httpx2.AsyncBaseTransport:
        return SandboxTransport(self.app)

    async def settle(self) -> None:
        """Wait until every write applied late (`Fault("late")`) has been applied."""
        while self._late:
            await asyncio.gather(*self._late, return_exceptions=True)

    # -- plumbing shared by the API routes
    async def _answer(self, request: Request, route: Route_, handler: Any) -> Response:
        # Recorded on arrival (status 0 until answered), so a request whose caller gave up still counts.
        entry = RequestRecord(
            request.method, route, 0, _auth_scheme(request), None, peer=request.client.port if request.client else None
        )
        self.state.requests.append(entry)
        fault = self.state.take_fault(route)
        if fault is not None and fault.kind == "delay":
            await anyio.sleep(fault.delay)
            fault = None
        if fault is not None and fault.kind == "drop":
            return _DroppedResponse()
        if route != "token":
            entry.user, response = self._authorise(request, route)
            if response is not None:
                return _answered(entry, response)
        if route in WRITES:
            body = await _json_body(request)
            self.state.carried.append((route, body))
            if route == "update":
                entry.fields = sorted(body) if isinstance(body, dict) else None
        if fault is not None and fault.kind == "late":
            return _answered(entry, await self._late_answer(fault.delay, handler, request, entry.user))
        if route == "token" and "form" in request.headers.get("content-type", ""):
            entry.grant = str((await request.form()).get("grant_type") or "") or None
        if fault is not None and fault.kind == "trim":
            handler, fault = (self._put_trimmed if route == "update" else handler), None
        if fault is not None and fault.kind == "no_z":
            fault = None
            handler = _without_z(handler)
        if fault is not None:
            return _answered(entry, await self._fault_response(fault, request))
        if self.state.over_daily_cap(route):
            return _answered(
                entry, PlainTextResponse(self.state.daily_cap_text(), status_code=self.state.daily_cap_status)
            )
        if self.state.throttled(route):
            return _answered(
                entry,
                PlainTextResponse(THROTTLE_TEXT, status_code=409, headers={"Retry-After": self.state.retry_after}),
            )
        return _answered(entry, await handler(request, entry.user))

    async def _late_answer(self, delay: float, handler: Any, request: Request, user: str | None) -> Response:
        """Apply the request `delay` seconds from now in a task of its own, which a caller giving up
        does not cancel (the body was read already), and answer when it is applied."""

        async def later() -> Response:
            await asyncio.sleep(delay)
            response: Response = await handler(request, user)
            return response

        task = asyncio.ensure_future(later())
        self._late.add(task)
        task.add_done_callback(self._late.discard)
        return await asyncio.shield(task)

    def _authorise(self, request: Request, route: Route_) -> tuple[str | None, Response | None]:
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        user: str | None = None
        roles: frozenset[str] = frozenset()
        if scheme.lower() == "bearer" and credential:
            if secrets.compare_digest(credential, SANDBOX_TOKEN):
                user, roles = ADMIN_USER, ALL_ROLES
            else:
                token = self.state.access_token(credential)
                if token and token.user in self.state.users:
                    user, roles = token.user, self.state.users[token.user].roles
        elif scheme.lower() == "basic" and credential:
            try:
                name, _, password = base64.b64decode(credential).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                name, password = "", ""
            found = self.state.users.get(name)
            if found and secrets.compare_digest(found.password, password):
                user, roles = name, found.roles
        if user is None or not roles & set(OPERATIONS[route].roles):  # any name the role may have
            return user, JSONResponse({"Message": "Authorization has been denied for this request."}, status_code=401)
        return user, None

    async def _fault_response(self, fault: Fault, request: Request) -> Response:
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        if fault.kind == "status":
            status = fault.status or 500
            if fault.body is None or isinstance(fault.body, (dict, list)):
                return JSONResponse(fault.body, status_code=status, headers=headers)
            return PlainTextResponse(str(fault.body), status_code=status, headers=headers)
        if fault.kind == "html":
            status = fault.status or 502
            page = (
                f"<!DOCTYPE html><html><head><title>{status} Bad Gateway</title><style>body{{}}</style>"
                f"</head><body><h1>{status} Bad Gateway</h1><p>The server returned an invalid or "
                "incomplete response.</p><hr><address>nginx</address></body></html>"
            )
            return Response(page, status_code=status, media_type="text/html", headers=headers)
        if fault.kind == "malformed":
            return Response(
                '{"Status": 200, "Message": "CoworkerIdentityCheck was succ',
                status_code=200,
                media_type="application/json",
                headers=headers,
            )
        if fault.kind == "envelope_errors":
            body = await _json_body(request)
            echoed = body if isinstance(body, dict) else {}
            errors = [api_error(k, "could not be saved", v) for k, v in echoed.items()] or [
                api_error("", "could not be saved", None)
            ]
            return JSONResponse(
                {
                    "Status": 200,
                    "Message": "\n".join(f"{e['PropertyName']}: {e['Message']}" for e in errors),
                    "Value": None,
                    "Errors": errors,
                    "WasSuccessful": False,
                },
                status_code=200,
            )
        raise ValueError(f"unknown fault kind {fault.kind!r}")

    # -- the API
    async def _token(self, request: Request) -> Response:
        return await self._answer(request, "token", self._token_inner)

    async def _token_inner(self, request: Request, _user: str | None) -> Response:
        content_type = request.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" not in content_type:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        form = await request.form()
        grant = form.get("grant_type")
        if grant == "password":
            name, password = str(form.get("username") or ""), str(form.get("password") or "")
            found = self.state.users.get(name)
            if not found or not secrets.compare_digest(found.password, password):
                return JSONResponse(
                    {"error": "invalid_grant", "error_description": "The user name or password is incorrect."},
                    status_code=400,
                )
            if found.totp_secret is not None:
                import pyotp

                code = str(form.get("totp") or "")
                if not code:
                    return JSONResponse(
                        {
                            "error": "invalid_grant",
                            "error_description": self.state.two_factor_wording
                            or "A two-factor authentication code (totp) is required for this user.",
                        },
                        status_code=400,
                    )
                if not pyotp.TOTP(found.totp_secret).verify(code, valid_window=1):
                    return JSONResponse(
                        {
                            "error": "invalid_grant",
                            "error_description": "The two-factor authentication code is incorrect.",
                        },
                        status_code=400,
                    )
            if not found.api_access:
                return JSONResponse(
                    {"error": "invalid_grant", "error_description": "API access is not enabled for this user."},
                    status_code=400,
                )
            client_id = request.headers.get("client_id") or name
            return self._issue(name, client_id)
        if grant == "refresh_token":
            refresh = self.state.redeem_refresh(str(form.get("refresh_token") or ""))
            client_id = request.headers.get("client_id") or ""
            if refresh is None or refresh.client_id != client_id:
                return JSONResponse(
                    {"error": "invalid_grant", "error_description": "The refresh token is invalid or expired."},
                    status_code=400,
                )
            return self._issue(refresh.user, refresh.client_id)
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

    def _issue(self, user: str, client_id: str) -> Response:
        access, refresh = self.state.issue_tokens(user, client_id)
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "bearer",
                "expires_in": int(self.state.token_lifetime),
                "refresh_token": refresh,
            }
        )

    async def _get(self, request: Request) -> Response:
        return await self._answer(request, "get", self._get_inner)

    async def _get_inner(self, request: Request, _user: str | None) -> Response:
        if self.state.get_delay > 0:
            await anyio.sleep(self.state.get_delay)
        try:
            check_id = int(request.path_params["id"])
        except ValueError:
            return JSONResponse({"Message": "The request is invalid."}, status_code=400)
        record = self.state.records.get(check_id)
        if record is None:
            return JSONResponse({"Message": f"No CoworkerIdentityCheck with Id {check_id}."}, status_code=404)
        return JSONResponse(record)

    async def _search(self, request: Request) -> Response:
        return await self._answer(request, "search", self._search_inner)

    async def _search_inner(self, request: Request, _user: str | None) -> Response:
        q = self._honoured(request.query_params)
        rows = list(self.state.records.values())
        int_filters = {
            "CoworkerIdentityCheck_Coworker": "CoworkerId",
            "CoworkerIdentityCheck_Business": "BusinessId",
            "CoworkerIdentityCheck_VerificationStatus": "VerificationStatus",
            "CoworkerIdentityCheck_VerificationType": "VerificationType",
        }
        for param, name in int_filters.items():
            if param in q:
                try:
                    wanted = int(q[param])
                except ValueError:
                    return JSONResponse({"Message": f"{param} must be an integer."}, status_code=400)
                rows = [r for r in rows if r.get(name) == wanted]
        for param, name in (
            ("CoworkerIdentityCheck_Name", "Name"),
            ("CoworkerIdentityCheck_Coworker_FullName", "CoworkerFullName"),
        ):
            if q.get(param):
                needle = q[param].casefold()
                rows = [r for r in rows if needle in (r.get(name) or "").casefold()]
        # Range filters on the record's date fields: from_… on or after, to_… on or before, in minutes.
        for f in (f for f in BY_NAME.values() if f.type in ("date", "datetime")):
            for bound in ("from", "to"):
                param = f"{bound}_CoworkerIdentityCheck_{f.name}"
                if param not in q:
                    continue
                limit = parse_datetime(q[param])
                if limit is None:
                    return JSONResponse({"Message": f"{param} must be a date (YYYY-MM-DDTHH:mm)."}, status_code=400)
                rows = [r for r in rows if _within(r.get(f.name), limit, bound)]
        return _page(request, rows, sortable=BY_NAME)

    async def _coworker_search(self, request: Request) -> Response:
        return await self._answer(request, "coworker_search", self._coworker_search_inner)

    async def _coworker_search_inner(self, request: Request, _user: str | None) -> Response:
        q = self._honoured(request.query_params)
        rows = list(self.state.coworkers.values())
        if q.get("Coworker_FullName"):
            needle = q["Coworker_FullName"].casefold()  # any case; accents must match, as a SQL collation does
            rows = [r for r in rows if needle in (r.get("FullName") or "").casefold()]
        if q.get("Coworker_Email"):
            email = q["Coworker_Email"].strip().casefold()  # the whole address (a public client saw exact match)
            rows = [r for r in rows if (r.get("Email") or "").casefold() == email]
        if "Coworker_InvoicingBusiness" in q:
            try:
                business = int(q["Coworker_InvoicingBusiness"])
            except ValueError:
                return JSONResponse({"Message": "Coworker_InvoicingBusiness must be an integer."}, status_code=400)
            rows = [r for r in rows if r.get("InvoicingBusinessId") == business]
        if q.get("Coworker_Active") in ("true", "false"):
            rows = [r for r in rows if r.get("Active") is (q["Coworker_Active"] == "true")]
        sortable = {name for row in rows for name in row}
        return _page(request, rows, sortable=sortable)

    async def _coworker_get(self, request: Request) -> Response:
        return await self._answer(request, "coworker_get", self._coworker_get_inner)

    async def _coworker_get_inner(self, request: Request, _user: str | None) -> Response:
        raw = request.path_params["id"]
        coworker = self.state.coworkers.get(int(raw)) if raw.isdigit() else None
        if coworker is None:
            return JSONResponse({"Message": f"No Coworker with Id {raw}."}, status_code=404)
        return JSONResponse(coworker)

    def _honoured(self, query: QueryParams) -> QueryParams:
        """The query without the filters this profile ignores (the live API ignores any parameter it
        does not know); paging and ordering always apply."""
        honoured = self.state.honoured_filters or frozenset()
        return QueryParams([(k, v) for k, v in query.multi_items() if k in _PAGING or k in honoured])

    async def _put(self, request: Request) -> Response:
        return await self._answer(request, "update", self._put_inner)

    async def _put_trimmed(self, request: Request, user: str | None) -> Response:
        return await self._put_inner(request, user, trim=True)

    async def _put_inner(self, request: Request, user: str | None, *, trim: bool = False) -> Response:
        body = await _json_body(request)
        errors = validate_put(body)
        if errors:
            return JSONResponse(
                {
                    "Message": "\n".join(f"{e['PropertyName']}: {e['Message']}" for e in errors),
                    "Value": None,
                    "Errors": errors,
                    "WasSuccessful": False,
                },
                status_code=400,
            )
        current = self.state.records.get(body["Id"])
        if current is None:
            return JSONResponse({"Message": f"No CoworkerIdentityCheck with Id {body['Id']}."}, status_code=404)
        # Full replace: every sent field takes the body's value, absent means cleared.
        stored = {f.name: body.get(f.name) for f in SENT_FIELDS}
        if self.state.keeps_unknown_fields:
            # The live profile stores what it does not know too; one left out of the body is cleared.
            stored.update({k: body.get(k) for k in (*current, *body) if k not in BY_NAME})
        stored = self.state.dated(stored)
        if trim or self.state.trims_text:
            stored = {k: v.strip() if k in _TEXT_FIELDS and isinstance(v, str) else v for k, v in stored.items()}
        now = self.state.written_time(format_utc(datetime.now(UTC), millis=True))
        stored.update(
            CreatedOn=current.get("CreatedOn"), UpdatedOn=now, UpdatedBy=user, SystemId=current.get("SystemId")
        )
        self.state.records[body["Id"]] = with_derived_fields(stored)
        return JSONResponse(
            success_envelope("CoworkerIdentityCheck was successfully updated.", {"Id": body["Id"]}, now, user)
        )

    async def _commands(self, request: Request) -> Response:
        return await self._answer(request, "commands", self._commands_inner)

    async def _commands_inner(self, request: Request, _user: str | None) -> Response:
        name = self.state.commands_record_param
        raw = request.query_params.get(name, "") if name else ""
        record = self.state.records.get(int(raw)) if raw.isdigit() else None
        if raw and record is None:
            return JSONResponse({"Message": f"No CoworkerIdentityCheck with Id {raw}."}, status_code=404)
        return JSONResponse(listed_commands(self.state.hidden_commands, record))

    async def _runcommand(self, request: Request) -> Response:
        return await self._answer(request, "run_command", self._runcommand_inner)

    async def _runcommand_inner(self, request: Request, user: str | None) -> Response:
        body = await _json_body(request)
        now = self.state.written_time(format_utc(datetime.now(UTC), millis=True))
        status, envelope = run_command(self.state.records, body, now, user)
        return JSONResponse(envelope, status_code=status)

    # -- control routes (sandbox only)
    async def _control_reset(self, request: Request) -> Response:
        self.state.reset()
        return JSONResponse({"ok": True})

    async def _control_faults(self, request: Request) -> Response:
        body = await _json_body(request)
        try:
            fault = Fault(**body)
        except TypeError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        self.state.inject(fault)
        return JSONResponse({"ok": True, "fault": asdict(fault)})

    async def _control_forget_tokens(self, request: Request) -> Response:
        """Nexudus forgets the tokens it issued: `{"access": bool, "refresh": bool}`, both by default."""
        body = await _json_body(request) if await request.body() else {}
        if not isinstance(body, dict) or not all(isinstance(body.get(k, True), bool) for k in ("access", "refresh")):
            return JSONResponse({"error": 'expected {"access": true|false, "refresh": true|false}'}, status_code=400)
        self.state.forget_tokens(access=body.get("access", True), refresh=body.get("refresh", True))
        return JSONResponse({"ok": True})

    async def _control_requests(self, request: Request) -> Response:
        return JSONResponse([asdict(r) for r in self.state.requests])

    async def _control_record(self, request: Request) -> Response:
        raw = request.path_params["id"]
        record = self.state.records.get(int(raw)) if raw.isdigit() else None
        return JSONResponse(record, status_code=200 if record else 404)


class _DroppedResponse(Response):
    """Starts an answer, sends part of it, then fails: a server closes such a connection."""

    def __init__(self) -> None:
        super().__init__(status_code=0)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"Status": 2', "more_body": True})
        raise SandboxConnectionDropped()


class SandboxTransport(httpx2.ASGITransport):
    """In-process transport to the sandbox that turns its dropped connection into the error a
    real socket gives (RemoteProtocolError), so the client's handling is the same both ways."""

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return await super().handle_async_request(request)
        except SandboxConnectionDropped:
            raise httpx2.RemoteProtocolError(
                "Server disconnected without sending a complete response.", request=request
            ) from None


_PAGING = frozenset({"page", "size", "orderBy", "dir"})
_TEXT_FIELDS = frozenset(f.name for f in SENT_FIELDS if f.type == "string")


def _within(value: Any, limit: datetime, bound: str) -> bool:
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is None:
        return False
    return moment >= limit if bound == "from" else moment <= limit


def _page(request: Request, rows: list[dict[str, Any]], *, sortable: Any) -> Response:
    """One page of `rows` in the API's search envelope, ordered by `orderBy` (a field in `sortable`; Id
    otherwise), `dir=-1` descending."""
    q = request.query_params
    try:
        page = max(int(q.get("page", 1)), 1)
        size = min(max(int(q.get("size", 25)), 1), 1000)
    except ValueError:
        return JSONResponse({"Message": "page and size must be integers."}, status_code=400)
    order = q.get("orderBy") or "Id"
    if order not in sortable:
        order = "Id"
    descending = q.get("dir") == "-1"
    rows = sorted(rows, key=lambda r: (r.get(order) is None, _sort_key(r.get(order))), reverse=descending)
    total = len(rows)
    pages = max((total + size - 1) // size, 1)
    chunk = rows[(page - 1) * size : page * size]
    return JSONResponse(
        {
            "Records": chunk,
            "CurrentPage": page,
            "CurrentPageSize": size,
            "CurrentOrderField": order,
            "CurrentSortDirection": -1 if descending else 1,
            "FirstItem": (page - 1) * size + 1 if chunk else 0,
            "LastItem": (page - 1) * size + len(chunk),
            "TotalItems": total,
            "TotalPages": pages,
            "HasNextPage": page < pages,
            "HasPreviousPage": page > 1,
        }
    )


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, str):
        return (2, fold(value))
    if isinstance(value, (int, float)):
        return (1, value)
    return (3, str(value))


def _without_z(handler: Any) -> Any:
    """The handler, its JSON answer's date and date-time strings written without their literal `Z`."""

    async def answer(request: Request, user: str | None) -> Response:
        response: Response = await handler(request, user)
        if response.media_type != "application/json":
            return response
        return JSONResponse(_strip_z(json.loads(bytes(response.body))), status_code=response.status_code)

    return answer


def _strip_z(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_z(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_z(v) for v in value]
    if isinstance(value, str) and value.endswith("Z") and parse_datetime(value) is not None:
        return value[:-1]
    return value


def _answered(entry: RequestRecord, response: Response) -> Response:
    entry.status = response.status_code
    return response


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def _auth_scheme(request: Request) -> str | None:
    scheme = request.headers.get("authorization", "").partition(" ")[0].lower()
    return scheme or None


def serve(host: str = "127.0.0.1", port: int = 8080, state: SandboxState | None = None) -> None:
    """Serve the sandbox over HTTP until interrupted (the `sandbox` command)."""
    import uvicorn

    uvicorn.run(Sandbox(state).app, host=host, port=port, log_level="warning", access_log=False)
