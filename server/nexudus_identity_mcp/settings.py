"""Configuration from the environment, read once at start-up (pydantic-settings).

Nexudus credentials are one of: `NEXUDUS_TOKEN` (a bearer token), `NEXUDUS_USERNAME` +
`NEXUDUS_PASSWORD` (exchanged for a token at /api/token; `NEXUDUS_AUTH=basic` sends them as HTTP
Basic instead). Secrets are `SecretStr`, so a repr or a log line of the settings never shows them.
A base URL that is not https is refused unless it points at this machine (the sandbox).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .record.redaction import SECRET_MARK
from .record.timefmt import UNIT_SECONDS

DEFAULT_BASE_URL = "https://spaces.nexudus.com"
# A client token (NEXUDUS_MCP_CLIENT_TOKENS) is at least this long; a shorter text is never a token.
MIN_CLIENT_TOKEN_LENGTH = 16
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


@dataclass(frozen=True)
class Rate:
    """A limit of `count` per `seconds`, kept as a token bucket that can never exceed the limit in any
    window of `seconds`: capacity C and refill r with C + r * seconds == count, so a burst of C is
    allowed and the long-run rate is slightly below the limit."""

    count: int
    seconds: float

    @property
    def capacity(self) -> int:
        return max(1, self.count // 6)

    @property
    def refill_per_second(self) -> float:
        return max(self.count - self.capacity, 1) / self.seconds

    @classmethod
    def parse(cls, text: str) -> Rate | None:
        """`60/60`, `60/min` or `1/100ms` -> Rate; `0`, `off`, `none` or empty -> None (no budget)."""
        raw = text.strip().lower()
        if raw in ("", "0", "off", "none"):
            return None
        count_text, _, window = raw.partition("/")
        shape = re.fullmatch(r"\s*(\d*\.?\d*)\s*([a-z]*)\s*", window or "60")
        number, unit = shape.groups() if shape else ("", "?")
        try:
            count = int(count_text)
            if unit not in ("", *UNIT_SECONDS) or not (number or unit):
                raise ValueError
            seconds = (float(number) if number else 1.0) * UNIT_SECONDS.get(unit, 1.0)
        except ValueError:
            raise ValueError(
                f"{text!r} is not a rate: write COUNT/SECONDS or COUNT/UNIT, UNIT one of "
                f"{', '.join(UNIT_SECONDS)} (e.g. 60/min, 1/100ms), several joined by commas, or off"
            ) from None
        if count < 1 or not 0 < seconds <= 86400:
            raise ValueError(f"{text!r} is not a rate: the count must be 1 or more and the window 1 day or less")
        return cls(count, seconds)


Budget = tuple[Rate, ...]
# The API's limits per account (docs/development.md, "What is known of the Nexudus API": the newer table):
# writes (POST/PUT/DELETE) 60 a minute and 5,000 a day; all requests, writes included, 1 per 100 ms,
# 120 a minute and 5,000 an hour. The budgets a shared store keeps unless NEXUDUS_MCP_*_BUDGET says.
API_WRITE_LIMITS: Budget = (Rate(60, 60.0), Rate(5000, 86400.0))
API_REQUEST_LIMITS: Budget = (Rate(1, 0.1), Rate(120, 60.0), Rate(5000, 3600.0))


def parse_budget(text: str) -> Budget:
    """`60/min,5000/day` -> its rates, each kept; `off` (or any part that is off alone) -> ()."""
    rates = [Rate.parse(part) for part in text.split(",")] if text.strip() else []
    return tuple(r for r in rates if r is not None)


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_trusted_proxies(raw: str | None) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """`NEXUDUS_MCP_TRUSTED_PROXIES`: addresses or networks, comma-separated (`10.0.0.5,10.1.0.0/16`)."""
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for number, entry in enumerate((part.strip() for part in (raw or "").split(",") if part.strip()), 1):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"NEXUDUS_MCP_TRUSTED_PROXIES: entry {number} is not an IP address or network (e.g. 10.0.0.5 "
                "or 10.0.0.0/24)"
            ) from None
    return networks


@dataclass(frozen=True)
class MetricsSetting:
    """`NEXUDUS_MCP_METRICS`: off, on (GET /metrics on the MCP endpoint's app, behind the same
    authentication as /mcp), or a loopback port of its own (`9464`, `127.0.0.1:9464`)."""

    mode: str  # "off" | "on" | "port"
    host: str = "127.0.0.1"
    port: int = 0

    @classmethod
    def parse(cls, raw: str | None) -> MetricsSetting:
        text = (raw or "off").strip().lower()
        if text in ("", "off", "false", "0", "no"):
            return cls("off")
        if text in ("on", "true", "yes"):
            return cls("on")
        host, sep, port_text = text.rpartition(":")
        host = host.strip("[]") if sep else "127.0.0.1"
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(
                f"NEXUDUS_MCP_METRICS: {raw!r} is not off, on, or a port (9464, 127.0.0.1:9464; 1 to 65535)"
            )
        if not is_loopback_host(host):
            raise ValueError(
                f"NEXUDUS_MCP_METRICS: {host!r} is not a loopback address; a metrics port of its own is served on "
                "this machine only (127.0.0.1:PORT). To scrape from elsewhere use `on`: /metrics on the MCP "
                "endpoint, behind its client tokens"
            )
        return cls("port", host, int(port_text))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEXUDUS_", extra="ignore", frozen=True)

    base_url: str = DEFAULT_BASE_URL
    token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    auth: Literal["auto", "bearer", "password", "basic"] = "auto"
    # Password mode with 2FA: the base32 secret of the admin's authenticator; the current code is sent
    # as `totp` with each password grant.
    totp_secret: SecretStr | None = None
    # The `client_id` header of password and refresh grants. Nexudus keeps one refresh token per user
    # and client id, so each installation (unset: each process) has its own and none revokes another's.
    client_id: str | None = None

    # Seconds. Connect is short (a dead host should fail fast); read covers a slow API.
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(20.0, gt=0)
    # Retries of throttled (409/429) and transient (502/503/504, dropped connection) answers.
    max_attempts: int = Field(4, ge=1, le=10)
    max_call_seconds: float = Field(45.0, gt=0)
    max_retry_after: float = Field(10.0, ge=0)
    backoff_base: float = Field(0.25, ge=0)
    # The largest answer read from the API (bytes, after decompression); past it the read stops.
    max_response_bytes: int = Field(2 * 1024 * 1024, ge=1024)

    # The MCP server's own settings (NEXUDUS_MCP_*): redaction key and categories, read-only mode.
    mcp_secret: SecretStr | None = None
    mcp_redact: str | None = None
    mcp_read_only: bool = False
    # Asking the user through the client (MCP elicitation) before a command runs: auto (when the
    # client can), always (refuse commands from clients that cannot ask), never (scripted runs).
    # NEXUDUS_MCP_CONFIRM_UPDATES=true asks before every update too, not only a reassignment.
    mcp_confirm: Literal["auto", "always", "never"] = "auto"
    mcp_confirm_updates: bool = False
    # Streamable HTTP (NEXUDUS_MCP_*): the clients allowed in ("name=token,name=token"), the Host and
    # Origin values DNS-rebinding protection accepts (comma lists), the largest request body.
    mcp_client_tokens: SecretStr | None = None
    mcp_allowed_hosts: str | None = None
    mcp_allowed_origins: str | None = None
    mcp_max_body_bytes: int = Field(262_144, ge=1024)
    # How HTTP clients authenticate (NEXUDUS_MCP_AUTH): `tokens` (named client tokens, the server's own
    # Nexudus credentials), `oauth` (each staff member signs in with their own Nexudus account through
    # the embedded authorization server), `oauth-external` (JWTs from the organisation's identity
    # provider, the server's own Nexudus credentials). NEXUDUS_MCP_PUBLIC_URL: the server's public
    # origin, e.g. https://mcp.example.com (issuer and resource identifiers are built from it).
    mcp_auth: Literal["tokens", "oauth", "oauth-external"] = "tokens"
    mcp_public_url: str | None = None
    mcp_oauth_issuer: str | None = None
    mcp_oauth_audience: str | None = None
    mcp_oauth_jwks_url: str | None = None
    # The reverse proxies whose X-Forwarded-For is believed (addresses or networks, comma-separated):
    # the sign-in limits per address use the address they name. Unset: forwarded headers are not
    # believed, and every request that carries them counts as one address.
    mcp_trusted_proxies: str | None = None
    # Shared state for several processes (NEXUDUS_MCP_*): Redis for several hosts, a SQLite file in a
    # directory for several workers on one host; neither: in-process (one process). Request budgets
    # per Nexudus account, "COUNT/SECONDS" or "COUNT/min" (several joined by commas) or "off"; unset: the
    # API's limits when the state is shared (API_WRITE_LIMITS; API_REQUEST_LIMITS for every request, the
    # read budget), off for one process (the API's 409 is retried).
    mcp_redis_url: SecretStr | None = None
    mcp_state_dir: str | None = None
    mcp_write_budget: str | None = None
    mcp_read_budget: str | None = None
    # The journal of writes (NEXUDUS_MCP_JOURNAL_*), kept in the shared state: how many days an entry
    # is kept (0: no journal) and how many entries at most (the oldest go first).
    mcp_journal_days: float = Field(30.0, ge=0, le=3660)
    mcp_journal_max_entries: int = Field(100_000, ge=10, le=10_000_000)
    # Log level on stderr (NEXUDUS_MCP_LOG_LEVEL), any casing; NEXUDUS_MCP_LOG_FORMAT=json: one JSON
    # object a line (telemetry/jsonlog.py).
    mcp_log_level: LogLevel = "INFO"
    mcp_log_format: Literal["text", "json"] = "text"
    # Prometheus metrics (NEXUDUS_MCP_METRICS): off, on (GET /metrics on the HTTP server, behind the
    # same authentication as /mcp), or a loopback port of its own ([127.0.0.1:]PORT).
    mcp_metrics: str = "off"

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"NEXUDUS_BASE_URL must be an http(s) URL, got {value!r}")
        if parts.scheme != "https" and not is_loopback_host(parts.hostname):
            raise ValueError(f"NEXUDUS_BASE_URL must use https unless it points at this machine, got {value!r}")
        if parts.path.lower().endswith("/api"):
            raise ValueError(
                f"NEXUDUS_BASE_URL must not end in /api (the server adds /api/… itself): use "
                f"{value[: -len('/api')]!r}, e.g. {DEFAULT_BASE_URL}"
            )
        return value

    @field_validator("totp_secret")
    @classmethod
    def _check_totp_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        secret = "".join(value.get_secret_value().split()).upper()
        try:
            padded = secret + "=" * (-len(secret) % 8)
            decoded = base64.b32decode(padded, casefold=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) < 10:
            raise ValueError("NEXUDUS_TOTP_SECRET must be the base32 authenticator secret (16 characters or more)")
        return SecretStr(secret)

    @field_validator("mcp_trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: str | None) -> str | None:
        parse_trusted_proxies(value)
        return value

    @field_validator("mcp_log_level", mode="before")
    @classmethod
    def _log_level_any_case(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("mcp_log_format", mode="before")
    @classmethod
    def _log_format_any_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("mcp_metrics")
    @classmethod
    def _check_metrics(cls, value: str) -> str:
        MetricsSetting.parse(value)
        return value

    @field_validator("mcp_write_budget", "mcp_read_budget")
    @classmethod
    def _check_budget(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            try:
                parse_budget(value)
            except ValueError as exc:
                raise ValueError(f"{variable(info.field_name or '')}: {exc}") from None
        return value

    def request_budgets(self) -> tuple[Budget, Budget]:
        """(writes, requests) budgets per Nexudus account, from the settings and the state backend: a
        write draws on both, a read on the second (NEXUDUS_MCP_READ_BUDGET: every request counts)."""
        shared = self.mcp_redis_url is not None or bool(self.mcp_state_dir)
        writes = parse_budget(self.mcp_write_budget) if self.mcp_write_budget is not None else ()
        requests = parse_budget(self.mcp_read_budget) if self.mcp_read_budget is not None else ()
        if shared and self.mcp_write_budget is None:
            writes = API_WRITE_LIMITS
        if shared and self.mcp_read_budget is None:
            requests = API_REQUEST_LIMITS
        return writes, requests

    @model_validator(mode="after")
    def _check_auth(self) -> Settings:
        if self.auth in ("password", "basic") and not (self.username and self.password):
            raise ValueError(f"NEXUDUS_AUTH={self.auth} needs NEXUDUS_USERNAME and NEXUDUS_PASSWORD")
        if self.auth == "bearer" and not self.token:
            raise ValueError("NEXUDUS_AUTH=bearer needs NEXUDUS_TOKEN")
        if bool(self.username) != bool(self.password):
            raise ValueError("NEXUDUS_USERNAME and NEXUDUS_PASSWORD go together: set both or neither")
        return self

    @property
    def auth_mode(self) -> Literal["bearer", "password", "basic"] | None:
        """The auth the client will use, or None when no credentials are configured."""
        if self.auth != "auto":
            return self.auth
        if self.token:
            return "bearer"
        if self.username and self.password:
            return "password"
        return None

    @property
    def configured(self) -> bool:
        return self.auth_mode is not None

    def secrets(self) -> list[str]:
        """Every secret value, so that text leaving the server can be scrubbed of them."""
        values = [
            s.get_secret_value()
            for s in (self.token, self.password, self.totp_secret, self.mcp_secret)
            if s and s.get_secret_value()
        ]
        if self.mcp_client_tokens:
            values += [
                part.partition("=")[2]
                for part in self.mcp_client_tokens.get_secret_value().split(",")
                if part.partition("=")[2]
            ]
        if self.mcp_redis_url is not None:
            password = urlsplit(self.mcp_redis_url.get_secret_value()).password
            if password:
                values.append(password)
        return values


CREDENTIAL_VARIABLES = "NEXUDUS_TOKEN, or NEXUDUS_USERNAME and NEXUDUS_PASSWORD"


# ----------------------------------------------------------------- reading the environment
# A bad setting is reported as one line that names the variable and the values it accepts, and never
# shows a secret (the token, password, redaction key or client tokens, not even a mistyped one).
SECRET_FIELDS = frozenset(name for name, info in Settings.model_fields.items() if "SecretStr" in str(info.annotation))
ENV_PREFIX = "NEXUDUS_"


class SettingsError(ValueError):
    """The environment does not make valid settings; the message is one line naming the variable."""


def variable(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def _bounds(field: str) -> str:
    limits: dict[str, float] = {}
    for rule in Settings.model_fields[field].metadata:
        for attr in ("gt", "ge", "lt", "le"):
            if getattr(rule, attr, None) is not None:
                limits[attr] = getattr(rule, attr)
    if "ge" in limits and "le" in limits:
        return f" from {limits['ge']:g} to {limits['le']:g}"
    words = {"gt": "greater than", "ge": "at least", "lt": "less than", "le": "at most"}
    return "".join(f" {words[attr]} {value:g}" for attr, value in limits.items())


def _accepted(field: str) -> str | None:
    """What the variable accepts, in words, or None when the error's own message says it."""
    info = Settings.model_fields.get(field)
    if info is None:
        return None
    if get_origin(info.annotation) is Literal:
        return "one of " + ", ".join(str(v) for v in get_args(info.annotation))
    if info.annotation is bool:
        return "true or false"
    if info.annotation is int:
        return "a whole number" + _bounds(field)
    if info.annotation is float:
        return "a number" + _bounds(field)
    return None


