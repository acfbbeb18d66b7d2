"""Image processor: keeps one metadata row, processed copy and thumbnail per object of the
originals bucket, in step with the bucket through creates, overwrites and deletes.

An event (EventBridge `Object Created` / `Object Deleted`, an S3 notification record, or the
direct payload {"bucket", "key"}) only says that s3://bucket/key may have changed. The
processor reconciles the key: it reads what S3 holds now (HEAD) and the key's state item
(IMAGE_KEYS_TABLE: its current row), and when they differ moves the key to what S3 holds in
one TransactWriteItems: the new row (put only if absent), the superseded row deleted, the
state item (conditional on the version it read) and the counters (roxs_common.image_index).
What must happen to the key is decided by key_decision.decide, a plain function of what
was read; this module reads, and carries the decision out. Because every decision is taken
from S3's current state, a replayed, late or out-of-order event changes nothing
(LocalStack's S3 events carry a constant `sequencer`, so event order cannot be trusted;
S3's answer can). Derived objects of a superseded or deleted row are kept
in the state item's `Pending` list by that same transaction and deleted after it, so a crash
in between is finished by the next event for the key.

Outcomes per object:
- completed: both outputs written, then the row with Status `completed`;
- rejected: over a bound of limits.json (the decoded pixels, the memory the render would need
  in this function, both checked from the header before any decoding; the object's bytes; the
  processed copy's bytes): row with the reason, no outputs;
- error: not a usable image (empty, not an image, truncated, unsupported): row with the reason;
- removed: the object is gone, its row and derived objects are deleted.
Rejected and error are deterministic, so the invocation succeeds (a retry cannot help);
transient AWS errors propagate and Lambda's asynchronous retry runs the event again.
"""

import os
import time
from dataclasses import dataclass
from typing import Any, assert_never
from urllib.parse import quote

from botocore.exceptions import ClientError
from key_decision import (
    STATE_ROW_FIELDS,
    Forget,
    Keep,
    KeyState,
    Record,
    Remove,
    completed_row,
    decide,
    key_ref,
    unusable_row,
)
from rendering import (
    MAX_OBJECT_BYTES,
    ImageRejected,
    ImageUnusable,
    RenderedImage,
    function_memory_mb,
    max_image_pixels,
    render_image,
    thumbnail_max_px,
)

from roxs_common import (
    client,
    dumps,
    get_logger,
    inject_lambda_context,
    require_env,
    to_item,
)
from roxs_common.aggregates import Deltas
from roxs_common.aws import error_code, is_conflict, is_not_found
from roxs_common.clock import now_iso
from roxs_common.dynamo import from_item
from roxs_common.image_index import row_counters
from roxs_common.storage import s3_event_objects, version_guard

logger = get_logger(__name__)

# The original key goes into the outputs' user metadata (2 KB in all on S3) only when its
# URL-encoded form stays under this; the row always has it.
MAX_METADATA_KEY_BYTES = 1024
# Reconcile rounds when another invocation moves the same key at the same time.
MAX_ROUNDS = 4


class KeyMoved(Exception):
    """Another invocation changed the key's state (or S3's object) while this one worked."""


# --- event parsing (no AWS) --------------------------------------------------------------------


def objects_from_event(event: Any) -> tuple[list[tuple[str, str]], bool]:
    """[(bucket, key), ...] and whether the event came from S3 (EventBridge or a notification)."""
    if not isinstance(event, dict):
        raise ValueError(f"event must be an S3 event or an object with bucket and key, got {type(event).__name__}")
    objects = s3_event_objects(event)
    if objects is not None:
        return objects, True
    bucket, key = event.get("bucket"), event.get("key")
    missing = [name for name, value in (("bucket", bucket), ("key", key)) if not isinstance(value, str) or not value]
    if missing:
        raise ValueError(
            f"direct payload needs non-empty string fields bucket and key; missing or invalid: {', '.join(missing)}"
        )
    return [(bucket, key)], False


# --- the executor: reads, and carries out the decision (AWS I/O) --------------------------------


