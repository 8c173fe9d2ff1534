"""The agents an evaluation can run: `scripted` (replays a scenario's steps, for CI) and two real
models, `anthropic` and `openai` (API key from the environment), all through the same ToolSession.

The scripted agent proves that the server's errors carry what a model needs to recover: a `repair`
step rebuilds the failed call from the error result alone (a Hint or AllowedValues for a bad enum or
a misspelt property, the record it read for a missing required field, the current UpdatedOn after
a conflict, RetryAfterSeconds after throttling), never from the scenario's expected answer.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from typing import Any

import anyio
import httpx2

from .evaluation import Call, Scenario, ScriptError, ToolSession
from .fields import BY_NAME, REQUIRED

GET_TOOL, FIND_TOOL, UPDATE_TOOL = ("get_coworker_identity_check", "find_coworker_identity_checks",
                                    "update_coworker_identity_check")
PLACEHOLDER = re.compile(r"\{\{\s*(read|selected)\.([A-Za-z0-9]+)\s*\}\}")


class ScriptedAgent:
    """Replays `[[steps]]`: `call` (with `arguments`, `copy_required`, `expect_error`), `select` (a row
    of the last find), `repair` (rebuild the last failed call from its error)."""

    name = "scripted"

    async def run(self, session: ToolSession, scenario: Scenario) -> None:
        await session.list_tools()
        read: dict[str, Any] = {}
        selected: dict[str, Any] = {}
        last: Call | None = None
        for n, step in enumerate(scenario.steps, start=1):
            if "select" in step:
                rows = (last.body.get("Checks") if last else None) or []
                selected = next((r for r in rows if all(str(v).lower() in str(r.get(k, "")).lower()
                                                        for k, v in step["select"].items())), {})
                if not selected:
                    raise ScriptError(f"step {n}: no row of the last find matches {step['select']}")
                continue
            if step.get("repair"):
                if last is None or not last.is_error:
                    raise ScriptError(f"step {n}: nothing to repair, the last call did not fail")
                tool, arguments = await self._repair(session, last, read)
            else:
                tool = step["call"]
                arguments = _fill(step.get("arguments", {}), read, selected)
                if step.get("copy_required"):
                    if not read:
                        raise ScriptError(f"step {n}: copy_required before any read")
                    arguments = {**{k: read[k] for k in REQUIRED if k in read}, **arguments}
            last = await session.call(tool, arguments)
            if tool == GET_TOOL and not last.is_error:
                read = last.body.get("Record", {})
            expected = step.get("expect_error")
            if expected and last.body.get("ErrorKind") != expected:
                raise ScriptError(f"step {n}: expected a {expected} error, got {last.body.get('ErrorKind') or 'success'}")
            if not expected and last.is_error and not _next_is_repair(scenario.steps, n):
                raise ScriptError(f"step {n}: unexpected {last.body.get('ErrorKind')} error: {last.body.get('Message')}")

    async def _repair(self, session: ToolSession, failed: Call, read: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        body = failed.body
        arguments = dict(failed.arguments)
        kind = body.get("ErrorKind")
        if kind == "rate_limited":
            await anyio.sleep(float(body.get("RetryAfterSeconds") or 1))
            return failed.tool, arguments
        if kind == "conflict":
            fresh = await session.call(GET_TOOL, {"Id": arguments["Id"]})
            record = fresh.body.get("Record", {})
            required = {k: record[k] for k in REQUIRED if k in record}
            return failed.tool, {**arguments, **required, "ExpectedUpdatedOn": record.get("UpdatedOn")}
        if kind != "validation":
            raise ScriptError(f"cannot repair a {kind} error")
        for error in body.get("Errors", []):
            prop, hint, message = error.get("PropertyName", ""), error.get("Hint"), error.get("Message", "")
            if prop not in BY_NAME and prop in arguments:       # an unknown property: rename it as hinted
                value = arguments.pop(prop)
                if hint:
                    arguments[hint] = value
            elif "required" in message and prop in read:        # copy it from the record that was read
                arguments[prop] = read[prop]
            elif hint:                                          # the closest valid name
                arguments[prop] = hint
            elif error.get("AllowedValues"):                    # the allowed value nearest to the attempt
                match = difflib.get_close_matches(str(error.get("AttemptedValue")), error["AllowedValues"], 1, 0)
                arguments[prop] = match[0]
            elif "ISO 8601" in message and isinstance(arguments.get(prop), str):
                arguments[prop] = _to_iso(arguments[prop])
            else:
                raise ScriptError(f"the error for {prop} gives nothing to repair it with: {message}")
        return failed.tool, arguments


def _next_is_repair(steps: list[dict[str, Any]], n: int) -> bool:
    return n < len(steps) and bool(steps[n].get("repair"))


def _fill(value: Any, read: dict[str, Any], selected: dict[str, Any]) -> Any:
    """Resolve {{read.Field}} and {{selected.Field}}; a string that is only a placeholder keeps its type."""
    if isinstance(value, dict):
        return {k: _fill(v, read, selected) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, read, selected) for v in value]
    if not isinstance(value, str):
        return value
    sources = {"read": read, "selected": selected}
    whole = PLACEHOLDER.fullmatch(value.strip())
    if whole:
        return sources[whole.group(1)].get(whole.group(2))
    return PLACEHOLDER.sub(lambda m: str(sources[m.group(1)].get(m.group(2))), value)


def _to_iso(text: str) -> str:
    """DD/MM/YYYY or DD.MM.YYYY (the forms the error message rules out) as YYYY-MM-DD."""
    match = re.fullmatch(r"\s*(\d{1,2})[/.](\d{1,2})[/.](\d{4})\s*", text)
    if not match:
        raise ScriptError(f"cannot read {text!r} as a date")
    day, month, year = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}"


# ------------------------------------------------------------------ real models
SYSTEM_PREFIX = ("You are an assistant for the staff of a coworking space, working in Nexudus through the tools "
                 "you have. Do what the staff member asks, and nothing more.")


class ModelAgent:
    """A real model in a tool-use loop. Subclasses speak one provider's API over httpx2."""

    name = "model"
    env_key = ""

    def __init__(self, model: str, *, api_key: str | None = None, transport: httpx2.AsyncBaseTransport | None = None,
                 base_url: str = "") -> None:
        self.model = model
        self.api_key = api_key or os.environ.get(self.env_key, "")
        if not self.api_key:
            raise SystemExit(f"--agent {self.name} needs {self.env_key} in the environment")
        self.http = httpx2.AsyncClient(base_url=base_url, transport=transport, timeout=120)

    async def run(self, session: ToolSession, scenario: Scenario) -> None:
        tools = await session.list_tools()
        instructions = getattr(session.client, "instructions", None) or ""
        system = f"{SYSTEM_PREFIX}\n\n{instructions}".strip()
        messages = self.first_messages(system, scenario.request)
        confirmed = False
        for _ in range(scenario.max_turns):
            reply = await self.complete(system, messages, tools)
            calls = self.tool_calls(reply)
            messages.append(self.assistant_message(reply))
            if not calls:
                if scenario.confirm and not confirmed:
                    confirmed = True
                    messages.append({"role": "user", "content": scenario.confirm})
                    continue
                return
            results = []
            for call_id, name, arguments in calls:
                call = await session.call(name, arguments)
                results.append((call_id, call))
            messages.extend(self.tool_results(results, session))

    # provider-specific
    def first_messages(self, system: str, request: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def complete(self, system: str, messages: list[dict[str, Any]], tools: list[Any]) -> dict[str, Any]:
        raise NotImplementedError

    def tool_calls(self, reply: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        raise NotImplementedError

    def assistant_message(self, reply: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def tool_results(self, results: list[tuple[str, Call]], session: ToolSession) -> list[dict[str, Any]]:
        raise NotImplementedError


class AnthropicAgent(ModelAgent):
    name = "anthropic"
    env_key = "ANTHROPIC_API_KEY"

    def __init__(self, model: str | None = None, **kwargs: Any) -> None:
        super().__init__(model or os.environ.get("ANTHROPIC_MODEL", "claude-sonnet-4-5"),
                         base_url=os.environ.get("ANTHROPIC_BASE_URL", "https://api.anthropic.com"), **kwargs)

    def first_messages(self, system: str, request: str) -> list[dict[str, Any]]:
        return [{"role": "user", "content": request}]

    async def complete(self, system: str, messages: list[dict[str, Any]], tools: list[Any]) -> dict[str, Any]:
        response = await self.http.post("/v1/messages", headers={
            "x-api-key": self.api_key, "anthropic-version": "2023-06-01"}, json={
            "model": self.model, "max_tokens": 2048, "system": system, "messages": messages,
            "tools": [{"name": t.name, "description": t.description or "", "input_schema": t.input_schema}
                      for t in tools]})
        response.raise_for_status()
        return response.json()

    def tool_calls(self, reply: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        return [(b["id"], b["name"], b.get("input") or {}) for b in reply.get("content", []) if b.get("type") == "tool_use"]

    def assistant_message(self, reply: dict[str, Any]) -> dict[str, Any]:
        return {"role": "assistant", "content": reply.get("content", [])}

    def tool_results(self, results: list[tuple[str, Call]], session: ToolSession) -> list[dict[str, Any]]:
        return [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id,
                                              "content": session.text_of(call), "is_error": call.is_error}
                                             for call_id, call in results]}]


class OpenAIAgent(ModelAgent):
    name = "openai"
    env_key = "OPENAI_API_KEY"

    def __init__(self, model: str | None = None, **kwargs: Any) -> None:
        super().__init__(model or os.environ.get("OPENAI_MODEL", "gpt-4.1"),
                         base_url=os.environ.get("OPENAI_BASE_URL", "https://api.openai.com"), **kwargs)

    def first_messages(self, system: str, request: str) -> list[dict[str, Any]]:
        return [{"role": "system", "content": system}, {"role": "user", "content": request}]

    async def complete(self, system: str, messages: list[dict[str, Any]], tools: list[Any]) -> dict[str, Any]:
        response = await self.http.post("/v1/chat/completions", headers={"Authorization": f"Bearer {self.api_key}"},
                                        json={"model": self.model, "messages": messages, "tools": [
                                            {"type": "function", "function": {"name": t.name,
                                                                              "description": t.description or "",
                                                                              "parameters": t.input_schema}}
                                            for t in tools]})
        response.raise_for_status()
        return response.json()["choices"][0]["message"]

    def tool_calls(self, reply: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        calls = []
        for call in reply.get("tool_calls") or []:
            try:
                arguments = json.loads(call["function"].get("arguments") or "{}")
            except json.JSONDecodeError:
                arguments = {"_unparseable_arguments": call["function"].get("arguments")}
            calls.append((call["id"], call["function"]["name"], arguments if isinstance(arguments, dict) else {}))
        return calls

    def assistant_message(self, reply: dict[str, Any]) -> dict[str, Any]:
        message = {"role": "assistant", "content": reply.get("content")}
        if reply.get("tool_calls"):
            message["tool_calls"] = reply["tool_calls"]
        return message

    def tool_results(self, results: list[tuple[str, Call]], session: ToolSession) -> list[dict[str, Any]]:
        return [{"role": "tool", "tool_call_id": call_id, "content": session.text_of(call)} for call_id, call in results]


def make_agent(name: str, model: str | None = None) -> Any:
    if name == "scripted":
        return ScriptedAgent()
    if name == "anthropic":
        return AnthropicAgent(model)
    if name == "openai":
        return OpenAIAgent(model)
    raise SystemExit(f"unknown agent {name!r}: use scripted, anthropic or openai")
