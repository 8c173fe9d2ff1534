"""The MCP face: the server with its tools, prompts, resources and instructions (`app`), its HTTP
face with auth, DNS-rebinding and health (`http_app`), the stdio and uvicorn lifecycles (`serving`),
the prompt templates (`prompt_templates`) and the generated reference resources (`reference`). It
uses `tools/`; nothing below it imports it back."""
