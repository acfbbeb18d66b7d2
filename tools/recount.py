"""Audit the image rows against the originals, and recount every counter of the stats table
from the rows and objects themselves (`make recount`).

    python -m tools.recount          print the drift; exit 1 if there is any
    python -m tools.recount --fix    also repair it (`make recount FIX=1`)

It reads everything (Scans, full listings; the images table is scanned twice, once for the
rows and once for the counters): an audit for an operator, never a request path.

Image rows (`audit_images`): every object of the originals bucket has exactly one row, of
its current upload, and every row has its original. Drift is a row whose original is gone,
a row of an upload since replaced, or an original without a row (a snapshot cut between
S3 and DynamoDB, an event lost). --fix hands each such key to the image processor, which
reconciles it as it does any event (the row made, replaced or removed with its derived
objects and counts); a row the processor does not know of (its key's state names another
row) is removed with its derived objects. The counters are recounted after that.

The counters (roxs_common.aggregates) are kept at write time; this is the audit of that,
and the way to seed them on a stack whose rows were written before the counters existed.

- `images` (and the month directory `images#months`), `logs`, `notifications`: the table
  owners' recount_images(client, table) -> {counter: {attribute: value}},
  recount_logs(table) and recount_notifications(table) -> {attribute: value}
  (roxs_common.image_index, .log_index, .notifications).
- `bucket#<name>` for every bucket of the stack: Objects and Bytes from ListObjectsV2.
- `minute#...` activity is not recounted: it is kept two hours (TTL) for the dashboard's
  last hour, and the rows do not all carry the minute they were counted in.

--fix sets each drifting counter to its true value on the condition that the counter still
holds what was read: a writer that commits in between makes the fix fail (run it again),
never lose that writer's increment.
"""

import argparse
import importlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from tools import stack

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lambda_src" / "common"))

from roxs_common import aggregates
from roxs_common.aws import error_code, is_not_found
from roxs_common.dynamo import projection, scan_items
from roxs_common.image_index import image_id_for

# Terraform output `tables` key -> (module, recount function, the counter item it returns the
# attributes of; None: it returns {counter item: attributes} itself)
TABLE_RECOUNTS = {
    "images": ("roxs_common.image_index", "recount_images", None),
    "logs": ("roxs_common.log_index", "recount_logs", aggregates.LOGS),
    "notifications": ("roxs_common.notifications", "recount_notifications", aggregates.NOTIFICATIONS),
}


class RecountError(Exception):
    pass


@dataclass(frozen=True)
class Drift:
    counter: str
    attribute: str
    stored: int
    true: int

    @property
    def difference(self) -> int:
        return self.stored - self.true


ROW_WITHOUT_ORIGINAL = "row whose original is gone"
ROW_OF_REPLACED_UPLOAD = "row of an upload since replaced"
ORIGINAL_WITHOUT_ROW = "original without a row"
# What a row must hold for the audit, and for removing it with its derived objects.
ROW_FIELDS = ("ImageId", "UploadTimestamp", "OriginalBucket", "OriginalKey", "ProcessedKey", "ThumbnailKey")


@dataclass(frozen=True)
class ImageDrift:
    key: str  # of the original
    problem: str
    row: dict | None = None  # the drifting row (None: the original has none)


def _listed_originals(s3: Any, bucket: str) -> dict[str, dict]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"]: item for page in pages for item in page.get("Contents", [])}


def _upload_id(bucket: str, key: str, etag: str, last_modified) -> str:
    """The row id of this upload, as the image processor derives it (LastModified to the
    second, as HEAD reports it; a listing may carry milliseconds)."""
    return image_id_for(bucket, key, etag.strip('"'), last_modified.replace(microsecond=0).isoformat())


