"""MCP server for Nexudus coworker identity checks.

The package is cut one job per module (see README, "Layout"): `fields` and `enums` describe the
record, `validation` turns tool arguments into an API body, `nexudus` talks to the API,
`sandbox` stands in for it, `tools` / `app` make the MCP server and `cli` is the command line.
"""

__version__ = "0.1.0"
