"""The layout's promises: the package root holds the wings and little else, imports between wings run
one way (down the table below, never back up), the serve path imports neither the sandbox nor the
evaluation harness, and every module imports on its own."""

from __future__ import annotations

import ast
import importlib.util
import io
import os
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "server" / "nexudus_identity_mcp"

# Each wing and the wings it may import. Read top to bottom: a wing imports only wings above it.
ALLOWED: dict[str, set[str]] = {
    "record": set(),
    "settings": {"record"},
    # Metrics, traces and JSON logs: the face, the tools, the client and the sign-in report into it.
    "telemetry": {"record", "settings"},
    "logs": {"record", "settings", "telemetry"},
    "state": {"record", "settings"},
    "nexudus": {"record", "settings", "telemetry", "logs", "state"},
    "tools": {"record", "settings", "telemetry", "logs", "state", "nexudus"},
    "signin": {"record", "settings", "telemetry", "logs", "state", "nexudus", "tools"},
    "mcpserver": {"record", "settings", "telemetry", "logs", "state", "nexudus", "tools", "signin"},
    "sandbox": {"record"},
    "evaluation": {"record", "settings", "logs", "tools", "mcpserver", "sandbox"},
    "cli": {
        "record",
        "settings",
        "telemetry",
        "logs",
        "state",
        "nexudus",
        "tools",
        "signin",
        "mcpserver",
        "sandbox",
        "evaluation",
    },
}
# Arrows that still run back up; each is a debt with an owner, and the list only shrinks.
KNOWN_BACK_EDGES: set[tuple[str, str]] = set()
ROOT_MODULES = {"__init__", "__main__", "settings", "logs"}


