"""MCP server for Nexudus coworker identity checks.

The package is cut one job per module, imports flowing one way (client -> MCP layer -> validation ->
API client -> API): `fields` and `enums` describe the record; `validation` turns tool arguments into
an API body; `nexudus/` talks to the API; `tools/` is what each tool does; `schemas` is what a
client sees of them; `app` and `http_app` make the MCP server and its HTTP face; `cli` is the
command line. `sandbox/` stands in for the API and `evaluation/` runs agents against the server;
the serve path imports neither.
"""

__version__ = "0.1.0"
