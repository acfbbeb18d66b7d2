"""key_decision: what must happen to one original key, from what was read. No AWS: every
input is a plain value, and the functions are called with no environment at all."""

import datetime as dt

import pytest
from key_decision import (
    Forget,
    Keep,
    KeyState,
    Record,
    Remove,
    base_row,
    completed_row,
    decide,
    key_ref,
    output_keys,
    unusable_row,
)
from rendering import ImageRejected, ImageUnusable, RenderedImage, Rendition

BUCKET = "originals"
MAY = dt.datetime(2026, 5, 31, 23, 59, 59, tzinfo=dt.UTC)
JUNE = dt.datetime(2026, 6, 1, 0, 0, 1, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def no_environment(monkeypatch):
    """Nothing here may read a table or bucket name: the decision knows only its inputs."""
    for name in ("METADATA_TABLE", "IMAGE_KEYS_TABLE", "PROCESSED_BUCKET", "THUMBNAILS_BUCKET", "STATS_TABLE"):
        monkeypatch.delenv(name, raising=False)


def head(etag="abc", modified=MAY, size=1234, **extra):
    return {"ETag": f'"{etag}"', "LastModified": modified, "ContentLength": size, **extra}


def state_with(key, head_seen, status="completed", pending=()):
    """The state item as a commit of the upload `head_seen` would leave it."""
    row = base_row(BUCKET, key, head_seen)
    current = {"ImageId": row["ImageId"], "UploadTimestamp": row["UploadTimestamp"], "Status": status}
    return KeyState(key_ref(BUCKET, key), version=3, row=current, pending=list(pending), exists=True)


LEFTOVER = [{"Bucket": "processed", "Key": "processed/old-a.jpg"}]


@pytest.mark.parametrize("key", ["a.jpg", "dir/ñ é.png", "x" * 1024])
@pytest.mark.parametrize("pending", [[], LEFTOVER])
def test_no_object_and_no_row_forgets_the_key(key, pending):
    state = KeyState(key_ref(BUCKET, key), version=2, pending=pending, exists=bool(pending))
    assert decide(BUCKET, key, state, None) == Forget()
    assert decide(BUCKET, key, KeyState(key_ref(BUCKET, key)), None) == Forget()


@pytest.mark.parametrize("status", ["completed", "error", "rejected"])
def test_no_object_with_a_row_removes_that_row(status):
    state = state_with("gone.jpg", head(), status, LEFTOVER)
    assert decide(BUCKET, "gone.jpg", state, None) == Remove(state.row)


@pytest.mark.parametrize(
    "seen, now",
    [
        (head(), head()),  # a replayed event
        (head(), head(ContentType="image/png")),  # HEAD's other fields do not make an upload new
        (head(size=1), head(size=1)),
    ],
)
def test_the_upload_already_recorded_is_kept(seen, now):
    state = state_with("same.jpg", seen, pending=LEFTOVER)
    decision = decide(BUCKET, "same.jpg", state, now)
    assert isinstance(decision, Keep)
    # The stored row's fields win over HEAD's; HEAD adds what the state item does not keep.
    assert decision.row["ImageId"] == state.row["ImageId"] and decision.row["Status"] == "completed"
    assert decision.row["OriginalKey"] == "same.jpg" and decision.row["OriginalBucket"] == BUCKET


@pytest.mark.parametrize(
    "seen, now",
    [
        (head(etag="abc"), head(etag="def")),  # other bytes
        (head(modified=MAY), head(modified=JUNE)),  # the same bytes uploaded again
        (head(etag="abc", modified=MAY), head(etag="def", modified=JUNE)),
    ],
)
def test_a_new_upload_over_a_row_is_recorded(seen, now):
    state = state_with("k.jpg", seen)
    decision = decide(BUCKET, "k.jpg", state, now)
    assert decision == Record(base_row(BUCKET, "k.jpg", now))
    assert decision.row["ImageId"] != state.row["ImageId"]


@pytest.mark.parametrize("key", ["first.jpg", "a/b/c.gif", "ключ.webp"])
def test_a_first_upload_is_recorded_with_the_fields_head_gives(key):
    decision = decide(BUCKET, key, KeyState(key_ref(BUCKET, key)), head(size=77, ContentType="image/gif"))
    assert isinstance(decision, Record)
    assert decision.row == {
        "ImageId": decision.row["ImageId"],
        "UploadTimestamp": int(MAY.timestamp()),
        "OriginalBucket": BUCKET,
        "OriginalKey": key,
        "OriginalSize": 77,
        "ContentType": "image/gif",
        "LastModified": MAY.isoformat(),
    }


def test_the_same_head_always_decides_the_same():
    state = state_with("k.jpg", head(etag="old"))
    assert decide(BUCKET, "k.jpg", state, head()) == decide(BUCKET, "k.jpg", state, head())


@pytest.mark.parametrize("modified", [MAY, JUNE])
def test_a_completed_row_points_at_its_outputs_and_carries_its_list_keys(modified):
    row = base_row(BUCKET, "p.jpg", head(modified=modified))
    rendered = RenderedImage(
        format="JPEG",
        width=40,
        height=30,
        processed=Rendition(b"x" * 10, 40, 30, "image/jpeg"),
        thumbnail=Rendition(b"y" * 3, 4, 3, "image/jpeg"),
    )
    completed = completed_row(row, rendered, "2026-06-01T00:00:02+00:00")
    assert (completed["ProcessedKey"], completed["ThumbnailKey"]) == output_keys(row["ImageId"], "p.jpg")
    month = f"{modified:%Y-%m}"
    assert completed["Status"] == "completed" and completed["ListMonth"] == month
    assert completed["StatusMonth"] == f"completed#{month}"
    assert (completed["ProcessedSize"], completed["ThumbnailSize"]) == (10, 3)


@pytest.mark.parametrize("error", [ImageUnusable("not an image"), ImageRejected("over the pixel bound")])
def test_an_unusable_row_has_the_reason_and_no_outputs(error):
    row = base_row(BUCKET, "bad.jpg", head())
    unusable = unusable_row(row, error, "2026-06-01T00:00:02+00:00")
    assert unusable["Status"] == error.status and unusable["ErrorMessage"] == str(error)
    assert unusable["StatusMonth"] == f"{error.status}#2026-05"
    assert "ProcessedKey" not in unusable and "ThumbnailKey" not in unusable