@dataclass(frozen=True)
class Outcome:
    status_code: int  # 200 completed or removed, 404 nothing there, 422 error/rejected row
    body: dict[str, Any]


def read_state(bucket: str, key: str) -> KeyState:
    ref = key_ref(bucket, key)
    item = (
        client("dynamodb")
        .get_item(
            TableName=require_env("IMAGE_KEYS_TABLE"),
            Key={"ObjectRef": {"S": ref}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if not item:
        return KeyState(ref)
    data = from_item(item)
    row = {name: data[name] for name in STATE_ROW_FIELDS if name in data} if "ImageId" in data else None
    return KeyState(ref, int(data["Version"]), row, list(data.get("Pending", [])), exists=True)


def head_original(bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise


def render_original(bucket: str, key: str, head: dict[str, Any]) -> RenderedImage:
    """Download (pinned to the version HEAD saw) and render; ImageUnusable/ImageRejected for
    deterministic failures, KeyMoved when the object changed since HEAD."""
    settings = thumbnail_max_px(), max_image_pixels(), function_memory_mb()
    size = head["ContentLength"]
    if size > MAX_OBJECT_BYTES:
        raise ImageRejected(f"object is {size} bytes, over the {MAX_OBJECT_BYTES // (1024 * 1024)} MiB limit")
    try:
        data = client("s3").get_object(Bucket=bucket, Key=key, IfMatch=head["ETag"])["Body"].read()
    except ClientError as exc:
        if is_not_found(exc) or error_code(exc) == "PreconditionFailed":
            raise KeyMoved(f"s3://{bucket}/{key} changed while it was read") from exc
        raise
    return render_image(data, *settings)


def store_outputs(row: dict[str, Any], rendered: RenderedImage) -> dict[str, Any]:
    """Write the processed copy and the thumbnail; the `completed` row that points at them."""
    completed = completed_row(row, rendered, now_iso())
    metadata = {"original-bucket": row["OriginalBucket"], "image-id": row["ImageId"]}
    # S3 user metadata is ASCII-only, so the original key is stored URL-encoded.
    quoted_key = quote(row["OriginalKey"], safe="/")
    if len(quoted_key) <= MAX_METADATA_KEY_BYTES:
        metadata["original-key"] = quoted_key
    s3 = client("s3")
    s3.put_object(
        Bucket=require_env("PROCESSED_BUCKET"),
        Key=completed["ProcessedKey"],
        Body=rendered.processed.body,
        ContentType=rendered.processed.content_type,
        Metadata={
            **metadata,
            "processed-by": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "image-processor"),
            "processed-at": completed["ProcessedAt"],
        },
    )
    s3.put_object(
        Bucket=require_env("THUMBNAILS_BUCKET"),
        Key=completed["ThumbnailKey"],
        Body=rendered.thumbnail.body,
        ContentType=rendered.thumbnail.content_type,
        Metadata={**metadata, "thumbnail-for": row["ImageId"]},
    )
    return completed


def derived_objects(row: dict[str, Any] | None) -> list[dict[str, str]]:
    if not row or "ProcessedKey" not in row:
        return []
    return [
        {"Bucket": require_env("PROCESSED_BUCKET"), "Key": row["ProcessedKey"]},
        {"Bucket": require_env("THUMBNAILS_BUCKET"), "Key": row["ThumbnailKey"]},
    ]


def _row_operations(state: KeyState, new_row: dict[str, Any] | None) -> tuple[list[dict[str, Any]], Deltas]:
    """Delete the superseded row and put the new one (only if absent), with their counts."""
    table = require_env("METADATA_TABLE")
    operations: list[dict[str, Any]] = []
    deltas = Deltas()
    if state.row:
        deltas.merge(row_counters(state.row).negated())
        key = {
            "ImageId": state.row["ImageId"],
            "UploadTimestamp": state.row["UploadTimestamp"],
        }
        operations.append({"Delete": {"TableName": table, "Key": to_item(key)}})
    if new_row:
        deltas.merge(row_counters(new_row))
        deltas.add_activity(int(time.time() * 1000), **{f"images_{new_row['Status']}": 1})
        condition = "attribute_not_exists(ImageId)"
        operations.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": to_item(new_row),
                    "ConditionExpression": condition,
                }
            }
        )
    return operations, deltas


