"""What an operator watches from outside: Prometheus metrics (metrics), OpenTelemetry spans
(traces), and log lines as JSON (jsonlog). Imports only `record` and `settings` of this package; the
MCP face, the tools, the API client and the sign-in report into it."""

from __future__ import annotations

from .metrics import METRICS, configure_metrics

__all__ = ["METRICS", "configure_metrics"]
