"""The floor the benchmark measures our server against: a bare `MCPServer` (the SDK's high-level
server) with two tools and nothing else of ours.

- `ping`: a trivial tool, for the cold-start floor (spawn -> initialize -> tools/list).
- `update_floor`: the same GET, PUT and read-back GET our update makes, with one shared httpx2 client
  and no validation, merge, redaction, diff or retries: the cost of the wire and the SDK alone.
- `get_floor`: the same GET our read tool makes, returned as the record: the HTTP-mode floor.

Run as: python bench/floor_server.py            (stdio; env NEXUDUS_BASE_URL, NEXUDUS_TOKEN)
        python bench/floor_server.py http PORT  (stateless streamable HTTP with JSON answers, as ours,
                                                 on 127.0.0.1, no client authentication, /healthz)
"""

from __future__ import annotations

import logging
import os
import sys

import httpx2
from mcp.server import MCPServer
from starlette.requests import Request
from starlette.responses import PlainTextResponse

server = MCPServer("floor")
for _name in ("httpx2", "httpcore2", "mcp"):  # as our server does: no per-request INFO lines
    logging.getLogger(_name).setLevel(logging.WARNING)
_http: httpx2.AsyncClient | None = None
PATH = "/api/spaces/coworkeridentitychecks"


def http() -> httpx2.AsyncClient:
    global _http
    if _http is None:
        _http = httpx2.AsyncClient(
            base_url=os.environ.get("NEXUDUS_BASE_URL", "http://127.0.0.1:8080"),
            headers={"Authorization": f"Bearer {os.environ.get('NEXUDUS_TOKEN', '')}"},
        )
    return _http


@server.tool()
def ping() -> str:
    """Answer pong."""
    return "pong"


@server.tool()
async def update_floor(Id: int, Description: str) -> dict:
    """GET the record, set Description, PUT it back, read it back."""
    record = (await http().get(f"{PATH}/{Id}")).json()
    record["Description"] = Description
    response = await http().put(PATH, json=record)
    await http().get(f"{PATH}/{Id}")
    return response.json()


@server.tool()
async def get_floor(Id: int) -> dict:
    """GET the record and return it."""
    return {"Record": (await http().get(f"{PATH}/{Id}")).json()}


@server.custom_route("/healthz", methods=["GET"])
async def healthz(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        import uvicorn

        app = server.streamable_http_app(stateless_http=True, json_response=True)
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
    else:
        server.run("stdio")
    logging.shutdown()
