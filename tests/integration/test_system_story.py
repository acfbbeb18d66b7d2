"""The whole system, as the tutorial's complete demo runs it, after `tflocal apply`.

Images are uploaded and processed by the S3 trigger, a log batch is indexed and archived,
notifications travel SQS -> Lambda -> SNS -> subscriber queue + history, the API answers
every route (and every client mistake with a 4xx), and the dashboard's numbers match.
"""

import gzip
import io
import json
import uuid

import pytest
from PIL import Image

from tests.support.engine import origin
from tests.support.waiting import scan_all, wait_for
from tools.http import call

RUN = uuid.uuid4().hex[:8]  # keys of this run, so reruns on a live stack do not collide


def jpeg_with_exif_rotation(width: int, height: int) -> bytes:
    """A JPEG whose EXIF says "rotate 90° clockwise to display" (orientation 6)."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes(), quality=90)
    return buffer.getvalue()


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), (20, 120, 220, 255)).save(buffer, "PNG")
    return buffer.getvalue()


def metadata_rows(aws, deployed, key: str) -> list[dict]:
    return scan_all(
        aws["dynamodb"],
        deployed["tables"]["images"],
        FilterExpression="OriginalKey = :key",
        ExpressionAttributeValues={":key": {"S": key}},
    )


def s3_image(aws, bucket: str, key: str) -> Image.Image:
    return Image.open(io.BytesIO(aws["s3"].get_object(Bucket=bucket, Key=key)["Body"].read()))


# --- Terraform -------------------------------------------------------------------------------


def test_a_second_plan_shows_no_changes(deployed):
    from tools import stack

    changes, output = stack.plan_changes()
    assert not changes, output[-3000:]


# --- 1. image pipeline --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def uploaded_images(aws, deployed):
    """A rotated JPEG, a PNG and a text file named .jpg, uploaded to the originals bucket."""
    bucket = deployed["buckets"]["original"]
    uploads = {
        f"story/{RUN}/camera photo.jpg": (jpeg_with_exif_rotation(400, 300), "image/jpeg"),
        f"story/{RUN}/diagram.png": (png(300, 500), "image/png"),
        f"story/{RUN}/notes.jpg": (b"this is not an image\n", "image/jpeg"),
    }
    for key, (body, content_type) in uploads.items():
        aws["s3"].put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    rows = {
        key: wait_for(lambda key=key: metadata_rows(aws, deployed, key), timeout=60, what=f"metadata of {key}")
        for key in uploads
    }
    return uploads, rows


def test_an_uploaded_jpeg_is_processed_with_orientation_fixed(aws, deployed, uploaded_images):
    _, rows = uploaded_images
    [row] = rows[f"story/{RUN}/camera photo.jpg"]
    assert row["Status"]["S"] == "completed", row
    assert row["ContentType"]["S"] == "image/jpeg" and row["Format"]["S"] == "JPEG"
    # EXIF orientation 6 turns the 400x300 sensor image into a 300x400 picture
    assert (int(row["Width"]["N"]), int(row["Height"]["N"])) == (300, 400)
    processed = s3_image(aws, deployed["buckets"]["processed"], row["ProcessedKey"]["S"])
    assert processed.size == (300, 400) and processed.format == "JPEG"
    thumbnail = s3_image(aws, deployed["buckets"]["thumbnails"], row["ThumbnailKey"]["S"])
    assert thumbnail.size == (96, 128)
    assert row["ProcessedKey"]["S"] == f"processed/{row['ImageId']['S']}-story/{RUN}/camera photo.jpg"
    assert row["ThumbnailKey"]["S"] == f"thumbnails/{row['ImageId']['S']}-thumb-story/{RUN}/camera photo.jpg"


def test_an_uploaded_png_gets_a_thumbnail_of_the_configured_size(aws, deployed, uploaded_images):
    uploads, rows = uploaded_images
    [row] = rows[f"story/{RUN}/diagram.png"]
    assert row["Status"]["S"] == "completed", row
    assert int(row["OriginalSize"]["N"]) == len(uploads[f"story/{RUN}/diagram.png"][0])
    assert (int(row["Width"]["N"]), int(row["Height"]["N"]), row["Format"]["S"]) == (300, 500, "PNG")
    thumbnail = s3_image(aws, deployed["buckets"]["thumbnails"], row["ThumbnailKey"]["S"])
    assert thumbnail.size == (77, 128) and thumbnail.format == "PNG"


def test_a_file_that_is_not_an_image_gets_an_error_row_and_no_outputs(aws, deployed, uploaded_images):
    _, rows = uploaded_images
    [row] = rows[f"story/{RUN}/notes.jpg"]
    assert row["Status"]["S"] == "error"
    assert "image" in row["ErrorMessage"]["S"].lower()
    for bucket in ("processed", "thumbnails"):
        listed = aws["s3"].list_objects_v2(Bucket=deployed["buckets"][bucket], Prefix="")
        assert not [o for o in listed.get("Contents", []) if o["Key"].endswith(f"{RUN}/notes.jpg")]


def test_the_tutorials_direct_payload_still_works(aws, deployed, uploaded_images):
    key = f"story/{RUN}/diagram.png"
    response = aws["lambda"].invoke(
        FunctionName=deployed["functions"]["image_processor"],
        Payload=json.dumps({"bucket": deployed["buckets"]["original"], "key": key}),
    )
    assert "FunctionError" not in response
    answer = json.loads(response["Payload"].read())
    body = json.loads(answer["body"]) if "body" in answer else answer
    assert answer.get("statusCode", 200) == 200, answer
    # the same object processed again: the same deterministic id, still one row
    assert len(metadata_rows(aws, deployed, key)) == 1
    assert body


# --- 2. log pipeline ----------------------------------------------------------------------------


def test_a_log_batch_is_indexed_and_archived(aws, deployed):
    logs = [
        {"level": "info", "message": f"same-millisecond log {i}", "service": "story", "user_id": RUN} for i in range(50)
    ]
    logs += [{"level": "ERROR", "message": "x" * 300, "service": "story", "user_id": RUN}]
    response = aws["lambda"].invoke(
        FunctionName=deployed["functions"]["log_processor"], Payload=json.dumps({"logs": logs})
    )
    assert "FunctionError" not in response, response["Payload"].read()
    answer = json.loads(json.loads(response["Payload"].read())["body"])
    assert answer["logs_indexed"] == 51
    rows = scan_all(
        aws["dynamodb"],
        deployed["tables"]["logs"],
        FilterExpression="BatchId = :b",
        ExpressionAttributeValues={":b": {"S": answer["batch_id"]}},
    )
    assert len(rows) == 51  # nothing overwritten, though 50 INFO rows share a millisecond
    assert {row["LogLevel"]["S"] for row in rows} == {"INFO", "ERROR"}
    assert max(len(row["Message"]["S"]) for row in rows) == 100
    bucket, key = answer["storage_location"].removeprefix("s3://").split("/", 1)
    assert (
        bucket == deployed["buckets"]["logs"]
        and key.startswith("logs/")
        and key.endswith(f"{answer['batch_id']}.json.gz")
    )
    archive = aws["s3"].get_object(Bucket=bucket, Key=key)
    assert archive["Metadata"]["log-count"] == "51" and archive["Metadata"]["batch-id"] == answer["batch_id"]
    records = json.loads(gzip.decompress(archive["Body"].read()))
    assert len(records) == 51 and records[-1]["message"] == "x" * 300


def test_a_bad_log_batch_is_a_failed_invocation_with_a_reason(aws, deployed):
    response = aws["lambda"].invoke(
        FunctionName=deployed["functions"]["log_processor"],
        Payload=json.dumps({"logs": [{"level": "LOUD", "message": "?"}]}),
    )
    assert response["FunctionError"] == "Unhandled"
    assert "level" in json.loads(response["Payload"].read())["errorMessage"]


# --- 3. notifications ----------------------------------------------------------------------------


def subscriber_envelopes(aws, deployed) -> list[dict]:
    """Drain the topic's subscriber queue: SNS envelopes (Subject, MessageAttributes, Message)."""
    envelopes = []
    queue = deployed["notifications_subscriber_queue_url"]
    while True:
        messages = aws["sqs"].receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        if not messages.get("Messages"):
            return envelopes
        for message in messages["Messages"]:
            envelopes.append(json.loads(message["Body"]))
            aws["sqs"].delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="module")