def _state_operation(state: KeyState, new_row: dict[str, Any] | None, pending: list[dict[str, str]]) -> list[dict]:
    """The key item's next version (the new row's fields, derived objects to delete), or its
    deletion when nothing is left to track; only if still at the version read."""
    table, guard = (
        require_env("IMAGE_KEYS_TABLE"),
        version_guard(state.version if state.exists else None, "ObjectRef"),
    )
    if new_row or pending:
        item: dict[str, Any] = {"ObjectRef": state.ref, "Version": state.version + 1}
        if new_row:
            item.update({name: new_row[name] for name in STATE_ROW_FIELDS if name in new_row})
        if pending:
            item["Pending"] = pending
        return [{"Put": {"TableName": table, "Item": to_item(item), **guard}}]
    if state.exists:
        return [
            {
                "Delete": {
                    "TableName": table,
                    "Key": {"ObjectRef": {"S": state.ref}},
                    **guard,
                }
            }
        ]
    return []


def commit(state: KeyState, new_row: dict[str, Any] | None) -> list[dict[str, str]]:
    """One transaction from `state` to `new_row` (None: the object is gone): rows, key item
    and counters. Returns the derived objects now to delete; raises KeyMoved when another
    invocation changed the key first."""
    pending = state.pending + derived_objects(state.row)
    operations, deltas = _row_operations(state, new_row)
    operations += _state_operation(state, new_row, pending)
    operations += deltas.updates(require_env("STATS_TABLE"))
    try:
        client("dynamodb").transact_write_items(TransactItems=operations)
    except ClientError as exc:
        if is_conflict(exc):
            raise KeyMoved(f"{state.ref} changed while it was processed") from exc
        raise
    return pending


def finish_pending(ref: str, version: int, pending: list[dict[str, str]], current: bool) -> None:
    """Delete derived objects a committed transaction left to delete, then drop the list
    (or the whole key item when the key has no current row). Deleting twice is harmless;
    a key item that moved on meanwhile carries the list forward itself."""
    s3 = client("s3")
    for obj in pending:
        s3.delete_object(Bucket=obj["Bucket"], Key=obj["Key"])
    ddb, table, key = (
        client("dynamodb"),
        require_env("IMAGE_KEYS_TABLE"),
        {"ObjectRef": {"S": ref}},
    )
    guard = version_guard(version, "ObjectRef")
    try:
        if current:
            guard["ExpressionAttributeNames"]["#p"] = "Pending"
            ddb.update_item(TableName=table, Key=key, UpdateExpression="REMOVE #p", **guard)
        else:
            ddb.delete_item(TableName=table, Key=key, **guard)
    except ClientError as exc:
        if not is_conflict(exc):
            raise


def discard_outputs(row: dict[str, Any]) -> None:
    """Outputs written for a row that lost the race (its id is unique to its upload, so no
    current row shares them)."""
    s3 = client("s3")
    for obj in derived_objects(row):
        s3.delete_object(Bucket=obj["Bucket"], Key=obj["Key"])


def _answer(row: dict[str, Any], note: str | None = None) -> Outcome:
    original = f"{row['OriginalBucket']}/{row['OriginalKey']}" if "OriginalBucket" in row else None
    body: dict[str, Any] = {"image_id": row["ImageId"], "status": row["Status"]}
    if original:
        body["original"] = original
    if note:
        body["message"] = note
    if row["Status"] != "completed":
        body["error"] = row.get("ErrorMessage", f"image {row['Status']}")
        return Outcome(422, body)
    if "Width" in row:
        body.update(
            message="Image processed",
            processed=f"{require_env('PROCESSED_BUCKET')}/{row['ProcessedKey']}",
            thumbnail=f"{require_env('THUMBNAILS_BUCKET')}/{row['ThumbnailKey']}",
            size_bytes=row["OriginalSize"],
            width=row["Width"],
            height=row["Height"],
            thumbnail_width=row["ThumbnailWidth"],
            thumbnail_height=row["ThumbnailHeight"],
        )
    return Outcome(200, body)


