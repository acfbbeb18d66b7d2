"""Group edit-to-live: one saved line of a handler until the function runs it, with hot
reload against `make apply`."""

import json
import subprocess
import sys
import time
import uuid

import boto3

from bench.harness import (
    ROOT,
    row,
)
from tools import stack

EDITED_SOURCE = ROOT / "lambda_src" / "log_processor" / "log_processor.py"


def seconds_until_live(lam, function: str, marker: str, since: float, timeout: float = 300) -> float:
    """Invoke until the function's init log shows the marker line the edit added."""
    import base64

    while time.perf_counter() - since < timeout:
        response = lam.invoke(FunctionName=function, LogType="Tail", Payload=json.dumps({"logs": []}).encode())
        if marker in base64.b64decode(response.get("LogResult", "")).decode(errors="replace"):
            return time.perf_counter() - since
        time.sleep(0.05)
    raise SystemExit(f"the edit ({marker}) was not live after {timeout} s")


def bench_edit_to_live(lam, outputs) -> None:
    """One saved line in lambda_src/log_processor until the function runs it: with hot reload
    (make dev: build.py --watch syncs, the engine reloads) against make apply (build + apply).
    The source file is restored and the stack redeployed from zips afterwards."""
    function = outputs["functions"]["log_processor"]
    original = EDITED_SOURCE.read_text()
    watcher = None
    try:
        marker = f"bench-edit-{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        EDITED_SOURCE.write_text(original + f'\nprint("{marker}")\n')
        subprocess.run([sys.executable, str(ROOT / "build.py")], check=True, capture_output=True)
        stack.apply()
        with_apply = seconds_until_live(lam, function, marker, started)

        subprocess.run([sys.executable, str(ROOT / "build.py"), "--hot-reload"], check=True, capture_output=True)
        stack.apply({"hot_reload": "true"})
        watcher = subprocess.Popen([sys.executable, str(ROOT / "build.py"), "--watch"], stdout=subprocess.DEVNULL)
        time.sleep(1)  # the watcher's first look at lambda_src/
        marker = f"bench-edit-{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        EDITED_SOURCE.write_text(original + f'\nprint("{marker}")\n')
        hot = seconds_until_live(lam, function, marker, started)
    finally:
        EDITED_SOURCE.write_text(original)
        if watcher:
            watcher.terminate()
            watcher.wait()
        subprocess.run([sys.executable, str(ROOT / "build.py")], check=True, capture_output=True)
        stack.apply()
    row(
        "edit → live (one line, log_processor)",
        f"hot reload {hot:.2f} s",
        f"make apply {with_apply:.1f} s",
        "< 2 s",
        hot < 2,
        hot_reload_s=hot,
        apply_s=with_apply,
    )


def group(context: dict, args) -> None:
    bench_edit_to_live(boto3.client("lambda"), stack.outputs())
