"""Group fresh-clone: `make demo` in a fresh clone, with warm and with cold package caches."""

import os
import subprocess
import tempfile
from pathlib import Path

from bench.harness import (
    CHECKOUT,
    SCRATCH_PORT,
    require_free_port,
    row,
    say,
    timed,
)


def bench_fresh_clone_demo(cold: bool) -> None:
    """`make demo` in a fresh clone of the checkout's last commit, on the scratch port: with the
    package caches warm (uv's, pip's, npm's and the engine's, as a developer's machine has them), or cold (empty
    caches of its own: everything downloaded); baseline: the engine install alone in that clone."""
    require_free_port(SCRATCH_PORT)
    with tempfile.TemporaryDirectory() as folder:
        clone = Path(folder) / "clone"
        subprocess.run(["git", "clone", "-q", str(CHECKOUT), str(clone)], check=True)
        env = {**os.environ, "AWS_ENDPOINT_URL": f"http://localhost:{SCRATCH_PORT}", "NO_COLOR": "1"}
        for shared in ("VIRTUAL_ENV", "LOCALSTACK_INSTALL_DIR", "LOCALSTACK_STATE_DIR", "BENCH_CHECKOUT"):
            env.pop(shared, None)  # the clone installs and runs everything of its own
        if cold:
            caches = Path(folder) / "caches"
            env.update(UV_CACHE_DIR=str(caches / "uv"), PIP_CACHE_DIR=str(caches / "pip"))
            env["XDG_CACHE_HOME"] = str(caches / "xdg")  # the engine's own: LocalStack's service catalog
            env["npm_config_cache"] = str(caches / "npm")
        try:
            demo_s, result = timed(
                subprocess.run, ["make", "demo"], cwd=clone, env=env, capture_output=True, text=True, check=False
            )
            install = [line for line in result.stdout.splitlines() if "installed localstack-core" in line]
        finally:
            subprocess.run(["make", "down"], cwd=clone, env=env, capture_output=True, check=False)
    ok = result.returncode == 0
    if not ok:
        say(f"make demo failed in the clone:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    row(
        f"fresh clone → make demo ({'cold' if cold else 'warm'} caches)",
        f"{demo_s:.0f} s" + ("" if ok else " (FAILED)"),
        install[0].removeprefix("[engine] ") if install else "-",
        "report" if cold else "< 90 s",
        None if cold else ok and demo_s < 90,
        seconds=demo_s,
        load_average=os.getloadavg()[0],
    )


def group(context: dict, args) -> None:
    bench_fresh_clone_demo(cold=False)
    bench_fresh_clone_demo(cold=True)
