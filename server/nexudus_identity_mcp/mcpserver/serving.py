"""How the commands run a server until it is told to stop: over stdio until end of input or a signal,
and over HTTP under uvicorn, bound first, bounded against slow clients, stopped cleanly by a signal.

- Stdio: the SDK reads stdin in a worker thread, which a signal cannot interrupt, so Ctrl-C did not
  stop `serve` in a terminal. Here stdin is read from the event loop (wait until readable, then
  read what is there), so SIGINT and SIGTERM cancel the session at once.
- HTTP: the socket is bound before anything is printed, so a busy port is one line naming it, and
  the "listening" banner appears only once uvicorn accepts connections. uvicorn bounds concurrency,
  keep-alive and header size, but has no deadline for reading a request: `RequestDeadline` protocols
  close a connection whose headers (or body) do not arrive in time.
Signals end these functions normally; they return the signal that stopped them (or None), and
cli.py turns that into the exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import selectors
import signal
import socket
import stat
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import anyio

# Limits of `serve --http` and `sandbox` (a reverse proxy in front should enforce its own as well:
# docs/deployment.md).
LIMIT_CONCURRENCY = 200  # connections + in-flight requests; beyond it uvicorn answers 503
TIMEOUT_KEEP_ALIVE = 5  # seconds an idle keep-alive connection stays open
MAX_HEADER_BYTES = 16_384  # h11's largest incomplete event: the request line and headers
HEADER_TIMEOUT = 10.0  # seconds from connect (or the previous response) to the end of the headers
BODY_TIMEOUT = 30.0  # seconds from the end of the headers to the end of the body
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class PortInUse(OSError):
    """The address cannot be bound; the message is one line naming it."""


# ----------------------------------------------------------------------------- stdio
class _StdinLines:
    """Lines of fd 0 read on the event loop (no worker thread), so cancelling the wait is immediate.
    Stands in for the anyio AsyncFile the SDK's stdio_server would otherwise make."""

    def __init__(self, fd: int = 0) -> None:
        self.fd = fd
        self.buffer = b""
        self.eof = False
        self.pollable = True

    def __aiter__(self) -> _StdinLines:
        return self

    async def __anext__(self) -> str:
        while b"\n" not in self.buffer and not self.eof:
            if self.pollable:
                try:
                    await anyio.wait_readable(self.fd)
                except OSError:  # not something the event loop can wait on after all: read in a thread
                    self.pollable = False
            if self.pollable:
                chunk = os.read(self.fd, 65_536)
            else:
                chunk = await anyio.to_thread.run_sync(os.read, self.fd, 65_536)
            self.eof = not chunk
            self.buffer += chunk
        if not self.buffer:
            raise StopAsyncIteration
        line, sep, self.buffer = self.buffer.partition(b"\n")
        return (line + sep).decode("utf-8", errors="replace")


def _stdin_can_be_polled() -> bool:
    """A pipe, socket or terminal can be waited on by the event loop; a regular file, /dev/null (which
    epoll refuses) or Windows' console cannot: for those the SDK's threaded reader is kept."""
    if sys.platform == "win32":
        return False
    try:
        if stat.S_ISREG(os.fstat(0).st_mode):
            return False
        with selectors.DefaultSelector() as selector:
            selector.register(0, selectors.EVENT_READ)
    except (OSError, ValueError):
        return False
    return True


def run_stdio(server: Any) -> int | None:
    """Serve the MCP `server` over stdio until stdin ends (None) or SIGINT/SIGTERM (that signal)."""
    stopped: list[int] = []

    async def serve() -> None:
        from mcp.server.stdio import stdio_server

        stdin: Any = _StdinLines() if _stdin_can_be_polled() else None
        async with anyio.create_task_group() as group:

            async def watch_signals() -> None:
                with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
                    async for signum in signals:
                        stopped.append(signum)
                        group.cancel_scope.cancel()
                        return

            group.start_soon(watch_signals)
            async with stdio_server(stdin=stdin) as (read_stream, write_stream):
                await server.run(read_stream, write_stream, server.create_initialization_options())
            group.cancel_scope.cancel()

    try:
        anyio.run(serve)
    except KeyboardInterrupt:  # a SIGINT before the signal receiver was in place
        return signal.SIGINT
    return stopped[0] if stopped else None


