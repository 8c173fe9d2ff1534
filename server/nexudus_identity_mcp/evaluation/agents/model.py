"""Real models as evaluation agents: a tool-use loop over one provider's HTTP API (Anthropic or
OpenAI), API key from the environment, through the same ToolSession as the scripted agent."""

from __future__ import annotations

import json
import os
from typing import Any

import httpx2

from ..scenarios import Scenario
from ..session import Call, ToolSession


class AgentConfigError(ValueError):
    """An agent cannot be built as asked (unknown name, missing API key); the message is one line."""


SYSTEM_PREFIX = (
    "You are an assistant for the staff of a coworking space, working in Nexudus through the tools "
    "you have. Do what the staff member asks, and nothing more."
)


class ModelAgent:
    """A real model in a tool-use loop. Subclasses speak one provider's API over httpx2."""

    name = "model"
    env_key = ""

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        base_url: str = "",
    ) -> None:
        self.model = model
        self.api_key = api_key or os.environ.get(self.env_key, "")
        if not self.api_key:
            raise AgentConfigError(f"--agent {self.name} needs {self.env_key} in the environment")
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
        super().__init__(
            model or os.environ.get("ANTHROPIC_MODEL", "claude-sonnet-4-5"),
            base_url=os.environ.get("ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
            **kwargs,
        )

    def first_messages(self, system: str, request: str) -> list[dict[str, Any]]:
        return [{"role": "user", "content": request}]

    async def complete(self, system: str, messages: list[dict[str, Any]], tools: list[Any]) -> dict[str, Any]:
        response = await self.http.post(
            "/v1/messages",
            headers={"x-api-key": self.api_key, "anthropic-version": "2023-06-01"},
            json={
                "model": self.model,
                "max_tokens": 2048,
                "system": system,
                "messages": messages,
                "tools": [
                    {"name": t.name, "description": t.description or "", "input_schema": t.input_schema} for t in tools
                ],
            },
        )
        response.raise_for_status()
        reply: dict[str, Any] = response.json()
        return reply

    def tool_calls(self, reply: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            (b["id"], b["name"], b.get("input") or {}) for b in reply.get("content", []) if b.get("type") == "tool_use"
        ]

    def assistant_message(self, reply: dict[str, Any]) -> dict[str, Any]:
        return {"role": "assistant", "content": reply.get("content", [])}

    def tool_results(self, results: list[tuple[str, Call]], session: ToolSession) -> list[dict[str, Any]]:
        return [
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": call_id,
                        "content": session.text_of(call),
                        "is_error": call.is_error,
                    }
                    for call_id, call in results
                ],
            }
        ]


class OpenAIAgent(ModelAgent):
    name = "openai"
    env_key = "OPENAI_API_KEY"

    def __init__(self, model: str | None = None, **kwargs: Any) -> None:
        super().__init__(
            model or os.environ.get("OPENAI_MODEL", "gpt-4.1"),
            base_url=os.environ.get("OPENAI_BASE_URL", "https://api.openai.com"),
            **kwargs,
        )

    def first_messages(self, system: str, request: str) -> list[dict[str, Any]]:
        return [{"role": "system", "content": system}, {"role": "user", "content": request}]

    async def complete(self, system: str, messages: list[dict[str, Any]], tools: list[Any]) -> dict[str, Any]:
        response = await self.http.post(
            "/v1/chat/completions",
            headers={"Authorization": f"Bearer {self.api_key}"},
            json={
                "model": self.model,
                "messages": messages,
                "tools": [
                    {
                        "type": "function",
                        "function": {"name": t.name, "description": t.description or "", "parameters": t.input_schema},
                    }
                    for t in tools
                ],
            },
        )
        response.raise_for_status()
        reply: dict[str, Any] = response.json()["choices"][0]["message"]
        return reply

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
        return [
            {"role": "tool", "tool_call_id": call_id, "content": session.text_of(call)} for call_id, call in results
        ]
