"""Group engine-start: `ctl up` to healthy on a throw-away engine, against importing LocalStack."""

import statistics
import subprocess
import tempfile
from pathlib import Path

from bench.harness import (
    INSTALL_DIR,
    SCRATCH_PORT,
    ctl,
    process_rss_mb,
    require_free_port,
    row,
    rows,
    timed,
)


def bench_engine_start() -> None:
    """`ctl up` to healthy, five times, on a private port; baseline: importing LocalStack."""
    python = str(INSTALL_DIR / "venv" / "bin" / "python")
    baseline = min(
        timed(subprocess.run, [python, "-c", "import localstack.runtime.main"], check=True)[0] for _ in range(3)
    )
    times = []
    require_free_port(SCRATCH_PORT)
    with tempfile.TemporaryDirectory() as state:
        env = {"AWS_ENDPOINT_URL": f"http://localhost:{SCRATCH_PORT}", "LOCALSTACK_STATE_DIR": state}
        for _ in range(5):
            seconds, result = timed(ctl, "up", env=env)
            if result.returncode != 0:
                raise SystemExit(f"engine did not start: {result.stderr}")
            times.append(seconds)
            idle_rss = process_rss_mb(int((Path(state) / "localstack.pid").read_text()))
            ctl("down", env=env)
    median = statistics.median(times)
    row(
        "engine start (up → healthy)",
        f"median {median:.2f} s, min {min(times):.2f}, max {max(times):.2f}",
        f"import localstack {baseline:.2f} s",
        "< 3 s",
        median < 3,
        runs=times,
        idle_rss_mb=idle_rss,
    )


def group(context: dict, args) -> None:
    bench_engine_start()
    context["idle_rss_mb"] = rows[-1].get("idle_rss_mb")
