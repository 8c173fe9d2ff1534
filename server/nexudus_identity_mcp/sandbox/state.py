"""The sandbox's state: users and tokens, records, the request log, throttling and injected faults,
and the API's rules for a PUT body. Tests read and change its public fields, and reach its tokens
through its methods (issue, accept, forget, list); `/_sandbox/*` routes do some of it over HTTP.

A profile picks which API the sandbox imitates:
- `documented`: the API as its pages describe it. Every search filter this server sends is
  honoured; records carry only the fields of the field table.
- `live`: the API's habits seen by public clients (docs/development.md, "What is known of the
  Nexudus API"). Unknown query parameters are silently ignored: only `honoured_filters` filter
  (by default the member and the location of a check, the two the CLI and sibling entities
  confirm, and a coworker's email, which a public client confirms); so the expiry window and the
  coworker name and location filters are ignored; records carry extra fields no page lists (text,
  numbers, an object), and a PUT that leaves one out clears it.
Both use the joined names the API returns (CoworkerCoworkerType, CoworkerCompanyName, ...).

Two habits of a store, in either profile (docs/development.md, "What is known of the Nexudus API";
`probe --write-check` tells an account's): `dates_with_z` (False: dates and date-times are written
without the literal `Z`, every record and every answer) and `trims_text` (a PUT's text values are
stored trimmed). A value with an offset is converted to UTC and stored silently, as a live client
saw. The faults `no_z` (an answer's dates without their `Z`) and `trim` (one PUT stored trimmed) do
the same for the next N requests.
"""

from __future__ import annotations

import copy
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from ..record.enums import EnumType
from ..record.fields import BY_NAME, FIELDS, SEARCH_FILTERS, SENT_FIELDS
from ..record.members import MEMBER_FILTERS
from ..record.operations import OPERATIONS, WRITES, Operation, role_of
from ..record.timefmt import format_utc, parse_datetime
from .data import BUSINESSES, COWORKERS, live_extra_fields, seed_checks, seed_coworkers

SANDBOX_TOKEN = "sandbox-token"
ADMIN_USER = "admin@sandbox.example"
ADMIN_PASSWORD = "sandbox-password"
VIEWER_USER = "viewer@sandbox.example"
VIEWER_PASSWORD = "viewer-password"

ALL_ROLES = frozenset(r for o in OPERATIONS.values() for r in o.roles)
THROTTLE_TEXT = "You must wait before accessing this url again"
# The live API's generic 500, which comes in bursts: Fault("status", status=500, body=OOPS_TEXT, count=N).
OOPS_TEXT = "Ooops! There was a problem while running this action. Please try again later."
# A user whose account has two-factor authentication: the password grant needs `totp`, the current
# code of this documented base32 secret (pyotp.TOTP(TOTP_SECRET).now()). Fictional.
TOTP_USER = "totp@sandbox.example"
TOTP_PASSWORD = "totp-password"
TOTP_SECRET = "NEXUDUSSANDBOXTOTP234567"
Route_ = Operation  # the sandbox's routes are the API's operations (record/operations.py)
MAX_STRING = 1000
Profile = Literal["documented", "live"]
PROFILES: tuple[Profile, ...] = ("documented", "live")
# The filters the live profile honours; the others (`_Name`, `_Coworker_FullName`,
# `_VerificationStatus`, `_VerificationType`, the expiry window, and a coworker's name and location)
# are inferred names it ignores, as the API ignores any parameter it does not know.
LIVE_HONOURED_FILTERS = frozenset(
    {"CoworkerIdentityCheck_Coworker", "CoworkerIdentityCheck_Business", "Coworker_Email"}
)
ALL_FILTERS = frozenset(f.param for f in (*SEARCH_FILTERS, *MEMBER_FILTERS))
# A user with every identity-check role and none of the coworker roles: finds no member, and a
# reassignment it makes cannot name the members.
CHECKS_ONLY_USER = "checks.only@sandbox.example"
CHECKS_ONLY_PASSWORD = "checks-only-password"


@dataclass
class Fault:
    """What the next `count` matching requests get instead of (or before) a normal answer.

    kind: `status` (that status with `body` as JSON or text), `html` (an HTML error page with
    `status`, 502 by default), `malformed` (status 200 with a body that is not JSON), `envelope_errors`
    (200 with WasSuccessful false and Errors that echo the request's fields back, as some APIs do),
    `delay` (wait `delay` seconds, then answer normally; a caller that gives up first cancels it),
    `late` (the request takes effect `delay` seconds after it arrived whether or not its caller is
    still waiting, as a slow API applies a write its client has given up on; the answer comes then),
    `drop` (the connection closes mid-answer), `no_z` (a normal answer whose dates and date-times are
    written without their literal `Z`), `trim` (a PUT stored with its text values trimmed).
    """

    kind: Literal["status", "html", "malformed", "envelope_errors", "delay", "late", "drop", "no_z", "trim"]
    route: Route_ | None = None
    count: int = 1
    status: int | None = None
    body: Any = None
    retry_after: str | None = None
    delay: float = 0.0


