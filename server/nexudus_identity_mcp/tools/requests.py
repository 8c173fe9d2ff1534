"""The typed requests of the command tools, as their input models build them (`catalog.py`); the
read and update tools' requests are in `record/validation.py` beside the rules that check them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ListRequest:
    refresh: bool = False


@dataclass(frozen=True)
class RunRequest:
    key: str
    ids: list[int]
    parameters: dict[str, str]
    dry_run: bool
