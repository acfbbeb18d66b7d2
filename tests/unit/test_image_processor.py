import io
import json
import os
import subprocess
import sys
import textwrap
from urllib.parse import quote_plus

import pytest
from botocore.exceptions import ClientError
from PIL import Image

import image_processor
from roxs_common import scan_items
from tests.unit.conftest import LAMBDA_SRC, METADATA_TABLE, ORIGINALS, PROCESSED, THUMBNAILS

RED, BLUE = (255, 0, 0), (0, 0, 255)


def jpeg_bytes(size=(200, 100), orientation=None):
    """Left half red, right half blue (as stored), optionally with an EXIF Orientation."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


def png_bytes(size=(300, 150)):
    image = Image.new("RGBA", size, (0, 128, 0, 128))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def s3_event(*keys, bucket=ORIGINALS):
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key)}},
            }
            for key in keys
        ]
    }


def rows(aws):
    return list(scan_items(aws.ddb, TableName=METADATA_TABLE))


def keys(aws, bucket):
    return [obj["Key"] for obj in aws.s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def open_output(aws, bucket, key):
    obj = aws.s3.get_object(Bucket=bucket, Key=key)
    return obj, Image.open(io.BytesIO(obj["Body"].read()))


def test_jpeg_with_exif_orientation_is_upright_and_thumbnailed(aws, context):
    key = "photos/my photo.jpg"
    aws.s3.put_object(Bucket=ORIGINALS, Key=key, Body=jpeg_bytes(orientation=6), ContentType="image/jpeg")

    summary = image_processor.lambda_handler(s3_event(key), context)

    assert summary["failed"] == [] and len(summary["processed"]) == 1
    (row,) = rows(aws)
    image_id = row["ImageId"]
    assert row["Status"] == "completed" and row["OriginalKey"] == key and row["OriginalBucket"] == ORIGINALS
    assert (row["Width"], row["Height"]) == (100, 200)  # orientation 6 swaps the sides
    assert (row["ThumbnailWidth"], row["ThumbnailHeight"]) == (64, 128)
    assert row["Format"] == "JPEG" and row["ContentType"] == "image/jpeg"
    assert row["ProcessedKey"] == f"processed/{image_id}-{key}"
    assert row["ThumbnailKey"] == f"thumbnails/{image_id}-thumb-{key}"
    for field in ("UploadTimestamp", "OriginalSize", "ProcessedAt", "LastModified", "ProcessedSize", "ThumbnailSize"):
        assert field in row

    obj, processed = open_output(aws, PROCESSED, row["ProcessedKey"])
    assert obj["ContentType"] == "image/jpeg" and processed.format == "JPEG"
    assert obj["Metadata"]["original-key"] == "photos/my%20photo.jpg"
    assert obj["Metadata"]["original-bucket"] == ORIGINALS
    assert processed.size == (100, 200)
    assert processed.getexif().get(0x0112) is None
    # Rotated 90° clockwise for display: the stored left (red) half is now on top.
    top, bottom = processed.convert("RGB").getpixel((50, 40)), processed.convert("RGB").getpixel((50, 160))
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200 and bottom[0] < 60

    obj, thumbnail = open_output(aws, THUMBNAILS, row["ThumbnailKey"])
    assert thumbnail.size == (64, 128) and obj["Metadata"]["thumbnail-for"] == image_id


def test_same_event_twice_gives_one_row_and_one_set_of_outputs(aws, context):
    aws.s3.put_object(Bucket=ORIGINALS, Key="a.jpg", Body=jpeg_bytes())
    first = image_processor.lambda_handler(s3_event("a.jpg"), context)
    second = image_processor.lambda_handler(s3_event("a.jpg"), context)
    assert first["processed"][0]["image_id"] == second["processed"][0]["image_id"]
    assert len(rows(aws)) == 1
    assert len(keys(aws, PROCESSED)) == 1 and len(keys(aws, THUMBNAILS)) == 1


def test_direct_payload_png_keeps_format_and_alpha(aws, context):
    aws.s3.put_object(Bucket=ORIGINALS, Key="alpha.png", Body=png_bytes(), ContentType="image/png")
    answer = image_processor.lambda_handler({"bucket": ORIGINALS, "key": "alpha.png"}, context)
    assert answer["statusCode"] == 200
    body = json.loads(answer["body"])
    assert body["image_id"] and body["original"] == f"{ORIGINALS}/alpha.png"
    assert body["processed"] == f"{PROCESSED}/processed/{body['image_id']}-alpha.png"
    (row,) = rows(aws)
    obj, processed = open_output(aws, PROCESSED, row["ProcessedKey"])
    assert obj["ContentType"] == "image/png" and processed.format == "PNG" and processed.mode == "RGBA"
    _, thumbnail = open_output(aws, THUMBNAILS, row["ThumbnailKey"])
    assert thumbnail.size == (128, 64)


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"this is plain text, not a picture\n", "not a recognised image"),
        (b"", "empty"),
        (jpeg_bytes(size=(400, 300))[:700], "could not be decoded"),
    ],
    ids=["text-named-jpg", "zero-bytes", "truncated-jpeg"],
)
def test_unusable_objects_get_an_error_row_and_no_outputs(aws, context, body, reason):
    aws.s3.put_object(Bucket=ORIGINALS, Key="bad.jpg", Body=body, ContentType="image/jpeg")

    summary = image_processor.lambda_handler(s3_event("bad.jpg"), context)

    assert summary["processed"] == [] and len(summary["failed"]) == 1
    assert reason in summary["failed"][0]["error"]
    (row,) = rows(aws)
    assert row["Status"] == "error" and reason in row["ErrorMessage"]
    assert row["OriginalKey"] == "bad.jpg" and "ProcessedKey" not in row
    assert keys(aws, PROCESSED) == [] and keys(aws, THUMBNAILS) == []


def test_image_over_pixel_limit_is_rejected():
    # 1-bit PNG: 110 MP of pixels in a few kilobytes.
    buffer = io.BytesIO()
    Image.new("1", (11_000, 10_000)).save(buffer, "PNG")
    with pytest.raises(image_processor.ImageRejected, match="100 MP limit"):
        image_processor.render_image(buffer.getvalue())


def test_direct_payload_without_key_is_a_clear_value_error(aws, context):
    with pytest.raises(ValueError, match="key"):
        image_processor.lambda_handler({"bucket": ORIGINALS}, context)


def test_missing_object_is_reported_not_retried(aws, context):
    answer = image_processor.lambda_handler({"bucket": ORIGINALS, "key": "gone.jpg"}, context)
    assert answer["statusCode"] == 404 and "not found" in json.loads(answer["body"])["error"]
    assert rows(aws) == []


def test_transient_aws_error_is_raised_for_retry(aws, context, monkeypatch):
    aws.s3.put_object(Bucket=ORIGINALS, Key="a.jpg", Body=jpeg_bytes())
    monkeypatch.setenv("PROCESSED_BUCKET", "bucket-that-does-not-exist")
    with pytest.raises(ClientError):
        image_processor.lambda_handler(s3_event("a.jpg"), context)
    assert rows(aws) == []  # no `completed` row without outputs


def test_forty_megapixel_jpeg_within_time_and_memory():
    """A 40 MP photo in a fresh process: well under the 60 s timeout and 1024 MB of memory."""
    script = textwrap.dedent(
        f"""
        import io, json, resource, sys, time
        sys.path[:0] = [{str(LAMBDA_SRC / "common")!r}, {str(LAMBDA_SRC / "image_processor")!r}]
        from PIL import Image
        import image_processor
        image = Image.linear_gradient("L").resize((7300, 5480)).convert("RGB")
        buffer = io.BytesIO(); image.save(buffer, "JPEG", quality=90); del image
        data = buffer.getvalue(); del buffer
        start = time.monotonic()
        result = image_processor.render_image(data)
        print(json.dumps({{
            "seconds": time.monotonic() - start,
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "size": [result.width, result.height],
            "thumbnail": [result.thumbnail.width, result.thumbnail.height],
        }}))
        """
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["size"] == [7300, 5480] and report["thumbnail"] == [128, 96]
    assert report["seconds"] < 20, report
    assert report["max_rss_mb"] < 700, report
