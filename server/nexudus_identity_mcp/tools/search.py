"""Self-verifying search: a filter the API ignores cannot turn "every check" into "the matches".

The API silently ignores a query parameter it does not know, and the filter names for identity checks are
inferred, not published (docs/development.md, "What is known of the Nexudus API"). So after every search
each returned row is checked against every filter that was sent (`fields.SEARCH_FILTERS` says how). Rows
that happen to match prove nothing, so a filter is also proven once per process (the same search without it
finds more). When a row fails a filter, the API ignored it: its rows are not reported as matches; the search
runs again without it and the rows are filtered here, scanning further pages within a bound
(`MAX_SCAN_PAGES` pages, `MAX_SCAN_ROWS` rows), and the result says which filter was applied here and
whether the scan was complete. What was learnt is remembered in the caller's `FilterMemory` (the tools hold
one: one per server, so per process), so the next search neither sends the ignored filter nor pays for the
first try again; the warning is logged once per filter and memory.

The same machinery serves every searchable entity (`CHECKS`, `MEMBERS`): each names its filter
table and the client's search for it. An `order` (a row field, ascending) is asked of the API and
verified on the rows like a filter: a page the API did not sort is sorted here over the bounded scan.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from ..nexudus import NexudusClient
from ..nexudus.caller import Caller
from ..nexudus.client import SearchPage
from ..record.fields import FILTER_BY_ARGUMENT, SearchFilter
from ..record.members import MEMBER_FILTER_BY_ARGUMENT

log = logging.getLogger("nexudus_identity_mcp.search")

MAX_SCAN_PAGES = 10
MAX_SCAN_ROWS = 500
SCAN_PAGE_SIZE = 50


@dataclass
class FilterMemory:
    """What this process has seen of the API's search filters: parameter -> honoured (True) or
    ignored (False). A parameter not yet tested is absent."""

    verdicts: dict[str, bool] = field(default_factory=dict)

    def ignored(self, param: str) -> bool:
        return self.verdicts.get(param) is False

    def learn(self, param: str, honoured: bool) -> None:
        if honoured:
            self.verdicts.setdefault(param, True)
        elif self.verdicts.get(param) is not False:
            self.verdicts[param] = False
            log.warning("nexudus search: the API ignored the filter %s; filtering its rows here from now on", param)


@dataclass(frozen=True)
class Entity:
    """What can be searched: its filters by find argument, the client's search for it, the filter
    that holds a member's name (matched here, accents ignored, when the API finds nothing or always),
    and how the rows are named in messages."""

    filters: Mapping[str, SearchFilter]
    search: Callable[..., Awaitable[SearchPage]]  # an unbound NexudusClient method
    name_filter: str
    noun: str
    narrow: str  # which filters narrow a search that scanned too much
    # Match the name here always, not only when the API finds nothing: among members, names that differ
    # only by accents are different people (Tomás and Tomas Ferreira), and the API matches accents as
    # written, so its answer for either would hide the other.
    name_always_here: bool = False


CHECKS = Entity(
    FILTER_BY_ARGUMENT, NexudusClient.search_checks, "CoworkerFullName", "checks", "CoworkerId or BusinessId"
)
MEMBERS = Entity(
    MEMBER_FILTER_BY_ARGUMENT,
    NexudusClient.search_coworkers,
    "FullName",
    "members",
    "InvoicingBusinessId or Email",
    name_always_here=True,
)


@dataclass
class VerifiedPage:
    rows: list[dict[str, Any]]
    page: int
    page_size: int
    total_items: int
    total_pages: int
    has_next_page: bool
    filtered_here: list[str]  # find arguments the API ignored, applied by this server
    complete: bool = True  # False: the scan stopped at its bound, so later matches may exist
    scanned: int = 0  # rows read from the API to filter here


def check_rows(
    rows: list[dict[str, Any]], wanted: list[tuple[SearchFilter, Any]], memory: FilterMemory
) -> list[SearchFilter]:
    """The sent filters some returned row contradicts: the API ignored them (remembered). A row
    without the filter's field cannot contradict it (it is not shown as a match when filtered here)."""
    failed = []
    for f, value in wanted:
        if any(f.row_field in row and not f.matches(row, value) for row in rows):
            memory.learn(f.param, False)
            failed.append(f)
    return failed