def published(aws, deployed):
    """Every SNS envelope seen on the subscriber queue during this module, by notification id."""
    seen = {}

    def find(notification_id: str) -> dict | None:
        for envelope in subscriber_envelopes(aws, deployed):
            seen[json.loads(envelope["Message"])["notification_id"]] = envelope
        return seen.get(notification_id)

    return find


def history_row(aws, deployed, notification_id: str):
    items = aws["dynamodb"].query(
        TableName=deployed["tables"]["notifications"],
        KeyConditionExpression="NotificationId = :id",
        ExpressionAttributeValues={":id": {"S": notification_id}},
    )["Items"]
    return items[0] if items else None


def test_a_queued_notification_reaches_the_topic_and_the_history(aws, deployed, published):
    notification_id = f"story-{RUN}"
    aws["sqs"].send_message(
        QueueUrl=deployed["notifications_queue_url"],
        MessageBody=json.dumps(
            {
                "notification_id": notification_id,
                "type": "alert",
                "recipient": "ops@roxs.com",
                "title": "Disk almost full",
                "message": "92% used",
                "priority": "high",
            }
        ),
    )
    envelope = wait_for(lambda: published(notification_id), timeout=60, what="the SNS message")
    assert envelope["Subject"] == "[HIGH] Disk almost full"
    assert envelope["MessageAttributes"]["priority"]["Value"] == "high"
    assert envelope["MessageAttributes"]["notification_type"]["Value"] == "alert"
    # The row is claimed (in_progress) before the publish and marked sent just after it.
    row = wait_for(
        lambda: (r := history_row(aws, deployed, notification_id)) and r["Status"]["S"] != "in_progress" and r,
        what="the history row",
    )
    assert row["Status"]["S"] == "sent" and row["SNSMessageId"]["S"] == envelope["MessageId"]