def describe(error: ValidationError) -> str:
    """One line for all of a ValidationError's problems, each naming its variable."""
    lines = []
    for problem in error.errors():
        loc = problem.get("loc") or ()
        field = str(loc[0]) if loc else ""
        message = str(problem.get("ctx", {}).get("error") or problem.get("msg", "invalid")).removeprefix(
            "Value error, "
        )
        accepted = _accepted(field) if field else None
        if not field or problem.get("type") == "value_error":
            lines.append(message)  # our validators' messages already name the variable
        elif field in SECRET_FIELDS or accepted is None:
            lines.append(f"{variable(field)}: {message}")
        else:
            shown = str(problem.get("input"))
            shown = shown if len(shown) <= 60 else shown[:60] + "…"
            lines.append(f"{variable(field)}: {shown!r} is not {accepted}")
    return "; ".join(dict.fromkeys(lines))


def environment_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """Every secret value the environment holds, read raw (valid or not), longest first."""
    environ = os.environ if environ is None else environ
    values: list[str] = []
    for field in SECRET_FIELDS:
        raw = environ.get(variable(field)) or ""
        values.append(raw)
        if field == "mcp_client_tokens":
            for part in raw.split(","):
                name, _, token = (piece.strip() for piece in part.partition("="))
                values += [part.strip(), token]
                # A name is no secret ("short" must not be scrubbed out of "shorter"), unless it is as
                # long as a token: then the entry may be written the wrong way round, token first.
                if len(name) >= MIN_CLIENT_TOKEN_LENGTH:
                    values.append(name)
    return sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)