@dataclass
class RequestRecord:
    method: str
    route: str
    status: int  # 0: no answer was given (dropped, or the caller gave up waiting)
    auth: str | None
    user: str | None
    fields: list[str] | None = None  # the property names of a PUT body, never its values
    grant: str | None = None  # the grant_type of a token request
    peer: int | None = None  # the client's source port: one value per TCP connection


@dataclass
class User:
    password: str
    roles: frozenset[str]
    totp_secret: str | None = None  # base32: the user signs in with a current 6-digit code too
    api_access: bool = True  # False: Nexudus refuses API sign-in for this user


# Named staff for trying the sign-in mode (`serve --http --sandbox` with NEXUDUS_MCP_AUTH=oauth): fictional.
STAFF_PASSWORD = "staff-password"
STAFF_USERS = {
    "ana.staff@sandbox.example": "front desk, every role",
    "ben.staff@sandbox.example": "front desk, every role",
    "carla.2fa@sandbox.example": "every role, two-factor authentication",
    "dev.viewer@sandbox.example": "read and list only",
    "eve.noapi@sandbox.example": "API access not enabled",
}
STAFF_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"  # carla.2fa's authenticator secret (base32)


@dataclass
class IssuedToken:
    user: str
    expires_at: float
    client_id: str


class SandboxConnectionDropped(Exception):
    """Raised by the app mid-answer to close the connection (see `SandboxTransport`)."""


