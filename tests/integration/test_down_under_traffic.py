"""`make down` while the stack is in use: notifications posted to the API, images uploaded,
log batches sent to the log function. After `make up` every write the stack acknowledged is
there and carried through (the notification sent, the image's row, the batch archived and
indexed), every image row matches its original, and `make recount` finds no drift.

The "restart" phase (tests/conftest.py): after every other test, since it stops the session's
engine, and before the "destroy" phase."""

import io
import json
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from PIL import Image

from tests.integration.test_restart_keeps_the_stack import engine_started_by_this_project
from tests.support.engine import ctl, health
from tests.support.traffic import Refused, Traffic
from tests.support.waiting import scan_all, wait_for
from tools import recount
from tools.http import call

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lambda_src" / "common"))
from roxs_common.dynamo import projection

RUN = uuid.uuid4().hex[:8]
# How much of each kind of write the stack has acknowledged before `down` starts.
ACKNOWLEDGED_BEFORE_DOWN = 5
# Failures a write refused at `down` may show: the engine's 503, API Gateway's throttling,
# or no engine any more.
REFUSALS = {
    503,
    429,
    "EndpointConnectionError",
    "ConnectionClosedError",
    "URLError",
    "RemoteDisconnected",
    "ConnectionResetError",
}
# The notifications queued and the images uploaded before `down` are worked off after `up`.
CARRIED_THROUGH_S = 240
# Writers still at work (an upload's storage count) settle within this.
SETTLE_S = 60


def one_attempt(service: str):
    """A client whose every answer is the engine's own (no retries)."""
    return boto3.client(service, config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def picture(number: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (number % 256, 80, 160)).save(buffer, "JPEG")
    return buffer.getvalue()


def writers(deployed) -> dict:
    def notify():
        def post(token):
            reply = call(deployed.api_url, "POST", "/notifications", body={"title": f"Down {RUN}", "message": token})
            if reply.status != 202:
                raise Refused(reply.status)
            acknowledged_notifications[token] = reply.body["notification_id"]
            time.sleep(0.1)  # below the API's throttling rate

        return post

    def upload():
        s3 = one_attempt("s3")
        return lambda token: s3.put_object(
            Bucket=deployed["buckets"]["original"], Key=f"down/{RUN}/{token}.jpg", Body=picture(len(token))
        )

    def send_logs():
        lambda_ = one_attempt("lambda")

        def invoke(token):
            payload = {"logs": [{"level": "INFO", "message": f"{RUN} {token}"}]}
            response = lambda_.invoke(FunctionName=deployed["functions"]["log_processor"], Payload=json.dumps(payload))
            answer = json.loads(response["Payload"].read())
            if "FunctionError" in response or answer.get("statusCode") != 200:
                raise Refused(f"log function answered {answer}"[:300])
            acknowledged_batches[token] = json.loads(answer["body"])["batch_id"]

        return invoke

    acknowledged_notifications, acknowledged_batches = {}, {}
    return (
        {"notification": notify, "image": upload, "logs": send_logs},
        acknowledged_notifications,
        acknowledged_batches,
    )


@pytest.mark.slow
@pytest.mark.phase("restart")
def test_every_write_acknowledged_while_down_runs_is_there_after_up(aws, deployed):
    if not engine_started_by_this_project():
        pytest.skip("the engine at AWS_ENDPOINT_URL was not started by engine/ctl.py (a container?): not restarting it")
    writing, notifications, batches = writers(deployed)
    try:
        with Traffic(writing) as traffic:
            traffic.wait_for_each(ACKNOWLEDGED_BEFORE_DOWN)
            stopped = ctl("down")
        assert health() is None
        assert "requests refused from now on" in stopped.stdout and "state saved" in stopped.stdout, stopped.stdout
        assert set(traffic.refused) <= REFUSALS, traffic.refused
    finally:
        ctl("up")  # whatever the checks found: the worker's later tests need the engine

    # every notification the API took: queued, and sent after the restart
    def unsent():
        return [
            ident
            for ident in notifications.values()
            if (reply := call(deployed.api_url, "GET", f"/notifications/{ident}")).status != 200
            or reply.body["Status"] != "sent"
        ]

    wait_for(lambda: not unsent(), timeout=CARRIED_THROUGH_S, interval=2, what="every acknowledged notification sent")
    # every upload S3 took: there, with its completed row
    uploaded = {f"down/{RUN}/{token}.jpg" for token in traffic.acknowledged["image"]}
    originals = deployed["buckets"]["original"]
    listed = {item["Key"] for item in aws["s3"].list_objects_v2(Bucket=originals, Prefix=f"down/{RUN}/")["Contents"]}
    assert uploaded <= listed, f"acknowledged uploads lost: {sorted(uploaded - listed)[:5]}"
    wait_for(
        lambda: completed_keys(aws, deployed) >= uploaded,
        timeout=CARRIED_THROUGH_S,
        interval=2,
        what="a completed row for every acknowledged upload",
    )
    # every batch the log function took: archived and indexed
    indexed = {
        row["BatchId"]["S"]
        for row in scan_all(aws["dynamodb"], deployed["tables"]["logs"], **projection("BatchId"))
        if "BatchId" in row
    }
    assert set(batches.values()) <= indexed, f"acknowledged log batches lost: {set(batches.values()) - indexed}"
    archived = {
        item["Key"].rsplit("/", 1)[-1].removesuffix(".json.gz")
        for page in aws["s3"].get_paginator("list_objects_v2").paginate(Bucket=deployed["buckets"]["logs"])
        for item in page.get("Contents", [])
    }
    assert set(batches.values()) <= archived
    # rows match objects, and counters their rows and objects
    deadline = time.monotonic() + SETTLE_S
    while (drift := audit(aws, deployed)) != ([], []) and time.monotonic() < deadline:
        time.sleep(2)
    assert drift == ([], []), drift


def audit(aws, deployed) -> tuple[list, list]:
    """`make recount`'s findings: image rows against originals, counters against a recount."""
    return recount.audit_images(deployed, aws["dynamodb"], aws["s3"]), recount.recount(deployed, write=False)


def completed_keys(aws, deployed) -> set[str]:
    rows = scan_all(aws["dynamodb"], deployed["tables"]["images"], **projection("OriginalKey", "Status"))
    return {row["OriginalKey"]["S"] for row in rows if row["Status"]["S"] == "completed"}