def _wing_imports() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        wing = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        package = ["nexudus_identity_mcp", *rel.parent.parts]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                target = package[: len(package) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "nexudus_identity_mcp":
                target = node.module.split(".")
            else:
                continue
            if len(target) > 1:
                found.setdefault(wing, set()).add(target[1])
            else:  # `from nexudus_identity_mcp import x`: each name is a wing or the package's face
                found.setdefault(wing, set()).update(a.name for a in node.names if a.name in ALLOWED)
    return found


def test_package_root_holds_the_wings_and_little_else() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert modules == ROOT_MODULES
    wings = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert wings == set(ALLOWED) - ROOT_MODULES


def test_imports_between_wings_run_one_way() -> None:
    back = {
        (wing, target)
        for wing, targets in _wing_imports().items()
        if wing in ALLOWED
        for target in targets
        if target != wing and target in ALLOWED and target not in ALLOWED[wing]
    }
    assert back - KNOWN_BACK_EDGES == set(), "an import runs back up the layout"
    assert KNOWN_BACK_EDGES - back == set(), "a known back edge is gone: remove it from KNOWN_BACK_EDGES"


def test_serve_path_imports_neither_sandbox_nor_evaluation() -> None:
    code = (
        "import sys\n"
        "import nexudus_identity_mcp.mcpserver.app, nexudus_identity_mcp.mcpserver.http_app\n"
        "import nexudus_identity_mcp.cli.main\n"
        "from nexudus_identity_mcp.settings import Settings\n"
        "nexudus_identity_mcp.mcpserver.app.build_server(Settings(_env_file=None))\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('nexudus_identity_mcp.sandbox',"
        " 'nexudus_identity_mcp.evaluation', 'nexudus_identity_mcp.cli.demo')))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == ""


# Modules that need an optional extra's package (pyproject.toml): module -> the package it imports.
OPTIONAL_MODULES = {"nexudus_identity_mcp.evaluation.inspect_task": "inspect_ai"}


@pytest.mark.slow
@pytest.mark.timeout(600)  # ~90 fresh interpreters; a loaded 2-core machine took close to 120 s
def test_each_module_imports_on_its_own() -> None:
    """A cycle between modules shows up as an ImportError when a module is imported first."""
    import pkgutil
    from concurrent.futures import ThreadPoolExecutor

    import nexudus_identity_mcp

    names = [m.name for m in pkgutil.walk_packages(nexudus_identity_mcp.__path__, "nexudus_identity_mcp.")]
    code = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"

    def first_import(name: str) -> tuple[str, subprocess.CompletedProcess[str]]:
        return name, subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True, timeout=120)

    with ThreadPoolExecutor(max_workers=4) as pool:  # bounded: four interpreters at a time
        for name, done in pool.map(first_import, [n for n in names if not n.endswith("__main__")]):
            needs = OPTIONAL_MODULES.get(name)
            if needs is not None and importlib.util.find_spec(needs) is None:
                # An extra's module without its extra: the one acceptable failure is that package missing.
                assert f"No module named '{needs}'" in done.stderr, f"{name}: {done.stderr[-500:]}"
                continue
            assert done.returncode == 0, f"{name}: {done.stderr[-500:]}"


def test_the_api_client_reads_no_ambient_state() -> None:
    """Who calls, with which credentials, travels explicitly (tools/context.py, and per request to the
    client): no ContextVar in the API client, and none in the package but the redaction scope the
    log filter reads (logging has no other way to reach the call)."""
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("nexudus/"):
            assert "contextvars" not in text and "ContextVar" not in text, rel
        elif rel != "record/redaction.py":
            assert "ContextVar" not in text, f"{rel}: pass it in the call context instead"
    # The redaction scope is set around a call for the log filter, and read by the log functions only:
    # the redactor's own note_record and scrub take the call's scope as an argument.
    tree = ast.parse((PACKAGE / "record" / "redaction.py").read_text())
    readers = {
        outer.name
        for outer in ast.walk(tree)
        if isinstance(outer, (ast.FunctionDef, ast.ClassDef))
        for node in ast.walk(outer)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "_ACTIVE.get"
    }
    assert readers <= {"scrub_log_text", "RedactingLogFilter", "filter"}, readers


TOOL_NAMES = (
    "find_coworker_identity_checks",
    "get_coworker_identity_check",
    "update_coworker_identity_check",
    "list_coworker_identity_check_commands",
    "run_coworker_identity_check_command",
    "find_coworkers",
    "compare_identity_document_number",
    "list_coworker_identity_check_changes",
    "undo_coworker_identity_check_update",
)


def test_a_tool_name_is_spelled_only_in_its_declaration() -> None:
    """tools/catalog.py declares each tool; every other module takes the name from there (docs,
    prompts and evaluation scenarios are text for people and models, and may spell it)."""
    from nexudus_identity_mcp.tools.catalog import TOOLS

    assert {t.name for t in TOOLS} == set(TOOL_NAMES)  # this test's own list stays true
    names = re.compile("|".join(TOOL_NAMES))
    spelled = sorted(
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).as_posix() != "tools/catalog.py" and names.search(path.read_text())
    )
    assert spelled == []


def test_an_argument_refusal_is_worded_only_by_its_declaration() -> None:
    """`Tool.refuse` words every argument failure from the tool's declared `refused` (#31): a handler
    that finds an argument problem only it can see (a redaction token given as a number) calls it,
    never writes the message again, and a rule's limit (a number's length) is the argument rule's."""
    spelled = sorted(
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).as_posix() != "tools/declaration.py"
        and "arguments are not valid" in _code_words(path)
    )
    assert spelled == []
    assert "MAX_NUMBER" not in _code_words(PACKAGE / "tools" / "number_check.py")


def test_the_size_bound_is_enforced_once_at_the_transport() -> None:
    """Every answer from Nexudus is read within its bound by `envelopes.BoundedTransport`, through
    `envelopes.bounded_client` (the API client's and the sign-in pages'): no other module builds an
    HTTP client or reads a body chunk by chunk with a bound of its own (the old `read_bounded`)."""
    reads = re.compile(r"AsyncClient\(|\bhttpx2?\.Client\(|\.stream\(|aiter_raw|aiter_bytes|Inflater\(|read_bounded")
    outside = sorted(
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).as_posix() != "nexudus/envelopes.py" and reads.search(path.read_text())
    )
    assert outside == []


