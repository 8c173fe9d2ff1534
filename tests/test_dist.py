"""The package builds as a wheel and as an sdist, and each installs into a clean virtual environment
(no checkout on its path) where `nexudus-identity-mcp demo` passes: what `uvx nexudus-identity-mcp`
will do the day it is on PyPI. Slow: two fresh environments; pip's cache makes the second cheap."""

from __future__ import annotations

import os
import subprocess
import tarfile
import venv
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dist")]  # one worker builds the dists once
ROOT = Path(__file__).parent.parent


def run(*args: str | Path, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXUDUS_", "PYTHON", "VIRTUAL_ENV"))}
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env, check=False
    )
    assert done.returncode == 0, f"{args}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


def fresh_env(where: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    return where / "bin" / "python"


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Wheel and sdist built by hatchling through `build`, without build isolation (no download of a
    build backend at build time beyond installing `build` and `hatchling` into a builder venv)."""
    base = tmp_path_factory.mktemp("dists")
    builder = fresh_env(base / "builder")
    run(builder, "-m", "pip", "install", "-q", "build", "hatchling>=1.24")
    out = base / "dist"
    run(builder, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", out, ROOT, cwd=base)
    return {
        "wheel": next(out.glob("nexudus_identity_mcp-*.whl")),
        "sdist": next(out.glob("nexudus_identity_mcp-*.tar.gz")),
    }


def test_sdist_carries_what_a_rebuild_needs(dists: dict[str, Path]) -> None:
    with tarfile.open(dists["sdist"]) as archive:
        names = archive.getnames()
    top = names[0].split("/")[0]
    for needed in ("pyproject.toml", "README.md", "LICENSE", "manifest.json", "server.json"):
        assert f"{top}/{needed}" in names, needed
    assert any(name.startswith(f"{top}/prompts/") for name in names)
    assert not any("node_modules" in name or "__pycache__" in name for name in names)


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_installs_into_a_clean_venv_and_the_demo_passes(kind: str, dists: dict[str, Path], tmp_path: Path) -> None:
    python = fresh_env(tmp_path / "venv")
    if kind == "sdist":  # build the sdist here too, with the backend installed rather than fetched
        run(python, "-m", "pip", "install", "-q", "hatchling>=1.24")
        run(python, "-m", "pip", "install", "-q", "--no-build-isolation", dists[kind])
    else:
        run(python, "-m", "pip", "install", "-q", dists[kind])
    where = run(python, "-c", "import nexudus_identity_mcp as m; print(m.__file__)", cwd=tmp_path).stdout
    assert str(tmp_path / "venv") in where and str(ROOT) not in where
    demo = run(tmp_path / "venv" / "bin" / "nexudus-identity-mcp", "demo", cwd=tmp_path, timeout=300)
    assert "Demo passed" in demo.stdout
