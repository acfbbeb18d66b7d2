"""tools/recount.py's audit of the image rows against the originals, on moto: each kind of
drift (a row whose original is gone, a row of a replaced upload, an original without a row,
a row no key state names) is found, and FIX repairs it through the image processor itself
(run in-process where recount invokes it), after which rows, objects and counters agree."""

import io
import json

import boto3
import image_processor
import pytest
from PIL import Image

from roxs_common import scan_items
from tests.unit.conftest import (
    HISTORY_TABLE,
    LOG_INDEX_TABLE,
    LOGS,
    METADATA_TABLE,
    ORIGINALS,
    PROCESSED,
    STATS_TABLE,
    THUMBNAILS,
)
from tools import recount
from tools.stack import Outputs

# Keys of several shapes: plain, nested, spaces and non-ASCII.
KEYS = ("a.jpg", "deep/folder/b.jpg", "with space.jpg", "ünïcödé-ç.jpg")


class ProcessorInProcess:
    """Lambda's Invoke of the image processor, run here (the engine runs the same handler)."""

    def __init__(self, context):
        self.context = context

    def invoke(self, FunctionName, Payload):
        answer = image_processor.lambda_handler(json.loads(Payload), self.context)
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}


@pytest.fixture
def outputs(aws, context, monkeypatch):
    real_client = boto3.client
    monkeypatch.setattr(
        recount.boto3,
        "client",
        lambda service, *args, **kwargs: (
            ProcessorInProcess(context) if service == "lambda" else real_client(service, *args, **kwargs)
        ),
    )
    return Outputs(
        {
            "tables": {"images": METADATA_TABLE, "logs": LOG_INDEX_TABLE, "notifications": HISTORY_TABLE},
            "buckets": {"original": ORIGINALS, "processed": PROCESSED, "thumbnails": THUMBNAILS, "logs": LOGS},
            "functions": {"image_processor": "roxs-image-processor"},
            "stats_table": STATS_TABLE,
        }
    )


def jpeg(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def upload(aws, context, key: str, colour=(200, 10, 10)) -> None:
    """An upload and its event, processed."""
    aws.s3.put_object(Bucket=ORIGINALS, Key=key, Body=jpeg(colour))
    image_processor.lambda_handler({"bucket": ORIGINALS, "key": key}, context)


def audit(aws, outputs) -> list[tuple[str, str]]:
    return sorted((drift.key, drift.problem) for drift in recount.audit_images(outputs, aws.ddb, aws.s3))


def rows(aws) -> dict[str, dict]:
    return {row["OriginalKey"]: row for row in scan_items(aws.ddb, TableName=METADATA_TABLE)}


def objects(aws, bucket: str) -> set[str]:
    return {item["Key"] for item in aws.s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def repaired(aws, outputs) -> None:
    """FIX repairs everything: rows match the originals, every counter its rows and objects."""
    found = recount.audit_images(outputs, aws.ddb, aws.s3)
    recount.repair_images(outputs, found, aws.ddb, aws.s3)
    recount.recount(outputs, write=True)
    assert audit(aws, outputs) == []
    assert recount.recount(outputs, write=False) == []
    assert set(rows(aws)) == objects(aws, ORIGINALS)


@pytest.mark.parametrize("key", KEYS)
def test_processed_uploads_are_no_drift(aws, context, outputs, key):
    for other in {key, "other.jpg"}:
        upload(aws, context, other)
    assert audit(aws, outputs) == []


@pytest.mark.parametrize("key", KEYS)
def test_a_row_whose_original_is_gone_is_drift_and_fix_removes_it_with_its_outputs(aws, context, outputs, key):
    upload(aws, context, key)
    upload(aws, context, "kept.jpg")
    derived = {rows(aws)[key]["ProcessedKey"], rows(aws)[key]["ThumbnailKey"]}
    aws.s3.delete_object(Bucket=ORIGINALS, Key=key)  # its event lost

    assert audit(aws, outputs) == [(key, recount.ROW_WITHOUT_ORIGINAL)]
    repaired(aws, outputs)
    assert set(rows(aws)) == {"kept.jpg"}
    assert not derived & (objects(aws, PROCESSED) | objects(aws, THUMBNAILS))


@pytest.mark.parametrize("key", KEYS)
def test_an_original_without_a_row_is_drift_and_fix_processes_it(aws, context, outputs, key):
    upload(aws, context, "kept.jpg")
    aws.s3.put_object(Bucket=ORIGINALS, Key=key, Body=jpeg((10, 10, 200)))  # its event lost

    assert audit(aws, outputs) == [(key, recount.ORIGINAL_WITHOUT_ROW)]
    repaired(aws, outputs)
    assert rows(aws)[key]["Status"] == "completed"


@pytest.mark.parametrize("key", KEYS)
def test_a_row_of_a_replaced_upload_is_drift_and_fix_moves_it_to_the_new_upload(aws, context, outputs, key):
    upload(aws, context, key)
    old = rows(aws)[key]["ImageId"]
    aws.s3.put_object(Bucket=ORIGINALS, Key=key, Body=jpeg((10, 200, 10)))  # its event lost

    assert audit(aws, outputs) == sorted([(key, recount.ROW_OF_REPLACED_UPLOAD), (key, recount.ORIGINAL_WITHOUT_ROW)])
    repaired(aws, outputs)
    assert rows(aws)[key]["ImageId"] != old


def test_a_row_no_key_state_names_is_removed_by_fix(aws, context, outputs):
    upload(aws, context, "orphan.jpg")
    upload(aws, context, "kept.jpg")
    orphan = rows(aws)["orphan.jpg"]
    aws.ddb.delete_item(
        TableName=image_processor.require_env("IMAGE_KEYS_TABLE"),
        Key={"ObjectRef": {"S": image_processor.key_ref(ORIGINALS, "orphan.jpg")}},
    )
    aws.s3.delete_object(Bucket=ORIGINALS, Key="orphan.jpg")

    assert audit(aws, outputs) == [("orphan.jpg", recount.ROW_WITHOUT_ORIGINAL)]
    repaired(aws, outputs)
    assert set(rows(aws)) == {"kept.jpg"}
    assert orphan["ProcessedKey"] not in objects(aws, PROCESSED)