def reconcile_once(bucket: str, key: str) -> Outcome:
    """One round: read state and S3, decide, and carry the decision out."""
    state, head = read_state(bucket, key), head_original(bucket, key)
    decision = decide(bucket, key, state, head)
    log_data = {"bucket": bucket, "key": key}
    match decision:
        case Forget():
            if state.pending:
                finish_pending(state.ref, state.version, state.pending, current=False)
            logger.warning("object not found", extra=log_data)
            return Outcome(404, {"error": f"object s3://{bucket}/{key} not found"})
        case Remove(row):
            pending = commit(state, None)
            finish_pending(state.ref, state.version + 1, pending, current=False)
            logger.info("image removed", extra={**log_data, "image_id": row["ImageId"]})
            body = {"message": "Image removed", "image_id": row["ImageId"], "status": "removed"}
            return Outcome(200, {**body, "original": f"{bucket}/{key}"})
        case Keep(row):
            if state.pending:
                finish_pending(state.ref, state.version, state.pending, current=True)
            return _answer(row, "already processed")
        case Record(row):
            return record(state, row, head, log_data)
    assert_never(decision)


def record(state: KeyState, row: dict[str, Any], head: dict[str, Any], log_data: dict[str, Any]) -> Outcome:
    """Render the upload `head` describes, write its outputs, and commit its row (`row`, the
    upload's fields) as the key's current one."""
    bucket, key = row["OriginalBucket"], row["OriginalKey"]
    log_data = {**log_data, "image_id": row["ImageId"], "size": row["OriginalSize"]}
    try:
        rendered = render_original(bucket, key, head)
    except ImageUnusable as exc:
        logger.warning(f"image {exc.status}", extra={**log_data, "reason": str(exc)})
        new_row = unusable_row(row, exc, now_iso())
    else:
        new_row = store_outputs(row, rendered)
    try:
        pending = commit(state, new_row)
    except KeyMoved:
        current = read_state(bucket, key).row
        if current is None or current["ImageId"] != new_row["ImageId"]:
            discard_outputs(new_row)
        raise
    if pending:
        finish_pending(state.ref, state.version + 1, pending, current=True)
    logger.info("image recorded", extra={**log_data, "status": new_row["Status"]})
    return _answer(new_row)


def process_object(bucket: str, key: str) -> Outcome:
    """Reconcile s3://bucket/key, again when another invocation moved it meanwhile."""
    originals = require_env("ORIGINALS_BUCKET")
    if bucket != originals:
        raise ValueError(f"bucket must be the originals bucket {originals}, got {bucket!r}")
    for round_number in range(1, MAX_ROUNDS + 1):
        try:
            return reconcile_once(bucket, key)
        except KeyMoved as exc:
            logger.info(
                "key moved meanwhile, reconciling again",
                extra={"reason": str(exc), "round": round_number},
            )
    raise RuntimeError(f"s3://{bucket}/{key} kept changing during {MAX_ROUNDS} rounds; the event will be retried")


@inject_lambda_context
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Direct payload -> {"statusCode", "body": JSON string}; S3 event -> {"processed": [...], "failed": [...]}."""
    objects, from_s3 = objects_from_event(event)
    if not from_s3:
        outcome = process_object(*objects[0])
        return {"statusCode": outcome.status_code, "body": dumps(outcome.body)}
    summary: dict[str, list] = {"processed": [], "failed": []}
    for bucket, key in objects:
        outcome = process_object(bucket, key)
        summary["processed" if outcome.status_code == 200 else "failed"].append(
            {"bucket": bucket, "key": key, **outcome.body}
        )
    return summary
