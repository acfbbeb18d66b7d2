"""Benchmarks of the engine, the build and the pipelines (`make bench`).

Prints a table and writes bench/results.json. Figures, not assertions: each row also
measures a baseline in the same run (these machines are noisy), and says whether the
target was met.

Your stack is never touched: the bench runs in its own copy of this checkout
(.localstack/bench/, BENCH_DIR), with its own engine on its own port (BENCH_PORT, default
4631; throw-away engines use the next port), its own engine state, Terraform state, build/
and sources. Only the engine's install (.localstack/venv, the Lambda runtimes) is shared.
The copy's engine is stopped at the end, its state kept for the next run.

    python bench/run.py                         every group (about 25 min on 2 cores)
    python bench/run.py --only build,lambda     some groups (a group that needs the stack
                                                deploys it if the bench's engine lacks it)
    python bench/run.py --only api-scale --api-sizes 1000 --api-requests 100
        the API rows alone (with the load-test limits of tools/stack.py: the run refuses
        a stage throttled below them), at a small size
    python bench/run.py --only peer             the engine beside MiniStack, the same calls
                                                round-robin (bench/peer.py)

Each group is a module of bench/ (GROUPS below names it); bench/harness.py holds what they share.
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import (  # noqa: E402
    api,
    deploy,
    edit_to_live,
    engine_start,
    event_sources,
    fresh_clone,
    item_memory,
    lambdas,
    packaging,
    peer,
    pipelines,
    saved_state,
    state_scale,
)
from bench.harness import (  # noqa: E402
    BENCH_PORT,
    CTL,
    IN_COPY,
    INSTALL_DIR,
    PEER_PORT,
    RESULTS,
    SCRATCH_PORT,
    ensure_stack,
    groups_run,
    require_free_port,
    row,
    rows,
    say,
)
from tools import stack  # noqa: E402


def group_peer(context: dict, args) -> None:
    require_free_port(SCRATCH_PORT)
    require_free_port(PEER_PORT)
    peer.run(CTL, INSTALL_DIR, SCRATCH_PORT, PEER_PORT, args.peer_samples, row)


# name -> (what it runs, expected minutes on the 2-core development machine, needs the stack)
GROUPS = {
    "engine-start": (engine_start.group, 1, False),
    "build": (packaging.group, 1, False),
    "stack": (deploy.group, 3, False),
    "api-scale": (api.group, 6, True),
    "item-memory": (item_memory.group, 2, False),
    "lambda": (lambdas.group, 2, True),
    "pipelines": (pipelines.group, 3, True),
    "event-sources": (event_sources.group, 4, True),
    "saved-state": (saved_state.group, 1, True),
    "state-scale": (state_scale.group, 8, False),
    "edit-to-live": (edit_to_live.group, 2, True),
    "fresh-clone": (fresh_clone.group, 6, False),
    "peer": (group_peer, 8, False),
}


def copy_checkout(copy: Path) -> None:
    """The checkout's files as they are now (tracked and new, not ignored by git) into the
    bench's copy; what the bench made there stays (engine and Terraform state, providers, build/)."""
    kept = {".localstack", ".terraform", ".terraform.lock.hcl", "build"} | {
        path.name for path in copy.glob("terraform.tfstate*")
    }
    copy.mkdir(parents=True, exist_ok=True)
    for entry in copy.iterdir():
        if entry.name not in kept:
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the checkout is listed but absent
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    lock = ROOT / ".terraform.lock.hcl"
    if lock.exists():
        shutil.copy2(lock, copy / lock.name)


def run_in_copy(argv: list[str]) -> int:
    copy = Path(os.environ.get("BENCH_DIR", ROOT / ".localstack" / "bench"))
    copy_checkout(copy)
    env = {
        **os.environ,
        "BENCH_CHECKOUT": str(ROOT),
        "AWS_ENDPOINT_URL": f"http://localhost:{BENCH_PORT}",
        "LOCALSTACK_INSTALL_DIR": str(INSTALL_DIR),
        "LOCALSTACK_STATE_DIR": str(copy / ".localstack"),
        # this checkout's tools (tflocal, terraform-local's python), whatever the shell's PATH
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    env.pop("TF_WORKSPACE", None)
    say(f"in its own copy of this checkout, {copy}, with its own engine at {env['AWS_ENDPOINT_URL']}")
    try:
        return subprocess.run([sys.executable, str(copy / "bench" / "run.py"), *argv], cwd=copy, env=env).returncode
    finally:
        stopped = subprocess.run([*CTL, "down"], env=env, capture_output=True, text=True)
        if "stopping" in stopped.stdout:
            say("the bench's engine is stopped (its state kept for the next run)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", default=",".join(GROUPS), help=f"comma-separated groups, in this order: {', '.join(GROUPS)}"
    )
    parser.add_argument("--api-sizes", default="1000,10000,100000", help="log table sizes of the api-scale rows")
    parser.add_argument("--api-requests", type=int, default=500, help="measured requests per route and size")
    parser.add_argument("--lambda-samples", type=int, default=200, help="warm invokes per runtime (lambda group)")
    parser.add_argument("--peer-samples", type=int, default=200, help="calls per operation and engine (peer group)")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(GROUPS))
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; the groups: {', '.join(GROUPS)}")
    if not IN_COPY:
        expected = ", ".join(f"{name} ~{GROUPS[name][1]} min" for name in GROUPS if name in chosen)
        total = sum(GROUPS[name][1] for name in chosen)
        say(f"about {total} min on 2 cores: {expected}")
        return run_in_copy(sys.argv[1:])
    say(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    # The API rows send 10 requests at a time as fast as the engine answers: measured on a
    # stage with the load-test limits (tools/stack.py), which the engine still enforces.
    os.environ.update(stack.load_test_environment())
    groups_run.extend(name for name in GROUPS if name in chosen)
    context: dict = {}
    if any(GROUPS[name][2] for name in chosen) and "stack" not in chosen:
        ensure_stack()
    for name in GROUPS:
        if name in chosen:
            started = time.monotonic()
            say(f"--- {name} (expected ~{GROUPS[name][1]} min)")
            GROUPS[name][0](context, args)
            say(f"--- {name} took {(time.monotonic() - started) / 60:.1f} min")
    print()
    print(f"{'what':<38} {'figure':<62} {'baseline':<36} {'target':<22} result")
    for item in rows:
        verdict = {True: "met", False: "MISSED", None: "report"}[item["met"]]
        print(f"{item['what']:<38} {item['figure']:<62} {item['baseline']:<36} {item['target']:<22} {verdict}")
    say(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
