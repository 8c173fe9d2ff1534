"""What `check` does: one cheap search (the List role), one read of the record it found (the Read
role), and, when something fails, the URL it tried, the cause and the likely fix, in words a front
desk admin can act on. The Edit role is not tested: only a write could prove it, and `check` never
writes; the report says so and names the tools the user can use.

Kept out of cli.py so that the CLI stays argument parsing and exit codes; imports nothing the
serve path does not already import.
"""

from __future__ import annotations

import errno
import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx2

from ..nexudus import NexudusClient, NexudusError
from ..nexudus.errors import ErrorKind
from ..record.fields import RESOURCE_PATH
from ..record.operations import OPERATIONS, role_of
from ..settings import DEFAULT_BASE_URL, Settings
from ..tools.catalog import FIND_TOOL, GET_TOOL, LIST_COMMANDS_TOOL, RUN_COMMAND_TOOL, UPDATE_TOOL

SEARCH_QUERY = "?page=1&size=1"


@dataclass
class Diagnosis:
    """`ok` decides the exit code; `lines` are printed (stdout when ok, stderr when not)."""

    ok: bool
    lines: list[str] = field(default_factory=list)


def search_url(settings: Settings) -> str:
    return f"{settings.base_url}{RESOURCE_PATH}{SEARCH_QUERY}"


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen and len(seen) < 10:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def explain_cause(error: NexudusError, settings: Settings) -> tuple[str, str]:
    """(cause, fix) for a failure to reach the API, from the transport exception it kept."""
    chain = _chain(error.cause)
    url = settings.base_url
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, ssl.SSLError) for e in chain) or "ssl" in text or "certificate" in text:
        fix = (
            f"{url} does not speak TLS as expected: if it is a plain-http server on this machine use "
            "http://, otherwise check the address and any proxy that intercepts TLS"
        )
        return "TLS handshake failed", fix
    if (
        any(isinstance(e, socket.gaierror) for e in chain)
        or "name or service not known" in text
        or ("nodename nor servname" in text or "getaddrinfo" in text or "name resolution" in text)
    ):
        return (
            "DNS lookup failed: the host name does not resolve",
            f"check the host in NEXUDUS_BASE_URL (default {DEFAULT_BASE_URL}) and this machine's network",
        )
    if (
        any(isinstance(e, ConnectionRefusedError) for e in chain)
        or any(getattr(e, "errno", None) == errno.ECONNREFUSED for e in chain)
        or "refused" in text
    ):
        return (
            "connection refused: nothing listens at that address and port",
            "check the port in NEXUDUS_BASE_URL, or start the server it points at",
        )
    if any(isinstance(e, httpx2.TimeoutException | TimeoutError) for e in chain):
        return (
            "timed out",
            "check the network, a firewall or proxy in between, or raise NEXUDUS_CONNECT_TIMEOUT / "
            "NEXUDUS_READ_TIMEOUT",
        )
    if any(isinstance(e, httpx2.RemoteProtocolError) for e in chain):
        return (
            "the server closed the connection or did not answer HTTP",
            f"check that NEXUDUS_BASE_URL points at the Nexudus API ({DEFAULT_BASE_URL})",
        )
    name = type(chain[0]).__name__ if chain else "no further detail"
    return f"connection failed ({name})", "check NEXUDUS_BASE_URL and this machine's network"


def _failure(error: NexudusError, settings: Settings) -> Diagnosis:
    tried = f"Tried GET {search_url(settings)}"
    if error.operation == "token":
        tried = f"Tried POST {settings.base_url}/api/token"
    head = f"{error.kind}: {error.message}"
    if error.kind == ErrorKind.UPSTREAM_UNAVAILABLE and error.cause is not None:
        cause, fix = explain_cause(error, settings)
        return Diagnosis(False, [f"{head} {tried}; cause: {cause}; fix: {fix}."])
    if error.status == 404 or error.kind == ErrorKind.NOT_FOUND:
        # The cause leads: a 404 on the search route is a wrong URL, never a missing record.
        path = urlsplit(settings.base_url).path.rstrip("/")
        cause = (
            f"NEXUDUS_BASE_URL ends in {path}, and the server adds /api itself"
            if path.lower().endswith("/api")
            else "NEXUDUS_BASE_URL is not the Nexudus API"
        )
        fix = f"NEXUDUS_BASE_URL should be {DEFAULT_BASE_URL}, without /api or any other path"
        return Diagnosis(False, [f"wrong URL: {cause} (HTTP 404 on the search route). {tried}; fix: {fix}."])
    if error.kind == ErrorKind.UNAUTHORIZED:
        if error.operation == "token":
            fix = "check NEXUDUS_USERNAME and NEXUDUS_PASSWORD, and that the user has API access enabled"
        else:
            fix = (
                "check the token or login, that the user has API access enabled, and that it is a full "
                f"unrestricted administrator or has the {role_of('search')} role (the find tool needs it)"
            )
        return Diagnosis(False, [f"{head} {tried}; fix: {fix}."])
    return Diagnosis(False, [f"{head} {tried}."])


async def diagnose(
    settings: Settings, transport: httpx2.AsyncBaseTransport | None = None, where: str | None = None
) -> Diagnosis:
    """Search one record, read it back; never writes. `where` names the API in the first line
    (default: the base URL)."""
    async with NexudusClient(settings, transport=transport) as client:
        try:
            page = await client.search_checks(page=1, size=1)
        except NexudusError as error:
            return _failure(error, settings)
        first = page.records[0].get("Id") if page.records else None
        read: bool | None = None
        read_problem = ""
        if isinstance(first, int):
            try:
                await client.get_check(first)
                read = True
            except NexudusError as error:
                if error.kind != ErrorKind.UNAUTHORIZED:
                    return _failure(error, settings)
                read, read_problem = False, error.message
    lines = [
        f"ok: {where or settings.base_url} accepted the {settings.auth_mode} credentials; "
        f"{page.total_items} coworker identity check(s) visible"
    ]
    lines.append(f"  {FIND_TOOL}: usable ({role_of('search')} confirmed)")
    if read is None:
        lines.append(f"  {GET_TOOL}: not tested (no record to read); needs {role_of('get')}")
    elif read:
        lines.append(f"  {GET_TOOL}: usable ({role_of('get')} confirmed)")
    else:
        lines.append(f"  {GET_TOOL}: NOT usable: {read_problem}")
        lines.append(f"  {UPDATE_TOOL}: NOT usable: it reads the record first, so it needs {role_of('get')} too")
    if read is not False:
        lines.append(
            f"  {UPDATE_TOOL}: not tested: it needs {role_of('update')}, which only a write can prove and "
            "check never writes (`probe --write-check ID` does, once, unchanged); if it answers unauthorized, "
            "ask an admin for that role, or run `serve --read-only` to offer only the read tools"
        )
    lines.append(
        f"  {LIST_COMMANDS_TOOL}, {RUN_COMMAND_TOOL}: not tested; their roles are not published "
        f"(presumably {role_of('commands')} to list, and {OPERATIONS['run_command'].role_text} to run): "
        "`probe` checks the list"
    )
    return Diagnosis(True, lines)