def _code_words(path: Path) -> str:
    """A module's code as text without its docstrings: names, attributes and the other string
    constants (SQL, Lua), which is where a removed concept would come back."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    words = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            words.append(node.value)
        elif isinstance(node, ast.Name):
            words.append(node.id)
        elif isinstance(node, ast.Attribute):
            words.append(node.attr)
        elif isinstance(node, ast.arg):
            words.append(node.arg)
    return "\n".join(words)


def test_the_stores_keep_no_fence_tokens() -> None:
    """A fence count per lock was written by every store and read by nothing (#31 item 5): a lease
    is its name and owner. Stores that earlier versions wrote fences in still work (test_state)."""
    import dataclasses

    from nexudus_identity_mcp.state import Lease

    assert {f.name for f in dataclasses.fields(Lease)} == {"name", "owner", "kept"}
    for path in (PACKAGE / "state").glob("*.py"):
        assert "fence" not in _code_words(path).lower(), path.name


# Memory kept process-wide on purpose: (module, name) -> why it is not on an instance.
PROCESS_WIDE: dict[tuple[str, str], str] = {
    ("record/redaction.py", "_label_key"): "a field name's folded form: pure and bounded (lru_cache)",
    ("record/redaction.py", "_compiled"): "a regex per set of values, the same for every redactor: bounded",
    ("record/redaction.py", "_compiled_tail"): "the same for a text cut short: bounded",
    ("telemetry/metrics.py", "_port_server"): "the metrics port: one per process, as a port is",
}


def _name_of(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    return target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")


def test_the_package_keeps_no_module_level_memory() -> None:
    """What code learns at run time lives on an instance (#31 item 5: the tools' search-filter
    verdicts; the review: the stores' logged odd values, the Inspect task's final states): no module
    of the package starts an empty container (or a weak map keyed by client) at import for later
    calls to fill, caches a function's answers, or rebinds a global, but what PROCESS_WIDE names."""
    makers = {"dict", "list", "set", "defaultdict", "WeakKeyDictionary", "WeakValueDictionary", "OrderedDict"}
    found: set[tuple[str, str]] = set()
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if any(_name_of(d) in ("lru_cache", "cache") for d in node.decorator_list):
                    found.add((rel, node.name))
                continue
            if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
                continue
            value = node.value
            if isinstance(value, (ast.Dict, ast.List, ast.Set)):
                starts_empty = not getattr(value, "keys", None) and not getattr(value, "elts", None)
            elif isinstance(value, ast.Call):
                starts_empty = _name_of(value) in makers and not value.args and not value.keywords
            else:
                starts_empty = False
            if starts_empty:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                found.update((rel, ast.unparse(t)) for t in targets)
        found.update((rel, name) for node in ast.walk(tree) if isinstance(node, ast.Global) for name in node.names)
    assert found - set(PROCESS_WIDE) == set(), "keep run-time memory on the instance"
    assert set(PROCESS_WIDE) - found == set(), "gone: remove it from PROCESS_WIDE"


def test_no_result_is_patched_after_it_is_made() -> None:
    """A tool result is made once (#31 item 1): no code assigns into a result's body or summary (a
    message, an EntryId, an undo's framing added afterwards); a layer that says more makes a new
    result (`ToolResult.adding`, `framed`), and the API failure takes its lead, tail and not-found
    words when it is built. The frozen dataclass and the Mapping body make mypy refuse it too."""
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for target in targets if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) else []:
                spot = target.value if isinstance(target, ast.Subscript) else target
                if isinstance(spot, ast.Attribute) and spot.attr in ("body", "summary", "is_error"):
                    owner = ast.unparse(spot.value)
                    assert owner.startswith("self"), f"{path.name}:{node.lineno}: {ast.unparse(target)} is assigned"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update":
                owner = node.func.value
                assert not (isinstance(owner, ast.Attribute) and owner.attr == "body"), (
                    f"{path.name}:{node.lineno}: {ast.unparse(node)} patches a result"
                )


