"""The engine restarted mid-run (`make down && make up`): its state is gone (the embedded
engine keeps none), and one `make apply` (tflocal apply) brings back a working system.

The "restart" phase: after every other test and before the destroy phase (tests/conftest.py);
the session's outputs are reloaded here (the API gets a new id)."""

import io
import json
import time
import uuid

import pytest
from PIL import Image

from tests.support.engine import ctl, health
from tests.support.waiting import scan_all, wait_for
from tools import stack
from tools.http import call

RUN = uuid.uuid4().hex[:8]


def engine_started_by_this_project() -> bool:
    status = ctl("status", check=False)
    return status.returncode == 0 and "started by this project" in status.stdout


@pytest.mark.slow
@pytest.mark.phase("restart")
def test_after_an_engine_restart_one_apply_restores_a_working_system(aws, deployed):
    if not engine_started_by_this_project():
        pytest.skip("the engine at AWS_ENDPOINT_URL was not started by engine/ctl.py (a container?): not restarting it")
    timings = {}

    started = time.monotonic()
    ctl("down")
    assert health() is None
    ctl("up")
    assert health()
    timings["engine down + up"] = time.monotonic() - started
    # Nothing survived the restart: the stack has to be rebuilt.
    assert not [t for t in aws["dynamodb"].list_tables()["TableNames"] if t in deployed["tables"].values()]

    started = time.monotonic()
    stack.apply()  # what `make apply` runs
    timings["one tflocal apply"] = time.monotonic() - started
    # Later tests use the session's outputs: reload them in place (the API has a new id).
    deployed.raw.clear()
    deployed.raw.update(stack.outputs().raw)

    started = time.monotonic()
    api = deployed.api_url
    assert call(api, "GET", "/health").status == 200
    # image: S3 trigger -> processor -> row and outputs
    key = f"restart/{RUN}/after restart.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (200, 100), (10, 20, 200)).save(buffer, "JPEG")
    aws["s3"].put_object(Bucket=deployed["buckets"]["original"], Key=key, Body=buffer.getvalue())
    [row] = wait_for(lambda: scan_all(aws["dynamodb"], deployed["tables"]["images"], FilterExpression="OriginalKey = :k",
                                      ExpressionAttributeValues={":k": {"S": key}}), timeout=60, what="the image row")
    assert row["Status"]["S"] == "completed"
    # logs: direct invoke -> index + archive
    response = aws["lambda"].invoke(FunctionName=deployed["functions"]["log_processor"],
                                    Payload=json.dumps({"logs": [{"level": "INFO", "message": f"{RUN} after restart"}]}))
    assert "FunctionError" not in response
    assert json.loads(json.loads(response["Payload"].read())["body"])["logs_indexed"] == 1
    # notifications: API -> SQS -> event source mapping -> SNS -> history
    queued = call(api, "POST", "/notifications", body={"title": "After restart", "message": RUN})
    assert queued.status == 202, queued.body
    notification_id = queued.body["notification_id"]
    looked_up = wait_for(lambda: (r := call(api, "GET", f"/notifications/{notification_id}")).status == 200 and r,
                         timeout=60, what="the notification in the history")
    assert looked_up.body["Status"] == "sent"
    # dashboard: API -> dashboard function
    assert call(api, "GET", "/dashboard/data").status == 200
    timings["image + logs + notification + dashboard verified"] = time.monotonic() - started
    print("\n[restart] " + "; ".join(f"{step}: {seconds:.1f} s" for step, seconds in timings.items()))
