"""Benchmark: the final redaction pass (redaction.py `Redactor.scrub`) on results of typical sizes.

    python bench/redaction.py

Prints the median time of one pass for: a get result, a 50-row find page (and the same 50 records
in full), a 64 KB result (one long
Description with the number in it), each with nothing remembered and with 2,048 checks remembered
from earlier calls, and a log line. Not a test: no budget, just figures for docs/performance.md.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from nexudus_identity_mcp.record.redaction import Redactor
from nexudus_identity_mcp.sandbox.data import seed_checks
from nexudus_identity_mcp.sandbox.state import with_derived_fields
from nexudus_identity_mcp.tools.schemas import FIND_ROW_FIELDS


def median_ms(work: Callable[[], Any], rounds: int = 200) -> float:
    """The median of `rounds` passes; the least of three such medians (the machine is shared)."""
    medians = []
    for _ in range(3):
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            work()
            times.append(time.perf_counter() - started)
        medians.append(statistics.median(times))
    return min(medians) * 1000


def main() -> None:
    records = [with_derived_fields(r) for r in seed_checks()]
    record = records[0]
    rows = [{**r, "Id": 90000000 + i} for i, r in enumerate(records * 5)][:50]
    big = {**record, "Description": ("notes " * 10_000)[:64_000] + f" {record['IdentityDocumentNumber'].lower()}"}
    cases: dict[str, tuple[Any, list[dict[str, Any]]]] = {
        "get (1 record)": ({"WasSuccessful": True, "Record": record}, [record]),
        "find (50 rows)": (
            {"WasSuccessful": True, "Checks": [{k: r.get(k) for k in FIND_ROW_FIELDS} for r in rows]},
            rows,
        ),
        "50 full records": ({"WasSuccessful": True, "Checks": rows}, rows),
        "64 KB result": ({"WasSuccessful": True, "Record": big}, [big]),
        "log line": ("nexudus update: upstream_error (502); retry 1 of 2 in 0.40s", [record]),
    }
    print(f"{'result':<18}{'fresh':>10}{'2,048 remembered':>20}")  # one call: note the records, then scrub
    for name, (value, read) in cases.items():
        figures = []
        for remembered in (0, 2048):
            redactor = Redactor(secret="bench")
            with redactor.scope():
                for i in range(remembered):
                    redactor.note_record({"Id": i + 1, "IdentityDocumentNumber": f"X{i:07d}QZ"})

            def one_call(r: Redactor = redactor, v: Any = value, seen: list[dict[str, Any]] = read) -> Any:
                with r.scope():
                    for rec in seen:
                        r.note_record(rec)
                    return r.scrub(v)

            figures.append(median_ms(one_call, rounds=30 if name in ("64 KB result", "50 full records") else 200))
        print(f"{name:<18}{figures[0]:>8.2f}ms{figures[1]:>18.2f}ms")


if __name__ == "__main__":
    main()
