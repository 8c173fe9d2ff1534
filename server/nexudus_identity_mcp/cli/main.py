"""The `nexudus-identity-mcp` command.

    nexudus-identity-mcp                   serve over stdio (what Claude Desktop, Cursor, VS Code start)
    nexudus-identity-mcp serve [--sandbox] the same; --sandbox answers from the built-in sandbox
    nexudus-identity-mcp demo              a scripted session against the sandbox, as a transcript
    nexudus-identity-mcp check             test the configured credentials with one cheap read
    nexudus-identity-mcp probe             check every assumption about the API on your account
    nexudus-identity-mcp history           export the journal of writes (jsonl or csv), redacted
    nexudus-identity-mcp sandbox           serve the sandbox API over HTTP for other clients

Configuration problems end the command with one line naming the bad value, never a traceback.
Heavy imports (the MCP SDK, uvicorn) happen inside the command that needs them.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from .. import __version__

if TYPE_CHECKING:
    from ..settings import Settings

PROG = "nexudus-identity-mcp"


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"{PROG}: {message}", file=sys.stderr)
    sys.exit(code)


def load_settings() -> Settings:
    from ..settings import SettingsError, read_settings

    try:
        return read_settings()
    except SettingsError as exc:
        fail(str(exc))


def sandbox_settings(base: Settings | None = None) -> Settings:
    from pydantic import SecretStr

    from ..sandbox import SANDBOX_TOKEN

    # Every server setting (NEXUDUS_MCP_*, timeouts) as configured; the Nexudus credentials and URL
    # are the sandbox's.
    return (base or load_settings()).model_copy(
        update={
            "base_url": "http://127.0.0.1",
            "token": SecretStr(SANDBOX_TOKEN),
            "username": None,
            "password": None,
            "auth": "auto",
        }
    )


def sandbox_state(args: argparse.Namespace, **more: Any) -> Any:
    """A fresh sandbox state from the command's --profile, --dates-without-z and --trims-text."""
    from ..sandbox import SandboxState

    return SandboxState(profile=args.profile, dates_with_z=not args.dates_without_z, trims_text=args.trims_text, **more)


def sandbox_transport(args: argparse.Namespace) -> Any:
    """An in-process transport to a fresh sandbox as the command's options describe it."""
    from ..sandbox import Sandbox

    return Sandbox(sandbox_state(args)).transport()


def check_port(port: int) -> None:
    if not 0 <= port <= 65535:
        fail(f"--port {port}: a TCP port is a number from 1 to 65535 (0: any free port)")


def exit_after(signum: int | None) -> None:
    """After a server stopped: Ctrl-C (SIGINT) exits 130 as shells expect, SIGTERM or end of input 0."""
    import signal

    if signum == signal.SIGINT:
        sys.exit(130)


def freeze_startup_objects(*, collect: bool = True) -> None:
    """Everything built so far lives as long as the process: move it out of the collector's view, so
    that full collections stay short while requests are in flight. `collect=False` skips the full
    collection first (about 50 ms here): for stdio, where an assistant waits for the start-up, the
    little garbage left by imports is frozen with the rest."""
    import gc

    if collect:
        gc.collect()
    gc.freeze()


def log_what_the_mode_needs(log: Any, settings: Any, *, http: bool) -> None:
    """One start-up line saying what this sign-in mode needs, when it lacks it (or how callers sign in)."""
    from ..settings import CREDENTIAL_VARIABLES

    if http and settings.mcp_auth == "oauth":
        log.info(
            "sign-in mode (NEXUDUS_MCP_AUTH=oauth): each staff member signs in with their own Nexudus account "
            "at %s/signin; no server-wide Nexudus credentials are used",
            (settings.mcp_public_url or "NEXUDUS_MCP_PUBLIC_URL").rstrip("/"),
        )
    elif not settings.configured:
        who = (
            "the service account the server acts as for every signed-in caller (NEXUDUS_MCP_AUTH=oauth-external)"
            if http and settings.mcp_auth == "oauth-external"
            else "the account every tool call uses"
        )
        log.warning(
            "no Nexudus credentials for %s: every tool will answer not_configured; set %s", who, CREDENTIAL_VARIABLES
        )


