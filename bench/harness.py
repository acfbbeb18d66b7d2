"""What every bench group uses: where the bench runs (its copy, ports, install), the rows it
prints and writes to bench/results.json, and the bench's own engine."""

import json
import os
import platform
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tools import stack

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "engine"))  # the engine's plugins (localstack_nodocker), as the bench reads them

CTL = [sys.executable, str(ROOT / "engine" / "ctl.py")]
BENCH_PORT = int(os.environ.get("BENCH_PORT", "4631"))
# Engines started and stopped by a row (engine start, the fresh clone's) use the next port.
SCRATCH_PORT = BENCH_PORT + 1
# The peer group's MiniStack (bench/peer.py).
PEER_PORT = BENCH_PORT + 3
# Set in the bench's copy: where the checkout it was copied from keeps its results and install.
IN_COPY = "BENCH_CHECKOUT" in os.environ
CHECKOUT = Path(os.environ.get("BENCH_CHECKOUT", ROOT))
RESULTS = CHECKOUT / "bench" / "results.json"
INSTALL_DIR = Path(os.environ.get("LOCALSTACK_INSTALL_DIR", CHECKOUT / ".localstack"))
rows: list[dict] = []
groups_run: list[str] = []


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def timed(function, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return time.perf_counter() - started, value


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def row(what: str, figure: str, baseline: str, target: str, met: bool | None, **data) -> None:
    rows.append({"what": what, "figure": figure, "baseline": baseline, "target": target, "met": met, **data})
    verdict = {True: "met", False: "MISSED", None: "report"}[met]
    say(f"{what}: {figure} (baseline {baseline}) — target {target}: {verdict}")
    write_results()  # after every row, so an interrupted run keeps what it measured


def write_results() -> None:
    RESULTS.write_text(
        json.dumps(
            {
                "machine": {"node": platform.node(), "cores": os.cpu_count(), "python": platform.python_version()},
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "groups": groups_run,
                "rows": rows,
            },
            indent=2,
        )
    )


def ctl(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CTL, *args], capture_output=True, text=True, env={**os.environ, **(env or {})})


def process_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def engine_pid() -> int | None:
    pid_file = Path(os.environ["LOCALSTACK_STATE_DIR"]) / "localstack.pid"
    return int(pid_file.read_text()) if pid_file.exists() else None


def worker_rss_mb(engine: int) -> list[float]:
    sizes = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == engine:
                    sizes.append(process_rss_mb(int(proc.name)))
            except (OSError, IndexError, ValueError):
                continue
    return sizes


def require_free_port(port: int) -> None:
    """A LocalStack the bench did not start may hold someone's stack: never use it."""
    try:
        with urllib.request.urlopen(f"http://localhost:{port}/_localstack/health", timeout=2):
            pass
    except OSError:
        return
    raise SystemExit(f"[bench] port {port} already answers: stop what runs there or choose another BENCH_PORT")


def start_engine() -> None:
    """The bench's own engine (its copy's state), never one it did not start."""
    result = ctl("up")
    if result.returncode != 0:
        raise SystemExit(f"engine did not start: {result.stdout}{result.stderr}")
    if "already answers" in result.stdout:
        raise SystemExit(
            f"[bench] {os.environ['AWS_ENDPOINT_URL']} answers as a LocalStack the bench did not start: "
            "stop it or choose another BENCH_PORT"
        )


def restart_engine() -> None:
    """The bench's engine, empty: its saved state is deleted (the stack is applied from empty)."""
    ctl("reset")
    start_engine()


def ensure_stack() -> None:
    """The bench's engine with the stack deployed, for a group run without the stack group."""
    start_engine()
    found, probed = stack.engine_has_state()
    if not probed or found < probed:
        say("deploying the stack on the bench's engine (the groups asked for need it)")
        subprocess.run([sys.executable, str(ROOT / "build.py")], check=True, capture_output=True)  # its packages
        stack.init()
        stack.apply()
