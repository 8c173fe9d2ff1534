"""The evaluation report: a table per scenario, totals, and the JSON report."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .grading import Outcome

COLUMNS = ("scenario", "result", "calls", "errors", "recovered", "api", "writes", "secs")


def table(outcomes: list[Outcome]) -> str:
    rows = [COLUMNS] + [
        (
            o.name,
            "PASS" if o.passed else "FAIL",
            str(o.tool_calls),
            str(o.error_results),
            {None: "-", True: "yes", False: "no"}[o.recovered],
            str(o.api_requests),
            str(o.writes),
            f"{o.seconds:.1f}",
        )
        for o in outcomes
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def totals(outcomes: list[Outcome]) -> dict[str, Any]:
    with_errors = [o for o in outcomes if o.recovered is not None]
    return {
        "scenarios": len(outcomes),
        "passed": sum(o.passed for o in outcomes),
        "failed": sum(not o.passed for o in outcomes),
        "tool_calls": sum(o.tool_calls for o in outcomes),
        "error_results": sum(o.error_results for o in outcomes),
        "recovered": sum(1 for o in with_errors if o.recovered),
        "had_errors": len(with_errors),
        "api_requests": sum(o.api_requests for o in outcomes),
        "writes": sum(o.writes for o in outcomes),
        "seconds": round(sum(o.seconds for o in outcomes), 2),
    }


def report(outcomes: list[Outcome], agent: str) -> dict[str, Any]:
    return {"agent": agent, "totals": totals(outcomes), "scenarios": [asdict(o) for o in outcomes]}


def summary(t: dict[str, Any]) -> str:
    """The closing lines of a run: the totals in words, then the plain 'N passed, N failed' line."""
    return (
        f"{t['passed']}/{t['scenarios']} scenarios passed; {t['tool_calls']} tool calls, {t['error_results']} error "
        f"results, recovered in {t['recovered']} of {t['had_errors']} scenarios with errors; {t['api_requests']} API "
        f"requests, {t['writes']} writes; {t['seconds']:.1f}s\n{t['passed']} passed, {t['failed']} failed"
    )