def _sort_key(row: Mapping[str, Any], order: str) -> tuple[bool, Any]:
    value = row.get(order)
    return (value is None, value if isinstance(value, (int, float, str)) else str(value or ""))


def in_order(rows: list[dict[str, Any]], order: str) -> bool:
    """Whether the rows' values of `order` ascend (rows without one are not compared: where the API
    puts them is its own business)."""
    values = [_sort_key(r, order) for r in rows if r.get(order) is not None]
    return all(a <= b for a, b in pairwise(values))


async def verified_search(
    client: NexudusClient,
    filters: Mapping[str, Any],
    *,
    memory: FilterMemory,
    page: int,
    size: int,
    local: frozenset[str] = frozenset(),
    entity: Entity = CHECKS,
    order: str | None = None,
    caller: Caller | None = None,
) -> VerifiedPage:
    """One page of `entity` records matching every filter (find argument -> value), proven row by
    row, ascending by `order` when given.

    Rows that all match do not prove a filter was honoured (they may match by chance, and the next
    page may not). So when not every match is on this page, a filter not yet proven is proven once
    per process: the same search without it must find more records. A filter that cannot be proven
    (it made no difference here) is applied here over a bounded scan, as an ignored one is. What is
    learnt of each filter goes into `memory`."""
    search = _bound(client, entity, order, caller)
    wanted = [(entity.filters[name], value) for name, value in filters.items()]
    if local & set(filters):
        return await _scan(search, wanted, memory, page=page, size=size, local=local, order=order)
    ordering = f"orderBy={order}"  # remembered like a filter: an API that does not sort is not asked to again
    if not any(memory.ignored(f.param) for f, _ in wanted) and not (order and memory.ignored(ordering)):
        result = await search(page=page, size=size, filters=_params(wanted))
        sorted_ok = order is None or in_order(result.records, order)
        if not sorted_ok:
            memory.learn(ordering, False)
        if not check_rows(result.records, wanted, memory) and sorted_ok:
            everything_seen = result.current_page == 1 and not result.has_next_page
            unproven = [f for f, _ in wanted if memory.verdicts.get(f.param) is not True]
            if not everything_seen:
                for f in unproven:
                    others = _params([(g, v) for g, v in wanted if g is not f])
                    without = await search(page=1, size=1, filters=others)
                    if without.total_items > result.total_items:
                        memory.learn(f.param, True)
            if everything_seen or all(memory.verdicts.get(f.param) is True for f in unproven):
                return VerifiedPage(
                    result.records,
                    result.current_page,
                    result.page_size,
                    result.total_items,
                    result.total_pages,
                    result.has_next_page,
                    [],
                )
    return await _scan(search, wanted, memory, page=page, size=size, order=order)


def _params(wanted: list[tuple[SearchFilter, Any]]) -> dict[str, Any]:
    return {f.param: f.api_value(v) for f, v in wanted}


def _bound(
    client: NexudusClient, entity: Entity, order: str | None, caller: Caller | None
) -> Callable[..., Awaitable[SearchPage]]:
    """The entity's search on this client, for this caller, in the asked order."""

    async def search(*, page: int, size: int, filters: dict[str, Any]) -> SearchPage:
        ordering: dict[str, Any] = {"order_by": order, "descending": False} if order else {}
        return await entity.search(client, page=page, size=size, filters=filters, caller=caller, **ordering)

    return search


