import io
import json
import os
import subprocess
import sys
import textwrap
from urllib.parse import quote_plus

import image_processor
import key_decision
import pytest
import rendering
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from roxs_common import ConfigError, scan_items
from roxs_common.aggregates import read_counters
from tests.unit.conftest import (
    LAMBDA_SRC,
    METADATA_TABLE,
    ORIGINALS,
    PROCESSED,
    STATS_TABLE,
    THUMBNAILS,
)

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


PIXEL_FORMATS = {
    # format: (mode the encoder accepts, extension)
    "PNG": ("1", "png"),
    "GIF": ("L", "gif"),
    "WEBP": ("RGB", "webp"),
    "BMP": ("1", "bmp"),
    "TIFF": ("1", "tif"),
    "JPEG": ("L", "jpg"),
}


def encoded(fmt: str, size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new(PIXEL_FORMATS[fmt][0], size).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", list(PIXEL_FORMATS))
def test_pixel_bound_rejects_every_format_from_the_header_without_decoding(fmt, monkeypatch):
    data = encoded(fmt, (1100, 1000))

    def no_decoding(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(
        image_processor.ImageRejected, match="1100 x 1000 = 1,100,000 pixels decoded, over the limit of 1,000,000"
    ):
        image_processor.render_image(data, max_pixels=1_000_000)


@settings(max_examples=20, deadline=None)
@given(width=st.integers(1, 1500), height=st.integers(1, 1500), bound=st.integers(1, 1_500_000))
def test_pixel_bound_holds_for_any_decoded_size(width, height, bound):
    data = encoded("PNG", (width, height))
    if width * height > bound:
        with pytest.raises(image_processor.ImageRejected):
            rendering.open_image(data, bound, 1024)
    else:
        assert rendering.open_image(data, bound, 1024).size == (width, height)


def test_webp_bomb_gets_a_rejected_row_quickly_and_is_not_retried(aws, context, monkeypatch):
    """A small WEBP that decodes to 4 MP, with the bound at 1 MP: a `rejected` row, the
    invocation succeeds (no retry), no outputs, counted as Rejected."""
    monkeypatch.setenv("MAX_IMAGE_PIXELS", "1000000")
    aws.s3.put_object(Bucket=ORIGINALS, Key="bomb.webp", Body=encoded("WEBP", (2000, 2000)))
    summary = image_processor.lambda_handler(s3_event("bomb.webp"), context)
    assert summary["processed"] == [] and summary["failed"][0]["status"] == "rejected"
    (row,) = rows(aws)
    assert row["Status"] == "rejected" and "4,000,000 pixels decoded" in row["ErrorMessage"]
    assert keys(aws, PROCESSED) == [] and keys(aws, THUMBNAILS) == []
    counters = read_counters(aws.ddb, STATS_TABLE, ["images"])["images"]
    assert counters == {"Total": 1, "Rejected": 1, "OriginalBytes": row["OriginalSize"]}


def test_the_memory_bound_depends_on_format_and_mode(aws, context, monkeypatch):
    """At 512 MB, 16 MP: an RGB JPEG fits (8.25 bytes a pixel), an RGBA WEBP (40.75) gets a
    `rejected` row with the figures, from its header."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
    for key, image, image_format in (
        ("big.jpg", Image.new("RGB", (4000, 4000), RED), "JPEG"),
        ("big.webp", Image.new("RGBA", (4000, 4000), (1, 2, 3, 4)), "WEBP"),
    ):
        buffer = io.BytesIO()
        image.save(buffer, image_format, lossless=True)
        aws.s3.put_object(Bucket=ORIGINALS, Key=key, Body=buffer.getvalue())
    summary = image_processor.lambda_handler(s3_event("big.jpg", "big.webp"), context)
    assert [entry["key"] for entry in summary["processed"]] == ["big.jpg"]
    [refused] = summary["failed"]
    assert refused["key"] == "big.webp" and refused["status"] == "rejected"
    assert "a WEBP image of mode RGBA needs about" in refused["error"]
    assert "over the 435 MB usable of the function's 512 MB" in refused["error"]


@pytest.mark.parametrize(
    "name, value",
    [
        ("THUMBNAIL_MAX_PX", "2048"),
        ("THUMBNAIL_MAX_PX", "15"),
        ("MAX_IMAGE_PIXELS", "x"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
    ],
)
def test_settings_outside_the_shared_limits_are_a_config_error(aws, context, monkeypatch, name, value):
    limits = json.loads((LAMBDA_SRC / "image_processor" / "limits.json").read_text())
    assert limits["thumbnail_max_px"] == {"default": 128, "min": 16, "max": 1024}  # Terraform reads them too
    monkeypatch.setenv(name, value)
    aws.s3.put_object(Bucket=ORIGINALS, Key="a.jpg", Body=jpeg_bytes())
    with pytest.raises(ConfigError, match=name):
        image_processor.lambda_handler(s3_event("a.jpg"), context)


@settings(max_examples=200, deadline=None)
@given(
    key=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=1024).filter(
        lambda k: len(k.encode()) <= 1024
    )
)
def test_derived_keys_always_fit_and_keep_the_image_id(key):
    image_id = "0" * 8 + "-0000-0000-0000-" + "0" * 12
    prefixes = (f"processed/{image_id}-", f"thumbnails/{image_id}-thumb-")
    for derived, prefix in zip(key_decision.output_keys(image_id, key), prefixes, strict=True):
        assert len(derived.encode()) <= 1024
        assert derived.startswith(prefix)
        assert (prefix + key).startswith(derived)  # the full name, cut at a character boundary


def test_a_1024_byte_key_is_processed_and_keeps_its_full_key_in_the_row(aws, context):
    key = "dir/" + "é" * 508 + "x.jpg"  # 4 + 1016 + 5 = 1,025 bytes: one too many
    key = key[:-2] + "g"  # 1,024 bytes, the longest key S3 accepts
    assert len(key.encode()) == 1024
    aws.s3.put_object(Bucket=ORIGINALS, Key=key, Body=jpeg_bytes())
    summary = image_processor.lambda_handler(s3_event(key), context)
    assert summary["failed"] == []
    (row,) = rows(aws)
    assert row["Status"] == "completed" and row["OriginalKey"] == key
    for bucket, derived in ((PROCESSED, row["ProcessedKey"]), (THUMBNAILS, row["ThumbnailKey"])):
        assert len(derived.encode()) <= 1024
        obj = aws.s3.head_object(Bucket=bucket, Key=derived)
        assert obj["Metadata"]["image-id"] == row["ImageId"]
        assert "original-key" not in obj["Metadata"]  # URL-encoded it would pass S3's 2 KB of metadata


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
    assert read_counters(aws.ddb, STATS_TABLE, ["images"])["images"] == {}  # and nothing counted


def test_forty_megapixel_jpeg_within_time_and_memory(tmp_path):
    """A 40 MP photo rendered in a fresh process that only reads it (as the function does):
    well under the 60 s timeout and 1024 MB of memory."""
    photo = tmp_path / "40mp.jpg"
    Image.linear_gradient("L").resize((7300, 5480)).convert("RGB").save(photo, "JPEG", quality=90)
    script = textwrap.dedent(
        f"""
        import json, sys, time
        sys.path[:0] = [{str(LAMBDA_SRC / "common")!r}, {str(LAMBDA_SRC / "image_processor")!r}]
        import image_processor

        def peak_mb():  # this process's own high-water mark (ru_maxrss keeps the test runner's)
            with open("/proc/self/status") as status:
                return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024

        data = open({str(photo)!r}, "rb").read()
        before = peak_mb()
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # the high-water mark starts again from the current size
        start = time.monotonic()
        result = image_processor.render_image(data)
        print(json.dumps({{
            "seconds": time.monotonic() - start,
            "max_rss_mb": peak_mb(),
            "peak_before_render_mb": before,
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