# ----------------------------------------------------------------------------- HTTP
def bind(host: str, port: int) -> socket.socket:
    """A bound TCP socket (uvicorn listens on it), or PortInUse naming the address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket's proto says TCP; with proto 0 every answer waited ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT only; a listener still conflicts
        sock.bind((host.strip("[]"), port))
    except OverflowError:
        sock.close()
        raise PortInUse(f"port {port} on {host} cannot be bound (a TCP port is 0 to 65535)") from None
    except OSError as exc:
        sock.close()
        reason = "is already in use" if exc.errno == 98 or "in use" in str(exc) else f"cannot be bound ({exc.strerror})"
        raise PortInUse(f"port {port} on {host} {reason}") from None
    sock.set_inheritable(True)
    return sock


def deadline_protocol(
    base: type[asyncio.Protocol] | None = None,
    header_timeout: float = HEADER_TIMEOUT,
    body_timeout: float = BODY_TIMEOUT,
    name: str | None = None,
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools when installed, else h11) with a deadline for reading each
    request: the headers must arrive within `header_timeout` of the connection opening or of the
    previous response, and the body within `body_timeout` after them; otherwise the connection is
    closed (the app, if it was waiting for the body, sees a disconnect)."""
    if base is None:
        from uvicorn.protocols.http.auto import AutoHTTPProtocol

        base = AutoHTTPProtocol
    parent: Any = base

    class RequestDeadline(parent):  # type: ignore[misc]  # a subclass of whichever protocol is in use
        _deadline: asyncio.TimerHandle | None = None

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                self.transport.close()

        def _track(self, before: Any) -> None:
            """After bytes were parsed: a new request's headers are in, or its body is complete."""
            cycle = self.cycle
            if cycle is None or self.transport.is_closing():
                return
            if cycle is not before:  # a new request's headers are in: now its body has a deadline
                if cycle.more_body:
                    self._arm(body_timeout)
                else:
                    self._disarm()
            elif not cycle.response_complete and not cycle.more_body:  # its body is complete
                self._disarm()

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self._arm(header_timeout)

        def data_received(self, data: bytes) -> None:
            before = self.cycle
            super().data_received(data)
            self._track(before)

        def on_response_complete(self) -> None:
            before = self.cycle
            super().on_response_complete()
            if self.cycle is before and not self.transport.is_closing():
                self._arm(header_timeout)  # waiting for the next request's headers
            else:
                self._track(before)  # a pipelined request was already buffered

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    # `name`: the module attribute it is kept in, so that uvicorn can pickle it for worker processes.
    RequestDeadline.__name__ = RequestDeadline.__qualname__ = name or f"RequestDeadline{base.__name__}"
    return RequestDeadline


Protocol = deadline_protocol(name="Protocol")
"""uvicorn's protocol with the request-read deadlines above (`uvicorn_options()["http"]`)."""


def uvicorn_options() -> dict[str, Any]:
    """The limits `serve --http` and `sandbox` run with (docs/deployment.md lists them)."""
    return {
        "http": Protocol,
        "limit_concurrency": LIMIT_CONCURRENCY,
        "timeout_keep_alive": TIMEOUT_KEEP_ALIVE,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
    }


def proxy_options(settings: Any) -> dict[str, Any]:
    """uvicorn's proxy-header handling as NEXUDUS_MCP_TRUSTED_PROXIES says: off unless proxies are
    named (uvicorn's own default believes X-Forwarded-For from 127.0.0.1), and only from those."""
    from ..settings import parse_trusted_proxies

    trusted = parse_trusted_proxies(settings.mcp_trusted_proxies)
    if not trusted:
        return {"proxy_headers": False}
    return {
        "proxy_headers": True,
        "forwarded_allow_ips": ",".join(str(n) if n.num_addresses > 1 else str(n.network_address) for n in trusted),
    }


def run_http(app: Any, sock: socket.socket, on_started: Callable[[], None], **options: Any) -> int | None:
    """Serve `app` on the bound `sock` until SIGINT/SIGTERM; `on_started` runs once connections are
    accepted. Returns the signal that stopped it; raises RuntimeError when the app did not start."""
    import uvicorn

    stopped: list[int] = []

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and not self.should_exit:
                on_started()

    settings: dict[str, Any] = {"log_level": "warning", "log_config": None, "access_log": False}
    server = Server(uvicorn.Config(app, **{**settings, **uvicorn_options(), **options}))

    def note(signum: int, _frame: FrameType | None) -> None:
        # uvicorn handles the signal while serving and re-raises it afterwards: land here, quietly.
        stopped.append(signum)
        server.should_exit = True

    previous = {sig: signal.signal(sig, note) for sig in STOP_SIGNALS}
    try:
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    if not server.started and not stopped:
        raise RuntimeError("the HTTP server did not start (see the log above)")
    return stopped[0] if stopped else None
