"""On the engine: an original's overwrite supersedes its row and derived objects, a delete
removes them, caller-controlled work is bounded (over-long keys, decompression bombs), and
the counters (images, objects and bytes of all four buckets) equal a recount from the rows
and objects after creates, overwrites, deletes and replayed events."""

import io
import json
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image

from tests.support.waiting import scan_all, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lambda_src" / "common"))
from roxs_common.aggregates import read_counters
from roxs_common.image_index import MONTHS_COUNTER, recount_images

RUN = uuid.uuid4().hex[:8]


def picture(colour, size=(160, 120)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG")
    return buffer.getvalue()


def webp_bomb() -> bytes:
    """A few dozen bytes of lossless WEBP that decode to 10,000 x 10,000 pixels."""
    buffer = io.BytesIO()
    Image.new("RGB", (10_000, 10_000), (10, 20, 30)).save(buffer, "WEBP", lossless=True, method=0)
    return buffer.getvalue()


def rows_of(aws, deployed, key):
    return scan_all(
        aws["dynamodb"],
        deployed["tables"]["images"],
        FilterExpression="OriginalKey = :k",
        ExpressionAttributeValues={":k": {"S": key}},
    )


def exists(aws, bucket, key) -> bool:
    return aws["s3"].list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0) > 0


def eventbridge(bucket, key, detail_type="Object Created") -> dict:
    return {
        "source": "aws.s3",
        "detail-type": detail_type,
        "detail": {"bucket": {"name": bucket}, "object": {"key": quote(key)}},
    }


def invoke(aws, function, payload) -> dict:
    answer = aws["lambda"].invoke(FunctionName=function, Payload=json.dumps(payload))
    body = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, body
    return body


def truth(aws, deployed) -> dict:
    """Every counter recomputed from the rows and the objects."""
    true = recount_images(aws["dynamodb"], deployed["tables"]["images"])
    for bucket in deployed["buckets"].values():
        objects = [
            obj
            for page in aws["s3"].get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for obj in page.get("Contents", [])
        ]
        true[f"bucket#{bucket}"] = {
            "Objects": len(objects),
            "Bytes": sum(obj["Size"] for obj in objects),
        }
    return true


def counted(aws, deployed, names) -> dict:
    found = read_counters(aws["dynamodb"], deployed["stats_table"], names)
    return {name: {attribute: value for attribute, value in values.items() if value} for name, values in found.items()}


def counters_match(aws, deployed):
    """(True, ...) once every counter equals the recount (the events of the run are processed)."""
    true = truth(aws, deployed)
    expected = {
        name: {attribute: value for attribute, value in values.items() if value} for name, values in true.items()
    }
    found = counted(aws, deployed, list(true))
    return found == expected, found, expected


@pytest.fixture(scope="module")
def uploads(aws, deployed):
    bucket = deployed["buckets"]["original"]
    prefix = f"lifecycle/{RUN}/"
    long_key = prefix + "ñ" * ((1024 - len(prefix) - 4) // 2) + ".jpg"  # 1,023 bytes
    keys = {
        "photo": prefix + "photo.jpg",
        "long": long_key,
        "bomb": prefix + "bomb.webp",
    }
    aws["s3"].put_object(Bucket=bucket, Key=keys["photo"], Body=picture((200, 0, 0)))
    aws["s3"].put_object(Bucket=bucket, Key=keys["long"], Body=picture((0, 200, 0)))
    started = time.monotonic()
    aws["s3"].put_object(Bucket=bucket, Key=keys["bomb"], Body=webp_bomb())
    rows = {
        name: wait_for(
            lambda key=key: rows_of(aws, deployed, key),
            timeout=60,
            what=f"the row of {name}",
        )
        for name, key in keys.items()
    }
    return keys, rows, time.monotonic() - started


def test_a_key_near_the_1024_byte_limit_is_processed(aws, deployed, uploads):
    keys, rows, _ = uploads
    assert len(keys["long"].encode()) > 1000
    [row] = rows["long"]
    assert row["Status"]["S"] == "completed" and row["OriginalKey"]["S"] == keys["long"]
    assert exists(aws, deployed["buckets"]["processed"], row["ProcessedKey"]["S"])
    assert exists(aws, deployed["buckets"]["thumbnails"], row["ThumbnailKey"]["S"])


def test_a_decompression_bomb_is_rejected_from_its_header_once(aws, deployed, uploads):
    keys, rows, seconds = uploads
    [row] = rows["bomb"]
    assert row["Status"]["S"] == "rejected"
    assert "10000 x 10000 = 100,000,000 pixels decoded" in row["ErrorMessage"]["S"]
    assert "ProcessedKey" not in row and seconds < 30
    function = deployed["functions"]["image_processor"]
    assert (
        invoke(aws, function, eventbridge(deployed["buckets"]["original"], keys["bomb"]))["failed"][0]["status"]
        == "rejected"
    )  # deterministic: answered, not raised (so never retried)


def test_overwrite_supersedes_and_delete_removes(aws, deployed, uploads):
    keys, rows, _ = uploads
    bucket, key = deployed["buckets"]["original"], keys["photo"]
    [first] = rows["photo"]
    aws["s3"].put_object(Bucket=bucket, Key=key, Body=picture((0, 0, 200), size=(90, 90)))
    [second] = wait_for(
        lambda: [r for r in rows_of(aws, deployed, key) if r["ImageId"] != first["ImageId"]],
        timeout=60,
        what="the overwrite's row",
    )
    wait_for(
        lambda: len(rows_of(aws, deployed, key)) == 1,
        timeout=30,
        what="the superseded row to go",
    )
    assert second["Width"]["N"] == "90"
    wait_for(
        lambda: not exists(aws, deployed["buckets"]["processed"], first["ProcessedKey"]["S"]),
        timeout=30,
        what="the superseded processed copy to go",
    )
    assert not exists(aws, deployed["buckets"]["thumbnails"], first["ThumbnailKey"]["S"])
    assert exists(aws, deployed["buckets"]["thumbnails"], second["ThumbnailKey"]["S"])

    aws["s3"].delete_object(Bucket=bucket, Key=key)
    wait_for(
        lambda: not rows_of(aws, deployed, key),
        timeout=60,
        what="the deleted original's row to go",
    )
    for role, field in (("processed", "ProcessedKey"), ("thumbnails", "ThumbnailKey")):
        wait_for(
            lambda role=role, field=field: not exists(aws, deployed["buckets"][role], second[field]["S"]),
            timeout=30,
            what=f"the {role} copy to go",
        )


def test_counters_equal_a_recount_after_changes_and_replays(aws, deployed, uploads):
    keys, _, _ = uploads
    bucket = deployed["buckets"]["original"]
    ok = wait_for(
        lambda: counters_match(aws, deployed)[0],
        timeout=60,
        what="counters to match a recount",
    )
    assert ok
    before = counters_match(aws, deployed)
    assert before[0], before[1:]
    assert before[2]["images"]["Total"] >= 2  # this module's long key and bomb at least

    # every event of the run delivered again, creates after deletes, to both consumers
    replays = [eventbridge(bucket, key, kind) for key in keys.values() for kind in ("Object Deleted", "Object Created")]
    for event in replays:
        invoke(aws, deployed["functions"]["image_processor"], event)
        invoke(aws, deployed["functions"]["storage_counter"], event)
    after = counters_match(aws, deployed)
    assert after[0], after[1:]
    assert after[1] == before[1]
    assert counted(aws, deployed, [MONTHS_COUNTER])[MONTHS_COUNTER] == {
        name: value for name, value in before[2][MONTHS_COUNTER].items() if value
    }