def test_the_direct_notification_payload_still_works(aws, deployed):
    response = aws["lambda"].invoke(
        FunctionName=deployed["functions"]["notification_processor"],
        Payload=json.dumps({"title": "Direct", "priority": "low"}),
    )
    assert "FunctionError" not in response
    body = json.loads(json.loads(response["Payload"].read())["body"])
    row = history_row(aws, deployed, body["notification_id"])
    assert row["Priority"]["S"] == "low" and row["Recipient"]["S"] == "admin@roxs.com"


# --- 4. the API ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(deployed):
    return lambda method, path, **kwargs: call(deployed.api_url, method, path, **kwargs)


def test_health(api):
    reply = api("GET", "/health")
    assert reply.status == 200 and reply.body["status"] == "healthy"
    assert reply.headers["access-control-allow-origin"] == origin()  # the engine's, whatever its port


def test_post_notification_goes_through_the_queue_and_can_be_looked_up(api, aws, deployed, published):
    reply = api("POST", "/notifications", body={"title": "From the API", "message": "hello", "priority": "critical"})
    assert reply.status == 202, reply.body
    notification_id = reply.body["notification_id"]
    looked_up = wait_for(
        lambda: (
            (r := api("GET", f"/notifications/{notification_id}")).status == 200
            and r.body["Status"] != "in_progress"
            and r
        ),
        timeout=60,
        what="the notification in the history",
    )
    assert looked_up.body["Status"] == "sent" and looked_up.body["Priority"] == "critical"
    envelope = wait_for(lambda: published(notification_id), timeout=60, what="the SNS message")
    assert envelope["Subject"] == "[CRITICAL] From the API"
    assert api("GET", "/notifications/does-not-exist").status == 404


def test_images_are_paginated_without_loss(api, uploaded_images):
    pages, token = [], None
    while True:
        reply = api("GET", "/images?limit=1" + (f"&next_token={token}" if token else ""))
        assert reply.status == 200, reply.body
        pages.append(reply.body["images"])
        token = reply.body.get("next_token")
        if not token:
            break
    ids = [image["id"] for page in pages for image in page]
    assert len(ids) == len(set(ids)) >= 3 and all(len(page) <= 1 for page in pages)


