"""The layout's promises: the serve path imports neither the sandbox nor the evaluation harness, and
the package has no import cycle between its sub-packages."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_serve_path_imports_neither_sandbox_nor_evaluation() -> None:
    code = (
        "import sys\n"
        "import nexudus_identity_mcp.app, nexudus_identity_mcp.http_app, nexudus_identity_mcp.cli\n"
        "from nexudus_identity_mcp.settings import Settings\n"
        "nexudus_identity_mcp.app.build_server(Settings(_env_file=None))\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('nexudus_identity_mcp.sandbox',"
        " 'nexudus_identity_mcp.evaluation', 'nexudus_identity_mcp.demo', 'nexudus_identity_mcp.loopback')))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == ""


@pytest.mark.slow
def test_each_module_imports_on_its_own() -> None:
    """A cycle between modules shows up as an ImportError when a module is imported first."""
    import pkgutil

    import nexudus_identity_mcp

    names = [m.name for m in pkgutil.walk_packages(nexudus_identity_mcp.__path__, "nexudus_identity_mcp.")]
    code = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"
    for name in names:
        if name.endswith("__main__"):
            continue
        done = subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{name}: {done.stderr[-500:]}"
