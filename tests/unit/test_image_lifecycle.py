"""The image processor keeps one row (and one set of derived objects) per original key, and
the counters and the listing follow, through overwrites, deletes, replays, late events and
races (moto)."""

import io
from urllib.parse import quote

import image_processor
import pytest
from PIL import Image

from roxs_common import scan_items
from roxs_common.aggregates import read_counters
from roxs_common.image_index import (
    MONTHS_COUNTER,
    list_images,
    month_of,
    recount_images,
)
from tests.unit.conftest import (
    IMAGE_KEYS_TABLE,
    METADATA_TABLE,
    ORIGINALS,
    PROCESSED,
    STATS_TABLE,
    THUMBNAILS,
)


def jpeg(colour, size=(120, 80)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG")
    return buffer.getvalue()


def eventbridge(key: str, detail_type: str = "Object Created") -> dict:
    """An S3 event as EventBridge delivers it (key URL-encoded, as LocalStack and S3 send it)."""
    return {
        "source": "aws.s3",
        "detail-type": detail_type,
        "detail": {"bucket": {"name": ORIGINALS}, "object": {"key": quote(key)}},
    }


def rows(aws):
    return list(scan_items(aws.ddb, TableName=METADATA_TABLE))


def objects(aws, bucket):
    return sorted(obj["Key"] for obj in aws.s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def image_counters(aws):
    return read_counters(aws.ddb, STATS_TABLE, ["images"])["images"]


def assert_counters_match_rows(aws):
    """What was counted at write time equals what a recount from the rows finds."""
    true = recount_images(aws.ddb, METADATA_TABLE)
    counted = read_counters(aws.ddb, STATS_TABLE, ["images", MONTHS_COUNTER])
    assert {k: v for k, v in counted["images"].items() if v} == {k: v for k, v in true["images"].items() if v}
    assert {k: v for k, v in counted[MONTHS_COUNTER].items() if v} == true[MONTHS_COUNTER]


def test_overwrite_supersedes_and_delete_removes_row_outputs_and_counts(aws, context):
    key = "album/photo one.jpg"
    aws.s3.put_object(Bucket=ORIGINALS, Key=key, Body=jpeg((255, 0, 0)))
    image_processor.lambda_handler(eventbridge(key), context)
    (first,) = rows(aws)

    second_body = jpeg((0, 0, 255), size=(90, 60))
    aws.s3.put_object(Bucket=ORIGINALS, Key=key, Body=second_body)
    summary = image_processor.lambda_handler(eventbridge(key), context)
    assert summary["failed"] == []
    (second,) = rows(aws)  # one current row per key
    assert second["ImageId"] != first["ImageId"] and second["Width"] == 90
    assert objects(aws, PROCESSED) == [second["ProcessedKey"]]  # the old outputs are gone
    assert objects(aws, THUMBNAILS) == [second["ThumbnailKey"]]
    assert image_counters(aws) == {
        "Total": 1,
        "Completed": 1,
        "OriginalBytes": len(second_body),
    }
    assert_counters_match_rows(aws)

    aws.s3.delete_object(Bucket=ORIGINALS, Key=key)
    summary = image_processor.lambda_handler(eventbridge(key, "Object Deleted"), context)
    assert summary["processed"][0]["status"] == "removed"
    assert rows(aws) == [] and objects(aws, PROCESSED) == [] and objects(aws, THUMBNAILS) == []
    assert image_counters(aws) == {"Total": 0, "Completed": 0, "OriginalBytes": 0}
    assert list_images(None, 10, None) == ([], None)
    assert aws.ddb.scan(TableName=IMAGE_KEYS_TABLE)["Items"] == []  # nothing left to track


def test_replayed_and_late_events_change_nothing(aws, context):
    key = "late.jpg"
    aws.s3.put_object(Bucket=ORIGINALS, Key=key, Body=jpeg((10, 200, 10)))
    created = eventbridge(key)
    image_processor.lambda_handler(created, context)
    before = (rows(aws), objects(aws, PROCESSED), image_counters(aws))
    for _ in range(3):  # duplicates of the create
        image_processor.lambda_handler(created, context)
    assert (rows(aws), objects(aws, PROCESSED), image_counters(aws)) == before

    aws.s3.delete_object(Bucket=ORIGINALS, Key=key)
    deleted = eventbridge(key, "Object Deleted")
    image_processor.lambda_handler(deleted, context)
    # the create arrives after the delete, then the delete again: still nothing
    assert image_processor.lambda_handler(created, context)["failed"][0]["error"].endswith("not found")
    image_processor.lambda_handler(deleted, context)
    assert rows(aws) == [] and objects(aws, PROCESSED) == []
    assert image_counters(aws) == {"Total": 0, "Completed": 0, "OriginalBytes": 0}


def test_an_out_of_order_create_of_the_old_version_keeps_the_new_one(aws, context):
    key = "order.jpg"
    aws.s3.put_object(Bucket=ORIGINALS, Key=key, Body=jpeg((1, 2, 3)))
    aws.s3.put_object(Bucket=ORIGINALS, Key=key, Body=jpeg((200, 100, 0), size=(60, 40)))
    # both creates arrive after the second upload, in any order: the current object wins
    image_processor.lambda_handler(eventbridge(key), context)
    image_processor.lambda_handler(eventbridge(key), context)
    (row,) = rows(aws)
    assert row["Width"] == 60 and len(objects(aws, PROCESSED)) == 1
    assert image_counters(aws)["Total"] == 1


def test_an_overwrite_during_processing_leaves_only_the_newest(aws, context, monkeypatch):
    """Invocation A renders version 1; meanwhile version 2 is uploaded and invocation B
    records it. A's transaction then fails its condition: A deletes its own outputs and
    reconciles again, finding version 2 current."""
    key = "race.jpg"
    aws.s3.put_object(Bucket=ORIGINALS, Key=key, Body=jpeg((9, 9, 9)))
    real_store = image_processor.store_outputs
    raced = []

    def store_then_race(row, rendered):
        stored = real_store(row, rendered)
        if not raced:
            raced.append(row["ImageId"])
            aws.s3.put_object(Bucket=ORIGINALS, Key=key, Body=jpeg((250, 250, 250), size=(50, 50)))
            image_processor.process_object(ORIGINALS, key)  # invocation B
        return stored

    monkeypatch.setattr(image_processor, "store_outputs", store_then_race)
    image_processor.lambda_handler(eventbridge(key), context)
    (row,) = rows(aws)
    assert row["Width"] == 50 and row["ImageId"] != raced[0]
    assert objects(aws, PROCESSED) == [row["ProcessedKey"]] and objects(aws, THUMBNAILS) == [row["ThumbnailKey"]]
    assert image_counters(aws) == {
        "Total": 1,
        "Completed": 1,
        "OriginalBytes": row["OriginalSize"],
    }


def test_a_crash_after_the_commit_is_finished_by_the_next_event(aws, context, monkeypatch):
    key = "crash.jpg"
    aws.s3.put_object(Bucket=ORIGINALS, Key=key, Body=jpeg((5, 5, 5)))
    image_processor.lambda_handler(eventbridge(key), context)
    aws.s3.put_object(Bucket=ORIGINALS, Key=key, Body=jpeg((6, 6, 6), size=(30, 30)))
    real_finish = image_processor.finish_pending

    def crash(*args, **kwargs):
        raise ConnectionError("the function died here")

    monkeypatch.setattr(image_processor, "finish_pending", crash)
    with pytest.raises(ConnectionError):
        image_processor.lambda_handler(eventbridge(key), context)
    assert len(objects(aws, PROCESSED)) == 2  # the superseded outputs are still there...
    monkeypatch.setattr(image_processor, "finish_pending", real_finish)
    image_processor.lambda_handler(eventbridge(key), context)  # ...until Lambda's retry
    (row,) = rows(aws)
    assert objects(aws, PROCESSED) == [row["ProcessedKey"]] and objects(aws, THUMBNAILS) == [row["ThumbnailKey"]]
    assert image_counters(aws)["Total"] == 1


def test_statuses_are_counted_and_listed_newest_first(aws, context):
    bodies = {"ok.jpg": jpeg((1, 1, 1)), "text.jpg": b"not a picture", "empty.jpg": b""}
    for key, body in bodies.items():
        aws.s3.put_object(Bucket=ORIGINALS, Key=key, Body=body)
        image_processor.lambda_handler(eventbridge(key), context)
    counted = image_counters(aws)
    assert counted == {
        "Total": 3,
        "Completed": 1,
        "Error": 2,
        "OriginalBytes": sum(map(len, bodies.values())),
    }
    listed, position = list_images(None, 10, None)
    assert position is None and {row["OriginalKey"] for row in listed} == set(bodies)
    errors, _ = list_images("error", 10, None)
    assert {row["OriginalKey"] for row in errors} == {"text.jpg", "empty.jpg"}
    month = month_of(listed[0]["UploadTimestamp"])
    assert read_counters(aws.ddb, STATS_TABLE, [MONTHS_COUNTER])[MONTHS_COUNTER] == {
        f"all#{month}": 3,
        f"completed#{month}": 1,
        f"error#{month}": 2,
    }
    activity = aws.ddb.scan(
        TableName=STATS_TABLE,
        FilterExpression="begins_with(#c, :m)",
        ExpressionAttributeNames={"#c": "Counter"},
        ExpressionAttributeValues={":m": {"S": "minute#"}},
    )["Items"]
    assert sum(int(item.get("images_error", {"N": "0"})["N"]) for item in activity) == 2
    assert_counters_match_rows(aws)