def cmd_serve(args: argparse.Namespace) -> None:
    import logging

    from ..logs import configure_logging
    from ..settings import settings_or_problem

    if not args.http and (args.host is not None or args.port is not None):
        fail("--host and --port go with --http; without --http the server speaks MCP over stdio")
    if args.port is not None:
        check_port(args.port)
    configure_logging()
    log = logging.getLogger(PROG)
    read_only = True if args.read_only else None
    transport = None
    if args.http:  # an operator starts this: a bad setting stops it, in one line
        settings = sandbox_settings() if args.sandbox else load_settings()
        problem = None
    else:  # an assistant starts this: a bad setting is answered by every tool, where the user sees it
        settings, problem = settings_or_problem()
        if problem is not None:
            log.error("%s; every tool will answer not_configured until it is fixed", problem)
        elif args.sandbox:
            settings = sandbox_settings(settings)
    if args.sandbox:
        transport = sandbox_transport(args)
        log.info(
            "serving against the built-in sandbox (%s profile): fictional data, nothing reaches Nexudus", args.profile
        )
        if args.http and settings.mcp_auth == "oauth":
            from ..sandbox.state import STAFF_PASSWORD, STAFF_TOTP_SECRET, STAFF_USERS

            log.info(
                "sandbox sign-in: password %s for %s; carla.2fa's authenticator secret is %s",
                STAFF_PASSWORD,
                ", ".join(f"{user} ({what})" for user, what in STAFF_USERS.items()),
                STAFF_TOTP_SECRET,
            )
    elif problem is None:
        log_what_the_mode_needs(log, settings, http=args.http)
    if args.http:
        serve_http(settings, transport, args.host or "127.0.0.1", 8000 if args.port is None else args.port, read_only)
        return

    from ..mcpserver.app import build_server
    from ..mcpserver.serving import run_stdio
    from ..telemetry.traces import configure_tracing

    configure_tracing()  # the OTEL_* variables, as over HTTP (stdout stays the protocol's: OTLP only)
    server = build_server(settings, transport=transport, read_only=read_only, problem=problem)
    freeze_startup_objects(collect=False)
    exit_after(run_stdio(server))


def serve_http(settings, transport, host: str, port: int, read_only: bool | None) -> None:  # type: ignore[no-untyped-def]
    import logging

    from ..mcpserver.http_app import ConfigError, create_app
    from ..mcpserver.serving import PortInUse, bind, proxy_options, run_http
    from ..settings import is_loopback_host

    check_port(port)
    try:
        sock = bind(host, port)
        bound = sock.getsockname()[1]
        app = create_app(
            settings,
            transport=transport,
            host=host,
            read_only=read_only,
            public_url=f"http://{host}:{bound}" if is_loopback_host(host) else None,
        )
    except (ConfigError, PortInUse) as exc:
        fail(str(exc))
    freeze_startup_objects()

    def banner() -> None:
        logging.getLogger(PROG).info("streamable HTTP on http://%s:%d/mcp (health: /healthz)", host, bound)

    try:
        stopped = run_http(app, sock, banner, **proxy_options(settings))
    except RuntimeError as exc:
        fail(str(exc), 1)
    exit_after(stopped)


def cmd_check(args: argparse.Namespace) -> None:
    import anyio

    from ..settings import CREDENTIAL_VARIABLES
    from .check import diagnose

    transport = None
    if args.sandbox:
        settings = sandbox_settings()
        transport = sandbox_transport(args)
    else:
        settings = load_settings()
    if not settings.configured:
        fail(f"no Nexudus credentials: set {CREDENTIAL_VARIABLES}")

    where = "the built-in sandbox" if args.sandbox else None
    result = anyio.run(diagnose, settings, transport, where)
    if not result.ok:
        fail("\n".join(result.lines), 1)
    print("\n".join(result.lines))


