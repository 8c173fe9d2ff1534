"""The typed requests of the command, member, number and journal tools, as their input models build
them (`catalog.py`); the read and update tools' requests are in `record/validation.py` beside the
rules that check them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ListRequest:
    refresh: bool = False
    check_id: int | None = None  # only the commands Nexudus says are available for this check


@dataclass(frozen=True)
class RunRequest:
    key: str
    ids: list[int]
    parameters: dict[str, str]
    dry_run: bool


@dataclass(frozen=True)
class MemberFindRequest:
    filters: dict[str, Any]  # find argument -> value
    page: int
    page_size: int


@dataclass(frozen=True)
class NumberRequest:
    check_id: int
    number: str


@dataclass(frozen=True)
class ChangesRequest:
    check_id: int | None = None
    coworker_id: int | None = None
    who: str | None = None
    since: float | None = None  # seconds since the epoch
    before: int | None = None  # an EntryId: the next page
    page_size: int = 10


@dataclass(frozen=True)
class UndoRequest:
    entry_id: int
    revert_rest: bool = False
    dry_run: bool = False