def test_the_api_facts_the_code_cites_are_in_the_repository() -> None:
    """The survey of the API lives outside the repository: modules and tests cite the section of
    docs/development.md that holds the facts they rely on, never the survey (#31 item 5)."""
    root = PACKAGE.parents[1]
    section = "What is known of the Nexudus API"
    assert f"## {section}" in (root / "docs" / "development.md").read_text(encoding="utf-8")
    outside = "API-" + "FACTS"
    files = [*PACKAGE.rglob("*.py"), *(root / "tests").glob("*.py"), *(root / "bench").glob("*.py")]
    citing = sorted(str(p.relative_to(root)) for p in files if outside in p.read_text(encoding="utf-8"))
    assert citing == []


# A document cited by file name in prose: `docs/reference.md`, `README.md`, `put-….txt`.
# A path from elsewhere (/work/shared/…) is cited too, and is not in the repository; a URL is not checked.
_CITED = re.compile(r"(?<![\w.*<>-])((?:[\w.-]+/)*[\w-][\w.-]*\.(?:md|txt))\b")
_NOT_SHIPPED = {".git", ".venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def _prose_of(path: Path) -> list[tuple[int, str]]:
    """The comments and docstrings of a module, each with its first line."""
    source = path.read_text(encoding="utf-8")
    prose = [
        (t.start[0], t.string)
        for t in tokenize.generate_tokens(io.StringIO(source).readline)
        if t.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                prose.append((first.lineno, first.value.value))
    return prose


def test_every_document_the_code_cites_is_in_the_repository() -> None:
    """A docstring or comment that names a document (`*.md`, `*.txt`) names one the repository holds:
    by its path from the repository's root, or by a name some file in it has (#31 item 5: docstrings
    cited documents that were never in the repository)."""
    root = PACKAGE.parents[1]
    held: set[str] = set()
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _NOT_SHIPPED]
        held |= {(Path(folder) / n).relative_to(root).as_posix() for n in names}
    by_name = {p.rsplit("/", 1)[-1] for p in held}
    files = [*PACKAGE.rglob("*.py"), *(root / "tests").glob("*.py"), *(root / "bench").glob("*.py")]
    missing = []
    for path in files:
        for line, text in _prose_of(path):
            for match in _CITED.finditer(text):
                cited, word = match.group(1), text[: match.start()].rsplit(None, 1)[-1:]
                if word and "://" in word[0] + cited:
                    continue  # a URL
                if not (cited in held if "/" in cited else cited in by_name):
                    missing.append(f"{path.relative_to(root)}:{line}: {cited}")
    assert missing == []


def test_what_is_known_of_an_operation_is_read_from_its_table() -> None:
    """#31 (review): a 404's noun was picked by `op.startswith("coworker_")`, the summary always said
    "coworker identity check", the sandbox listed the writing routes by name and WRITE_ROUTES was
    derived twice. Each fact is on the operation's entry (`record/operations.py`: resource, writes,
    and WRITES derived once): no code outside it tests an operation's name by prefix, compares it
    with a list of names, or derives a set from the table."""
    from nexudus_identity_mcp.record.operations import OPERATIONS

    names = set(OPERATIONS)
    found = []
    for path in PACKAGE.rglob("*.py"):
        rel = str(path.relative_to(PACKAGE))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            spot = f"{rel}:{getattr(node, 'lineno', 0)}: {ast.unparse(node)[:60]}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "startswith":
                prefix = node.args[0] if node.args else None
                if isinstance(prefix, ast.Constant) and any(str(n).startswith(str(prefix.value)) for n in names):
                    found.append(spot)
            if isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
                for listed in node.comparators:
                    items = listed.elts if isinstance(listed, (ast.Tuple, ast.List, ast.Set)) else []
                    values = [e.value for e in items if isinstance(e, ast.Constant)]
                    if len(values) >= 2 and set(values) <= names:
                        found.append(spot)
            if rel != "record/operations.py" and isinstance(node, ast.comprehension):
                source = ast.unparse(node.iter)
                if source.startswith("OPERATIONS.") and node.ifs:
                    found.append(spot)
    assert found == []


def test_time_units_are_one_table() -> None:
    """#31 (review): the budgets' window units (settings.WINDOWS, and its alias RATE_UNITS) and the
    history's --since units (a dict in record/timefmt.parse_since) were two tables. One is left,
    record.timefmt.UNIT_SECONDS: no other dict literal maps unit names to numbers."""
    from nexudus_identity_mcp.record.timefmt import UNIT_SECONDS

    found = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Dict):
                continue
            units = [k.value for k in node.keys if isinstance(k, ast.Constant) and k.value in UNIT_SECONDS]
            if len(units) >= 2 and (rel, node.lineno) != ("record/timefmt.py", _line_of_unit_seconds()):
                found.append(f"{rel}:{node.lineno}: {units}")
    assert found == []