async def _scan(
    search: Callable[..., Awaitable[SearchPage]],
    wanted: list[tuple[SearchFilter, Any]],
    memory: FilterMemory,
    *,
    page: int,
    size: int,
    local: frozenset[str] = frozenset(),
    order: str | None = None,
) -> VerifiedPage:
    """Search with the filters the API has not been seen to ignore (nor asked to be `local`), and
    apply all of them here (and the order, when one is asked)."""
    matches: list[dict[str, Any]] = []
    seen: set[Any] = set()
    scanned = 0
    complete = False
    # Fixed for the whole scan, so that the pages read belong to one result set.
    sent = [(f, v) for f, v in wanted if not memory.ignored(f.param) and f.argument not in local]
    for api_page in range(1, MAX_SCAN_PAGES + 1):
        result = await search(page=api_page, size=SCAN_PAGE_SIZE, filters=_params(sent))
        check_rows(result.records, sent, memory)
        fresh = [r for r in result.records if _row_key(r) not in seen]
        if result.records and not fresh:
            # A page it already gave: paging ended, or the API ignores `page` and the rest is out of reach.
            complete = not result.has_next_page
            break
        trusted = {f.argument for f, _ in sent if not memory.ignored(f.param)}
        for row in fresh:
            seen.add(_row_key(row))
            # A row without a filter's field is trusted to the API when the API applied that filter.
            if all(f.matches(row, v) or (f.row_field not in row and f.argument in trusted) for f, v in wanted):
                matches.append(row)
        scanned += len(fresh)
        if not result.has_next_page or not result.records:
            complete = True
            break
        if scanned >= MAX_SCAN_ROWS:
            break
    if order is not None:
        matches.sort(key=lambda r: _sort_key(r, order))
    total_pages = max((len(matches) + size - 1) // size, 1)
    return VerifiedPage(
        rows=matches[(page - 1) * size : page * size],
        page=page,
        page_size=size,
        total_items=len(matches),
        total_pages=total_pages,
        has_next_page=page < total_pages,
        filtered_here=[f.argument for f, _ in wanted if memory.ignored(f.param) or f.argument in local],
        complete=complete,
        scanned=scanned,
    )


def _row_key(row: Mapping[str, Any]) -> Any:
    """What tells a row from the others while scanning: its Id, or the Id's text when the API sent
    something unhashable there (a list or object)."""
    key = row.get("Id")
    return key if isinstance(key, Hashable) else repr(key)


async def find_with_notes(
    client: NexudusClient,
    filters: Mapping[str, Any],
    *,
    memory: FilterMemory,
    page: int,
    size: int,
    entity: Entity = CHECKS,
    order: str | None = None,
    caller: Caller | None = None,
) -> tuple[VerifiedPage, str]:
    """A verified search as a find tool runs it, and the notes its answer carries: when the API matched
    the member's name itself and found nothing (it may match accents exactly: "Tomas" is not "Tomás"),
    the name is matched here once more, any case and accents ignored; the notes say so, name each filter
    the API ignored, and say when the scan stopped at its bound."""
    name = filters.get(entity.name_filter)
    here = frozenset({entity.name_filter})
    by_design = entity.name_always_here and isinstance(name, str)
    found = await verified_search(
        client,
        filters,
        memory=memory,
        page=page,
        size=size,
        entity=entity,
        order=order,
        local=here if by_design else frozenset(),
        caller=caller,
    )
    accents_retry = (
        not by_design
        and not found.total_items
        and entity.name_filter not in found.filtered_here
        and isinstance(name, str)
    )
    if accents_retry:
        found = await verified_search(
            client, filters, memory=memory, page=page, size=size, local=here, entity=entity, order=order, caller=caller
        )
    notes = ""
    if accents_retry:
        notes += (
            f" The API matched no member name as given; this server matched {entity.name_filter} itself "
            "(any case, accents ignored)."
        )
    ignored = [f for f in found.filtered_here if not ((accents_retry or by_design) and f == entity.name_filter)]
    if ignored:
        notes += f" The API ignored the {', '.join(ignored)} filter(s): this server filtered the rows itself."
    if not found.complete:
        notes += (
            f" Only the first {found.scanned} {entity.noun} were scanned (at most {MAX_SCAN_PAGES} pages / "
            f"{MAX_SCAN_ROWS} rows); later matches may exist: narrow the search with {entity.narrow}."
        )
    if not found.total_items:
        notes += no_match_tips(filters, entity.name_filter)
    return found, notes


def no_match_tips(filters: Mapping[str, Any], name_filter: str) -> str:
    """What to try when nothing matched: part of the name, and the search without its other filters."""
    others = [name for name in filters if name != name_filter]
    tips = []
    if isinstance(filters.get(name_filter), str):
        tips.append(f"part of the name in {name_filter} (one word of it)")
    if others and (tips or len(others) > 1):
        tips.append(f"without {', '.join(others)}")
    return f" Nothing matched: try {', or '.join(tips)}." if tips else ""
