"""A write that succeeded is never reported as a failed call (issue 19, item 3).

The API's success envelope varies: `UpdatedOn`/`UpdatedBy` missing or null, `Value.Id` a string,
`Value` missing or not an object, or just `{"WasSuccessful": true}`. Whatever it is, every result must
validate against the tool's outputSchema, or the Python SDK's client raises after the PUT was
accepted. A property test serves generated envelopes in place of the sandbox's own (the sandbox still
applies the PUT) and checks each result with jsonschema and through `mcp.Client`, which validates
structuredContent itself.
"""

from __future__ import annotations

import json
import os
from typing import Any

import anyio
import httpx2
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from nexudus_identity_mcp.mcpserver.app import build_server
from nexudus_identity_mcp.sandbox import Fault, Sandbox
from nexudus_identity_mcp.tools.shape import fit

from .conftest import settings_for
from .helpers import CHECK, OUTPUT_SCHEMAS, AfterPut, required_from, server_for

UPDATE = "update_coworker_identity_check"
MISSING = object()

texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["2026-11-26T10:00:00Z", "", " ", "admin@sandbox.example", "line\nbreak", "NaN"]),
)
odd_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)
odd_values = st.one_of(odd_scalars, st.lists(odd_scalars, max_size=3), st.dictionaries(texts, odd_scalars, max_size=3))
ids = st.one_of(
    st.just(CHECK),
    st.just(str(CHECK)),
    st.just(float(CHECK)),
    st.just(f" {CHECK} "),
    odd_scalars,
    st.lists(st.integers()),
)
values = st.one_of(odd_values, st.fixed_dictionaries({}, optional={"Id": ids}), st.builds(lambda i: {"Id": i}, ids))


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, Any]:
    """A success envelope as a real API might shape it: {"WasSuccessful": true} plus any of the
    documented keys, each missing, null or of another type, and unknown keys."""
    envelope: dict[str, Any] = {"WasSuccessful": True}
    for key, strategy in (
        ("Value", values),
        ("UpdatedOn", odd_values),
        ("UpdatedBy", odd_values),
        ("Message", st.one_of(odd_values, st.just("CoworkerIdentityCheck was successfully updated."))),
        # A Status of 400 or more is a failure whatever WasSuccessful says (#24 item 3: tests/test_interpreter.py).
        ("Status", odd_values.filter(lambda v: not (isinstance(v, int) and not isinstance(v, bool) and v >= 400))),
        ("Errors", st.one_of(st.none(), st.just([]))),
        ("OpenInDialog", odd_values),
        ("RedirectURL", odd_values),
    ):
        value = draw(st.one_of(st.just(MISSING), strategy))
        if value is not MISSING:
            envelope[key] = value
    envelope.update(draw(st.dictionaries(st.text(max_size=12), odd_scalars, max_size=3)))
    envelope["WasSuccessful"] = True
    return envelope


async def update_with(envelope: dict[str, Any]) -> tuple[Any, Sandbox]:
    sandbox = Sandbox()

    def serve(request: httpx2.Request, response: httpx2.Response) -> httpx2.Response:
        assert response.status_code == 200, "the sandbox applied the PUT"
        # As a misbehaving API might: NaN and Infinity are not JSON, but Python's parser reads them.
        content = json.dumps(envelope, allow_nan=True).encode()
        return httpx2.Response(200, content=content, headers={"Content-Type": "application/json"})

    server = build_server(settings_for(), transport=AfterPut(sandbox, serve))
    arguments = {**required_from(sandbox.state.record(CHECK)), "Description": "Written."}
    async with Client(server, mode="legacy") as client:
        result = await client.call_tool(UPDATE, arguments)  # raises if structuredContent breaks the schema
    return result, sandbox


def check(envelope: dict[str, Any]) -> None:
    result, sandbox = anyio.run(update_with, envelope)
    out = result.structured_content
    jsonschema.validate(out, OUTPUT_SCHEMAS[UPDATE])
    assert result.is_error is False and out["WasSuccessful"] is True, (envelope, out)
    assert out["Value"] == {"Id": CHECK} and out["Changes"][0]["Field"] == "Description"
    assert sandbox.state.record(CHECK)["Description"] == "Written."


@pytest.mark.parametrize(
    "envelope",
    [
        {"WasSuccessful": True},
        {"WasSuccessful": True, "Value": {"Id": str(CHECK)}},
        {"WasSuccessful": True, "Value": None, "UpdatedOn": None, "UpdatedBy": None, "Message": None},
        {"WasSuccessful": True, "Value": [CHECK], "UpdatedOn": 1764151200, "UpdatedBy": {"Name": "x"}},
        {"WasSuccessful": True, "UpdatedOn": float("nan"), "UpdatedBy": float("inf"), "Status": "200"},
    ],
)
def test_named_odd_envelopes(envelope: dict[str, Any]) -> None:
    check(envelope)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(envelope=envelopes())
def test_any_success_envelope_gives_a_result_that_matches_the_schema(envelope: dict[str, Any]) -> None:
    check(envelope)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(envelope=envelopes())
def test_any_success_envelope_many(envelope: dict[str, Any]) -> None:
    check(envelope)


# ------------------------------------------------------------------ any answer to the PUT
answers = st.one_of(
    odd_values, envelopes(), st.builds(lambda e, f: {**e, "WasSuccessful": f}, envelopes(), odd_scalars)
)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(answer=answers, status=st.sampled_from([200, 201, 204, 400, 401, 404, 422, 500]))
def test_any_answer_to_the_put_gives_a_result_that_matches_the_schema(answer: Any, status: int) -> None:
    """Served by the sandbox's fault injection (the PUT is then not applied): success, failure or
    conflict, the result validates and the SDK client does not raise."""

    async def run() -> None:
        sandbox = Sandbox()
        # Every attempt gets the answer: a 500 is retried (the API's generic 500 comes in bursts).
        sandbox.state.inject(Fault("status", route="update", status=status, body=answer, count=100))
        arguments = {**required_from(sandbox.state.record(CHECK)), "Description": "Written."}
        async with Client(server_for(sandbox, backoff_base=0), mode="legacy") as client:
            result = await client.call_tool(UPDATE, arguments)
        jsonschema.validate(result.structured_content, OUTPUT_SCHEMAS[UPDATE])
        assert result.structured_content is not None
        if result.structured_content["WasSuccessful"]:
            # The fault answered in place of the write, so the read-back cannot show "Written.".
            raise AssertionError(f"a write that did not happen was reported: {result.structured_content}")

    anyio.run(run)


# ------------------------------------------------------------------ fit() on its own
@settings(max_examples=50, deadline=None)
@given(value=odd_values)
def test_fit_makes_any_body_valid(value: Any) -> None:
    schema = OUTPUT_SCHEMAS[UPDATE]
    candidate = {
        "WasSuccessful": True,
        "Message": "ok",
        "Value": {"Id": value},
        "UpdatedOn": value,
        "UpdatedBy": value,
        "RetryAfterSeconds": value,
        "Status": value,
        "Errors": [value, {"PropertyName": value, "AllowedValues": [value]}],
        "Changes": value,
    }
    keep, fitted = fit(candidate, schema)
    assert keep
    jsonschema.validate(fitted, schema)
