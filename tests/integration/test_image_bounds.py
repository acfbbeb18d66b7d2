"""On the engine, the issue's uploads: a 2 x 2 JPEG with a 12 MB ICC profile, a GIF with a
5 MB comment, a 301 KB run-length BMP of 6,000 x 6,000, and a 1.8 KB lossless RGBA WEBP of
6,700 x 6,700. Each gets its row; the outputs carry none of the metadata and stay small; and
GET /dashboard/data answers within its ceiling while they are the newest images."""

import io
import json
import uuid

import pytest
from PIL import Image

from tests.support.images import MARKER, icc_profile, payload, with_gif_comment
from tests.support.waiting import scan_all, wait_for
from tools.http import call
from tools.image_memory import rle8_bmp

RUN = uuid.uuid4().hex[:8]


def saved(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def run_length_bmp() -> bytes:
    picture = Image.new("P", (6000, 6000), 1)
    picture.putpalette([40, 90, 160, 250, 200, 60])
    picture.paste(0, (0, 0, 6000, 600))
    return rle8_bmp(picture)


UPLOADS = {
    # name: (key, body, expected status)
    "JPEG with a 12 MB ICC profile": (
        "icc.jpg",
        lambda: saved(Image.new("RGB", (2, 2), (200, 40, 40)), "JPEG", icc_profile=icc_profile(12 * 2**20)),
        "completed",
    ),
    "GIF with a 5 MB comment": (
        "comment.gif",
        lambda: with_gif_comment(saved(Image.new("P", (64, 48), 3), "GIF"), payload(5 * 2**20)),
        "completed",
    ),
    "run-length BMP of 6000 x 6000": ("rle.bmp", run_length_bmp, "completed"),
    "lossless RGBA WEBP of 6700 x 6700": (
        "rgba.webp",
        lambda: saved(Image.new("RGBA", (6700, 6700), (10, 20, 30, 128)), "WEBP", lossless=True),
        "rejected",
    ),
}


@pytest.fixture(scope="module")
def uploads(aws, deployed):
    bucket = deployed["buckets"]["original"]
    bodies, rows = {}, {}
    for name, (key, body, _) in UPLOADS.items():
        bodies[name] = body()
        aws["s3"].put_object(Bucket=bucket, Key=f"bounds/{RUN}/{key}", Body=bodies[name])
    for name, (key, _, _) in UPLOADS.items():
        [rows[name]] = wait_for(
            lambda key=key: scan_all(
                aws["dynamodb"],
                deployed["tables"]["images"],
                FilterExpression="OriginalKey = :k",
                ExpressionAttributeValues={":k": {"S": f"bounds/{RUN}/{key}"}},
            ),
            timeout=120,
            what=f"the row of the {name}",
        )
    return bodies, rows


@pytest.mark.parametrize("name", list(UPLOADS))
def test_each_upload_gets_its_row(uploads, name):
    bodies, rows = uploads
    row = rows[name]
    assert row["Status"]["S"] == UPLOADS[name][2], row
    assert int(row["OriginalSize"]["N"]) == len(bodies[name])
    if row["Status"]["S"] == "rejected":
        # refused from the header: the function's memory cannot render it
        assert "needs about" in row["ErrorMessage"]["S"] and "1024 MB" in row["ErrorMessage"]["S"]
        assert "ProcessedKey" not in row


@pytest.mark.parametrize("name", [name for name, (_, _, status) in UPLOADS.items() if status == "completed"])
def test_the_outputs_carry_no_metadata_and_stay_small(aws, deployed, uploads, name):
    _, rows = uploads
    row = rows[name]
    for role, field in (("processed", "ProcessedKey"), ("thumbnails", "ThumbnailKey")):
        body = aws["s3"].get_object(Bucket=deployed["buckets"][role], Key=row[field]["S"])["Body"].read()
        assert MARKER not in body
        output = Image.open(io.BytesIO(body))
        assert not {"icc_profile", "comment", "exif"} & set(output.info)
        assert output.format in ("JPEG", "PNG") and len(body) < 300_000, (role, output.format, len(body))


def test_the_dashboard_answers_within_its_ceiling_with_these_uploads_newest(deployed, uploads):
    _, rows = uploads
    reply = call(deployed.api_url, "GET", "/dashboard/data")
    assert reply.status == 200, reply.body
    assert len(json.dumps(reply.body)) < 2_300_000
    latest = {image["id"]: image for image in reply.body["images"]["latest"]}
    for name, (_, _, status) in UPLOADS.items():
        if status == "completed":
            assert latest[rows[name]["ImageId"]["S"]]["thumbnail"].startswith("data:image/")