def _line_of_unit_seconds() -> int:
    tree = ast.parse((PACKAGE / "record" / "timefmt.py").read_text(encoding="utf-8"))
    [line] = [
        n.value.lineno
        for n in tree.body
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.target.id == "UNIT_SECONDS"
    ]
    return line


def test_no_code_reaches_another_objects_private_names() -> None:
    """An object's `_name` is its own (#31 item 5: probe called the API client's `_call`; the sandbox's
    app, its state's `_take_fault`; the journal, its stores' `_run` and `_do`): code reaches other
    objects by public names only."""
    reached = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            reached.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    assert reached == []


def _private_names_of_the_package() -> set[str]:
    """Every private name the package defines: attributes it sets on `self`/`cls`, methods, class
    fields and module-level names starting with one underscore."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def test_tests_reach_no_private_attribute_of_the_package() -> None:
    """Tests drive the package through what it offers (#31 item 5): the sandbox's token methods and
    control routes, the client's injectable clock, the redactor's and stores' public views. No
    `obj._private` of the package's own on anything but a test's own `self`/`cls` (the standard
    library's, argparse's `_actions` say, are not ours to shape)."""
    ours = _private_names_of_the_package()
    reached = []
    for path in sorted((PACKAGE.parents[1] / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ours
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                reached.append(f"{path.name}:{node.lineno}: .{node.attr}")
    assert reached == []


def test_the_searches_take_filters_by_their_api_names_only() -> None:
    """search_checks had named filter arguments no caller used beside `filters` (#31 item 3): both
    searches take the same arguments, the filters by their API names."""
    import inspect

    from nexudus_identity_mcp.nexudus import NexudusClient

    expected = ["self", "page", "size", "filters", "order_by", "descending", "caller"]
    for search in (NexudusClient.search_checks, NexudusClient.search_coworkers):
        assert list(inspect.signature(search).parameters) == expected, search.__name__


def _module_of(path: Path) -> str:
    return ".".join(["nexudus_identity_mcp", *path.relative_to(PACKAGE).with_suffix("").parts]).removesuffix(
        ".__init__"
    )


# Names the package defines for its tests (and people) without using them itself, each on purpose.
USED_ONLY_OUTSIDE = {
    ("nexudus_identity_mcp.mcpserver.reference", "readme_block"),  # a person regenerates the README's table
    ("nexudus_identity_mcp.sandbox.data", "seed_document_numbers"),  # the sandbox: a stand-in for tests
    ("nexudus_identity_mcp.telemetry.metrics", "stop_metrics_port"),  # closes the process-wide port
}


def test_the_package_holds_nothing_only_tests_or_bench_use() -> None:
    """What only tests or the benchmark use lives with them (#31 item 5: READ_TOOLS/WRITE_TOOLS in the
    catalog, `model_visible_bytes` and its budgets in schemas.py, now tests/model_visible.py; the
    RATE_UNITS alias; FieldError.as_problem, which the parser now calls): every module-level name
    that tests/ or bench/ import from the package is used by the package too, or named above."""
    used: set[str] = set()
    defined: set[tuple[str, str]] = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.add((_module_of(path), node.name))
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                defined.update((_module_of(path), t.id) for t in targets if isinstance(t, ast.Name))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                used.add(node.id)
            elif isinstance(node, ast.Attribute):
                used.add(node.attr)
            elif isinstance(node, ast.ImportFrom):
                used.update(a.name for a in node.names)
    root = PACKAGE.parents[1]
    outside = set()
    for path in [*(root / "tests").glob("*.py"), *(root / "bench").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nexudus_identity_mcp"):
                outside.update((node.module or "", a.name) for a in node.names)
    only_outside = {(m, n) for m, n in outside & defined if n not in used}
    assert only_outside == USED_ONLY_OUTSIDE, "move it to tests/ (or bench/), or use it in the package"


def test_a_field_error_becomes_a_problem_in_one_place() -> None:
    """`FieldError.as_problem` turns a rule's refusal into the API's problem shape; no other code
    copies it by passing an error's message to `problem(...)` (the parser did, #31)."""
    copies = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                path.name != "validation.py"
                and isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "problem"
            ):
                parts = [*node.args, *(k.value for k in node.keywords)]
                if any(isinstance(a, ast.Attribute) and a.attr in ("message", "allowed", "hint") for a in parts):
                    copies.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {ast.unparse(node)}")
    assert copies == [], "call FieldError.as_problem"


def test_a_search_filter_is_described_where_it_is_declared() -> None:
    """Each find tool's filter arguments are derived from the filter lists (`fields.SEARCH_FILTERS`,
    `members.MEMBER_FILTERS`), descriptions included, in their order (#31: the window's texts and the
    member filters' arguments were written again in the catalog); the window is told apart once
    (`SearchFilter.window`), not by a second `match in ("before", "on_or_after")`."""
    from nexudus_identity_mcp.record.fields import SEARCH_FILTERS
    from nexudus_identity_mcp.record.members import MEMBER_FILTERS
    from nexudus_identity_mcp.tools.catalog import FIND, FIND_MEMBERS

    for tool, filters in ((FIND, SEARCH_FILTERS), (FIND_MEMBERS, MEMBER_FILTERS)):
        properties = tool.input.schema()["properties"]
        assert [n for n in properties if n not in ("Page", "PageSize")] == [f.argument for f in filters]
        assert all(f.description and properties[f.argument]["description"] == f.description for f in filters)
    texts = {f.description for f in (*SEARCH_FILTERS, *MEMBER_FILTERS)}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in ("record/fields.py", "record/members.py"):
            continue
        words = _code_words(path)
        assert not any(text in words for text in texts), f"{rel}: a filter's description is written again"
        assert "on_or_after" not in words, f"{rel}: use SearchFilter.window / fields.WINDOW"


def test_a_token_answer_and_a_transport_failure_are_each_read_in_one_place() -> None:
    """#31 (review): the sign-in read the token endpoint's status itself (`(409, 429)`, `>= 500`) beside
    `TokenAnswer.error`, kept its own 3600 s default lifetime, and `exchange_token` mapped httpx's
    errors itself beside the API client's `_exchange`. Now the sign-in asks `answer.error`, the
    lifetime default is `DEFAULT_TOKEN_SECONDS`, and `envelopes.transport_error` is the one mapping
    from a request without an answer to a NexudusError."""
    found = []
    transport = re.compile(r"\bexcept\b[^:\n]*\b(httpx2\.\w+|TooLarge|UnsupportedEncoding)\b")
    for path in [*(PACKAGE / "nexudus").rglob("*.py"), PACKAGE / "signin" / "nexudus_login.py"]:
        rel = str(path.relative_to(PACKAGE))
        if rel != "nexudus/envelopes.py":  # (signin/external.py fetches an IdP's keys, not Nexudus's answers)
            found += [f"{rel}: except {m.group(1)}" for m in transport.finditer(path.read_text(encoding="utf-8"))]
    login = (PACKAGE / "signin" / "nexudus_login.py").read_text(encoding="utf-8")
    found += [f"nexudus_login.py: {m.group(0)}" for m in re.finditer(r"\b(409|429|3600)\b|>=\s*500", login)]
    auth = (PACKAGE / "nexudus" / "auth.py").read_text(encoding="utf-8")
    assert re.findall(r"\b3600(?:\.0)?\b", auth) == ["3600.0"] and "DEFAULT_TOKEN_SECONDS = 3600.0" in auth
    assert found == []
