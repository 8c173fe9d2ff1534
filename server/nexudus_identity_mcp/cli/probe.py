"""`nexudus-identity-mcp probe`: check this server's assumptions about the Nexudus API on a real account.

Everything the server knows about the API comes from its documentation and public clients, and some of it is
inferred (the search filter names above all; docs/development.md, "What is known of the Nexudus API"). The
probe tests each assumption with real calls and prints a table: the assumption, what the API did, a verdict,
and what the server does about it, plus a JSON report (`--report`) to attach to a bug.

It is read-only unless `--write-check ID` is given: then it PUTs that one record back exactly as
the update tool builds a no-change body (every field the GET returned minus the read-only and
joined ones) and compares the record before and after; then it writes a text with a trailing space
and the expiry date in the other form (with or without the `Z`), reports whether Nexudus kept,
trimmed or changed each (so an operator knows what a read-back that differs means), and writes the
record back as it was.

What it prints and reports never carries a value from a record (no names, no document numbers),
a token or a password: field names, counts, Ids, HTTP statuses and verdicts only.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from .. import __version__
from ..nexudus import ErrorKind, NexudusClient, NexudusError
from ..record.fields import (
    BY_NAME,
    COMMANDS_RECORD_PARAMS,
    EXPIRY,
    READ_ONLY_NAMES,
    RESOURCE_PATH,
    SEARCH_FILTERS,
    SearchFilter,
    calendar_day,
    fold,
    put_body,
)
from ..record.operations import OPERATIONS
from ..record.timefmt import calendar_date, has_z, midnight
from ..tools.commands import in_order, listed_command
from ..tools.search import MAX_SCAN_PAGES, MAX_SCAN_ROWS

Verdict = Literal["ok", "differs", "unknown", "absent", "failed", "skipped"]
JOINED = ("BusinessName", "CoworkerFullName", "CoworkerCoworkerType", "CoworkerCompanyName", "CoworkerBillingName")
SAMPLE_SIZE = 50
AUDIT_FIELDS = frozenset({"UpdatedOn", "UpdatedBy"})


@dataclass
class Finding:
    assumption: str
    observed: str  # what the API did: counts, names, statuses; never a record's value
    verdict: Verdict
    action: str  # what the server does about it
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Probe:
    client: NexudusClient
    write_check: int | None = None
    findings: list[Finding] = field(default_factory=list)
    total: int = 0  # checks the unfiltered search counts
    throttles: Counter[int] = field(default_factory=Counter)

    def add(self, assumption: str, observed: str, verdict: Verdict, action: str, **details: Any) -> None:
        self.findings.append(Finding(assumption, observed, verdict, action, details))

    async def run(self) -> list[Finding]:
        with self._watch_throttling():
            sample = await self._authentication()
            self._two_factor(sample is not None)
            if sample is not None:
                record = await self._get_shape(sample)
                await self._filters(sample)
                await self._paging(sample)
                await self._commands(sample)
                if self.write_check is not None:
                    await self._write(self.write_check)
                elif record is not None:
                    self.add(
                        "A PUT of every field the GET returned loses nothing",
                        "not tried: the probe is read-only unless --write-check ID is given",
                        "skipped",
                        "the PUT keeps every field the GET returned; --write-check on a test record proves it",
                    )
        self._throttle_finding()
        return self.findings

    # ------------------------------------------------------------ authentication and roles
    async def _authentication(self) -> list[dict[str, Any]] | None:
        mode = self.client.settings.auth_mode
        try:
            page = await self.client.search_checks(page=1, size=SAMPLE_SIZE)
        except NexudusError as error:
            said = self.client.token_refusal
            self.add(
                f"The {mode} credentials are accepted and the user has the List role",
                f"the search failed: {error.kind} (HTTP {error.status or 'none'})"
                + (f"; the token endpoint said {said}" if said else ""),
                "failed",
                "every tool answers this error; fix the credentials or the roles and run the probe again",
                **({"token_error": said} if said else {}),
            )
            return None
        self.total = page.total_items
        self.add(
            f"The {mode} credentials are accepted and the user has the List role",
            f"search answered; {page.total_items} check(s) visible",
            "ok",
            "tools authenticate the same way",
            total_items=page.total_items,
        )
        if not page.records:
            self.add(
                "There are checks to test the other assumptions on",
                "the search returned no checks",
                "unknown",
                "the filter, paging and GET-shape checks need at least one check; create one and run again",
            )
            return None
        return page.records

    def _two_factor(self, signed_in: bool) -> None:
        """#24 item 2: what the token endpoint said, in password mode (its 2FA wording is not published)."""
        if self.client.settings.auth_mode != "password":
            return
        said = self.client.token_refusal
        assumption = "A two-factor refusal is recognised whatever its wording (password sign-in)"
        if said:
            self.add(
                assumption,
                f"the token endpoint refused with {said}",
                "ok" if signed_in else "unknown",
                "a refusal this server does not recognise offers the code field on the sign-in page and names "
                "NEXUDUS_TOTP_SECRET in password mode; report the code if it was a 2FA refusal",
                token_error=said,
            )
            return
        code = "with NEXUDUS_TOTP_SECRET" if self.client.settings.totp_secret else "without a code"
        self.add(
            assumption,
            f"signed in {code}; no refusal met" if signed_in else "no token answer to read",
            "ok" if signed_in else "unknown",
            "the 2FA wording stays unknown until a refusal is met; any refusal code is shown here",
        )

    async def _get_shape(self, sample: list[dict[str, Any]]) -> dict[str, Any] | None:
        check_id = sample[0].get("Id")
        try:
            record = await self.client.get_check(int(check_id or 0))
        except NexudusError as error:
            self.add(
                "The user has the Read role (GET one check)",
                f"GET of check {check_id} failed: {error.kind} (HTTP {error.status or 'none'})",
                "failed",
                "get and update answer this error; grant CoworkerIdentityCheck-Read",
            )
            return None
        self.add("The user has the Read role (GET one check)", f"GET of check {check_id} answered", "ok", "-")
        missing_joined = [n for n in JOINED if n not in record]
        self.add(
            "GET returns the joined names " + ", ".join(JOINED),
            "all present" if not missing_joined else "missing: " + ", ".join(missing_joined),
            "ok" if not missing_joined else "differs",
            "shown to the model, names redacted under NEXUDUS_MCP_REDACT=name"
            if not missing_joined
            else "a missing joined name is simply not shown; report it",
            missing=missing_joined,
        )
        unknown = sorted(k for k in record if k not in BY_NAME)
        scalars = sorted(k for k in unknown if record[k] is None or isinstance(record[k], (bool, int, float)))
        self.add(
            "GET returns only fields the field table knows",
            f"{len(unknown)} other field(s): " + (", ".join(unknown) if unknown else "none"),
            "ok" if not unknown else "differs",
            "each is sent back unchanged in every PUT; only plain numbers, booleans and nulls are shown "
            "to the model" + (f" ({', '.join(scalars)})" if scalars else ""),
            unknown_fields=unknown,
            shown_unknown_fields=scalars,
        )
        absent = sorted(f.name for f in BY_NAME.values() if f.name not in record and f.name not in READ_ONLY_NAMES)
        if absent:
            self.add(
                "GET returns every field the PUT sends",
                "absent: " + ", ".join(absent),
                "differs",
                "left out of the PUT as the GET left them out (a field the call sets is still sent)",
                absent_fields=absent,
            )
        return record

    # ------------------------------------------------------------ search filters
    async def _filters(self, sample: list[dict[str, Any]]) -> None:
        for f in SEARCH_FILTERS:
            value, check_id = _probe_value(f, sample)
            assumption = f"Search filter {f.argument} ({f.match}) is honoured as {f.param}"
            if value is None:
                self.add(assumption, f"no check in the first {len(sample)} has a {f.row_field}", "unknown", _ACT[None])
                continue
            try:
                page = await self.client.search_checks(page=1, size=SAMPLE_SIZE, filters={f.param: f.api_value(value)})
            except NexudusError as error:
                self.add(assumption, f"the search failed: {error.kind} (HTTP {error.status})", "failed", _ACT[False])
                continue
            wrong = sum(1 for r in page.records if not f.matches(r, value))
            source = f"the {f.row_field} of check {check_id}"
            if wrong:
                self.add(
                    assumption,
                    f"filtered by {source}: {wrong} of {len(page.records)} returned rows do not match",
                    "differs",
                    _ACT[False],
                    honoured=False,
                )
                continue
            if page.total_items >= self.total:
                self.add(
                    assumption,
                    f"filtered by {source}: every row matches, but as many checks came back as without it",
                    "unknown",
                    _ACT[None],
                    honoured=None,
                )
                continue
            observed = f"filtered by {source}: {page.total_items} of {self.total} checks, every row matches"
            details: dict[str, Any] = {"honoured": True}
            if f.match == "contains" and not await self._contains(f, value):
                observed += "; a part of it in other case matches nothing (exact or case-sensitive)"
                self.add(assumption, observed, "differs", _EXACT, honoured=True, contains=False)
                continue
            if f.match == "contains":
                observed += "; a part of it in other case matches too"
                accents = await self._accents(f, value)
                if accents is not None:
                    observed += "; without its accents it " + ("matches too" if accents else "matches nothing")
                    details["accent_insensitive"] = accents
            action = _ACT[True] if details.get("accent_insensitive") is not False else _ACCENTS
            self.add(assumption, observed, "ok", action, **details)

    async def _contains(self, f: SearchFilter, value: str) -> bool:
        """Whether a text filter matches a part of the text in any case, as the server assumes."""
        fragment = value[1:-1].swapcase() if len(value) >= 4 else value.swapcase()
        try:
            page = await self.client.search_checks(page=1, size=SAMPLE_SIZE, filters={f.param: fragment})
        except NexudusError:
            return False
        return any(fold(fragment) in fold(str(r.get(f.row_field) or "")) for r in page.records)

    async def _accents(self, f: SearchFilter, value: str) -> bool | None:
        """For a text with accents: whether the API finds it by the text without them (None: no
        accents to test, or the test failed)."""
        plain = fold(value)
        if plain == value.casefold():
            return None
        try:
            page = await self.client.search_checks(page=1, size=SAMPLE_SIZE, filters={f.param: plain})
        except NexudusError:
            return None
        return any(fold(str(r.get(f.row_field) or "")) == plain for r in page.records)

    # ------------------------------------------------------------ paging
    async def _paging(self, sample: list[dict[str, Any]]) -> None:
        try:
            first = await self.client.read_as_sent("search", RESOURCE_PATH, {"page": 1, "size": 1})
            second = await self.client.read_as_sent("search", RESOURCE_PATH, {"page": 2, "size": 1})
        except NexudusError as error:
            self.add("The search pages with page and size", f"failed: {error.kind}", "failed", "-")
            return
        rows1 = first.get("Records") if isinstance(first, dict) else None
        rows2 = second.get("Records") if isinstance(second, dict) else None
        keys = ("TotalItems", "TotalPages", "HasNextPage", "CurrentPage", "CurrentPageSize")
        missing = [k for k in keys if not isinstance(first, dict) or k not in first]
        size_ok = isinstance(rows1, list) and len(rows1) <= 1
        page_ok = (
            isinstance(rows1, list)
            and isinstance(rows2, list)
            and (self.total < 2 or (rows2 and rows1 and rows1[0].get("Id") != rows2[0].get("Id")))
        )
        observed = (
            f"size=1 gave {len(rows1) if isinstance(rows1, list) else '?'} row(s); page=2 gave "
            + ("another check" if page_ok and self.total >= 2 else "the same or none")
            + (f"; envelope lacks {', '.join(missing)}" if missing else "; envelope has TotalItems, HasNextPage, …")
        )
        good = bool(size_ok and page_ok and not missing)
        self.add(
            "The search pages with page and size and says TotalItems, HasNextPage",
            observed,
            "ok" if good else "differs",
            "the find tool pages as the API does; a filtered-here search scans at most "
            f"{MAX_SCAN_PAGES} pages / {MAX_SCAN_ROWS} rows"
            if good
            else "paging cannot be trusted: a filtered-here search stops at a repeated page; report it",
            size_honoured=size_ok,
            page_honoured=bool(page_ok),
            missing_envelope_keys=missing,
        )

    # ------------------------------------------------------------ commands
    async def _commands(self, sample: list[dict[str, Any]]) -> None:
        assumption = "The API lists commands for identity checks (GET …/coworkeridentitychecks/commands)"
        try:
            listed = await self.client.read_as_sent("commands", f"{RESOURCE_PATH}/commands")
        except NexudusError as error:
            if error.kind in (ErrorKind.NOT_FOUND, ErrorKind.VALIDATION) or error.status in (400, 404, 405):
                self.add(assumption, f"not available (HTTP {error.status})", "absent", _NO_COMMANDS)
            else:
                self.add(assumption, f"failed: {error.kind} (HTTP {error.status})", "failed", _NO_COMMANDS)
            return
        items = listed if isinstance(listed, list) else []
        commands = in_order([listed_command(c) for c in items if isinstance(c, dict) and isinstance(c.get("Key"), str)])
        keys = sorted(c.key for c in commands)
        self.add(
            assumption,
            f"{len(items)} command(s): " + (", ".join(keys) if keys else "no keys"),
            "ok" if keys else "unknown",
            "commands are listed here for the record; a command tool uses only the keys the API lists",
            count=len(items),
            keys=keys,
        )
        if not commands:
            return
        fields = ("AppliesOnlyToMultipleEntities", "Order", "DisplayInDropdown", "Icon")
        carried = [f for f in fields if any(isinstance(c, dict) and f in c for c in items)]
        typed = sorted({t for c in commands for _, _, t in c.parameters if t})
        self.add(
            "Each command says its one/many rule, order, display and parameter types",
            f"carried: {', '.join(carried) or 'none of them'}; one-only: "
            f"{', '.join(c.key for c in commands if c.one_only) or 'none'}; many-only: "
            f"{', '.join(c.key for c in commands if c.many_only) or 'none'}; order: "
            f"{', '.join(c.key for c in commands)}; parameter types: {', '.join(typed) or 'none'}",
            "ok" if len(carried) == len(fields) else "differs",
            "kept in this order; a many-only command refused for one Id and a one-only for several; types shown "
            "to the model" + ("" if len(carried) == len(fields) else "; what is missing is taken as not said"),
            carried=carried,
            one_only=[c.key for c in commands if c.one_only],
            many_only=[c.key for c in commands if c.many_only],
            order=[c.key for c in commands],
            parameter_types=typed,
        )
        await self._commands_per_record(sample, set(keys))
        role = OPERATIONS["run_command"]
        self.add(
            f"Running a command needs {' or '.join(role.roles)} (the pages disagree)",
            "not tried: a run changes a check and may email the member",
            "skipped",
            "a refusal names both roles; run one command on a test check from the tool to learn which",
        )

    async def _commands_per_record(self, sample: list[dict[str, Any]], every: set[str]) -> None:
        """Which candidate name of the per-record parameter the account answers: a shorter list."""
        assumption = "The commands list takes a parameter for one record's commands (name not published)"
        check_id = sample[0].get("Id")
        answers: dict[str, int | None] = {}
        for name in COMMANDS_RECORD_PARAMS:
            try:
                listed = await self.client.list_commands(params={name: check_id})
                answers[name] = (
                    len({str(c["Key"]) for c in listed} & every) if {str(c["Key"]) for c in listed} != every else None
                )
            except NexudusError as error:
                answers[name] = -(error.status or 1)
        honoured = [n for n, a in answers.items() if a is not None and a >= 0]
        observed = "; ".join(
            f"{n}: " + ("the full list" if a is None else f"HTTP {-a}" if a < 0 else f"{a} of {len(every)}")
            for n, a in answers.items()
        )
        if len(honoured) == 1:
            verdict: Verdict = "ok"
            action = f"the account answers {honoured[0]}; the list tool's Id sends every candidate, so it works as is"
        elif honoured:
            verdict, action = "differs", "several names answered; the list tool's Id sends them all"
        else:
            verdict = "unknown"
            action = (
                f"no candidate changed the answer for check {check_id} (every command may apply to it, or the name "
                "is another): the list tool says the list may not be filtered"
            )
        self.add(assumption, f"check {check_id}: {observed}", verdict, action, answered=honoured, check=check_id)

    # ------------------------------------------------------------ the one write (opt-in)
    async def _write(self, check_id: int) -> None:
        assumption = f"A PUT of every field the GET returned loses nothing (check {check_id})"
        try:
            before = await self.client.get_check(check_id)
            await self.client.update_check(put_body(before))
            after = await self.client.get_check(check_id)
        except NexudusError as error:
            action = (
                "grant CoworkerIdentityCheck-Edit to write"
                if error.kind == ErrorKind.UNAUTHORIZED
                else "the update tool would answer this error"
            )
            self.add(assumption, f"failed: {error.kind} (HTTP {error.status})", "failed", action)
            return
        changed = sorted(k for k in before if k not in AUDIT_FIELDS and after.get(k) != before.get(k))
        lost = sorted(k for k in before if k not in after)
        self._form_of_dates(before, after, "after a no-change write")
        self.add(
            assumption,
            "every field is as before"
            if not changed and not lost
            else "changed: " + ", ".join(changed) + ("; gone: " + ", ".join(lost) if lost else ""),
            "ok" if not changed and not lost else "differs",
            "the update tool builds its PUT the same way" if not changed and not lost else "report it: do not update",
            changed_fields=changed,
            lost_fields=lost,
        )

        if not changed and not lost:
            await self._normalisation(check_id, after)

    def _form_of_dates(self, before: dict[str, Any], after: dict[str, Any], when: str) -> None:
        """#24 item 1: the form Nexudus writes the expiry date in, after a write (never the date itself)."""
        value = after.get(EXPIRY)
        if calendar_date(value) is None:
            return
        form = "with the literal Z" if has_z(value) else "without a Z"
        self.add(
            "Dates come back as written: the calendar day at midnight, in the record's form",
            f"{when}, {EXPIRY} comes back {form}"
            + ("" if calendar_date(before.get(EXPIRY)) == calendar_date(value) else "; ANOTHER DAY"),
            "ok" if calendar_date(before.get(EXPIRY)) == calendar_date(value) else "differs",
            f"a date is sent {form} on this account's records (the form each record's GET shows)",
            returned_z=has_z(value),
        )

    async def _normalisation(self, check_id: int, before: dict[str, Any]) -> None:
        """#24 items 1 and 6: write a text with a trailing space and the expiry date in the other form,
        report what Nexudus kept, then write the record back as it was."""
        body = put_body(before)
        text = before.get("Description")
        body["Description"] = f"{text or 'probe'} "
        day = calendar_date(before.get(EXPIRY))
        other_z = not has_z(before.get(EXPIRY))
        if day is not None:
            body[EXPIRY] = midnight(day, z=other_z)
        try:
            await self.client.update_check(body)
            after = await self.client.get_check(check_id)
        except NexudusError as error:
            self.add(
                "Nexudus stores a text as sent (a trailing space kept)",
                f"the normalisation write failed: {error.kind} (HTTP {error.status})",
                "failed",
                "check the record by hand: it may hold a trailing space in Description",
            )
            return
        kept = after.get("Description") == body["Description"]
        trimmed = after.get("Description") == body["Description"].strip()
        self.add(
            "Nexudus stores a text as sent (a trailing space kept)",
            "kept" if kept else "trimmed" if trimmed else "changed otherwise",
            "ok" if kept else "differs",
            "a read-back that differs names both causes (another writer, or Nexudus normalised)"
            + ("" if kept else "; on this account trimmed text is Nexudus's own doing"),
            normalises_text=not kept,
        )
        if day is not None:
            sent = "with the Z" if other_z else "without a Z"
            back = "with the Z" if has_z(after.get(EXPIRY)) else "without a Z"
            same_day = calendar_date(after.get(EXPIRY)) == day
            self.add(
                "A date sent in the other form keeps its day",
                f"sent {sent} (the record's other form): it comes back {back}, "
                + ("the same day" if same_day else "ANOTHER DAY"),
                "ok" if same_day else "differs",
                "the read-back compares days, so a date Nexudus writes in its own form is no conflict"
                if same_day
                else "report it: this account moves dates",
                sent_z=other_z,
                returned_z=has_z(after.get(EXPIRY)),
                same_day=same_day,
            )
        restore = put_body(after)
        restore["Description"] = text
        if day is not None:
            restore[EXPIRY] = before.get(EXPIRY)
        try:
            await self.client.update_check(restore)
            final = await self.client.get_check(check_id)
        except NexudusError as error:
            final, failed = {}, f"{error.kind} (HTTP {error.status})"
        else:
            failed = ""
        wrong = [n for n in ("Description", EXPIRY) if final.get(n) != before.get(n)]
        self.add(
            f"The record is written back as it was (check {check_id})",
            "as before" if not wrong and not failed else f"not restored: {failed or ', '.join(wrong)}",
            "ok" if not wrong and not failed else "failed",
            "-" if not wrong and not failed else "set these fields back by hand",
        )

    # ------------------------------------------------------------ throttling, if met
    @contextmanager
    def _watch_throttling(self) -> Iterator[None]:
        probe = self

        class Watch(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                args = record.args if isinstance(record.args, tuple) else ()
                if any(str(a) == ErrorKind.RATE_LIMITED.value for a in args):
                    status = next((a for a in args if isinstance(a, int) and a in (409, 429)), 0)
                    probe.throttles[status] += 1

        watch = Watch(logging.WARNING)
        logger = logging.getLogger("nexudus_identity_mcp.nexudus")
        logger.addHandler(watch)
        try:
            yield
        finally:
            logger.removeHandler(watch)

    def _throttle_finding(self) -> None:
        if not self.throttles:
            self.add(
                "Throttling answers 409 or 429 with a wait",
                "not met during the probe",
                "unknown",
                "409 and 429 are both waited on and retried",
            )
            return
        seen = ", ".join(f"HTTP {status or '?'} x{n}" for status, n in sorted(self.throttles.items()))
        self.add("Throttling answers 409 or 429 with a wait", f"met: {seen}", "ok", "waited and retried")


_ACT: dict[bool | None, str] = {
    True: "sends it; still checks every returned row",
    False: "does not send it after the first try; applies it to the rows itself over at most "
    f"{MAX_SCAN_PAGES} pages / {MAX_SCAN_ROWS} rows and says so",
    None: "sends it and proves it on the first search of each process; applies it itself until proven",
}
_EXACT = (
    "sends it and checks rows with contains; a part of a name may find nothing through the API, so give the whole text"
)
_ACCENTS = "sends it; a text typed without its accents may find nothing through the API, so give them"
_NO_COMMANDS = "no command can be offered; status changes stay in the admin panel"


def _probe_value(f: SearchFilter, sample: list[dict[str, Any]]) -> tuple[Any, Any]:
    """The least common value of the filter's field in the sample, and a check that has it: a value
    that does not match every check, so that honouring the filter shows. For a date window: the day
    after the earliest date (before), or the latest date (on or after)."""
    if f.window:
        days = sorted((d, r.get("Id")) for r in sample if (d := calendar_day(r.get(f.row_field))) is not None)
        if not days:
            return None, None
        day, check_id = days[0] if f.match == "before" else days[-1]
        return (day + timedelta(days=1) if f.match == "before" else day), check_id
    values = Counter(r.get(f.argument) for r in sample if r.get(f.argument) not in (None, ""))
    if not values:
        return None, None
    # Among the rarest, a text with accents first, so that the accent test has something to test.
    value = min(values, key=lambda v: (values[v], not isinstance(v, str) or fold(v) == v.casefold(), str(v)))
    row = next(r for r in sample if r.get(f.argument) == value)
    return value, row.get("Id")


def table(findings: list[Finding]) -> str:
    """The findings as a plain-text table, wrapped to fit 120 columns."""
    import textwrap

    widths = (42, 34, 8, 30)
    heads = ("assumption", "what the API did", "verdict", "what the server does")
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)), "  ".join("-" * w for w in widths)]
    for f in findings:
        cells = [textwrap.wrap(text, w) or [""] for text, w in zip(astuple(f), widths, strict=True)]
        for n in range(max(len(c) for c in cells)):
            lines.append(
                "  ".join((c[n] if n < len(c) else "").ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
            )
        lines.append("")
    return "\n".join(lines)


def astuple(f: Finding) -> tuple[str, str, str, str]:
    return f.assumption, f.observed, f.verdict.upper(), f.action


def report(findings: list[Finding], client: NexudusClient, *, sandbox_profile: str | None = None) -> dict[str, Any]:
    """The JSON report: findings with their details; the base URL without any user part."""
    parts = urlsplit(client.settings.base_url)
    base = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return {
        "tool": "nexudus-identity-mcp probe",
        "version": __version__,
        "base_url": base,
        "auth_mode": client.settings.auth_mode,
        "sandbox_profile": sandbox_profile,
        "verdicts": dict(Counter(f.verdict for f in findings)),
        "findings": [asdict(f) for f in findings],
    }


async def run_probe(client: NexudusClient, *, write_check: int | None = None) -> list[Finding]:
    return await Probe(client, write_check).run()
