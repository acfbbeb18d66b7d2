"""Group state-scale: `make down` and `make up` with 100,000 items and 100 images, the journal
against the whole-snapshot path, on a throw-away engine."""

import concurrent.futures
import io
import json
import os
import tempfile
import urllib.request
import uuid
from pathlib import Path

import boto3

from bench.harness import (
    SCRATCH_PORT,
    ctl,
    require_free_port,
    row,
    say,
    timed,
)

STATE_ITEMS = 100_000
STATE_IMAGES = 100


def _fill_state(endpoint: str) -> None:
    """100,000 DynamoDB items shaped as the stack's log rows, and 100 JPEG images."""
    from PIL import Image

    clients = {"endpoint_url": endpoint, "region_name": "us-east-1"}
    dynamodb, s3 = boto3.client("dynamodb", **clients), boto3.client("s3", **clients)
    dynamodb.create_table(
        TableName="state-bench",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )

    def batch(start: int) -> None:
        items = [
            {
                "PutRequest": {
                    "Item": {
                        "pk": {"S": f"service#{n % 50}"},
                        "sk": {"S": f"{1_700_000_000_000 + n}#{n:08d}"},
                        "level": {"S": ("INFO", "WARN", "ERROR")[n % 3]},
                        "message": {"S": f"request handled in {n % 97} ms for user u{n % 500}"},
                        "timestamp": {"N": str(1_700_000_000_000 + n)},
                        "service": {"S": "bench"},
                        "request_id": {"S": str(uuid.UUID(int=n))},
                        "expires_at": {"N": "1800000000"},
                    }
                }
            }
            for n in range(start, start + 25)
        ]
        unprocessed = {"state-bench": items}
        while unprocessed:
            unprocessed = dynamodb.batch_write_item(RequestItems=unprocessed).get("UnprocessedItems")

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(batch, range(0, STATE_ITEMS, 25)))
    s3.create_bucket(Bucket="state-bench")
    for n in range(STATE_IMAGES):
        buffer = io.BytesIO()
        Image.effect_noise((800, 600), 40 + n % 50).convert("RGB").save(buffer, "JPEG", quality=85)
        s3.put_object(Bucket="state-bench", Key=f"images/{n}.jpg", Body=buffer.getvalue())


def bench_state_at_scale() -> None:
    """Issue 23: `make down` and `make up` with 100,000 items and 100 images, the journal
    (SCHEDULED, the default) against the snapshot path it replaced (ON_SHUTDOWN: a whole
    snapshot at `down`, loaded at `up`), on one state in one run, on a throw-away engine."""
    require_free_port(SCRATCH_PORT)
    endpoint = f"http://localhost:{SCRATCH_PORT}"
    with tempfile.TemporaryDirectory() as state:
        env = {"AWS_ENDPOINT_URL": endpoint, "LOCALSTACK_STATE_DIR": state}
        snapshot_path = {**env, "SNAPSHOT_SAVE_STRATEGY": "ON_SHUTDOWN"}
        try:
            if ctl("up", env=env).returncode != 0:
                raise SystemExit(f"engine did not start: {_log_tail(state)}")
            filled_s, _ = timed(_fill_state, endpoint)
            say(f"{STATE_ITEMS:,} items and {STATE_IMAGES} images written in {filled_s:.0f} s")
            journal_down_s, _ = timed(ctl, "down", env=env)
            journal_up_s, up = timed(ctl, "up", env=env)
            journal_load, journal_cpu_s = _state_detail(endpoint), _engine_cpu_s(state)
            # the snapshot path on the same state: the engine that saves at `down` only
            ctl("down", env=env)
            ctl("up", env=snapshot_path)
            snapshot_down_s, _ = timed(ctl, "down", env=snapshot_path)
            snapshot_up_s, _ = timed(ctl, "up", env=snapshot_path)
            snapshot_load, snapshot_cpu_s = _state_detail(endpoint), _engine_cpu_s(state)
            size_mb = sum(path.stat().st_size for path in Path(state, "snapshot").iterdir()) / 1e6
            ctl("down", env=snapshot_path)
        finally:
            ctl("down", env=env)
    scale = f"{STATE_ITEMS:,} items, {STATE_IMAGES} images"
    row(
        f"make down ({scale}), journal",
        f"{journal_down_s:.1f} s",
        f"snapshot path {snapshot_down_s:.1f} s ({size_mb:.0f} MB)",
        "< 2 s",
        journal_down_s < 2,
        down_s=journal_down_s,
        baseline_s=snapshot_down_s,
        snapshot_mb=size_mb,
    )
    row(
        f"make up ({scale}), snapshot + journal",
        f"{journal_up_s:.1f} s, engine CPU {journal_cpu_s:.1f} s ({journal_load})",
        f"snapshot path {snapshot_up_s:.1f} s, engine CPU {snapshot_cpu_s:.1f} s ({snapshot_load})",
        "< 3 s",
        journal_up_s < 3 and up.returncode == 0,
        up_s=journal_up_s,
        engine_cpu_s=journal_cpu_s,
        baseline_s=snapshot_up_s,
        baseline_engine_cpu_s=snapshot_cpu_s,
    )


def _state_detail(endpoint: str) -> str:
    with urllib.request.urlopen(f"{endpoint}/_localstack/nodocker/state", timeout=10) as response:
        return json.loads(response.read())["detail"]


def _engine_cpu_s(state: str) -> float:
    """CPU seconds the engine has used since it started (on a shared machine `up`'s wall
    time is mostly waiting for a core)."""
    pid = Path(state, "localstack.pid").read_text().strip()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _log_tail(state: str) -> str:
    log = Path(state, "logs", "localstack.log")
    return log.read_text()[-3000:] if log.exists() else "(no log)"


def group(context: dict, args) -> None:
    bench_state_at_scale()
