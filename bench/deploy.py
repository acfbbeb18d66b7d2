"""Group stack: the stack applied to an empty engine and a no-op plan, against a config of one
SQS queue; the API's latency on the fresh stack (api.py)."""

import subprocess
import tempfile
import uuid
from pathlib import Path

from bench.api import bench_api
from bench.harness import (
    ROOT,
    restart_engine,
    row,
    timed,
)
from tools import stack

ONE_QUEUE = """
provider "aws" {
  region = "us-east-1"
}
resource "aws_sqs_queue" "baseline" {
  name = "bench-baseline-%s"
}
"""


def bench_apply_and_plan() -> float:
    """Apply from an empty engine, then a no-op plan; baseline: a config holding one SQS queue."""
    restart_engine()
    for state_file in ROOT.glob("terraform.tfstate*"):
        state_file.unlink()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "main.tf").write_text(ONE_QUEUE % uuid.uuid4().hex[:6])
        # the checkout's tflocal, on the PATH the bench runs with (its copy has no .venv)
        tflocal = [stack.tflocal()]
        subprocess.run([*tflocal, "init", "-input=false"], cwd=folder, check=True, capture_output=True)
        queue_apply, _ = timed(
            subprocess.run,
            [*tflocal, "apply", "-auto-approve", "-input=false"],
            cwd=folder,
            check=True,
            capture_output=True,
        )
        queue_plan, _ = timed(
            subprocess.run, [*tflocal, "plan", "-input=false"], cwd=folder, check=True, capture_output=True
        )
        subprocess.run([*tflocal, "destroy", "-auto-approve", "-input=false"], cwd=folder, capture_output=True)
    stack.init()
    apply_s, _ = timed(stack.apply)
    row("apply from empty", f"{apply_s:.1f} s", f"one SQS queue {queue_apply:.1f} s", "< 60 s", apply_s < 60)
    plan_s, (changes, _) = timed(stack.plan_changes)
    row(
        "no-op plan",
        f"{plan_s:.1f} s ({'changes!' if changes else 'no changes'})",
        f"one-queue plan {queue_plan:.1f} s",
        "< 15 s",
        plan_s < 15 and not changes,
    )
    return apply_s


def group(context: dict, args) -> None:
    context["apply_s"] = bench_apply_and_plan()
    bench_api(stack.outputs(), "fresh stack")
