"""The engine for a test session: use the one that answers, or start one and stop it after."""

import contextlib
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CTL = ROOT / "engine" / "ctl.py"
# the engine's own interpreter (its virtualenv), for scripts that need LocalStack or the plugins
ENGINE_PYTHON = Path(os.environ.get("LOCALSTACK_INSTALL_DIR", ROOT / ".localstack")) / "venv" / "bin" / "python"
sys.path.insert(0, str(ROOT / "engine"))
from localstack_nodocker.hostruntimes import INSTALL_TIMEOUT_S as RUNTIME_INSTALL_TIMEOUT_S  # noqa: E402, F401


def endpoint() -> str:
    return os.environ.get("AWS_ENDPOINT_URL", "http://localhost:4566")


def origin() -> str:
    """The engine's origin (scheme://host:port): the API's CORS origin once tools.stack applied it."""
    return "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(endpoint()))


def health(url: str | None = None) -> dict | None:
    try:
        with urllib.request.urlopen(f"{url or endpoint()}/_localstack/health", timeout=2) as response:
            return json.loads(response.read())
    except OSError:
        return None


def ctl(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, str(CTL), *args], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"engine/ctl.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


@contextlib.contextmanager
def running_engine():
    """Yield the endpoint of a healthy engine; stop it afterwards only if this started it.
    ROXS_FRESH_ENGINE (a test worker's own engine, tests/conftest.py): it starts empty."""
    started_here = health() is None
    if started_here:
        if os.environ.get("ROXS_FRESH_ENGINE"):
            ctl("reset")
        print(ctl("up").stdout, end="")
    try:
        yield endpoint()
    finally:
        if started_here:
            ctl("down")
