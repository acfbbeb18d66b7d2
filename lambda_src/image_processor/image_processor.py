"""Image processor: S3 ObjectCreated (or {"bucket", "key"}) -> processed copy + thumbnail + metadata row.

Idempotent: ImageId is a uuid5 of bucket, key and ETag and UploadTimestamp is the object's
LastModified, so a redelivered event rewrites the same row and the same output objects.

Outcomes per object:
- completed: both outputs written, then the row with Status `completed`;
- rejected (not an image, empty, truncated, too large): row with Status `error` and an
  ErrorMessage, no outputs, the handler returns normally because a retry cannot help;
- transient AWS errors propagate, so Lambda's asynchronous retry runs the event again.
"""

import datetime as dt
import io
import os
import uuid
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote_plus

from botocore.exceptions import ClientError
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from roxs_common import ConfigError, client, dumps, get_logger, inject_lambda_context, require_env, to_item

logger = get_logger(__name__)

MAX_PIXELS = 100_000_000
# Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that; the warning is turned
# into a rejection in _open_image, so MAX_PIXELS is the real limit.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Bigger objects are rejected before download: the whole object is held in memory.
MAX_OBJECT_BYTES = 100 * 1024 * 1024
# PNG `optimize` (zlib level 9) takes tens of seconds on a 40 MP image; above this size
# the default level keeps the processor inside its timeout.
PNG_OPTIMIZE_MAX_PIXELS = 4_000_000
DEFAULT_THUMBNAIL_MAX_PX = 128
JPEG_QUALITY = 85

# Format Pillow detects -> format the outputs are written in (MPO is a multi-frame JPEG).
OUTPUT_FORMATS = {
    "JPEG": "JPEG",
    "MPO": "JPEG",
    "PNG": "PNG",
    "GIF": "GIF",
    "WEBP": "WEBP",
    "BMP": "BMP",
    "TIFF": "TIFF",
}
# Modes each output format can store as they are; anything else is converted.
WRITABLE_MODES = {
    "JPEG": {"L", "RGB", "CMYK"},
    "PNG": {"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"},
    "GIF": {"1", "L", "P", "RGB", "RGBA"},
    "WEBP": {"RGB", "RGBA"},
    "BMP": {"1", "L", "P", "RGB", "RGBA"},
    "TIFF": {"1", "L", "LA", "I", "I;16", "F", "P", "RGB", "RGBA", "CMYK"},
}


class ImageRejected(Exception):
    """The object cannot be processed as an image; retrying will not change that."""


@dataclass(frozen=True)
class Rendition:
    body: bytes
    width: int
    height: int
    content_type: str


@dataclass(frozen=True)
class RenderedImage:
    format: str
    width: int
    height: int
    processed: Rendition
    thumbnail: Rendition


# --- image work (no AWS) ----------------------------------------------------------------------


def _open_image(data: bytes) -> ImageFile.ImageFile:
    if not data:
        raise ImageRejected("object is empty (0 bytes)")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise ImageRejected(f"image exceeds the {MAX_PIXELS // 1_000_000} MP limit: {exc}") from exc
        except UnidentifiedImageError as exc:
            raise ImageRejected("object is not a recognised image format") from exc
    if image.format not in OUTPUT_FORMATS:
        raise ImageRejected(f"unsupported image format {image.format}; supported: {', '.join(sorted(OUTPUT_FORMATS))}")
    return image


