"""The entry point of the Claude Desktop extension (`.mcpb`): `bundle.py` copies this file into the
bundle as `mcpb_server.py`, and Claude Desktop runs it with `uv run` in the unpacked bundle.

Claude Desktop passes every `user_config` value as an environment variable, empty when the user
left it blank (and, in some versions, the unexpanded `${user_config.x}` text when it has no value).
Those are dropped here so that an empty token does not count as a credential. The sandbox switch
becomes `serve --sandbox`; everything else is the ordinary configuration.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

SANDBOX_VARIABLE = "NEXUDUS_MCP_SANDBOX"
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})


def server_arguments(environ: MutableMapping[str, str]) -> list[str]:
    """Clean `environ` in place and return the CLI arguments the extension runs."""
    for name in list(environ):
        value = environ[name].strip()
        if name.startswith("NEXUDUS_") and (not value or value.startswith("${user_config.")):
            del environ[name]
    sandbox = environ.pop(SANDBOX_VARIABLE, "").strip().lower() in TRUE_WORDS
    return ["serve", "--sandbox"] if sandbox else ["serve"]


def main() -> None:
    from nexudus_identity_mcp.cli.main import main as cli_main

    cli_main(server_arguments(os.environ))


if __name__ == "__main__":
    main()