def cmd_history(args: argparse.Namespace) -> None:
    import time

    import anyio

    from ..record.timefmt import parse_since
    from ..state import Query
    from .history import export

    settings = load_settings()
    if settings.mcp_redis_url is None and not settings.mcp_state_dir:
        fail(
            "the journal lives in each server process's memory unless the state is shared: set "
            "NEXUDUS_MCP_STATE_DIR (SQLite) or NEXUDUS_MCP_REDIS_URL as the server has them"
        )
    try:
        since = parse_since(args.since, time.time()) if args.since else None
    except ValueError as exc:
        fail(f"--since: {exc}")
    query = Query(check_id=args.check, coworker_id=args.member, who=args.who, since=since)
    for line in anyio.run(export, settings, query, args.format, args.unredacted):
        sys.stdout.write(line)


def cmd_probe(args: argparse.Namespace) -> None:
    import json
    from pathlib import Path

    import anyio

    from ..logs import configure_logging
    from ..nexudus import NexudusClient
    from ..settings import CREDENTIAL_VARIABLES
    from .probe import report, run_probe, table

    configure_logging()
    transport = None
    if args.sandbox:
        settings = sandbox_settings()
        transport = sandbox_transport(args)
    else:
        settings = load_settings()
    if not settings.configured:
        fail(f"no Nexudus credentials: set {CREDENTIAL_VARIABLES}")

    async def probe() -> dict[str, Any]:
        async with NexudusClient(settings, transport=transport) as client:
            findings = await run_probe(client, write_check=args.write_check)
            return report(findings, client, sandbox_profile=args.profile if args.sandbox else None)

    result = anyio.run(probe)
    from .probe import Finding

    findings = [Finding(**f) for f in result["findings"]]
    where = f"the built-in sandbox ({args.profile} profile)" if args.sandbox else result["base_url"]
    mode = (
        "writes to one record: a no-change write, a normalisation test, the record written back"
        if args.write_check is not None
        else "read-only"
    )
    print(f"nexudus-identity-mcp probe against {where} ({mode})\n")
    print(table(findings))
    print("verdicts: " + ", ".join(f"{n} {v}" for v, n in sorted(result["verdicts"].items())))
    if args.report:
        Path(args.report).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"report: {args.report}")
    sys.exit(1 if any(f.verdict == "failed" for f in findings) else 0)


def cmd_sandbox(args: argparse.Namespace) -> None:
    from ..mcpserver.serving import PortInUse, bind, run_http
    from ..sandbox import ADMIN_PASSWORD, ADMIN_USER, SANDBOX_TOKEN, Sandbox

    check_port(args.port)
    try:
        sock = bind(args.host, args.port)
    except PortInUse as exc:
        fail(str(exc))
    url = f"http://{args.host}:{sock.getsockname()[1]}"

    def banner() -> None:
        print(
            f"Nexudus sandbox on {url}  (Ctrl-C to stop)\n"
            f"  NEXUDUS_BASE_URL={url} NEXUDUS_TOKEN={SANDBOX_TOKEN}\n"
            f"  or NEXUDUS_USERNAME={ADMIN_USER} NEXUDUS_PASSWORD={ADMIN_PASSWORD}\n"
            f"  profile: {args.profile}",
            file=sys.stderr,
            flush=True,
        )

    app = Sandbox(sandbox_state(args, write_limit=args.write_limit or None)).app
    try:
        stopped = run_http(app, sock, banner)
    except RuntimeError as exc:
        fail(str(exc), 1)
    exit_after(stopped)


def cmd_bundle(args: argparse.Namespace) -> None:
    from pathlib import Path

    from .bundle import BundleError, build_bundle

    try:
        out = build_bundle(out=Path(args.out) if args.out else None)
    except BundleError as error:
        fail(str(error))
    print(f"built {out} ({out.stat().st_size // 1024} KB): double-click it, or Claude Desktop → Settings → Extensions")


def cmd_demo(args: argparse.Namespace) -> None:
    from .demo import run_demo

    sys.exit(run_demo())


# `--agent anthropic --model X` still works: a bare provider name takes --model or this default.
DEFAULT_MODELS = {"anthropic": "claude-sonnet-4-5", "openai": "gpt-4.1", "google-gla": "gemini-2.5-flash"}


def make_agent(name: str, model: str | None, price_per_mtok: tuple[float, float] | None = None) -> Any:
    """The agent `--agent` names: `scripted`, or a pydantic-ai model name; AgentConfigError when it
    cannot be built (unknown name, missing key, the evals extra not installed)."""
    from ..evaluation.agents.scripted import ScriptedAgent

    if name == "scripted":
        return ScriptedAgent()
    from ..evaluation.agents.model import ModelAgent

    if name in DEFAULT_MODELS:
        name = f"{name}:{model or DEFAULT_MODELS[name]}"
    return ModelAgent(name, price_per_mtok=price_per_mtok)


