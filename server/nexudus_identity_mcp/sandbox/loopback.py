"""Serve an ASGI app on a free port of 127.0.0.1 in a background thread, for as long as a `with`
block lasts. The evaluation harness and the tests use it; the server's own serve path never does."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


class ServedApp:
    """`with ServedApp(app) as served: served.url` — uvicorn in a thread, stopped on exit."""

    def __init__(self, app: Any, *, port: int | None = None, start_timeout: float = 15.0, **config: Any) -> None:
        import uvicorn

        self.port = port or free_port()
        self.start_timeout = start_timeout
        options: dict[str, Any] = {"log_level": "critical", "lifespan": "off"}
        options.update(config)
        self.server = uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=self.port, **options))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                self.server.should_exit = True
                raise RuntimeError(f"the app did not start on {self.url} within {self.start_timeout:g} s")
            time.sleep(0.01)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
