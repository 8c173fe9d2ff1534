"""The deployment files (#30 items 1 and 2), each tried for real on this machine:

- deploy/nexudus-identity-mcp.service passes `systemd-analyze verify` with no warning, and
  `systemd-analyze security` rates it 2.0 or better (the hardening is really there);
- deploy/Containerfile builds with podman on a Debian base made here (no registry is reachable:
  mmdebstrap makes the root filesystem, `podman import` makes it an image; the build installs wheels
  built outside with `pip wheel`, with no network), and the container, read-only root, serves the
  sandbox: /healthz, its HEALTHCHECK, one tool call from the host, /metrics, and not as root.

The base image and the built image are cached (tests/.cache/container/, git-ignored, and podman's
own store): the image is rebuilt only when the Containerfile, pyproject.toml or the package changes.
podman runs with `--runtime runc` and lowered ulimits (this machine forbids raising limits, which
crun tries). Each step skips with the reason where the component cannot run here."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from nexudus_identity_mcp.sandbox.loopback import LOOPBACK, free_port
from nexudus_identity_mcp.tools.catalog import GET_TOOL

from .debian_packages import need
from .helpers import CHECK, body
from .test_http import mcp_client

# The first container test builds the image (a minute or two; the Debian base, when podman's store and
# the cache have none, several more): past pytest's default 120 s.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("container"), pytest.mark.timeout(1500)]
ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
CACHE = ROOT / "tests" / ".cache" / "container"
BASE_TAG = "localhost/nexudus-mcp-test-base:bookworm"
IMAGE = "localhost/nexudus-identity-mcp"
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
TOKEN = "container-token-7d3f9b1e5a2c"
# What the base's Python needs beyond what this one resolves: Debian bookworm's python3 is 3.11.2, and
# redis needs async-timeout below 3.11.3.
FOR_THE_BASE = ["async-timeout>=4.0.3"]


# ------------------------------------------------------------------------------------ systemd
def test_the_service_unit_verifies_and_is_hardened(tmp_path: Path) -> None:
    analyze = need("systemd-analyze", "systemd")
    unit = (DEPLOY / "nexudus-identity-mcp.service").read_text()
    for setting in (
        "ProtectSystem=strict",
        "Restart=on-failure",
        "DynamicUser=yes",
        "StateDirectory=",
        "EnvironmentFile=",
    ):
        assert setting in unit, setting
    # The unit as installed, but with the executable and environment file this checkout has.
    env_file = tmp_path / "nexudus-identity-mcp.env"
    env_file.write_text((DEPLOY / "nexudus-identity-mcp.env.example").read_text())
    executable = Path(sys.executable).with_name("nexudus-identity-mcp")
    assert executable.exists(), executable
    here = unit.replace("/opt/nexudus-identity-mcp/bin/nexudus-identity-mcp", str(executable)).replace(
        "/etc/nexudus-identity-mcp.env", str(env_file)
    )
    path = tmp_path / "nexudus-identity-mcp.service"
    path.write_text(here)
    done = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
    rated = subprocess.run(
        [analyze, "security", "--offline=yes", "--threshold=20", str(path)], capture_output=True, text=True, timeout=60
    )
    assert rated.returncode == 0, rated.stdout[-2000:]
    exposure = re.search(r"Overall exposure level for \S+: ([0-9.]+)", rated.stdout)
    assert exposure is not None and float(exposure[1]) <= 2.0, rated.stdout[-500:]


def test_a_broken_unit_is_caught(tmp_path: Path) -> None:
    """The check above can fail: a misspelt hardening setting is reported."""
    analyze = need("systemd-analyze", "systemd")
    path = tmp_path / "broken.service"
    path.write_text("[Service]\nExecStart=/bin/true\nProtectSystem=strictt\n")
    done = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert "ProtectSystem" in done.stderr or "strictt" in done.stderr


# ------------------------------------------------------------------------------------ container
def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["podman", "--runtime", "runc", *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:2])} failed: {done.stderr[-3000:]}")
    return done


def _hash_of(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _base_image() -> None:
    """The Debian base (python3, venv, CA certificates): podman's store, else the cached root
    filesystem, else mmdebstrap (about half a minute to several, the mirror's speed)."""
    if podman("image", "exists", BASE_TAG, check=False).returncode == 0:
        return
    rootfs = CACHE / "rootfs.tar"
    if not rootfs.exists():
        mmdebstrap = need("mmdebstrap", "mmdebstrap")
        CACHE.mkdir(parents=True, exist_ok=True)
        draft = CACHE / "rootfs.partial.tar"
        done = subprocess.run(
            [mmdebstrap, "--variant=minbase", "--include=python3,python3-venv,ca-certificates", "bookworm", str(draft)],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if done.returncode != 0:
            pytest.skip(f"mmdebstrap could not make the Debian base here: {done.stderr.strip()[-300:]}")
        draft.rename(rootfs)
    podman("import", str(rootfs), BASE_TAG, timeout=300)


def _wheels(context: Path) -> None:
    """Every wheel the image installs, built outside the build (the machine's own pip configuration
    reaches the index; inside the build nothing does): the dependencies once per pyproject.toml,
    this package each time."""
    deps = CACHE / f"deps-{_hash_of([ROOT / 'pyproject.toml', Path(__file__)])}"
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    if not deps.exists():
        draft = deps.with_suffix(".partial")
        shutil.rmtree(draft, ignore_errors=True)
        draft.mkdir(parents=True)  # the cache folder too: a base image already in podman's store skips making it
        done = subprocess.run(
            [*pip, "wheel", "--wheel-dir", str(draft), f"{ROOT}[redis,otel]", *FOR_THE_BASE],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if done.returncode != 0:
            pytest.skip(f"pip wheel could not fetch the dependencies here: {done.stderr.strip()[-300:]}")
        draft.rename(deps)
        for old in CACHE.glob("deps-*"):
            if old != deps and old.suffix != ".partial":
                shutil.rmtree(old, ignore_errors=True)
    wheels = context / "wheels"
    wheels.mkdir(parents=True)
    for wheel in deps.glob("*.whl"):
        if not wheel.name.startswith("nexudus_identity_mcp-"):
            shutil.copy2(wheel, wheels / wheel.name)
    done = subprocess.run(
        [*pip, "wheel", "--no-deps", "--wheel-dir", str(wheels), str(ROOT)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def image() -> str:
    need("podman", "podman")
    need("runc", "runc")
    probe = podman("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"podman cannot run here: {probe.stderr.strip()[-300:]}")
    sources = [DEPLOY / "Containerfile", ROOT / "pyproject.toml", ROOT / "README.md"]
    sources += [
        p
        for d in ("server", "prompts", "evals")
        for p in (ROOT / d).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    tag = f"{IMAGE}:test-{_hash_of(sources)}"
    # One build at a time per checkout: another pytest run (or worker) building the same cache would
    # remove the other's half-made wheel folder. The second to get the lock finds the image made.
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if podman("image", "exists", tag, check=False).returncode != 0:
            _build(tag)
    return tag


def _build(tag: str) -> None:
    _base_image()
    context = CACHE / "context"
    shutil.rmtree(context, ignore_errors=True)
    _wheels(context)
    shutil.copy2(DEPLOY / "Containerfile", context / "Containerfile")
    podman(
        "build",
        "--format",
        "docker",  # HEALTHCHECK is a Docker-format instruction; OCI images drop it
        "--network",
        "none",  # the wheels are all it needs
        *ULIMITS,
        "--build-arg",
        f"BASE_IMAGE={BASE_TAG}",
        "-f",
        str(context / "Containerfile"),
        "-t",
        tag,
        str(context),
        timeout=900,
    )
    for old in podman("images", "--format", "{{.Repository}}:{{.Tag}}", IMAGE, check=False).stdout.split():
        if old != tag and ":test-" in old:
            podman("rmi", old, check=False)
    shutil.rmtree(context, ignore_errors=True)


def run_container(
    name: str, port: int, env: dict[str, str], image: str, command: list[str], options: list[str] | None = None
) -> None:
    """Start `image` detached as `name`, read-only with the lowered limits, its port 8000 published on
    loopback `port`, `env` set, `options` added; skip with podman's reason when it cannot start."""
    started = podman(
        "run",
        "-d",
        "--name",
        name,
        "--read-only",
        *ULIMITS,
        "--publish",
        f"{LOOPBACK}:{port}:8000",
        *(arg for k, v in env.items() for arg in ("-e", f"{k}={v}")),
        *(options or []),
        image,
        *command,
        timeout=120,
        check=False,
    )
    if started.returncode != 0:
        pytest.skip(f"podman cannot start a container here: {started.stderr.strip()[-300:]}")


@pytest.fixture
def container(image: str) -> Iterator[tuple[str, str]]:
    port = free_port()
    name = f"nexudus-mcp-test-{os.getpid()}-{port}"
    env = {
        "NEXUDUS_MCP_CLIENT_TOKENS": f"desk={TOKEN}",
        "NEXUDUS_MCP_ALLOWED_HOSTS": "127.0.0.1:*,localhost:*",
        "NEXUDUS_MCP_METRICS": "on",
        "NEXUDUS_MCP_LOG_FORMAT": "json",
        "NEXUDUS_MCP_SECRET": "container-test",
    }
    run_container(name, port, env, image, ["serve", "--http", "--sandbox", "--host", "0.0.0.0", "--port", "8000"])
    url = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx2.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            running = podman("inspect", "--format", "{{.State.Running}}", name, check=False).stdout.strip()
            assert running == "true", podman("logs", name, check=False).stderr[-3000:]
            assert time.monotonic() < deadline, "the container did not answer /healthz within 60 s"
            time.sleep(0.25)
        yield name, url
    finally:
        podman("rm", "-f", "-t", "2", name, check=False, timeout=60)


def test_the_image_is_small_non_root_and_configured_only_from_the_environment(image: str) -> None:
    inspected: dict[str, Any] = json.loads(podman("image", "inspect", image).stdout)[0]
    config = inspected["Config"]
    assert config["User"] not in ("", "0", "root", "0:0")
    assert "/var/lib/nexudus-identity-mcp" in (config.get("Volumes") or {})
    assert "/healthz" in " ".join(inspected["Healthcheck"]["Test"])
    assert not [
        e for e in config.get("Env") or [] if e.startswith(("NEXUDUS_TOKEN", "NEXUDUS_PASSWORD", "NEXUDUS_MCP_SECRET"))
    ]
    size = int(podman("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())
    assert size < 400 * 1024 * 1024, f"{size / 1e6:.0f} MB"


def test_the_container_serves_the_sandbox_read_only_and_not_as_root(container: tuple[str, str]) -> None:
    name, url = container
    assert podman("healthcheck", "run", name, check=False, timeout=60).returncode == 0, "HEALTHCHECK failed"
    uid = podman("exec", name, "python3", "-c", "import os; print(os.getuid())").stdout.strip()
    assert uid != "0" and uid.isdigit()
    assert podman("exec", name, "touch", "/opt/venv/x", check=False).returncode != 0, "the root filesystem is writable"

    async def one_call() -> dict[str, Any]:
        async with mcp_client(url, "legacy", token=TOKEN) as client:
            result = await client.call_tool(GET_TOOL, {"Id": CHECK})
            assert not result.is_error
            return body(result, GET_TOOL)

    assert anyio.run(one_call)["Record"]["Id"] == CHECK
    metrics = httpx2.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert f'nexudus_mcp_tool_calls_total{{outcome="ok",tool="{GET_TOOL}"}} 1.0' in metrics
    lines = [json.loads(line) for line in podman("logs", name).stderr.splitlines() if line.startswith("{")]
    assert lines and all("message" in line for line in lines)


def test_the_compose_file_runs_several_workers_and_their_metrics_add_up(image: str) -> None:
    """compose.yaml's server: its own command (uvicorn, several workers, the server's read deadlines)
    in the image, read-only root, PROMETHEUS_MULTIPROC_DIR on the tmpfs; calls spread over the workers
    and any worker's /metrics counts them all. (Redis itself is the shared-state tests' part.)"""
    import yaml

    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    mcp = compose["services"]["mcp"]
    assert (DEPLOY / mcp["build"]["dockerfile"].removeprefix("deploy/")).exists()
    assert mcp["read_only"] is True and mcp["environment"]["PROMETHEUS_MULTIPROC_DIR"] in mcp["tmpfs"]
    assert mcp["environment"]["NEXUDUS_MCP_REDIS_URL"].startswith("redis://:${REDIS_PASSWORD}@redis:")
    assert "redis" in compose["services"] and "--requirepass" in compose["services"]["redis"]["command"]
    assert (DEPLOY / mcp["env_file"][0]).with_suffix(".env.example").exists()
    port = free_port()
    name = f"nexudus-mcp-workers-{os.getpid()}-{port}"
    env = {**{k: v for k, v in mcp["environment"].items() if k != "NEXUDUS_MCP_REDIS_URL"}, "WORKERS": "2"}
    env |= {"NEXUDUS_MCP_CLIENT_TOKENS": f"desk={TOKEN}", "NEXUDUS_MCP_METRICS": "on", "NEXUDUS_MCP_SECRET": "w"}
    options = [
        *(arg for path in mcp["tmpfs"] for arg in ("--tmpfs", path)),
        "--entrypoint",
        json.dumps(mcp["entrypoint"]),
    ]
    run_container(name, port, env, image, mcp["command"], options)
    url = f"http://{LOOPBACK}:{port}"
    try:
        pids: set[int] = set()
        deadline = time.monotonic() + 90
        while len(pids) < 2:  # both workers up: /healthz names the process that answered
            try:
                pids.add(httpx2.get(f"{url}/healthz", timeout=2, headers={"Connection": "close"}).json()["pid"])
            except (httpx2.HTTPError, ValueError):
                time.sleep(0.25)
            assert time.monotonic() < deadline, podman("logs", name, check=False).stderr[-3000:]

        async def calls() -> None:
            for _ in range(6):  # a client each: a new connection, to whichever worker accepts it
                async with mcp_client(url, "legacy", token=TOKEN) as client:
                    result = await client.call_tool(GET_TOOL, {"Id": CHECK})
                    assert result.is_error  # no Nexudus credentials in this container: not_configured

        anyio.run(calls)
        metrics = httpx2.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
        assert f'nexudus_mcp_tool_calls_total{{outcome="not_configured",tool="{GET_TOOL}"}} 6.0' in metrics, metrics[
            :3000
        ]
    finally:
        podman("rm", "-f", "-t", "2", name, check=False, timeout=60)
