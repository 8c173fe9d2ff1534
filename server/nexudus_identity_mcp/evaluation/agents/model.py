"""Real models as evaluation agents: one pydantic-ai agent, so every provider pydantic-ai speaks
(Anthropic, OpenAI, Google, Groq, Mistral, Bedrock, …) and any OpenAI-compatible local server
(Ollama, vLLM, llama.cpp) is one `--agent` name away. Optional: `pip install
'nexudus-identity-mcp[evals]'`; nothing here is imported unless a model agent is asked for.

The model reaches the server through the harness's ToolSession (a pydantic-ai toolset wrapping it),
not through pydantic-ai's own MCP client, so that every call is counted and graded the same way as
the scripted agent's. Model names:

- `anthropic:claude-sonnet-4-5`, `openai:gpt-4.1`, `google-gla:gemini-2.5-flash`, … (pydantic-ai's
  names; API keys from the provider's usual variable: ANTHROPIC_API_KEY, OPENAI_API_KEY,
  GEMINI_API_KEY, …);
- `openai-compat:<base URL>:<model>`, e.g. `openai-compat:http://localhost:11434/v1:llama3.1:8b`
  (key from OPENAI_COMPAT_API_KEY, default "local");
- any pydantic-ai `Model` object (the tests pass FunctionModel/TestModel).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from ..scenarios import Scenario
from ..session import ToolSession

if TYPE_CHECKING:
    from pydantic_ai.models import Model


class AgentConfigError(ValueError):
    """An agent cannot be built as asked (unknown name, missing API key or extra); one line."""


SYSTEM_PREFIX = (
    "You are an assistant for the staff of a coworking space, working in Nexudus through the tools "
    "you have. Do what the staff member asks, and nothing more."
)
# `openai-compat:` then a URL with a path (its host may carry a port), then `:` and the model name,
# which may itself contain colons (`llama3.1:8b`).
COMPAT = re.compile(r"^openai-compat:(?P<url>https?://[^/\s]+/[^:\s]*):(?P<model>\S+)$")
INSTALL_HINT = "install the evals extra: pip install 'nexudus-identity-mcp[evals]'"


def parse_compat(spec: str) -> tuple[str, str] | None:
    """(base URL, model) of an `openai-compat:` name, None for any other name."""
    match = COMPAT.match(spec)
    return (match["url"], match["model"]) if match else None


def build_model(spec: str | Model) -> Model:
    """The pydantic-ai model for a name, or AgentConfigError with one line saying what is missing."""
    try:
        from pydantic_ai.exceptions import UserError
        from pydantic_ai.models import Model, infer_model
    except ImportError:
        raise AgentConfigError(f"model agents need pydantic-ai: {INSTALL_HINT}") from None
    if isinstance(spec, Model):
        return spec
    try:
        if spec.startswith("openai-compat:"):
            parsed = parse_compat(spec)
            if parsed is None:
                raise AgentConfigError(
                    f"{spec!r}: write openai-compat:<base URL with path>:<model>, "
                    "e.g. openai-compat:http://localhost:11434/v1:llama3.1"
                )
            from pydantic_ai.models.openai import OpenAIChatModel
            from pydantic_ai.providers.openai import OpenAIProvider

            base_url, name = parsed
            key = os.environ.get("OPENAI_COMPAT_API_KEY", "local")
            return OpenAIChatModel(name, provider=OpenAIProvider(base_url=base_url, api_key=key))
        return infer_model(spec)
    except ImportError as exc:
        missing = exc.name or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise AgentConfigError(
            f"{spec}: the provider's client library is missing ({missing}): {INSTALL_HINT}"
        ) from None
    except (UserError, ValueError) as exc:
        if isinstance(exc, AgentConfigError):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AgentConfigError(f"{spec}: {first}") from None


def session_toolset(session: ToolSession, tools: list[Any]) -> Any:
    """A pydantic-ai toolset whose tools are the server's, called through (and counted by) `session`."""
    import pydantic_core
    from pydantic_ai.tools import ToolDefinition
    from pydantic_ai.toolsets import AbstractToolset
    from pydantic_ai.toolsets.abstract import ToolsetTool

    any_arguments = pydantic_core.SchemaValidator(
        pydantic_core.core_schema.dict_schema(
            pydantic_core.core_schema.str_schema(), pydantic_core.core_schema.any_schema()
        )
    )

    class SessionToolset(AbstractToolset[None]):
        @property
        def id(self) -> str | None:
            return "nexudus-identity-mcp"

        async def get_tools(self, ctx: Any) -> dict[str, ToolsetTool[None]]:
            return {
                tool.name: ToolsetTool(
                    toolset=self,
                    tool_def=ToolDefinition(
                        name=tool.name,
                        description=tool.description,
                        parameters_json_schema=tool.input_schema,
                    ),
                    max_retries=3,
                    args_validator=any_arguments,
                )
                for tool in tools
            }

        async def call_tool(self, name: str, tool_args: dict[str, Any], ctx: Any, tool: Any) -> Any:
            # Errors are results here too: the model reads the same JSON body a client shows it.
            call = await session.call(name, tool_args)
            return session.text_of(call)

    return SessionToolset()


