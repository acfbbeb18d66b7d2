"""Objects and bytes per bucket (`bucket#<name>` {Objects, Bytes}), exact across creates,
overwrites and deletes.

Every S3 event is only a hint that one key changed. `reconcile_object` reads the key's size
item (OBJECT_SIZES_TABLE, HASH ObjectRef = `<bucket>/<key>`: Size, ETag, Version) and what S3
holds now (HEAD), and when they differ writes, in one TransactWriteItems, the size item
(conditional on the version it read) and the counter deltas (new size - old size, +-1
object). A replayed, late or out-of-order event finds item and S3 in agreement and writes
nothing; two invocations racing on one key cannot both commit (the loser reads again).
S3's `sequencer` would order events on AWS, but LocalStack 4.8 sends a constant one, and
reading S3's answer needs no ordering at all.
"""

import time
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from roxs_common.aggregates import Deltas, bucket_counter
from roxs_common.aws import client, is_conflict, is_not_found
from roxs_common.config import require_env
from roxs_common.dynamo import from_item, projection, scan_items, to_item

MAX_ROUNDS = 4


class SizeMoved(Exception):
    """Another invocation changed the key's size item first."""


def s3_event_objects(event: dict[str, Any]) -> list[tuple[str, str]] | None:
    """[(bucket, key), ...] of an EventBridge S3 event (`source` aws.s3) or of S3
    notification `Records`, keys decoded (both URL-encode them, '+' for a space); None when
    `event` is neither. ValueError when one is missing its bucket or key."""
    try:
        if event.get("source") == "aws.s3":
            return [
                (
                    event["detail"]["bucket"]["name"],
                    unquote_plus(event["detail"]["object"]["key"]),
                )
            ]
        if "Records" in event:
            if not isinstance(event["Records"], list):
                raise ValueError("Records must be a list of S3 event records")
            return [(r["s3"]["bucket"]["name"], unquote_plus(r["s3"]["object"]["key"])) for r in event["Records"]]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"S3 event without bucket name or object key (missing {exc})") from exc
    return None


def version_guard(version: int | None, hash_key: str) -> dict[str, Any]:
    """Condition kwargs of a write that must find the item at `version` (None: absent), so
    of two writers that read the same version only one commits."""
    if version is None:
        return {"ConditionExpression": f"attribute_not_exists({hash_key})"}
    return {
        "ConditionExpression": "#v = :v",
        "ExpressionAttributeNames": {"#v": "Version"},
        "ExpressionAttributeValues": {":v": {"N": str(version)}},
    }


def object_ref(bucket: str, key: str) -> str:
    return f"{bucket}/{key}"


def _head(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    return {"Size": int(head["ContentLength"]), "ETag": head["ETag"].strip('"')}


def _commit(
    ddb: Any,
    table: str,
    stats_table: str,
    bucket: str,
    key: str,
    stored: dict | None,
    now: dict | None,
) -> dict:
    deltas = Deltas()
    if stored:
        deltas.add(bucket_counter(bucket), Objects=-1, Bytes=-int(stored["Size"]))
    if now:
        deltas.add(bucket_counter(bucket), Objects=1, Bytes=now["Size"])
    ref = object_ref(bucket, key)
    guard = version_guard(int(stored["Version"]) if stored else None, "ObjectRef")
    if now:
        version = int(stored["Version"]) + 1 if stored else 1
        item = to_item(
            {
                "ObjectRef": ref,
                "Size": now["Size"],
                "ETag": now["ETag"],
                "Version": version,
            }
        )
        write = {"Put": {"TableName": table, "Item": item, **guard}}
    else:
        write = {"Delete": {"TableName": table, "Key": {"ObjectRef": {"S": ref}}, **guard}}
    try:
        ddb.transact_write_items(TransactItems=[write, *deltas.updates(stats_table)])
    except ClientError as exc:
        if is_conflict(exc):
            raise SizeMoved(ref) from exc
        raise
    return deltas.as_dict().get(bucket_counter(bucket), {})


def reconcile_object(
    bucket: str, key: str, *, table: str | None = None, stats_table: str | None = None
) -> dict[str, int]:
    """Bring the size item of s3://bucket/key and the bucket's counter in line with S3;
    returns the counter deltas written ({} when nothing changed)."""
    ddb, s3 = client("dynamodb"), client("s3")
    table = table or require_env("OBJECT_SIZES_TABLE")
    stats_table = stats_table or require_env("STATS_TABLE")
    for round_number in range(MAX_ROUNDS):
        if round_number:
            time.sleep(0.05 * 2**round_number)
        item = ddb.get_item(
            TableName=table,
            Key={"ObjectRef": {"S": object_ref(bucket, key)}},
            ConsistentRead=True,
        )
        stored = from_item(item["Item"]) if "Item" in item else None
        now = _head(s3, bucket, key)
        if stored and now and (int(stored["Size"]), stored["ETag"]) == (now["Size"], now["ETag"]):
            return {}
        if not stored and not now:
            return {}
        try:
            return _commit(ddb, table, stats_table, bucket, key, stored, now)
        except SizeMoved:
            continue
    raise RuntimeError(f"s3://{bucket}/{key} kept changing during {MAX_ROUNDS} rounds; the event will be retried")


def recount_buckets(
    buckets: list[str], *, table: str | None = None, stats_table: str | None = None
) -> dict[str, dict[str, int]]:
    """The true `bucket#<name>` values, from listing the buckets (for `make recount`, never a
    request path). Every listed key and every size item is reconciled first, so the size
    items agree with the objects and later events apply correct deltas."""
    ddb, s3 = client("dynamodb"), client("s3")
    table = table or require_env("OBJECT_SIZES_TABLE")
    totals = {bucket_counter(bucket): {"Objects": 0, "Bytes": 0} for bucket in buckets}
    listed: set[tuple[str, str]] = set()
    for bucket in buckets:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                listed.add((bucket, obj["Key"]))
                totals[bucket_counter(bucket)]["Objects"] += 1
                totals[bucket_counter(bucket)]["Bytes"] += int(obj["Size"])
    for row in scan_items(ddb, TableName=table, **projection("ObjectRef")):
        bucket, _, key = row["ObjectRef"].partition("/")
        if bucket in buckets:
            listed.add((bucket, key))
    for bucket, key in sorted(listed):
        reconcile_object(bucket, key, table=table, stats_table=stats_table)
    return totals