def parse_price(text: str | None) -> tuple[float, float] | None:
    """`--price-per-mtok IN,OUT` (USD per million input and output tokens)."""
    if text is None:
        return None
    try:
        price_in, price_out = (float(p) for p in text.split(","))
    except ValueError:
        fail(f"--price-per-mtok takes IN,OUT (USD per million input and output tokens), not {text!r}")
    if price_in < 0 or price_out < 0:
        fail("--price-per-mtok: prices cannot be negative")
    return price_in, price_out


def cmd_eval(args: argparse.Namespace) -> None:
    import time
    from pathlib import Path

    import anyio

    from ..evaluation.agents.model import AgentConfigError
    from ..evaluation.harness import Budget, run_all
    from ..evaluation.report import junit, report, summary, table, write_json
    from ..evaluation.scenarios import ScenarioError, default_scenario_files, load_scenario, scenarios_dir

    if args.compare:
        cmd_eval_compare(args)
        return
    for flag, value in (("--trials", args.trials), ("--jobs", args.jobs)):
        if value < 1:
            fail(f"{flag} must be at least 1")
    files = [Path(p) for p in args.scenarios] if args.scenarios else default_scenario_files()
    if not files:
        fail(f"no scenario files given and none found in {scenarios_dir()}")
    try:
        scenarios = [load_scenario(path) for path in files]
        agent = make_agent(args.agent, args.model, parse_price(args.price_per_mtok))
    except (ScenarioError, AgentConfigError) as exc:
        fail(str(exc))
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        fail(f"two scenarios share a name: {sorted({n for n in names if names.count(n) > 1})}")
    budget = Budget(max_tokens=args.max_tokens, max_cost_usd=args.max_cost)
    out_dir = Path(args.out) if args.out else None
    started = time.monotonic()
    outcomes = anyio.run(
        lambda: run_all(scenarios, agent, trials=args.trials, jobs=args.jobs, out_dir=out_dir, budget=budget)
    )
    data = report(
        scenarios,
        outcomes,
        agent.name,
        trials=args.trials,
        jobs=args.jobs,
        wall_seconds=time.monotonic() - started,
        budget=budget,
        transcripts=str(out_dir) if out_dir else None,
    )
    print()
    print(table(data))
    print("\n" + summary(data["totals"], data["budget"]))
    if out_dir is not None:
        write_json(out_dir / "report.json", data)
        print(f"transcripts and report: {out_dir}")
    if args.report:
        write_json(Path(args.report), data)
        print(f"report: {args.report}")
    if args.junit:
        Path(args.junit).write_text(junit(data), encoding="utf-8")
        print(f"JUnit XML: {args.junit}")
    t = data["totals"]
    sys.exit(0 if t["failed"] == 0 and not budget.stopped else 1)


def cmd_eval_compare(args: argparse.Namespace) -> None:
    from pathlib import Path

    from ..evaluation.report import ReportError, compare, compare_table, load_report, write_json

    a_path, b_path = (Path(p) for p in args.compare)
    try:
        a, b = load_report(a_path), load_report(b_path)
    except ReportError as exc:
        fail(str(exc))
    data = compare(a, b, str(a_path), str(b_path))
    print(compare_table(data))
    if args.report:
        write_json(Path(args.report), data)
        print(f"comparison: {args.report}")


def add_profile(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        choices=["live", "documented"],
        default="live",
        help="sandbox behaviour: live (default: the API's observed habits, e.g. unknown filters ignored, "
        "extra fields) or documented (as the documentation describes it)",
    )
    parser.add_argument(
        "--dates-without-z",
        action="store_true",
        help="sandbox: write dates without the literal Z, as some accounts may (probe --write-check tells)",
    )
    parser.add_argument(
        "--trims-text", action="store_true", help="sandbox: store text trimmed, as a normalising account would"
    )