def _current_upload_id(s3: Any, bucket: str, key: str) -> str | None:
    """The current upload's row id from HEAD (None: the object is gone meanwhile)."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    return _upload_id(bucket, key, head["ETag"], head["LastModified"])


def audit_images(outputs: Any, dynamodb: Any, s3: Any) -> list[ImageDrift]:
    """Rows that do not match the originals bucket, and originals without a row."""
    bucket = outputs["buckets"]["original"]
    listed = _listed_originals(s3, bucket)
    rows: dict[str, list[dict]] = {}
    for row in scan_items(dynamodb, TableName=outputs["tables"]["images"], **projection(*ROW_FIELDS)):
        if row.get("OriginalBucket") == bucket:
            rows.setdefault(row["OriginalKey"], []).append(row)
    found = []
    for key in sorted(set(listed) | set(rows)):
        key_rows = rows.get(key, [])
        current = None
        if key in listed:
            current = _upload_id(bucket, key, listed[key]["ETag"], listed[key]["LastModified"])
            if current not in {row["ImageId"] for row in key_rows}:  # replaced since it was listed?
                current = _current_upload_id(s3, bucket, key)
        for row in key_rows:
            if row["ImageId"] != current:
                found.append(ImageDrift(key, ROW_WITHOUT_ORIGINAL if current is None else ROW_OF_REPLACED_UPLOAD, row))
        if current is not None and current not in {row["ImageId"] for row in key_rows}:
            found.append(ImageDrift(key, ORIGINAL_WITHOUT_ROW))
    return found


def repair_images(outputs: Any, found: list[ImageDrift], dynamodb: Any, s3: Any) -> None:
    """Each drifting key reconciled by the image processor; rows it does not know of removed."""
    bucket, lambda_ = outputs["buckets"]["original"], boto3.client("lambda")
    for key in sorted({drift.key for drift in found}):
        response = lambda_.invoke(
            FunctionName=outputs["functions"]["image_processor"], Payload=json.dumps({"bucket": bucket, "key": key})
        )
        if "FunctionError" in response:
            raise RecountError(f"the image processor failed on s3://{bucket}/{key}: {response['Payload'].read()[:500]}")
    for drift in audit_images(outputs, dynamodb, s3):
        if drift.row is None:
            raise RecountError(f"s3://{bucket}/{drift.key}: still {drift.problem} after the image processor ran")
        _remove_row(outputs, dynamodb, s3, drift.row)


def _remove_row(outputs: Any, dynamodb: Any, s3: Any, row: dict) -> None:
    """A row no key state names: it and its derived objects go (its counts go with the
    counters' recount that follows)."""
    dynamodb.delete_item(
        TableName=outputs["tables"]["images"],
        Key={"ImageId": {"S": row["ImageId"]}, "UploadTimestamp": {"N": str(row["UploadTimestamp"])}},
    )
    for bucket_name, key_name in (("processed", "ProcessedKey"), ("thumbnails", "ThumbnailKey")):
        if key_name in row:
            s3.delete_object(Bucket=outputs["buckets"][bucket_name], Key=row[key_name])


def recount_bucket(s3: Any, bucket: str) -> dict[str, int]:
    """Objects and Bytes of `bucket`, from every page of ListObjectsV2."""
    objects = size = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            objects += 1
            size += item["Size"]
    return {"Objects": objects, "Bytes": size}


def recount_table(key: str, dynamodb: Any, table: str) -> dict[str, dict[str, int]]:
    """{counter item: true attributes} of the table the outputs call `key`."""
    module_name, function_name, counter = TABLE_RECOUNTS[key]
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise RecountError(f"cannot recount the {key} table: {exc}") from exc
    if counter is None:
        return function(dynamodb, table)
    return {counter: function(table)}


def true_values(outputs: Any, dynamodb: Any, s3: Any) -> dict[str, dict[str, int]]:
    values = {}
    for key in TABLE_RECOUNTS:
        values.update(recount_table(key, dynamodb, outputs["tables"][key]))
    for bucket in sorted(outputs["buckets"].values()):
        values[aggregates.bucket_counter(bucket)] = recount_bucket(s3, bucket)
    return values


def drifts(stored: dict[str, dict[str, int]], true: dict[str, dict[str, int]]) -> list[Drift]:
    """Every attribute whose stored value (absent = 0) differs from the true one."""
    found = []
    for counter, values in sorted(true.items()):
        held = stored.get(counter, {})
        for attribute in sorted(set(values) | set(held)):
            drift = Drift(counter, attribute, held.get(attribute, 0), values.get(attribute, 0))
            if drift.difference:
                found.append(drift)
    return found


def fix(dynamodb: Any, table: str, counter: str, stored: dict[str, int], true: dict[str, int]) -> None:
    """Set `counter` to `true`, on the condition that it still holds `stored`."""
    attributes = sorted(set(stored) | set(true))
    names = {f"#a{i}": attribute for i, attribute in enumerate(attributes)}
    values, conditions = {}, []
    for i, attribute in enumerate(attributes):
        values[f":t{i}"] = {"N": str(true.get(attribute, 0))}
        if attribute in stored:
            values[f":s{i}"] = {"N": str(stored[attribute])}
            conditions.append(f"#a{i} = :s{i}")
        else:
            conditions.append(f"attribute_not_exists(#a{i})")
    try:
        dynamodb.update_item(
            TableName=table,
            Key={"Counter": {"S": counter}},
            UpdateExpression="SET " + ", ".join(f"#a{i} = :t{i}" for i in range(len(attributes))),
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            raise RecountError(f"{counter} changed while it was recounted (a writer committed): run again") from exc
        raise


def recount(outputs: Any, *, write: bool) -> list[Drift]:
    """The drift of every counter (before any fix); with `write`, the drifting ones are fixed."""
    dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    true = true_values(outputs, dynamodb, s3)
    stored = aggregates.read_counters(dynamodb, outputs["stats_table"], true)
    found = drifts(stored, true)
    if write:
        for counter in sorted({drift.counter for drift in found}):
            fix(dynamodb, outputs["stats_table"], counter, stored[counter], true[counter])
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fix", action="store_true", help="repair the drift: image keys reconciled, counters written")
    args = parser.parse_args(argv)
    try:
        outputs = stack.outputs()
        dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
        images = audit_images(outputs, dynamodb, s3)
        for drift in images:
            print(f"[recount] s3://{outputs['buckets']['original']}/{drift.key}: {drift.problem}")
        if images and args.fix:
            repair_images(outputs, images, dynamodb, s3)
            print(f"[recount] reconciled {len({drift.key for drift in images})} image key(s)")
        found = recount(outputs, write=args.fix)
    except (stack.StackError, RecountError) as exc:
        print(f"[recount] {exc}", file=sys.stderr)
        return 2
    if not found and not images:
        print("[recount] no drift: every image row matches its original, every counter the rows and objects")
        return 0
    if found:
        print(f"{'counter':<40} {'attribute':<20} {'stored':>12} {'true':>12} {'drift':>10}")
    for drift in found:
        print(f"{drift.counter:<40} {drift.attribute:<20} {drift.stored:>12} {drift.true:>12} {drift.difference:>+10}")
    if not args.fix:
        print("[recount] drift found; `make recount FIX=1` repairs it")
        return 1
    if found:
        print(f"[recount] fixed {len({drift.counter for drift in found})} counter(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
