"""MCP server for Nexudus coworker identity checks.

The package is cut into wings, imports flowing one way (client -> MCP face -> tools -> API client ->
API): `record/` holds the record's rules (field table, enums, validation, redaction); `state/` what
several processes share; `nexudus/` talks to the API; `tools/` is what each tool does and what a
client sees of it; `signin/` is sign-in for HTTP; `mcpserver/` is the MCP server and its HTTP face;
`cli/` is the command line. `sandbox/` stands in for the API and `evaluation/` runs agents against
the server; the serve path imports neither. docs/development.md has the module map.
"""

__version__ = "0.1.0"