def _writable(image: Image.Image, output_format: str) -> Image.Image:
    if image.mode in WRITABLE_MODES[output_format]:
        return image
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    if has_alpha and "RGBA" in WRITABLE_MODES[output_format]:
        return image.convert("RGBA")
    if has_alpha:
        # JPEG has no alpha channel: flatten onto white rather than letting transparent
        # pixels turn black.
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _encode(image: Image.Image, output_format: str) -> Rendition:
    image = _writable(image, output_format)
    options: dict[str, Any] = {}
    # The ICC profile keeps colours right; EXIF is not copied (orientation is already
    # applied to the pixels, and camera metadata such as GPS should not be republished).
    if image.info.get("icc_profile"):
        options["icc_profile"] = image.info["icc_profile"]
    if output_format == "JPEG":
        options.update(quality=JPEG_QUALITY, optimize=True)
    elif output_format == "PNG":
        options["optimize"] = image.width * image.height <= PNG_OPTIMIZE_MAX_PIXELS
    buffer = io.BytesIO()
    image.save(buffer, output_format, **options)
    return Rendition(buffer.getvalue(), image.width, image.height, Image.MIME[output_format])


def render_image(data: bytes, thumbnail_max_px: int = DEFAULT_THUMBNAIL_MAX_PX) -> RenderedImage:
    """The processed copy (full size, upright, re-encoded in the original format) and a
    thumbnail whose longest side is `thumbnail_max_px`. Raises ImageRejected for input that
    is not a usable image."""
    try:
        image = _open_image(data)
        source_format = image.format
        output_format = OUTPUT_FORMATS[source_format]
        ImageOps.exif_transpose(image, in_place=True)
        processed = _encode(image, output_format)
        del image  # free the full-size pixels before decoding again for the thumbnail

        thumbnail = _open_image(data)
        # For JPEG, draft() makes the decoder scale down by up to 8x while decoding, so a
        # 40 MP photo never exists in memory at full size for the thumbnail.
        thumbnail.draft(None, (thumbnail_max_px, thumbnail_max_px))
        ImageOps.exif_transpose(thumbnail, in_place=True)
        thumbnail.thumbnail((thumbnail_max_px, thumbnail_max_px), Image.Resampling.LANCZOS)
        thumbnail_rendition = _encode(thumbnail, output_format)
    except ImageRejected:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        # Pillow reports truncated or corrupt data with these (e.g. "image file is truncated").
        raise ImageRejected(f"image data could not be decoded: {exc}") from exc
    return RenderedImage(source_format, processed.width, processed.height, processed, thumbnail_rendition)


# --- identity and event parsing (no AWS) -----------------------------------------------------


