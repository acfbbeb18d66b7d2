"""What must happen to one original key, decided from what was read (no I/O).

The image processor reads the key's state item and S3's HEAD of the object, asks `decide`,
and carries out the answer (image_processor.py). The rows it then writes are made here
too: `completed_row` for outputs written, `unusable_row` for an object that cannot be one.
"""

from dataclasses import dataclass, field
from typing import Any

from rendering import ImageUnusable, RenderedImage

from roxs_common.image_index import image_id_for, partition_attributes

# S3's limit on a key's UTF-8 length; derived keys are cut to fit.
MAX_KEY_BYTES = 1024

# Row attributes copied into the state item: enough to delete the row, its outputs and
# its counts without reading it.
STATE_ROW_FIELDS = (
    "ImageId",
    "UploadTimestamp",
    "Status",
    "OriginalSize",
    "ListMonth",
    "ProcessedKey",
    "ThumbnailKey",
    "ErrorMessage",
)


@dataclass
class KeyState:
    """The state item of one original key: its current row (if any) and derived objects
    still to delete."""

    ref: str
    version: int = 0
    row: dict[str, Any] | None = None  # ImageId, UploadTimestamp, Status, OriginalSize, ListMonth, ...
    pending: list[dict[str, str]] = field(default_factory=list)  # [{"Bucket", "Key"}]
    exists: bool = False


def key_ref(bucket: str, key: str) -> str:
    return f"image#{bucket}/{key}"


def derived_key(prefix: str, key: str) -> str:
    """`<prefix><key>`, the key cut at a character boundary so the whole stays within S3's
    1,024 bytes (the prefix holds the image id, which keeps it unique)."""
    budget = MAX_KEY_BYTES - len(prefix.encode())
    return prefix + key.encode()[:budget].decode("utf-8", "ignore")


def output_keys(image_id: str, key: str) -> tuple[str, str]:
    return derived_key(f"processed/{image_id}-", key), derived_key(f"thumbnails/{image_id}-thumb-", key)


def base_row(bucket: str, key: str, head: dict[str, Any]) -> dict[str, Any]:
    """The row fields of the upload S3's HEAD describes (its id is unique to that upload)."""
    last_modified = head["LastModified"].isoformat()
    return {
        "ImageId": image_id_for(bucket, key, head["ETag"].strip('"'), last_modified),
        "UploadTimestamp": int(head["LastModified"].timestamp()),
        "OriginalBucket": bucket,
        "OriginalKey": key,
        "OriginalSize": head["ContentLength"],
        "ContentType": head.get("ContentType", "application/octet-stream"),
        "LastModified": last_modified,
    }


# --- the decision --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Forget:
    """S3 holds no object and the key no row: only derived objects left listed in the state
    item (a crash after a commit) are still to delete."""


@dataclass(frozen=True)
class Remove:
    """The object is gone: its row, counts and derived objects are to be deleted."""

    row: dict[str, Any]  # the key's current row


@dataclass(frozen=True)
class Keep:
    """The upload S3 holds is already the current row (a replay or a late duplicate):
    nothing to write, leftover derived objects aside."""

    row: dict[str, Any]  # the current row, over the upload's fields


@dataclass(frozen=True)
class Record:
    """A new upload (first, or superseding the current row): render it, and make its row
    the key's current one."""

    row: dict[str, Any]  # the upload's fields, before rendering


Decision = Forget | Remove | Keep | Record


def decide(bucket: str, key: str, state: KeyState, head: dict[str, Any] | None) -> Decision:
    """What must happen to s3://bucket/key, given its state item and S3's HEAD (None: no
    object). Taken from S3's current state only, so a replayed, late or out-of-order event
    decides the same as a fresh one."""
    if head is None:
        return Remove(state.row) if state.row else Forget()
    row = base_row(bucket, key, head)
    if state.row and state.row["ImageId"] == row["ImageId"]:
        return Keep({**row, **state.row})
    return Record(row)


# --- the rows a Record writes ----------------------------------------------------------------------


def completed_row(row: dict[str, Any], rendered: RenderedImage, processed_at: str) -> dict[str, Any]:
    """The `completed` row of an upload whose outputs are (to be) written at output_keys."""
    processed_key, thumbnail_key = output_keys(row["ImageId"], row["OriginalKey"])
    completed = {
        **row,
        "ProcessedKey": processed_key,
        "ThumbnailKey": thumbnail_key,
        "ProcessedAt": processed_at,
        "Status": "completed",
        "Width": rendered.width,
        "Height": rendered.height,
        "Format": rendered.format,
        "ThumbnailWidth": rendered.thumbnail.width,
        "ThumbnailHeight": rendered.thumbnail.height,
        "ProcessedSize": len(rendered.processed.body),
        "ThumbnailSize": len(rendered.thumbnail.body),
    }
    return {**completed, **partition_attributes("completed", row["UploadTimestamp"])}


def unusable_row(row: dict[str, Any], error: ImageUnusable, processed_at: str) -> dict[str, Any]:
    """The row of an upload that is not a usable image (`error`) or over a bound (`rejected`)."""
    unusable = {**row, "ProcessedAt": processed_at, "Status": error.status, "ErrorMessage": str(error)}
    return {**unusable, **partition_attributes(error.status, row["UploadTimestamp"])}