_CREDENTIAL_IN_TEXT = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")


def scrub_secrets(text: str, secrets: list[str]) -> str:
    """`text` with every given secret (longest first, so a secret inside another goes with it) and
    anything that reads as an Authorization credential ("Bearer …", "Basic …") replaced by one
    marker. The one scrubber of secrets: settings errors, API messages, excerpts, token errors."""
    for value in sorted(secrets, key=len, reverse=True):
        if value:
            text = text.replace(value, SECRET_MARK)
    return _CREDENTIAL_IN_TEXT.sub(rf"\1 {SECRET_MARK}", text)


def read_settings(**overrides: Any) -> Settings:
    """Settings from the environment (and `overrides`), or SettingsError with one readable line."""
    from .record.redaction import parse_categories

    try:
        settings = Settings(**overrides)
        parse_categories(settings.mcp_redact)
    except ValidationError as exc:
        raise SettingsError(scrub_secrets(describe(exc), environment_secrets())) from None
    except ValueError as exc:
        raise SettingsError(scrub_secrets(str(exc), environment_secrets())) from None
    return settings


def settings_or_problem() -> tuple[Settings, str | None]:
    """For `serve` over stdio, which starts whatever the environment says: the settings, or settings
    with every default and no credentials plus the problem, which every tool then answers with."""
    try:
        return read_settings(), None
    except SettingsError as exc:
        return Settings.model_construct(), str(exc)
