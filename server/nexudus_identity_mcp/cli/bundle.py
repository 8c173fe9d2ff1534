"""Build the Claude Desktop extension, `dist/nexudus-identity-mcp.mcpb`, from a checkout: a zip of
`manifest.json` (the MCP Bundle manifest at the repository root, version filled in from the
package), the entry script (`bundle_entry.py` as `mcpb_server.py`) and the project itself
(`pyproject.toml`, `server/`, `prompts/`, `evals/`, README, LICENSE).

The bundle uses the `uv` server type of the MCPB format: Claude Desktop installs Python and the
dependencies from `pyproject.toml` on the staff member's machine, so one file works on macOS,
Windows and Linux and nobody installs Python by hand. Run by `nexudus-identity-mcp bundle`.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from .. import __version__

BUNDLE_NAME = "nexudus-identity-mcp.mcpb"
ENTRY_NAME = "mcpb_server.py"
PROJECT_FILES = ("pyproject.toml", "README.md", "LICENSE")
PROJECT_DIRS = ("server", "prompts", "evals")
SKIPPED_PARTS = frozenset({"__pycache__", ".mypy_cache", ".ruff_cache"})


class BundleError(Exception):
    """The bundle cannot be built (not a checkout, or the manifest is not usable)."""


def checkout_root() -> Path:
    """The repository this package was installed from (editable install), or BundleError."""
    root = Path(__file__).resolve().parents[3]
    if not (root / "pyproject.toml").is_file() or not (root / "manifest.json").is_file():
        raise BundleError(f"no checkout with pyproject.toml and manifest.json at {root}; run this from a git clone")
    return root


def load_manifest(root: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"manifest.json cannot be read: {exc}") from None
    manifest["version"] = __version__
    return manifest


def bundle_files(root: Path) -> list[Path]:
    files = [root / name for name in PROJECT_FILES]
    for folder in PROJECT_DIRS:
        files.extend(
            path
            for path in sorted((root / folder).rglob("*"))
            if path.is_file() and not SKIPPED_PARTS.intersection(path.relative_to(root).parts)
        )
    return files


def build_bundle(root: Path | None = None, out: Path | None = None) -> Path:
    """Write the `.mcpb` and return its path."""
    root = root or checkout_root()
    out = out or root / "dist" / BUNDLE_NAME
    manifest = load_manifest(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        archive.write(Path(__file__).with_name("bundle_entry.py"), ENTRY_NAME)
        for path in bundle_files(root):
            archive.write(path, path.relative_to(root).as_posix())
    return out