@dataclass
class SandboxState:
    """Everything the sandbox knows. Tests read and change its public fields, and its tokens through
    the methods below; it is not thread-safe."""

    profile: Profile = "documented"
    # The search parameters that filter; None: the profile's default (every one when documented).
    honoured_filters: frozenset[str] | None = None
    token_lifetime: float = 604799.0
    write_limit: int | None = 60  # PUTs per window; None turns throttling off
    write_window: float = 60.0
    retry_after: str = "1"
    get_delay: float = 0.0  # seconds every GET of one record waits before answering (a slow API)
    # How the store writes dates and date-times: with the literal `Z` (the documented examples, and what a
    # live client saw) or, False, without it (e.g. `2031-03-14T00:00:00`).
    dates_with_z: bool = True
    # Whether a PUT's text values are stored trimmed (a normalising store: the read-back differs).
    trims_text: bool = False
    # The daily write cap (the API's 5,000 writes a day by its newer table; 2,500 by the older one): past
    # it every PUT answers `daily_cap_status` with DAILY_CAP_TEXT until reset(). None: no cap.
    daily_write_cap: int | None = None
    daily_cap_status: int = 409
    # The error_description a two-factor user's password grant without a code gets. None: the
    # documented wording; set it to a wording this server does not recognise (nobody public knows the
    # live one), e.g. "login_check_pending", to try the sign-in page's fallback.
    two_factor_wording: str | None = None
    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    coworkers: dict[int, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    requests: list[RequestRecord] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    # What each PUT and command run carried, (route, body), in arrival order: for tests only (kept in
    # memory, never served by the control routes, never logged).
    carried: list[tuple[str, Any]] = field(default_factory=list)
    # Command keys `GET …/commands` leaves out (discovery is known to miss commands); runnable still.
    hidden_commands: set[str] = field(default_factory=set)
    # The query parameter of `GET …/commands` that keeps one record's commands (not published; None:
    # the sandbox ignores every such parameter, as the API ignores one it does not know).
    commands_record_param: str | None = "id"
    _tokens: dict[str, IssuedToken] = field(default_factory=dict)
    _refresh: dict[str, IssuedToken] = field(default_factory=dict)
    _writes: deque[float] = field(default_factory=deque)
    _writes_today: int = 0

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown sandbox profile {self.profile!r}: use documented or live")
        if self.honoured_filters is None:
            self.honoured_filters = LIVE_HONOURED_FILTERS if self.profile == "live" else ALL_FILTERS
        if not self.users:
            self.users = {
                ADMIN_USER: User(ADMIN_PASSWORD, ALL_ROLES),
                VIEWER_USER: User(VIEWER_PASSWORD, frozenset({role_of("get"), role_of("search")})),
                "ana.staff@sandbox.example": User(STAFF_PASSWORD, ALL_ROLES),
                "ben.staff@sandbox.example": User(STAFF_PASSWORD, ALL_ROLES),
                "carla.2fa@sandbox.example": User(STAFF_PASSWORD, ALL_ROLES, totp_secret=STAFF_TOTP_SECRET),
                "dev.viewer@sandbox.example": User(STAFF_PASSWORD, frozenset({role_of("get"), role_of("search")})),
                "eve.noapi@sandbox.example": User(STAFF_PASSWORD, ALL_ROLES, api_access=False),
                TOTP_USER: User(TOTP_PASSWORD, ALL_ROLES, totp_secret=TOTP_SECRET),
                CHECKS_ONLY_USER: User(
                    CHECKS_ONLY_PASSWORD, frozenset(r for r in ALL_ROLES if r.startswith("CoworkerIdentityCheck-"))
                ),
            }
        if not self.records:
            self.reset()

    def use_profile(self, profile: str) -> None:
        """Switch to a profile (with its default honoured filters) and reset to the seed."""
        if profile not in PROFILES:
            raise ValueError(f"unknown sandbox profile {profile!r}: use documented or live")
        self.profile = profile
        self.honoured_filters = LIVE_HONOURED_FILTERS if profile == "live" else ALL_FILTERS
        self.reset()

    @property
    def keeps_unknown_fields(self) -> bool:
        """Whether records carry (and a PUT stores) fields the field table does not know."""
        return self.profile == "live"

    def reset(self) -> None:
        seed = seed_checks()
        if self.keeps_unknown_fields:
            for record in seed:
                record.update(live_extra_fields(record))
        self.records = {r["Id"]: with_derived_fields(self.dated(r)) for r in seed}
        self.coworkers = seed_coworkers()
        self.requests.clear()
        self.carried.clear()
        self.faults.clear()
        self.hidden_commands.clear()
        self._writes.clear()
        self._writes_today = 0

    def written_time(self, value: str) -> str:
        """A date or date-time as this store writes it: an offset converted to UTC (as a live client saw,
        silently), then with the literal `Z` or without (`dates_with_z`); anything else as it is."""
        moment = parse_datetime(value)
        if moment is None:
            return value
        millis = "." in value.strip().rpartition(":")[2]
        text = format_utc(moment, millis=millis)
        return text if self.dates_with_z else text[:-1]

    def dated(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record with every date and date-time in this store's form."""
        kinds = ("date", "datetime")
        return {
            k: self.written_time(v) if isinstance(v, str) and k in BY_NAME and BY_NAME[k].type in kinds else v
            for k, v in record.items()
        }

    # -- the tokens Nexudus issued: the token route, the auth check and tests all go through these
    def issue_tokens(self, user: str, client_id: str) -> tuple[str, str]:
        """A fresh access token (valid `token_lifetime`) and refresh token (15 days) for `user`."""
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        now = time.monotonic()
        self._tokens[access] = IssuedToken(user, now + self.token_lifetime, client_id)
        self._refresh[refresh] = IssuedToken(user, now + 15 * 86400, client_id)
        return access, refresh

    def accept_token(self, token: str, user: str, *, client_id: str | None = None) -> None:
        """Make `token` an access token of `user` that never expires, as if Nexudus had issued it
        (a test that must know the token in advance, to look for it in what leaks)."""
        self._tokens[token] = IssuedToken(user, float("inf"), client_id or user)

    def access_token(self, token: str) -> IssuedToken | None:
        """Whom an access token was issued to, while it is valid; None when unknown or expired."""
        found = self._tokens.get(token)
        return found if found is not None and found.expires_at > time.monotonic() else None

    def redeem_refresh(self, token: str) -> IssuedToken | None:
        """Use a refresh token up (it works once): its grant, or None when unknown or expired."""
        found = self._refresh.pop(token, None)
        return found if found is not None and found.expires_at >= time.monotonic() else None

    def forget_tokens(self, *, access: bool = True, refresh: bool = True) -> None:
        """Nexudus forgets the tokens it issued (revoked, or expired all at once): the next request
        with one meets a 401, the next refresh with one is refused."""
        if access:
            self._tokens.clear()
        if refresh:
            self._refresh.clear()

    def issued(self, kind: Literal["access", "refresh"] = "access") -> dict[str, IssuedToken]:
        """The access or refresh tokens Nexudus still knows, by token (a copy)."""
        return dict(self._tokens if kind == "access" else self._refresh)

    def count(self, route: str | None = None, method: str | None = None) -> int:
        return sum(
            1 for r in self.requests if (route is None or r.route == route) and (method is None or r.method == method)
        )

    def record(self, check_id: int) -> dict[str, Any]:
        return copy.deepcopy(self.records[check_id])

    def inject(self, fault: Fault) -> None:
        self.faults.append(fault)

    def take_fault(self, route: str) -> Fault | None:
        """The next injected fault for `route`, used up by one request (the app asks once per request)."""
        for fault in self.faults:
            if fault.route in (None, route) and fault.count > 0:
                fault.count -= 1
                if fault.count == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def over_daily_cap(self, route: str) -> bool:
        """Whether a write on `route` is past the account's daily cap; else it is counted."""
        if route not in WRITES or self.daily_write_cap is None:
            return False
        if self._writes_today >= self.daily_write_cap:
            return True
        self._writes_today += 1
        return False

    def daily_cap_text(self) -> str:
        return (
            f"Daily API write limit of {self.daily_write_cap} requests exceeded for this account. "
            "The limit resets at 00:00 UTC."
        )

    def throttled(self, route: str) -> bool:
        """Whether a write on `route` is over the per-window limit; else it is counted."""
        if route not in WRITES or self.write_limit is None:
            return False
        now = time.monotonic()
        while self._writes and now - self._writes[0] >= self.write_window:
            self._writes.popleft()
        if len(self._writes) >= self.write_limit:
            return True
        self._writes.append(now)
        return False


def with_derived_fields(stored: dict[str, Any]) -> dict[str, Any]:
    """The record as GET returns it: every field of the table, joined names filled in, and any
    stored field the table does not know (the live profile's extra fields) as it is."""
    record = {f.name: stored.get(f.name) for f in FIELDS}
    record.update({k: v for k, v in stored.items() if k not in BY_NAME})
    business_id, coworker_id = record.get("BusinessId"), record.get("CoworkerId")
    business = BUSINESSES.get(business_id) if isinstance(business_id, int) else None
    coworker = COWORKERS.get(coworker_id) if isinstance(coworker_id, int) else None
    if coworker and record.get("BusinessId") is None:
        record["BusinessId"] = coworker[1]
        business = BUSINESSES.get(coworker[1])
    record["BusinessName"] = business
    record["CoworkerFullName"] = coworker[0] if coworker else None
    record["CoworkerCompanyName"] = coworker[2] if coworker else None
    record["CoworkerBillingName"] = (coworker[2] or coworker[0]) if coworker else None
    record["CoworkerCoworkerType"] = ("TeamMember" if coworker[2] else "Member") if coworker else None
    record["IsNew"] = False
    record["Billed"] = bool(record.get("Billed"))
    return record


# --------------------------------------------------------------------- PUT validation
def validate_put(body: Any) -> list[dict[str, Any]]:
    """Every problem with a PUT body, in the API's error shape. Unknown properties are ignored."""
    if not isinstance(body, dict):
        return [api_error("", "The request body must be a JSON object.", None)]
    errors: list[dict[str, Any]] = []
    for f in SENT_FIELDS:
        value = body.get(f.name)
        if f.required and (value is None or (f.type == "string" and isinstance(value, str) and not value.strip())):
            errors.append(api_error(f.name, "is a required field", value))
            continue
        if value is None:
            continue
        problem = _type_problem(f.type, value, f.enum)
        if problem:
            errors.append(api_error(f.name, problem, value))
    if not errors:
        if body["BusinessId"] not in BUSINESSES:
            errors.append(api_error("BusinessId", "does not match an existing business", body["BusinessId"]))
        if body["CoworkerId"] not in COWORKERS:
            errors.append(api_error("CoworkerId", "does not match an existing coworker", body["CoworkerId"]))
    return errors


def _type_problem(type_: str, value: Any, enum: EnumType | None) -> str | None:
    if type_ == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return "is not a valid integer"
        if enum is not None and not enum.is_code(value):
            return f"is not a valid {enum.api_name} value"
        if not -(2**31) <= value < 2**31:
            return "is out of range"
    elif type_ in ("string", "guid"):
        if not isinstance(value, str):
            return "is not a valid string"
        if len(value) > MAX_STRING:
            return f"must be at most {MAX_STRING} characters"
    elif type_ == "boolean":
        if not isinstance(value, bool):
            return "is not a valid boolean"
    elif type_ in ("date", "datetime") and (not isinstance(value, str) or parse_datetime(value) is None):
        return "is not a valid date"
    return None


def api_error(prop: str, message: str, attempted: Any) -> dict[str, Any]:
    return {"AttemptedValue": attempted, "Message": message, "PropertyName": prop}


def success_envelope(message: str, value: Any, now: str, user: str | None) -> dict[str, Any]:
    """The API's success envelope (the reference page's example), for a write or a command."""
    return {
        "Status": 200,
        "Message": message,
        "Value": value,
        "OpenInDialog": False,
        "OpenInWindow": False,
        "RedirectURL": None,
        "JavaScript": None,
        "UpdatedOn": now,
        "UpdatedBy": user,
        "Errors": None,
        "WasSuccessful": True,
    }