def image_id_for(bucket: str, key: str, etag: str) -> str:
    """The same object version always gets the same id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{bucket}/{key}@{etag}"))


def output_keys(image_id: str, key: str) -> tuple[str, str]:
    return f"processed/{image_id}-{key}", f"thumbnails/{image_id}-thumb-{key}"


def objects_from_event(event: Any) -> tuple[list[tuple[str, str]], bool]:
    """[(bucket, key), ...] and whether the event came from S3 notifications."""
    if not isinstance(event, dict):
        raise ValueError(f"event must be an S3 event or an object with bucket and key, got {type(event).__name__}")
    if "Records" in event:
        if not isinstance(event["Records"], list):
            raise ValueError("Records must be a list of S3 event records")
        objects = []
        for index, record in enumerate(event["Records"]):
            try:
                bucket = record["s3"]["bucket"]["name"]
                key = record["s3"]["object"]["key"]
            except (KeyError, TypeError) as exc:
                raise ValueError(f"Records[{index}] is not an S3 event record (missing {exc})") from exc
            # Keys in S3 notifications are URL-encoded with '+' for spaces.
            objects.append((bucket, unquote_plus(key)))
        return objects, True
    bucket, key = event.get("bucket"), event.get("key")
    missing = [name for name, value in (("bucket", bucket), ("key", key)) if not isinstance(value, str) or not value]
    if missing:
        raise ValueError(
            f"direct payload needs non-empty string fields bucket and key; missing or invalid: {', '.join(missing)}"
        )
    return [(bucket, key)], False


# --- AWS side ---------------------------------------------------------------------------------


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _is_not_found(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


def _thumbnail_max_px() -> int:
    raw = os.environ.get("THUMBNAIL_MAX_PX", str(DEFAULT_THUMBNAIL_MAX_PX))
    if not raw.isdigit() or not 16 <= int(raw) <= 2048:
        raise ConfigError(f"THUMBNAIL_MAX_PX must be an integer between 16 and 2048, got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Outcome:
    status_code: int  # 200 completed, 404 object gone, 422 rejected (error row written)
    body: dict[str, Any]


def process_object(bucket: str, key: str) -> Outcome:
    s3 = client("s3")
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _is_not_found(exc):
            # Deleted before we got to it: nothing to record, and a retry would not find it either.
            logger.warning("object not found", extra={"bucket": bucket, "key": key})
            return Outcome(404, {"error": f"object s3://{bucket}/{key} not found"})
        raise

    etag = head["ETag"].strip('"')
    image_id = image_id_for(bucket, key, etag)
    size = head["ContentLength"]
    row = {
        "ImageId": image_id,
        "UploadTimestamp": int(head["LastModified"].timestamp()),
        "OriginalBucket": bucket,
        "OriginalKey": key,
        "OriginalSize": size,
        "ContentType": head.get("ContentType", "application/octet-stream"),
        "LastModified": head["LastModified"].isoformat(),
    }
    log_data = {"bucket": bucket, "key": key, "image_id": image_id, "size": size}

    try:
        if size > MAX_OBJECT_BYTES:
            raise ImageRejected(f"object is {size} bytes, over the {MAX_OBJECT_BYTES // (1024 * 1024)} MiB limit")
        # IfMatch pins the download to the version the ImageId was derived from.
        data = s3.get_object(Bucket=bucket, Key=key, IfMatch=head["ETag"])["Body"].read()
        rendered = render_image(data, _thumbnail_max_px())
    except ImageRejected as exc:
        logger.warning("image rejected", extra={**log_data, "reason": str(exc)})
        _put_row({**row, "ProcessedAt": _now_iso(), "Status": "error", "ErrorMessage": str(exc)})
        return Outcome(422, {"error": str(exc), "image_id": image_id, "status": "error", "original": f"{bucket}/{key}"})

    processed_key, thumbnail_key = output_keys(image_id, key)
    processed_at = _now_iso()
    # S3 user metadata is ASCII-only, so the original key is stored URL-encoded.
    quoted_key = quote(key, safe="/")
    processed_bucket = require_env("PROCESSED_BUCKET")
    thumbnails_bucket = require_env("THUMBNAILS_BUCKET")
    s3.put_object(
        Bucket=processed_bucket,
        Key=processed_key,
        Body=rendered.processed.body,
        ContentType=rendered.processed.content_type,
        Metadata={
            "original-bucket": bucket,
            "original-key": quoted_key,
            "processed-by": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "image-processor"),
            "processed-at": processed_at,
        },
    )
    s3.put_object(
        Bucket=thumbnails_bucket,
        Key=thumbnail_key,
        Body=rendered.thumbnail.body,
        ContentType=rendered.thumbnail.content_type,
        Metadata={"original-bucket": bucket, "original-key": quoted_key, "thumbnail-for": image_id},
    )
    # The row is written last: a `completed` row always points at existing outputs.
    _put_row(
        {
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
    )
    logger.info("image processed", extra={**log_data, "width": rendered.width, "height": rendered.height})
    return Outcome(
        200,
        {
            "message": "Image processed",
            "image_id": image_id,
            "original": f"{bucket}/{key}",
            "processed": f"{processed_bucket}/{processed_key}",
            "thumbnail": f"{thumbnails_bucket}/{thumbnail_key}",
            "size_bytes": size,
            "width": rendered.width,
            "height": rendered.height,
            "thumbnail_width": rendered.thumbnail.width,
            "thumbnail_height": rendered.thumbnail.height,
        },
    )


def _put_row(row: dict[str, Any]) -> None:
    client("dynamodb").put_item(TableName=require_env("METADATA_TABLE"), Item=to_item(row))


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