def test_logs_are_most_recent_first(api, aws, deployed):
    for message in ("older", "newer"):
        aws["lambda"].invoke(
            FunctionName=deployed["functions"]["log_processor"],
            Payload=json.dumps({"level": "WARNING", "message": f"{RUN} {message}", "service": "order"}),
        )
    logs = api("GET", "/logs?limit=100").body["logs"]
    timestamps = [float(log["timestamp"]) for log in logs]
    assert timestamps == sorted(timestamps, reverse=True)
    mine = [log["message"] for log in logs if log["message"].startswith(RUN)]
    assert mine[:2] == [f"{RUN} newer", f"{RUN} older"]
    assert api("GET", "/logs?level=WARNING&limit=1").body["logs"][0]["message"] == f"{RUN} newer"


def test_files_and_stats(api, aws, deployed, uploaded_images):
    files = api("GET", "/files?limit=100").body
    keys = {f["key"] for f in files["files"]}
    assert set(uploaded_images[0]) <= keys
    stats = api("GET", "/stats").body
    counts = {
        "total_images": len(scan_all(aws["dynamodb"], deployed["tables"]["images"])),
        "total_logs": len(scan_all(aws["dynamodb"], deployed["tables"]["logs"])),
        "total_notifications": len(scan_all(aws["dynamodb"], deployed["tables"]["notifications"])),
    }
    assert {key: stats[key] for key in counts} == counts
    assert stats["total_files"] >= 3


@pytest.mark.parametrize(
    "method, path, kwargs, status, reason",
    [
        ("POST", "/notifications", {"raw": b"{not json"}, 400, "not valid JSON"),
        ("POST", "/notifications", {"body": ["a", "list"]}, 400, "object"),
        ("POST", "/notifications", {"body": {"message": "no title"}}, 400, "title"),
        ("POST", "/notifications", {"body": {"title": "t", "message": "m", "priority": "urgent!"}}, 400, "priority"),
        ("POST", "/notifications", {"body": {"title": "t", "message": "m" * 70000}}, 413, ""),
        ("GET", "/images?limit=0", {}, 400, "limit"),
        ("GET", "/images?next_token=garbage", {}, 400, "next_token"),
        ("GET", "/logs?level=LOUD", {}, 400, "level"),
    ],
)
def test_client_mistakes_get_a_4xx_with_a_reason(api, method, path, kwargs, status, reason):
    reply = api(method, path, **kwargs)
    assert reply.status == status, reply.body
    assert reason.lower() in json.dumps(reply.body).lower()


def test_unknown_routes_and_wrong_methods(api):
    missing = api("GET", "/nonexistent")
    assert missing.status == 404 and "GET /health" in missing.body["available_endpoints"]
    wrong = api("DELETE", "/images")
    assert wrong.status == 405 and "GET" in wrong.headers["allow"]


# --- 5. dashboard ------------------------------------------------------------------------------------


def test_the_dashboards_numbers_match_the_tables(aws, deployed, uploaded_images):
    response = aws["lambda"].invoke(FunctionName=deployed["functions"]["dashboard"])
    assert "FunctionError" not in response
    board = json.loads(response["Payload"].read())
    images = scan_all(aws["dynamodb"], deployed["tables"]["images"])
    logs = scan_all(aws["dynamodb"], deployed["tables"]["logs"])
    notifications = scan_all(aws["dynamodb"], deployed["tables"]["notifications"])
    assert board["images"]["total"] == len(images)
    assert board["images"]["failed"] == sum(row["Status"]["S"] == "error" for row in images)
    assert board["images"]["successful"] == sum(row["Status"]["S"] == "completed" for row in images)
    by_level = {}
    for row in logs:
        by_level[row["LogLevel"]["S"]] = by_level.get(row["LogLevel"]["S"], 0) + 1
    assert board["logs"]["total"] == len(logs) and board["logs"]["by_level"] == by_level
    assert board["notifications"]["total"] == len(notifications)
    original = aws["s3"].list_objects_v2(Bucket=deployed["buckets"]["original"])
    assert board["storage"][deployed["buckets"]["original"]]["objects"] == original["KeyCount"]
    assert set(deployed["functions"].values()) <= set(board["functions"]["names"])
    assert board["images"]["latest"] and board["images"]["latest"][0]["thumbnail"].startswith("data:image/")