# Shown by --help; tests/test_diagnose.py checks that it names every setting.
ENVIRONMENT_HELP = """\
environment variables (configuration; see README.md, Configuration):
  NEXUDUS_BASE_URL              API base, default https://spaces.nexudus.com (no /api)
  NEXUDUS_TOKEN                 a bearer token, or:
  NEXUDUS_USERNAME, NEXUDUS_PASSWORD
                                an admin login, exchanged for a token at /api/token
  NEXUDUS_TOTP_SECRET           with a password login on a 2FA account: the authenticator's secret
  NEXUDUS_CLIENT_ID             the client_id of password sign-ins (default: one per process)
  NEXUDUS_AUTH                  auto (default), bearer, password or basic
  NEXUDUS_CONNECT_TIMEOUT, NEXUDUS_READ_TIMEOUT
                                seconds (5, 20)
  NEXUDUS_MAX_ATTEMPTS, NEXUDUS_MAX_CALL_SECONDS, NEXUDUS_MAX_RETRY_AFTER, NEXUDUS_BACKOFF_BASE
                                retry bounds (4 attempts, 45 s per call, 10 s longest wait, 0.25 s)
  NEXUDUS_MAX_RESPONSE_BYTES    largest API answer read (2 MiB)
  NEXUDUS_MCP_REDACT            what results hide: id_document (default), id_document,name, none
  NEXUDUS_MCP_SECRET            key for redaction tokens (random per process when unset)
  NEXUDUS_MCP_READ_ONLY         true: serve the read tools only
  NEXUDUS_MCP_CONFIRM           ask the user before a command runs: auto (default), always, never
  NEXUDUS_MCP_CONFIRM_UPDATES   true: ask before every update too
  NEXUDUS_MCP_CLIENT_TOKENS     HTTP only: name=token,name=token, the clients allowed in
  NEXUDUS_MCP_ALLOWED_HOSTS, NEXUDUS_MCP_ALLOWED_ORIGINS
                                HTTP only: comma lists for DNS-rebinding protection
  NEXUDUS_MCP_MAX_BODY_BYTES    HTTP only: largest request body (262144)
  NEXUDUS_MCP_AUTH              HTTP only: tokens (default), oauth, oauth-external
  NEXUDUS_MCP_PUBLIC_URL        HTTP sign-in modes: the https origin clients reach the server at
  NEXUDUS_MCP_TRUSTED_PROXIES   HTTP sign-in: the reverse proxies whose X-Forwarded-For is believed
  NEXUDUS_MCP_OAUTH_ISSUER, NEXUDUS_MCP_OAUTH_AUDIENCE, NEXUDUS_MCP_OAUTH_JWKS_URL
                                oauth-external only: your identity provider
  NEXUDUS_MCP_STATE_DIR, NEXUDUS_MCP_REDIS_URL
                                several processes: shared state in SQLite (one host) or Redis
  NEXUDUS_MCP_WRITE_BUDGET, NEXUDUS_MCP_READ_BUDGET
                                requests per account the processes share, e.g. 60/min,5000/day, or off
  NEXUDUS_MCP_JOURNAL_DAYS, NEXUDUS_MCP_JOURNAL_MAX_ENTRIES
                                the journal of writes: days kept (30; 0: none), most entries (100000)
  NEXUDUS_MCP_LOG_LEVEL         log level on stderr (INFO)
  NEXUDUS_MCP_LOG_FORMAT        text (default) or json: one JSON object a line
  NEXUDUS_MCP_METRICS           HTTP only: off (default), on (/metrics, authenticated like /mcp), or
                                [127.0.0.1:]PORT (a loopback port of its own); docs/deployment.md
Start with `check` to test the credentials, or `serve --sandbox` / `demo` to try it with no account.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="MCP server for Nexudus coworker identity checks.",
        epilog=ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the MCP server over stdio (the default)")
    serve.add_argument("--sandbox", action="store_true", help="answer from the built-in sandbox, no account needed")
    serve.add_argument(
        "--read-only", action="store_true", help="serve the read tools only (also NEXUDUS_MCP_READ_ONLY=true)"
    )
    add_profile(serve)
    serve.add_argument("--http", action="store_true", help="serve streamable HTTP at /mcp instead of stdio")
    serve.add_argument("--host", help="with --http: address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="with --http: port (default 8000; 0: any free port)")
    serve.set_defaults(func=cmd_serve)
    check = sub.add_parser("check", help="test the configured Nexudus credentials with one cheap read")
    check.add_argument("--sandbox", action="store_true", help="check against the built-in sandbox")
    add_profile(check)
    check.set_defaults(func=cmd_check)
    probe = sub.add_parser("probe", help="check this server's assumptions about the API on your account (run first)")
    probe.add_argument("--sandbox", action="store_true", help="probe the built-in sandbox instead")
    add_profile(probe)
    probe.add_argument(
        "--write-check",
        type=int,
        metavar="ID",
        help="also PUT check ID back unchanged and compare it before and after (the only write)",
    )
    probe.add_argument("--report", metavar="FILE", help="write the findings as JSON to this file")
    probe.set_defaults(func=cmd_probe)
    history = sub.add_parser("history", help="export the journal of writes (newest first), redacted by default")
    history.add_argument("--since", help="how far back: 7d, 12h, 30m, or a date (default: all that is kept)")
    history.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="jsonl (default) or csv")
    history.add_argument("--check", type=int, metavar="ID", help="one check's entries only")
    history.add_argument("--member", type=int, metavar="COWORKER_ID", help="one member's entries only")
    history.add_argument("--who", help="one client's or staff member's entries only")
    history.add_argument(
        "--unredacted", action="store_true", help="show document numbers and names as stored (needs the key)"
    )
    history.set_defaults(func=cmd_history)
    bundle = sub.add_parser("bundle", help="build the Claude Desktop extension (.mcpb) from a checkout")
    bundle.add_argument("--out", help="where to write it (default dist/nexudus-identity-mcp.mcpb)")
    bundle.set_defaults(func=cmd_bundle)
    demo = sub.add_parser("demo", help="run a scripted session against the sandbox and print it")
    demo.set_defaults(func=cmd_demo)
    evals = sub.add_parser("eval", help="run evaluation scenarios against the server and the sandbox")
    evals.add_argument("scenarios", nargs="*", help="scenario TOML files (default: every file in evals/)")
    evals.add_argument(
        "--agent",
        default="scripted",
        help="scripted (default, no model), or a pydantic-ai model: anthropic:claude-sonnet-4-5, openai:gpt-4.1, "
        "google-gla:gemini-2.5-flash, openai-compat:http://localhost:11434/v1:llama3.1 (needs the evals extra)",
    )
    evals.add_argument("--model", help="with --agent anthropic, openai or google-gla: the model name")
    evals.add_argument("--report", help="write the JSON report (with --compare: the comparison) to this file")
    evals.add_argument(
        "--trials", type=int, default=1, help="run each scenario N times, each from a fresh sandbox (default 1)"
    )
    evals.add_argument(
        "--jobs", type=int, default=1, help="run J trials at a time, each worker with its own sandbox (default 1)"
    )
    evals.add_argument("--out", metavar="DIR", help="write each trial's redacted JSONL transcript and report.json here")
    evals.add_argument("--junit", metavar="FILE", help="write JUnit XML (one testcase per scenario) to this file")
    evals.add_argument("--max-tokens", type=int, help="stop the run once model agents have spent this many tokens")
    evals.add_argument("--max-cost", type=float, help="stop the run once model agents have spent this many USD")
    evals.add_argument(
        "--price-per-mtok",
        metavar="IN,OUT",
        help="USD per million input and output tokens, for --max-cost (default: genai-prices' price for the model)",
    )
    evals.add_argument(
        "--compare", nargs=2, metavar=("A.json", "B.json"), help="print two reports side by side and the differences"
    )
    evals.set_defaults(func=cmd_eval)
    sandbox = sub.add_parser("sandbox", help="serve the sandbox Nexudus API over HTTP")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any free port)")
    sandbox.add_argument(
        "--write-limit",
        type=int,
        default=60,
        help="PUTs per minute before it answers 409 as Nexudus does (default 60; 0: no throttling)",
    )
    add_profile(sandbox)
    sandbox.set_defaults(func=cmd_sandbox)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command is None:
        args = build_parser().parse_args(["serve", *(argv or sys.argv[1:])])
    args.func(args)
