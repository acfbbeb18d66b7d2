import base64
import io
import json
import zipfile

import boto3

import dashboard
from roxs_common import to_item
from tests.unit.conftest import HISTORY_TABLE, LOG_INDEX_TABLE, LOGS, METADATA_TABLE, ORIGINALS, REGION, THUMBNAILS


def seed(aws):
    for i in range(7):
        thumbnail_key = f"thumbnails/img-{i}-thumb-{i}.jpg"
        if i != 6:  # the newest image lost its thumbnail object
            aws.s3.put_object(
                Bucket=THUMBNAILS, Key=thumbnail_key, Body=f"thumb-{i}".encode(), ContentType="image/jpeg"
            )
        aws.ddb.put_item(
            TableName=METADATA_TABLE,
            Item=to_item(
                {
                    "ImageId": f"img-{i}",
                    "UploadTimestamp": 1_700_000_000 + i,
                    "OriginalKey": f"{i}.jpg",
                    "OriginalSize": 1000 * (i + 1),
                    "ProcessedAt": f"2024-01-01T00:00:0{i}+00:00",
                    "Status": "completed",
                    "Width": 640,
                    "Height": 480,
                    "ThumbnailKey": thumbnail_key,
                }
            ),
        )
    for i in range(2):
        aws.ddb.put_item(
            TableName=METADATA_TABLE,
            Item=to_item(
                {
                    "ImageId": f"bad-{i}",
                    "UploadTimestamp": 1,
                    "OriginalSize": 0,
                    "Status": "error",
                    "ErrorMessage": "nope",
                }
            ),
        )
    logs = [
        ("INFO", 10),
        ("INFO", 11),
        ("ERROR", 12),
        ("CRITICAL", 13),
        ("ERROR", 14),
        ("FATAL", 15),
        ("ERROR", 16),
        ("ERROR", 17),
        ("WARN", 18),
    ]
    for level, ms in logs:
        aws.ddb.put_item(
            TableName=LOG_INDEX_TABLE,
            Item=to_item(
                {"LogLevel": level, "Timestamp": ms, "TimestampMs": ms, "Message": f"{level}-{ms}", "Service": "svc"}
            ),
        )
    for i, (priority, status) in enumerate([("high", "sent"), ("high", "sent"), ("low", "sent"), ("normal", "error")]):
        aws.ddb.put_item(
            TableName=HISTORY_TABLE,
            Item=to_item({"NotificationId": f"n{i}", "CreatedAt": i, "Priority": priority, "Status": status}),
        )
    aws.s3.put_object(Bucket=ORIGINALS, Key="x.jpg", Body=b"12345")
    aws.s3.put_object(Bucket=ORIGINALS, Key="y.jpg", Body=b"678")


def create_functions(*names):
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(
        RoleName="lambda-role", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return {}\n")
    lam = boto3.client("lambda", region_name=REGION)
    for name in names:
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role["Role"]["Arn"],
            Handler="handler.lambda_handler",
            Code={"ZipFile": code.getvalue()},
        )


def test_dashboard_reports_every_section(aws, context, monkeypatch):
    seed(aws)
    create_functions("roxs-api-handler", "roxs-dashboard", "someone-else")
    monkeypatch.setenv("BUCKETS", f"{ORIGINALS},{LOGS},bucket-that-does-not-exist")

    data = dashboard.lambda_handler({}, context)

    json.dumps(data)  # plain JSON for the runtime: no Decimal left
    images = data["images"]
    assert (images["total"], images["successful"], images["failed"]) == (9, 7, 2)
    assert images["avg_size"] == round(sum(1000 * (i + 1) for i in range(7)) / 9, 1)
    assert [image["id"] for image in images["latest"]] == [f"img-{i}" for i in (6, 5, 4, 3, 2, 1)]
    newest, second = images["latest"][:2]
    assert newest["thumbnail"] is None
    assert second["thumbnail"] == "data:image/jpeg;base64," + base64.b64encode(b"thumb-5").decode()
    assert (second["width"], second["height"], second["filename"]) == (640, 480, "5.jpg")

    logs = data["logs"]
    assert logs["total"] == 9
    assert logs["by_level"] == {"INFO": 2, "ERROR": 4, "CRITICAL": 1, "FATAL": 1, "WARN": 1}
    assert [(e["level"], e["timestamp"]) for e in logs["recent_errors"]] == [
        ("ERROR", 17),
        ("ERROR", 16),
        ("FATAL", 15),
        ("ERROR", 14),
        ("CRITICAL", 13),
    ]

    assert data["notifications"] == {"total": 4, "by_priority": {"high": 2, "low": 1, "normal": 1}, "successful": 3}
    assert data["storage"][ORIGINALS] == {"objects": 2, "total_size_bytes": 8}
    assert data["storage"][LOGS] == {"objects": 0, "total_size_bytes": 0}
    assert data["storage"]["bucket-that-does-not-exist"]["error"] == "bucket not found"
    assert data["functions"] == {"total": 2, "names": ["roxs-api-handler", "roxs-dashboard"]}
    assert data["metadata"]["generated_at"]


def test_dashboard_on_an_empty_system(aws, context):
    data = dashboard.lambda_handler({}, context)
    assert data["images"] == {"total": 0, "successful": 0, "failed": 0, "avg_size": 0, "latest": []}
    assert data["logs"] == {"total": 0, "by_level": {}, "recent_errors": []}
    assert data["notifications"] == {"total": 0, "by_priority": {}, "successful": 0}
    assert data["functions"] == {"total": 0, "names": []}
