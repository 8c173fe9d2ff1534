"""Real components from Debian's packages (podman, runc, mmdebstrap, prometheus, systemd's
systemd-analyze): installed by the test that needs one when it is missing and this is root with apt
(`apt-get update` once per process), as .ci/run does; otherwise the test skips saying which command
is missing and how to get it (in CI it fails instead: CI must run them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

import pytest

_updated = False
_lock = threading.Lock()


def _install(package: str) -> None:
    global _updated
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    with _lock:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if not _updated:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=300, check=False, env=env)
            _updated = True
        subprocess.run(
            ["apt-get", "install", "-y", "-q", package], capture_output=True, timeout=600, check=False, env=env
        )


def need(command: str, package: str) -> str:
    """The path of `command`, installing Debian's `package` when it is missing; else skip (fail in CI)."""
    found = shutil.which(command)
    if found is None:
        _install(package)
        found = shutil.which(command)
    if found is None:
        reason = f"{command} is not installed and could not be installed (apt-get install {package})"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI needs it (.ci/run installs it)")
        pytest.skip(reason)
    return found
