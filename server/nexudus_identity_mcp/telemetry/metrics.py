"""Prometheus metrics (`NEXUDUS_MCP_METRICS`): what an operator watches from outside.

Every label takes its values from a bounded set the server defines: a tool's name (the catalog), an
outcome (an ErrorKind, or `ok`), an API operation (record/operations.py), an HTTP status class and
code, a budget kind (reads, writes), a sign-in refusal reason. Never a check Id, a member, a staff
member's name or email, a client's name, a path or a query: the series count stays fixed however
the server is used, and a scrape shows no personal data.

Off (the default) every `observe_*`/`count_*` call returns at once. On, the numbers live in this
process's registry, or, with several worker processes, in `PROMETHEUS_MULTIPROC_DIR` (prometheus-
client's multiprocess mode: every worker writes its own files there, and any worker's /metrics
answers for all of them; the directory must be empty when the first worker starts).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from ..settings import MetricsSetting

log = logging.getLogger("nexudus_identity_mcp.telemetry")
PREFIX = "nexudus_mcp"
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# Seconds: a tool call spans a few API calls (and may wait for a lock or the budget); an API call
# answers in tens to hundreds of milliseconds.
CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
UPSTREAM_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0)
WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Why a sign-in was refused: the sign-in page's own refusals and the Nexudus answers it tells apart.
SIGNIN_REFUSALS = frozenset(
    {
        "wrong_credentials",
        "wrong_code",
        "needs_code",
        "unrecognised",
        "api_access",
        "throttled",
        "unavailable",
        "address_slowed",
        "account_locked",
        "expired",
        "forged_form",
    }
)


class Metrics:
    """The server's metrics, in one registry (or the multiprocess directory's)."""

    def __init__(self) -> None:
        self.enabled = False
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.tool_calls = Counter(
            f"{PREFIX}_tool_calls",
            "Tool calls by tool and outcome (an ErrorKind, or ok)",
            ["tool", "outcome"],
            registry=r,
        )
        self.tool_seconds = Histogram(
            f"{PREFIX}_tool_call_seconds", "Tool call duration", ["tool"], buckets=CALL_BUCKETS, registry=r
        )
        self.upstream = Counter(
            f"{PREFIX}_upstream_requests",
            "Requests to the Nexudus API by operation and HTTP status (no_answer: none came)",
            ["route", "status"],
            registry=r,
        )
        self.upstream_seconds = Histogram(
            f"{PREFIX}_upstream_request_seconds",
            "Nexudus API request latency by operation",
            ["route"],
            buckets=UPSTREAM_BUCKETS,
            registry=r,
        )
        self.throttle_waits = Histogram(
            f"{PREFIX}_throttle_wait_seconds",
            "Waits before a retry after Nexudus throttled (409/429) or failed transiently, by reason",
            ["reason"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.budget_waits = Histogram(
            f"{PREFIX}_budget_wait_seconds",
            "Waits for this server's shared request budget, by kind (reads, writes)",
            ["kind"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.budget_refusals = Counter(
            f"{PREFIX}_budget_refusals",
            "Calls answered rate_limited by the request budget before anything was sent",
            ["kind"],
            registry=r,
        )
        self.budget_tokens = Gauge(
            f"{PREFIX}_budget_left",
            "Requests left in the shared budget's bucket after this process's latest draw, by kind (writes,"
            " requests) and window (the configured rate, e.g. 60/60s)",
            ["kind", "window"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.lock_waits = Histogram(
            f"{PREFIX}_check_lock_wait_seconds",
            "Time to take a check's lock (updates and commands), by result (acquired, busy)",
            ["result"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.conflicts = Counter(
            f"{PREFIX}_readback_conflicts", "Writes whose read-back found another writer's values", registry=r
        )
        self.signins = Counter(f"{PREFIX}_signins", "Staff sign-ins completed (sign-in mode)", registry=r)
        self.signin_refusals = Counter(
            f"{PREFIX}_signin_refusals", "Sign-in attempts refused, by reason", ["reason"], registry=r
        )

    # --------------------------------------------------------------- what the server reports
    def tool_call(self, tool: str, outcome: str, seconds: float) -> None:
        if self.enabled:
            self.tool_calls.labels(tool, outcome).inc()
            self.tool_seconds.labels(tool).observe(seconds)

    def upstream_request(self, route: str, status: int | None, seconds: float) -> None:
        if self.enabled:
            self.upstream.labels(route, str(status) if status else "no_answer").inc()
            self.upstream_seconds.labels(route).observe(seconds)

    def throttle_wait(self, reason: str, seconds: float) -> None:
        if self.enabled:
            self.throttle_waits.labels(reason).observe(seconds)

    def budget_wait(self, kind: str, seconds: float) -> None:
        if self.enabled:
            self.budget_waits.labels(kind).observe(seconds)

    def budget_refused(self, kind: str) -> None:
        if self.enabled:
            self.budget_refusals.labels(kind).inc()

    def budget_left(self, kind: str, window: str, left: float) -> None:
        if self.enabled:
            self.budget_tokens.labels(kind, window).set(left)

    def lock_wait(self, result: str, seconds: float) -> None:
        if self.enabled:
            self.lock_waits.labels(result).observe(seconds)

    def conflict(self) -> None:
        if self.enabled:
            self.conflicts.inc()

    def signin(self) -> None:
        if self.enabled:
            self.signins.inc()

    def signin_refused(self, reason: str) -> None:
        if self.enabled:
            self.signin_refusals.labels(reason if reason in SIGNIN_REFUSALS else "other").inc()

    # --------------------------------------------------------------- exposition
    def exposition(self) -> bytes:
        """The text format: this process's registry, or every worker's with PROMETHEUS_MULTIPROC_DIR."""
        return generate_latest(_served_registry())


def _served_registry() -> CollectorRegistry:
    """This process's registry, or one that merges every worker's files (PROMETHEUS_MULTIPROC_DIR)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return METRICS.registry
    from prometheus_client import multiprocess

    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]  # the module has no annotations
    return merged


METRICS = Metrics()
_port_lock = threading.Lock()
_port_server: Any = None


def configure_metrics(setting: MetricsSetting) -> None:
    """Counting on or off for this process; with a port of its own, serve it (once per process: a
    second worker finds it taken and leaves it to the first, which answers for all of them in
    multiprocess mode)."""
    global _port_server
    METRICS.enabled = setting.mode != "off"
    if setting.mode != "port":
        return
    with _port_lock:
        if _port_server is not None:
            return
        from wsgiref.simple_server import WSGIServer

        from prometheus_client import start_http_server

        try:
            _port_server, _thread = start_http_server(setting.port, setting.host, registry=_PortRegistry())
        except OSError as exc:
            log.info("metrics: %s:%d is taken (%s); another worker serves it", setting.host, setting.port, exc.strerror)
            return
        assert isinstance(_port_server, WSGIServer)
        log.info("metrics on http://%s:%d/metrics", setting.host, setting.port)


def stop_metrics_port() -> None:
    """Close the metrics port (tests; a process otherwise keeps it until it exits)."""
    global _port_server
    with _port_lock:
        if _port_server is not None:
            _port_server.shutdown()
            _port_server.server_close()
            _port_server = None


class _PortRegistry(CollectorRegistry):
    """What the metrics port serves: the same exposition as /metrics (multiprocess mode included)."""

    def collect(self) -> Any:
        return _served_registry().collect()