class ModelAgent:
    """A pydantic-ai agent over the server's tools; the scenario's `confirm` answers it once.

    What it spends goes into `session.usage` as pydantic-ai's usage object reports it (tokens,
    requests), with the cost from `price_per_mtok` (USD per million input and output tokens) or else
    genai-prices (None when it knows no price for the model); its messages go into the transcript."""

    def __init__(self, model: str | Model, *, price_per_mtok: tuple[float, float] | None = None) -> None:
        self.model = build_model(model)
        self.name = f"model:{getattr(self.model, 'system', '?')}:{self.model.model_name}"
        self.price_per_mtok = price_per_mtok

    async def run(self, session: ToolSession, scenario: Scenario) -> None:
        from pydantic_ai import Agent, capture_run_messages
        from pydantic_ai.exceptions import UsageLimitExceeded
        from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter
        from pydantic_ai.usage import RunUsage, UsageLimits

        tools = await session.list_tools()
        instructions = getattr(session.client, "instructions", None) or ""
        agent = Agent(
            self.model,
            instructions=f"{SYSTEM_PREFIX}\n\n{instructions}".strip(),
            toolsets=[session_toolset(session, tools)],
        )
        history: list[ModelMessage] = []
        try:
            for prompt in [scenario.request, *([scenario.confirm] if scenario.confirm else [])]:
                usage = RunUsage()
                budget = session.token_budget
                limits = UsageLimits(
                    request_limit=scenario.max_turns,
                    total_tokens_limit=None if budget is None else max(budget - session.usage.tokens, 0),
                )
                with capture_run_messages() as messages:
                    try:
                        await agent.run(prompt, message_history=history, usage_limits=limits, usage=usage)
                    finally:
                        # The run's messages (history included when pydantic-ai keeps it): only the new
                        # ones go into the transcript, and all of them into the next run's history.
                        run = list(messages)
                        new = run[len(history) :] if run[: len(history)] == history else run
                        session.events += [
                            {"event": "message", "message": m}
                            for m in ModelMessagesTypeAdapter.dump_python(new, mode="json")
                        ]
                        history = [*history, *new]
                        self._count(session, usage, new)
        except UsageLimitExceeded as exc:
            if "token" in str(exc):
                session.budget_hit = f"the token budget stopped the agent ({exc})"
            return  # out of turns or budget: the grading says what was (not) done

    def _count(self, session: ToolSession, usage: Any, messages: list[Any]) -> None:
        from pydantic_ai.messages import ModelResponse

        spent = session.usage
        spent.input_tokens += usage.input_tokens
        spent.output_tokens += usage.output_tokens
        spent.requests += usage.requests
        if spent.cost_usd is None:
            return
        if self.price_per_mtok is not None:
            price_in, price_out = self.price_per_mtok
            spent.cost_usd += (usage.input_tokens * price_in + usage.output_tokens * price_out) / 1e6
            return
        for message in messages:
            if isinstance(message, ModelResponse):
                try:
                    spent.cost_usd += float(message.cost().total_price)
                except (LookupError, ValueError, AssertionError):  # genai-prices knows no price for it
                    spent.cost_usd = None
                    return
