"""Group saved-state: the bench's stack saved, then `down` and `up` with it."""

import json
import os
import urllib.request

from bench.harness import (
    ctl,
    row,
    timed,
)


def bench_saved_state(fresh_apply_s: float | None) -> None:
    """The bench's stack (100 images, 10,000 logs): one save, then down and up with it."""
    request = urllib.request.Request(f"{os.environ['AWS_ENDPOINT_URL']}/_localstack/nodocker/state", method="POST")
    with urllib.request.urlopen(request, timeout=300) as response:
        saved = json.loads(response.read())
    row(
        "state save (100 images, 10,000 logs)",
        f"{saved['seconds']:.2f} s, {saved['bytes'] / 1e6:.1f} MB",
        "-",
        "report",
        None,
        **saved,
    )
    down_s, _ = timed(ctl, "down")
    up_s, result = timed(ctl, "up")
    if result.returncode != 0:
        raise SystemExit(f"engine did not start with its saved state: {result.stdout}{result.stderr}")
    row(
        "up with the saved stack",
        f"{up_s:.1f} s (down {down_s:.1f} s)",
        f"apply from empty {fresh_apply_s:.1f} s" if fresh_apply_s else "-",
        "< 5 s",
        up_s < 5,
        up_s=up_s,
        down_s=down_s,
    )


def group(context: dict, args) -> None:
    bench_saved_state(context.get("apply_s"))
