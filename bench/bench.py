"""Benchmark: the server against its floor, side by side in one run.

    python bench/bench.py [--quick]

Prints one table of medians and ratios; each figure is measured in the same run as its floor:
1. cold start over stdio (spawn -> initialize -> tools/list): ours vs a bare MCPServer (budget 1.15x)
2. update latency over stdio against the sandbox on loopback HTTP: our update (read, merge, write) vs
   a bare MCPServer tool doing the same GET, PUT and read-back GET with httpx2 (budget 1.25x at the median)
3. upstream efficiency over 100 sequential updates: GETs, PUTs, token requests, TCP connections
4. HTTP mode: p50/p99 of a read at 1, 4 and 16 concurrent clients, ours (one worker) against a bare
   SDK HTTP server making the same GET (bench/floor_server.py http), in the same run; then calls per
   second with 16 clients and two workers
5. peak memory (RSS) of the server after 1,000 calls, and growth from the 500th to the 1,000th
6. the cost of metrics on a call: an HTTP read (4 clients, one worker) with NEXUDUS_MCP_METRICS=on
   against the same server with metrics off, alternated in the same run (`--metrics-only` for just this)
0. first, what a model reads of the tool list: the JSON of name + description + inputSchema of the
   three original tools (budget 7,600 bytes, issue #13), and any newer tool listed on its own row;
   the instructions, and every tool with them (budget TOTAL_VISIBLE_BUDGET, issue #27)
   (`--tools-only` prints just this)
Exit status 1 when a budget is missed. Needs the test extra installed (pip install -e '.[test]').
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' helpers, as state_bench

from tests.model_visible import MODEL_VISIBLE_BUDGET, TOTAL_VISIBLE_BUDGET, model_visible_bytes

from nexudus_identity_mcp.mcpserver.app import INSTRUCTIONS
from nexudus_identity_mcp.sandbox import ADMIN_PASSWORD, ADMIN_USER, SANDBOX_TOKEN
from nexudus_identity_mcp.sandbox.loopback import free_port
from nexudus_identity_mcp.tools.catalog import FIND_TOOL, GET_TOOL, UPDATE_TOOL, tool_definitions

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CHECK = 87654301
ROUNDS = 3
INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
}


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx2.get(url, timeout=1)
            return
        except httpx2.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


@contextmanager
def process(args: list[str], env: dict[str, str], health: str | None = None) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
    )
    try:
        if health:
            wait_http(health)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def base_env(sandbox_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUDUS_")}
    env.update(
        NEXUDUS_BASE_URL=sandbox_url,
        NEXUDUS_TOKEN=SANDBOX_TOKEN,
        NEXUDUS_MCP_LOG_LEVEL="WARNING",
        NEXUDUS_MCP_SECRET="bench",
    )
    env.update(extra)
    return env


OURS = [PY, "-m", "nexudus_identity_mcp", "serve"]
FLOOR = [PY, str(ROOT / "bench" / "floor_server.py")]


# ------------------------------------------------------------------ 1. cold start
def cold_start_once(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT
    )
    assert proc.stdin
    assert proc.stdout
    lines = [
        INIT,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
    ]
    proc.stdin.write(b"".join(json.dumps(m).encode() + b"\n" for m in lines))
    proc.stdin.flush()
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{command} exited before answering tools/list")
        if json.loads(line).get("id") == 1:
            break
    elapsed = time.perf_counter() - started
    proc.stdin.close()
    proc.wait(timeout=10)
    return elapsed


def bench_cold_start(env: dict[str, str], runs: int) -> tuple[float, float]:
    ours, floor = [], []
    cold_start_once(OURS, env), cold_start_once(FLOOR, env)  # warm the file cache
    for _ in range(runs):
        ours.append(cold_start_once(OURS, env))
        floor.append(cold_start_once(FLOOR, env))
    return statistics.median(ours), statistics.median(floor)


# ------------------------------------------------------------------ 2 and 5. stdio calls
async def stdio_calls(
    command: list[str],
    env: dict[str, str],
    tool: str,
    make_args: Any,
    calls: int,
    warmup: int,
    rss_at: tuple[int, ...] = (),
) -> tuple[list[float], dict[int, int], int]:
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=str(ROOT))
    latencies: list[float] = []
    rss: dict[int, int] = {}
    peak = 0
    with open(os.devnull, "w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            pid = server_pid(command)
            for n in range(warmup + calls):
                started = time.perf_counter()
                result = await client.call_tool(tool, make_args(n))
                elapsed = time.perf_counter() - started
                if result.is_error:
                    raise RuntimeError(f"{tool} failed: {result.structured_content}")
                if n >= warmup:
                    latencies.append(elapsed)
                if n + 1 - warmup in rss_at and pid:
                    rss[n + 1 - warmup] = read_status(pid, "VmRSS")
            if pid:
                peak = read_status(pid, "VmHWM")
    return latencies, rss, peak


def server_pid(command: list[str]) -> int | None:
    """The newest process running this command line (the server the client just spawned)."""
    wanted = "\0".join(command[1:]).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if wanted in cmdline:
                found.append(int(entry.name))
    return max(found) if found else None


def read_status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


REQUIRED = {
    "Id": CHECK,
    "BusinessId": 1001,
    "CoworkerId": 2001,
    "Name": "Passport check",
    "IdentityCheckProvider": "Manual",
    "IdentityDocumentType": "Passport",
    "AddressDocumentType": "None",
}


def our_update(n: int) -> dict[str, Any]:
    return {**REQUIRED, "Description": f"bench {n}"}


def floor_update(n: int) -> dict[str, Any]:
    return {"Id": CHECK, "Description": f"bench {n}"}


# ------------------------------------------------------------------ 3. upstream efficiency
def sandbox_requests(sandbox_url: str) -> list[dict[str, Any]]:
    return httpx2.get(f"{sandbox_url}/_sandbox/requests").json()


# ------------------------------------------------------------------ 4. HTTP mode
async def http_load(url: str, clients: int, calls_each: int, tool: str = GET_TOOL) -> tuple[float, float, float]:
    payload = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": {"Id": CHECK}},
    }
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
        "Authorization": "Bearer bench-client-token-0123456789",
    }
    latencies: list[float] = []

    async def one_client() -> None:
        async with httpx2.AsyncClient(timeout=30) as http:
            for _ in range(calls_each):
                started = time.perf_counter()
                response = await http.post(url, json=payload, headers=headers)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200 or "Record" not in response.text:
                    raise RuntimeError(f"HTTP call failed: {response.status_code} {response.text[:200]}")

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(clients):
            tg.start_soon(one_client)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return len(latencies) / elapsed, statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]


# ------------------------------------------------------------------ main
def tool_list_rows(rows: list[tuple[str, str, str, str, str]], failures: list[str]) -> None:
    """What a model reads of the tools: the three original ones against their budget, newer ones apart."""
    original = (FIND_TOOL, GET_TOOL, UPDATE_TOOL)
    sizes = {t.name: model_visible_bytes(t) for t in tool_definitions()}
    three = sum(sizes[name] for name in original)
    detail = " + ".join(str(sizes[name]) for name in original)
    rows.append(
        ("tool list a model reads: find + get + update", f"{three:,} B", detail, "", f"<= {MODEL_VISIBLE_BUDGET:,} B")
    )
    if three > MODEL_VISIBLE_BUDGET:
        failures.append(f"tool list {three:,} B > {MODEL_VISIBLE_BUDGET:,} B")
    for name, size in sizes.items():
        if name not in original:
            rows.append((f"tool list a model reads: {name}", f"{size:,} B", "", "", "report"))
    instructions = len(INSTRUCTIONS.encode())
    rows.append(("server instructions a model reads", f"{instructions:,} B", "", "", "report"))
    total = sum(sizes.values()) + instructions
    rows.append(
        (
            "every tool + instructions",
            f"{total:,} B",
            f"{len(sizes)} tools",
            "",
            f"<= {TOTAL_VISIBLE_BUDGET:,} B",
        )
    )
    if total > TOTAL_VISIBLE_BUDGET:
        failures.append(f"tools + instructions {total:,} B > {TOTAL_VISIBLE_BUDGET:,} B")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run, noisier)")
    parser.add_argument("--tools-only", action="store_true", help="print only the tool-list size (figure 0)")
    parser.add_argument("--metrics-only", action="store_true", help="print only the cost of metrics (figure 6)")
    args = parser.parse_args()
    runs, calls, mem_calls, http_each = (5, 50, 200, 10) if args.quick else (15, 300, 1000, 40)

    sandbox_port = free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    rows: list[tuple[str, str, str, str, str]] = []
    failures: list[str] = []
    tool_list_rows(rows, failures)
    if args.tools_only:
        return print_rows(rows, failures, "tools only")
    env = base_env(sandbox_url)
    sandbox_cmd = [PY, "-m", "nexudus_identity_mcp", "sandbox", "--port", str(sandbox_port), "--write-limit", "0"]
    with process(sandbox_cmd, env, health=f"{sandbox_url}/healthz"):
        if args.metrics_only:
            bench_metrics(sandbox_url, http_each, rows)
            return print_rows(rows, failures, "metrics only")
        print("1/5 cold start ...", file=sys.stderr)
        ours, floor = bench_cold_start(env, runs)
        ratio = ours / floor
        rows.append(
            (
                "cold start, stdio (median)",
                f"{ours * 1000:.0f} ms",
                f"{floor * 1000:.0f} ms",
                f"{ratio:.2f}x",
                "<= 1.15x",
            )
        )
        if ratio > 1.15:
            failures.append(f"cold start {ratio:.2f}x > 1.15x")

        print("2/5 update latency ...", file=sys.stderr)
        ours_lat: list[float] = []
        floor_lat: list[float] = []
        for _ in range(ROUNDS):  # alternate, so drift on a shared machine falls on both sides
            ours_lat += anyio.run(stdio_calls, OURS, env, UPDATE_TOOL, our_update, calls // ROUNDS, 20)[0]
            floor_lat += anyio.run(stdio_calls, FLOOR, env, "update_floor", floor_update, calls // ROUNDS, 20)[0]
        ours_med, floor_med = statistics.median(ours_lat), statistics.median(floor_lat)
        ratio = ours_med / floor_med
        rows.append(
            (
                "update call, stdio (median)",
                f"{ours_med * 1000:.2f} ms",
                f"{floor_med * 1000:.2f} ms",
                f"{ratio:.2f}x",
                "<= 1.25x",
            )
        )
        if ratio > 1.25:
            failures.append(f"update latency {ratio:.2f}x > 1.25x")

        print("3/5 upstream efficiency ...", file=sys.stderr)
        httpx2.post(f"{sandbox_url}/_sandbox/reset")
        password_env = base_env(
            sandbox_url, NEXUDUS_TOKEN="", NEXUDUS_USERNAME=ADMIN_USER, NEXUDUS_PASSWORD=ADMIN_PASSWORD
        )
        anyio.run(stdio_calls, OURS, password_env, UPDATE_TOOL, our_update, 100, 0)
        log = sandbox_requests(sandbox_url)
        gets = sum(1 for r in log if r["route"] == "get")
        puts = sum(1 for r in log if r["route"] == "update")
        tokens = sum(1 for r in log if r["route"] == "token")
        connections = len({r["peer"] for r in log})
        rows.append(
            (
                "100 updates: GET / PUT / token / TCP conns",
                f"{gets} / {puts} / {tokens} / {connections}",
                "200 / 100 / 1 / 1",
                "",
                "exact",
            )
        )
        if (gets, puts, tokens, connections) != (200, 100, 1, 1):
            failures.append(f"upstream efficiency {gets}/{puts}/{tokens}/{connections} != 200/100/1/1")

        print("4/5 HTTP mode ...", file=sys.stderr)
        http_env = base_env(sandbox_url, NEXUDUS_MCP_CLIENT_TOKENS="bench=bench-client-token-0123456789")

        ours_port, floor_port = free_port(), free_port()
        floor_cmd = [PY, str(ROOT / "bench" / "floor_server.py"), "http", str(floor_port)]
        with (
            process(ours_http(1, ours_port), http_env, health=f"http://127.0.0.1:{ours_port}/healthz"),
            process(floor_cmd, http_env, health=f"http://127.0.0.1:{floor_port}/healthz"),
        ):
            ours_url, floor_url = f"http://127.0.0.1:{ours_port}/mcp", f"http://127.0.0.1:{floor_port}/mcp"
            anyio.run(http_load, ours_url, 4, 5)  # warm up both
            anyio.run(http_load, floor_url, 4, 5, "get_floor")
            for clients in (1, 4, 16):
                calls_each = max(http_each // clients, 10) if clients > 1 else http_each
                ours_runs, floor_runs = [], []
                for _ in range(ROUNDS):  # alternated, so drift on a shared machine hits both alike
                    ours_runs.append(anyio.run(http_load, ours_url, clients, calls_each))
                    floor_runs.append(anyio.run(http_load, floor_url, clients, calls_each, "get_floor"))
                o50 = statistics.median(r[1] for r in ours_runs)
                o99 = statistics.median(r[2] for r in ours_runs)
                f50 = statistics.median(r[1] for r in floor_runs)
                f99 = statistics.median(r[2] for r in floor_runs)
                rows.append(
                    (
                        f"HTTP read, {clients} client(s), 1 worker: p50 / p99",
                        f"{o50 * 1000:.1f} / {o99 * 1000:.1f} ms",
                        f"{f50 * 1000:.1f} / {f99 * 1000:.1f} ms",
                        f"{o50 / f50:.2f}x / {o99 / f99:.2f}x",
                        "report",
                    )
                )
        port = free_port()
        with process(ours_http(2, port), http_env, health=f"http://127.0.0.1:{port}/healthz"):
            anyio.run(http_load, f"http://127.0.0.1:{port}/mcp", 4, 5)  # warm up every worker
            rate, p50, p99 = anyio.run(http_load, f"http://127.0.0.1:{port}/mcp", 16, http_each)
        rows.append(
            (
                "HTTP, 16 clients, 2 worker(s): get calls",
                f"{rate:.0f} calls/s",
                f"p50 {p50 * 1000:.1f} ms",
                f"p99 {p99 * 1000:.1f} ms",
                "report",
            )
        )

        print("5/5 memory ...", file=sys.stderr)
        half = mem_calls // 2
        _, rss, peak = anyio.run(stdio_calls, OURS, env, UPDATE_TOOL, our_update, mem_calls, 0, (half, mem_calls))
        growth = rss.get(mem_calls, 0) - rss.get(half, 0)
        rows.append(
            (
                f"server RSS after {mem_calls} calls (peak)",
                f"{rss.get(mem_calls, 0) / 2**20:.1f} MB",
                f"{peak / 2**20:.1f} MB",
                f"{growth / 2**20:+.2f} MB since call {half}",
                "< 100 MB, ~0",
            )
        )
        if peak >= 100 * 2**20:
            failures.append(f"peak RSS {peak / 2**20:.1f} MB >= 100 MB")
        if growth > 2 * 2**20:
            failures.append(f"RSS grew {growth / 2**20:.1f} MB between call {half} and {mem_calls}")

        bench_metrics(sandbox_url, http_each, rows)

    return print_rows(rows, failures, "quick" if args.quick else "full")


def ours_http(workers: int, port: int) -> list[str]:
    return [
        PY,
        "-m",
        "uvicorn",
        "nexudus_identity_mcp.mcpserver.http_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def bench_metrics(sandbox_url: str, http_each: int, rows: list[tuple[str, str, str, str, str]]) -> None:
    """Figure 6: the same read over HTTP with metrics on and off, one worker each, alternated."""
    print("6/6 the cost of metrics ...", file=sys.stderr)
    token = {"NEXUDUS_MCP_CLIENT_TOKENS": "bench=bench-client-token-0123456789"}
    on_env = base_env(sandbox_url, NEXUDUS_MCP_METRICS="on", **token)
    off_env = base_env(sandbox_url, NEXUDUS_MCP_METRICS="off", **token)
    on_port, off_port = free_port(), free_port()
    with (
        process(ours_http(1, on_port), on_env, health=f"http://127.0.0.1:{on_port}/healthz"),
        process(ours_http(1, off_port), off_env, health=f"http://127.0.0.1:{off_port}/healthz"),
    ):
        on_url, off_url = f"http://127.0.0.1:{on_port}/mcp", f"http://127.0.0.1:{off_port}/mcp"
        anyio.run(http_load, on_url, 4, 5)  # warm up both
        anyio.run(http_load, off_url, 4, 5)
        on_runs, off_runs = [], []
        for _ in range(ROUNDS * 2):  # alternated, so drift on a shared machine hits both alike
            on_runs.append(anyio.run(http_load, on_url, 4, max(http_each // 2, 10)))
            off_runs.append(anyio.run(http_load, off_url, 4, max(http_each // 2, 10)))
        scraped = httpx2.get(
            f"http://127.0.0.1:{on_port}/metrics", headers={"Authorization": "Bearer bench-client-token-0123456789"}
        )
        if "nexudus_mcp_tool_calls_total" not in scraped.text:
            raise RuntimeError("the metrics-on server did not count its calls")
    on50 = statistics.median(r[1] for r in on_runs)
    off50 = statistics.median(r[1] for r in off_runs)
    recording = metrics_per_call()
    on99 = statistics.median(r[2] for r in on_runs)
    off99 = statistics.median(r[2] for r in off_runs)
    rows.append(
        (
            "HTTP read, 4 clients, metrics on vs off: p50 / p99",
            f"{on50 * 1000:.2f} / {on99 * 1000:.1f} ms",
            f"{off50 * 1000:.2f} / {off99 * 1000:.1f} ms",
            f"{on50 / off50:.3f}x / {on99 / off99:.2f}x",
            "report",
        )
    )
    rows.append(
        (
            "metrics recorded per read call (in process)",
            f"{recording * 1e6:.1f} us",
            f"{off50 * 1000:.2f} ms call",
            f"{recording / off50 * 100:.3f}% of the call",
            "report",
        )
    )


def metrics_per_call(rounds: int = 20_000) -> float:
    """Seconds the metrics of one read call cost, recorded on: one tool call and one API request
    (what a get records), the median of five runs of `rounds`; the same calls with metrics off are
    subtracted (their cost is one attribute test)."""
    from nexudus_identity_mcp.telemetry.metrics import METRICS

    def run(enabled: bool) -> float:
        METRICS.enabled = enabled
        started = time.perf_counter()
        for _ in range(rounds):
            METRICS.tool_call(GET_TOOL, "ok", 0.01)
            METRICS.upstream_request("get", 200, 0.005)
        return (time.perf_counter() - started) / rounds

    on = statistics.median(run(True) for _ in range(5))
    off = statistics.median(run(False) for _ in range(5))
    METRICS.enabled = False
    return on - off


def print_rows(rows: list[tuple[str, str, str, str, str]], failures: list[str], kind: str) -> int:
    widths = [max(len(r[i]) for r in [*rows, ("figure", "ours", "floor", "ratio", "budget")]) for i in range(5)]
    header = ("figure", "ours", "floor", "ratio", "budget")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)))
    print(f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; {kind} run")
    if failures:
        print("BUDGET MISSED: " + "; ".join(failures))
        return 1
    print("all budgets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
