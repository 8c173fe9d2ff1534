"""The record's rules: the one field table (`fields`), the five enums (`enums`), arguments turned into
an API body or every error at once (`validation`), dates as the API writes them (`timefmt`), and the
one redaction pass over everything that leaves the process (`redaction`). Imports nothing of ours
from outside this package."""
