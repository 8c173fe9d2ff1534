"""The evaluation report: a table per scenario, totals, pass^k over repeated trials, the JSON report
(schema: report.schema.json beside this file, documented in evals/README.md), the side-by-side
comparison of two reports, and JUnit XML for CI systems."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict
from importlib import resources
from math import comb
from pathlib import Path
from typing import Any

from .. import __version__
from .grading import Outcome
from .scenarios import Scenario

REPORT_SCHEMA = "nexudus-identity-mcp/eval-report"
COMPARE_SCHEMA = "nexudus-identity-mcp/eval-compare"
SCHEMA_VERSION = 1
COLUMNS = ("scenario", "result", "calls", "errors", "recovered", "api", "writes", "tokens", "secs")


class ReportError(ValueError):
    """A report file that cannot be read or does not follow the schema; one line naming the file."""


def pass_hat_k(n: int, c: int, k: int) -> float:
    """tau-bench's pass^k from n trials with c successes: the chance that k trials drawn without
    replacement all pass, C(c, k) / C(n, k)."""
    if not 1 <= k <= n or not 0 <= c <= n:
        raise ValueError(f"pass^k needs 1 <= k <= n and 0 <= c <= n (n={n}, c={c}, k={k})")
    return comb(c, k) / comb(n, k)


def _sum(runs: list[Outcome], name: str) -> int:
    return sum(int(getattr(o, name)) for o in runs)


def _cost(runs: list[Outcome]) -> float | None:
    costs = [o.cost_usd for o in runs]
    return None if any(c is None for c in costs) else round(sum(c or 0.0 for c in costs), 6)


def scenario_entry(scenario: Scenario, runs: list[Outcome]) -> dict[str, Any]:
    n, c = len(runs), sum(o.passed for o in runs)
    with_errors = [o for o in runs if o.recovered is not None]
    return {
        "name": scenario.name,
        "version": scenario.version,
        "trials_run": n,
        "trials_passed": c,
        "passed": n > 0 and c == n,
        "pass_hat_k": {str(k): round(pass_hat_k(n, c, k), 6) for k in range(1, n + 1)},
        "tool_calls": _sum(runs, "tool_calls"),
        "error_results": _sum(runs, "error_results"),
        "recovered": sum(1 for o in with_errors if o.recovered),
        "had_errors": len(with_errors),
        "api_requests": _sum(runs, "api_requests"),
        "writes": _sum(runs, "writes"),
        "input_tokens": _sum(runs, "input_tokens"),
        "output_tokens": _sum(runs, "output_tokens"),
        "model_requests": _sum(runs, "model_requests"),
        "cost_usd": _cost(runs),
        "seconds": round(sum(o.seconds for o in runs), 2),
        "trials": [asdict(o) for o in runs],
    }


def totals(entries: list[dict[str, Any]], wall_seconds: float | None = None) -> dict[str, Any]:
    """The run's totals from its scenario entries. pass^k: the mean over the scenarios with at least k
    trials run (tau-bench's average over tasks)."""
    most = max((e["trials_run"] for e in entries), default=0)
    pass_k = {}
    for k in range(1, most + 1):
        values = [e["pass_hat_k"][str(k)] for e in entries if e["trials_run"] >= k]
        pass_k[str(k)] = round(sum(values) / len(values), 6)
    costs = [e["cost_usd"] for e in entries if e["trials_run"]]
    out = {
        "scenarios": len(entries),
        "passed": sum(e["passed"] for e in entries),
        "failed": sum(not e["passed"] for e in entries if e["trials_run"]),
        "not_run": sum(1 for e in entries if not e["trials_run"]),
        "trials_run": sum(e["trials_run"] for e in entries),
        "trials_passed": sum(e["trials_passed"] for e in entries),
        "pass_hat_k": pass_k,
        "cost_usd": None if any(c is None for c in costs) else round(sum(costs), 6),
    }
    for name in ("tool_calls", "error_results", "recovered", "had_errors", "api_requests", "writes"):
        out[name] = sum(e[name] for e in entries)
    for name in ("input_tokens", "output_tokens", "model_requests"):
        out[name] = sum(e[name] for e in entries)
    out["seconds"] = round(sum(e["seconds"] for e in entries), 2)
    out["wall_seconds"] = round(wall_seconds if wall_seconds is not None else out["seconds"], 2)
    return out


def report(
    scenarios: list[Scenario],
    outcomes: list[Outcome],
    agent: str,
    *,
    trials: int = 1,
    jobs: int = 1,
    wall_seconds: float | None = None,
    budget: Any = None,
    transcripts: str | None = None,
) -> dict[str, Any]:
    """The JSON report (report.schema.json)."""
    by_name: dict[str, list[Outcome]] = {s.name: [] for s in scenarios}
    for o in outcomes:
        by_name[o.name].append(o)
    entries = [scenario_entry(s, by_name[s.name]) for s in scenarios]
    return {
        "schema": REPORT_SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "server_version": __version__,
        "agent": agent,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "trials": trials,
        "jobs": jobs,
        "budget": {
            "max_tokens": getattr(budget, "max_tokens", None),
            "max_cost_usd": getattr(budget, "max_cost_usd", None),
            "stopped": getattr(budget, "stopped", None),
            "not_run": getattr(budget, "not_run", 0),
        },
        "transcripts": transcripts,
        "totals": totals(entries, wall_seconds),
        "scenarios": entries,
    }


# ------------------------------------------------------------------ text
def _grid(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def table(data: dict[str, Any]) -> str:
    """One row per scenario of a report: its result (PASS/FAIL, or c/n and pass^n over trials)."""
    many = data["trials"] > 1
    rows: list[tuple[str, ...]] = [COLUMNS]
    for e in data["scenarios"]:
        n, c = e["trials_run"], e["trials_passed"]
        if not n:
            result = "not run"
        elif many:
            result = f"{c}/{n} pass^{n}={e['pass_hat_k'][str(n)]:.2f}"
        else:
            result = "PASS" if e["passed"] else "FAIL"
        recovered = f"{e['recovered']}/{e['had_errors']}" if e["had_errors"] else "-"
        if not many and e["had_errors"]:
            recovered = "yes" if e["recovered"] else "no"
        rows.append(
            (
                e["name"],
                result,
                str(e["tool_calls"]),
                str(e["error_results"]),
                recovered,
                str(e["api_requests"]),
                str(e["writes"]),
                str(e["input_tokens"] + e["output_tokens"]),
                f"{e['seconds']:.1f}",
            )
        )
    return _grid(rows)


def summary(t: dict[str, Any], budget: dict[str, Any] | None = None) -> str:
    """The closing lines of a run: the totals in words, then the plain 'N passed, N failed' line."""
    pass_k = ", ".join(f"pass^{k} {v:.3f}" for k, v in t["pass_hat_k"].items()) if len(t["pass_hat_k"]) > 1 else ""
    tokens = t["input_tokens"] + t["output_tokens"]
    spent = (
        f"; {tokens} tokens ({t['input_tokens']} in, {t['output_tokens']} out) in {t['model_requests']} model requests"
        + (f", ${t['cost_usd']:.4f}" if t["cost_usd"] else "")
        if t["model_requests"]
        else ""
    )
    lines = [
        f"{t['passed']}/{t['scenarios']} scenarios passed"
        + (f" ({t['trials_passed']}/{t['trials_run']} trials; {pass_k})" if pass_k else "")
        + f"; {t['tool_calls']} tool calls, {t['error_results']} error results, recovered in {t['recovered']} of "
        f"{t['had_errors']} trials with errors; {t['api_requests']} API requests, {t['writes']} writes{spent}; "
        f"{t['seconds']:.1f}s of trials in {t['wall_seconds']:.1f}s"
    ]
    if budget and budget.get("stopped"):
        lines.append(f"STOPPED: {budget['stopped']}; {budget['not_run']} trial(s) not run")
    lines.append(f"{t['passed']} passed, {t['failed']} failed" + (f", {t['not_run']} not run" if t["not_run"] else ""))
    return "\n".join(lines)


# ------------------------------------------------------------------ schema, reading reports
def schema(name: str = "report") -> dict[str, Any]:
    """The JSON Schema shipped beside this module: `report` or `compare`."""
    text = (resources.files(__package__ or "nexudus_identity_mcp.evaluation") / f"{name}.schema.json").read_text(
        encoding="utf-8"
    )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def load_report(path: Path) -> dict[str, Any]:
    """A JSON report, checked against the schema's required shape (a one-line ReportError if not)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"{path}: cannot read the report ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != REPORT_SCHEMA:
        raise ReportError(f'{path}: not an eval report (its "schema" is not {REPORT_SCHEMA!r})')
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ReportError(f"{path}: report schema version {data.get('schema_version')!r}; this reads {SCHEMA_VERSION}")
    for key in ("agent", "server_version", "totals", "scenarios"):
        if key not in data:
            raise ReportError(f"{path}: the report has no {key!r}")
    return data


# ------------------------------------------------------------------ comparison
def _side(e: dict[str, Any] | None) -> dict[str, Any] | None:
    if e is None or not e["trials_run"]:
        return None
    n = e["trials_run"]
    return {
        "trials_run": n,
        "pass_rate": round(e["trials_passed"] / n, 6),
        "calls": round(e["tool_calls"] / n, 3),
        "tokens": round((e["input_tokens"] + e["output_tokens"]) / n, 1),
        "seconds": round(e["seconds"] / n, 2),
    }


def _delta(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    if a is None or b is None:
        return None
    return {k: round(b[k] - a[k], 6) for k in ("pass_rate", "calls", "tokens", "seconds")}


def compare(a: dict[str, Any], b: dict[str, Any], a_name: str = "A", b_name: str = "B") -> dict[str, Any]:
    """Two reports side by side per scenario, per trial averages (pass rate, calls, tokens, seconds)
    and B minus A (compare.schema.json)."""
    a_by = {e["name"]: e for e in a["scenarios"]}
    b_by = {e["name"]: e for e in b["scenarios"]}
    names = list(a_by) + [n for n in b_by if n not in a_by]
    rows = []
    for name in names:
        ea, eb = a_by.get(name), b_by.get(name)
        sa, sb = _side(ea), _side(eb)
        rows.append(
            {
                "name": name,
                "same_version": None if ea is None or eb is None else ea["version"] == eb["version"],
                "a": sa,
                "b": sb,
                "delta": _delta(sa, sb),
            }
        )

    def overall(r: dict[str, Any]) -> dict[str, Any] | None:
        t = r["totals"]
        n = t["trials_run"]
        if not n:
            return None
        return {
            "trials_run": n,
            "pass_rate": round(t["trials_passed"] / n, 6),
            "calls": round(t["tool_calls"] / n, 3),
            "tokens": round((t["input_tokens"] + t["output_tokens"]) / n, 1),
            "seconds": round(t["seconds"] / n, 2),
        }

    ta, tb = overall(a), overall(b)
    return {
        "schema": COMPARE_SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "a": {"file": a_name, "agent": a["agent"], "server_version": a["server_version"], "trials": a["trials"]},
        "b": {"file": b_name, "agent": b["agent"], "server_version": b["server_version"], "trials": b["trials"]},
        "scenarios": rows,
        "totals": {"a": ta, "b": tb, "delta": _delta(ta, tb)},
    }


def _num(value: float | None, fmt: str, signed: bool = False) -> str:
    if value is None:
        return "-"
    text = format(value, ("+" if signed else "") + fmt)
    return "0" if signed and float(value) == 0 else text


def compare_table(c: dict[str, Any]) -> str:
    """The comparison as text: per scenario pass rate, calls and tokens per trial for A and B, and the
    change; `*` marks a scenario whose file differs between the two runs."""
    head = ("scenario", "pass A", "pass B", "Δ pass", "calls A", "calls B", "Δ calls", "tok A", "tok B", "Δ tok")
    rows: list[tuple[str, ...]] = [head]

    def row(name: str, sa: Any, sb: Any, d: Any) -> tuple[str, ...]:
        def get(side: Any, key: str) -> Any:
            return None if side is None else side[key]

        return (
            name,
            _num(None if sa is None else 100 * sa["pass_rate"], ".0f") + ("%" if sa else ""),
            _num(None if sb is None else 100 * sb["pass_rate"], ".0f") + ("%" if sb else ""),
            _num(None if d is None else 100 * d["pass_rate"], ".0f", True),
            _num(get(sa, "calls"), ".1f"),
            _num(get(sb, "calls"), ".1f"),
            _num(get(d, "calls"), ".1f", True),
            _num(get(sa, "tokens"), ".0f"),
            _num(get(sb, "tokens"), ".0f"),
            _num(get(d, "tokens"), ".0f", True),
        )

    for s in c["scenarios"]:
        rows.append(row(s["name"] + ("*" if s["same_version"] is False else ""), s["a"], s["b"], s["delta"]))
    t = c["totals"]
    rows.append(row("TOTAL (per trial)", t["a"], t["b"], t["delta"]))
    lines = [
        f"A: {c['a']['file']} ({c['a']['agent']}, server {c['a']['server_version']}, {c['a']['trials']} trial(s))",
        f"B: {c['b']['file']} ({c['b']['agent']}, server {c['b']['server_version']}, {c['b']['trials']} trial(s))",
        "",
        _grid(rows),
    ]
    if any(s["same_version"] is False for s in c["scenarios"]):
        lines.append("* the scenario file differs between the two runs")
    return "\n".join(lines)


# ------------------------------------------------------------------ JUnit XML
def junit(data: dict[str, Any]) -> str:
    """JUnit XML: one testcase per scenario, failed unless every trial passed, skipped when the budget
    stopped the run before it; the pass^k figures and transcript files in its system-out."""
    t = data["totals"]
    suites = ET.Element(
        "testsuites",
        name="nexudus-identity-mcp eval",
        tests=str(t["scenarios"]),
        failures=str(t["failed"]),
        errors="0",
        time=f"{t['wall_seconds']:.3f}",
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"eval[{data['agent']}]",
        tests=str(t["scenarios"]),
        failures=str(t["failed"]),
        errors="0",
        skipped=str(t["not_run"]),
        time=f"{t['wall_seconds']:.3f}",
        timestamp=data["created"],
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("agent", data["agent"]),
        ("server_version", data["server_version"]),
        ("trials", data["trials"]),
        *((f"pass^{k}", v) for k, v in t["pass_hat_k"].items()),
    ):
        ET.SubElement(properties, "property", name=str(name), value=str(value))
    for e in data["scenarios"]:
        case = ET.SubElement(suite, "testcase", classname="evals", name=e["name"], time=f"{e['seconds']:.3f}")
        n, c = e["trials_run"], e["trials_passed"]
        if not n:
            ET.SubElement(case, "skipped", message=str(data["budget"]["stopped"] or "not run"))
            continue
        if c < n:
            failure = ET.SubElement(case, "failure", type="scenario_failed", message=f"{c}/{n} trials passed")
            failure.text = "\n".join(
                f"trial {o['trial']}: {f}" for o in e["trials"] if not o["passed"] for f in o["failures"]
            )
        out = [f"{c}/{n} trials passed; " + ", ".join(f"pass^{k}={v}" for k, v in e["pass_hat_k"].items())]
        out += [f"transcript: {o['transcript']}" for o in e["trials"] if o["transcript"]]
        ET.SubElement(case, "system-out").text = "\n".join(out)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
