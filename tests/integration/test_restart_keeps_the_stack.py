"""The engine restarted mid-run (`make down && make up`) keeps the whole stack: the same
dashboard totals, no change for Terraform, and every flow works again with no apply.

The "restart" phase (tests/conftest.py): after every other test (it stops the session's
engine), and before the "destroy" phase."""

import io
import json
import time
import uuid

import pytest
from PIL import Image

from tests.integration.test_dashboard_page import numbers
from tests.support.engine import ctl, health
from tests.support.waiting import scan_all, wait_for
from tools import stack
from tools.http import call

RUN = uuid.uuid4().hex[:8]


def engine_started_by_this_project() -> bool:
    status = ctl("status", check=False)
    return status.returncode == 0 and "started by this project" in status.stdout


def dashboard(api: str) -> dict:
    reply = call(api, "GET", "/dashboard/data")
    assert reply.status == 200, reply.body
    return numbers(reply.body)


def run_every_flow(aws, deployed, label: str) -> None:
    """image: S3 -> processor -> row; logs: invoke -> index; notification: API -> SQS -> SNS -> history."""
    api = deployed.api_url
    key = f"restart/{RUN}/{label}.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (200, 100), (10, 20, 200)).save(buffer, "JPEG")
    aws["s3"].put_object(Bucket=deployed["buckets"]["original"], Key=key, Body=buffer.getvalue())
    [row] = wait_for(
        lambda: scan_all(
            aws["dynamodb"],
            deployed["tables"]["images"],
            FilterExpression="OriginalKey = :k",
            ExpressionAttributeValues={":k": {"S": key}},
        ),
        timeout=60,
        what="the image row",
    )
    assert row["Status"]["S"] == "completed"
    response = aws["lambda"].invoke(
        FunctionName=deployed["functions"]["log_processor"],
        Payload=json.dumps({"logs": [{"level": "INFO", "message": f"{RUN} {label}"}]}),
    )
    assert "FunctionError" not in response
    assert json.loads(json.loads(response["Payload"].read())["body"])["logs_indexed"] == 1
    queued = call(api, "POST", "/notifications", body={"title": f"Restart {label}", "message": RUN})
    assert queued.status == 202, queued.body
    notification_id = queued.body["notification_id"]
    # The row is claimed (in_progress) before the publish and marked sent just after it.
    looked_up = wait_for(
        lambda: (
            (r := call(api, "GET", f"/notifications/{notification_id}")).status == 200
            and r.body["Status"] != "in_progress"
            and r
        ),
        timeout=60,
        what="the notification in the history",
    )
    assert looked_up.body["Status"] == "sent"


@pytest.mark.slow
@pytest.mark.phase("restart")
def test_after_down_and_up_the_stack_and_its_data_are_still_there(aws, deployed):
    if not engine_started_by_this_project():
        pytest.skip("the engine at AWS_ENDPOINT_URL was not started by engine/ctl.py (a container?): not restarting it")
    run_every_flow(aws, deployed, "before restart")
    before = dashboard(deployed.api_url)

    started = time.monotonic()
    try:
        ctl("down")
        assert health() is None
    finally:
        ctl("up")  # whatever the check found: the worker's later tests need the engine
    restart_s = time.monotonic() - started

    assert dashboard(deployed.api_url) == before, "the dashboard's totals changed across the restart"
    changes, plan = stack.plan_changes()
    assert not changes, "Terraform sees changes after the restart:\n" + plan[-3000:]
    started = time.monotonic()
    run_every_flow(aws, deployed, "after restart")
    print(f"\n[restart] down + up {restart_s:.1f} s; every flow verified again in {time.monotonic() - started:.1f} s")
