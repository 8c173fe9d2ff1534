"""OpenTelemetry spans for each tool call and each request to the Nexudus API.

The spans go through the OpenTelemetry API (which the MCP SDK already depends on): without an SDK
configured they cost nothing (no span is made until a provider is set). `configure_tracing()` sets
one up when the `otel` extra is installed (`pip install 'nexudus-identity-mcp[otel]'`) and the
standard variables ask for it (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
or `OTEL_TRACES_EXPORTER` = otlp/console; `OTEL_SDK_DISABLED=true` wins): an OTLP/HTTP exporter that
reads its own `OTEL_EXPORTER_OTLP_*` settings, and a resource from
`OTEL_SERVICE_NAME`/`OTEL_RESOURCE_ATTRIBUTES`.
A process that already has an SDK provider (a host embedding the server, a test) keeps its own.

The MCP SDK opens a server span per request (`tools/call <tool>`), parented on the trace context a
client sends in the request's `_meta` (`traceparent`); the tool span opens inside it, so a client's
trace runs through the tool call to each API request. Attributes are bounded and carry no personal
data: the tool, the outcome (an ErrorKind or ok), the API operation, method and HTTP status; never
a check Id, a path, a query, a name or a value.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode

log = logging.getLogger("nexudus_identity_mcp.telemetry")
TRACER_NAME = "nexudus_identity_mcp"
_tracer = trace.get_tracer(TRACER_NAME)
_WANTED = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER")


def tracing_requested() -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return any(os.environ.get(name, "").strip() for name in _WANTED)


def configure_tracing() -> bool:
    """Install an SDK tracer provider with an exporter from the OTEL_* variables, when they ask for
    one and no SDK provider is in place yet. True when spans are now exported."""
    if not tracing_requested():
        return False
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
    except ImportError:
        log.warning("OTEL_* variables ask for traces, but the otel extra is not installed: pip install '.[otel]'")
        return False
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return True  # someone configured the SDK already: theirs stands
    exporter: SpanExporter
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "console":
        exporter = ConsoleSpanExporter(out=sys.stderr)  # stdout is the protocol over stdio
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning("OTEL_* variables ask for OTLP traces, but the OTLP exporter is missing: pip install '.[otel]'")
            return False
        exporter = OTLPSpanExporter()  # reads OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout) itself
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or "nexudus-identity-mcp"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    log.info("traces exported (%s)", type(exporter).__name__)
    return True


def _exported() -> bool:
    """Whether any tracer provider is in place (ours, a host's, a test's): until one is, the API's
    proxy provider hands out no-op spans, and making one per request still costs context switching."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


@contextmanager
def _span(name: str, kind: SpanKind, attributes: dict[str, str]) -> Iterator[Span]:
    """A current span of ours (exceptions are the callers' to record as outcomes), or none at all
    until a provider is set."""
    if not _exported():
        yield trace.INVALID_SPAN
        return
    with _tracer.start_as_current_span(
        name, kind=kind, attributes=attributes, record_exception=False, set_status_on_exception=False
    ) as span:
        yield span


def tool_span(tool: str) -> AbstractContextManager[Span]:
    """A tool call's span, a child of the SDK's `tools/call` span (and so of the client's trace)."""
    return _span(f"tool {tool}", SpanKind.INTERNAL, {"gen_ai.tool.name": tool})


def end_tool_span(span: Span, outcome: str) -> None:
    span.set_attribute("nexudus_mcp.outcome", outcome)
    if outcome != "ok":
        span.set_status(StatusCode.ERROR)


def upstream_span(operation: str, method: str) -> AbstractContextManager[Span]:
    """One request to the Nexudus API (one attempt: a retry is a span of its own)."""
    return _span(
        f"nexudus {operation}", SpanKind.CLIENT, {"nexudus.operation": operation, "http.request.method": method}
    )


def end_upstream_span(span: Span, status: int | None, error_kind: str | None) -> None:
    if status:
        span.set_attribute("http.response.status_code", status)
    if error_kind is not None:
        span.set_attribute("error.type", error_kind)
        span.set_status(StatusCode.ERROR)
