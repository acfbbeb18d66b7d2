"""S3 listings page by key (engine/localstack_nodocker/s3_listing.py): every key a bucket
holds is listed exactly once, in UTF-8 binary order, whatever its characters and the page
size, through StartAfter, ContinuationToken, Marker and KeyMarker; the markers S3 echoes
come back as they were sent. botocore asks for EncodingType=url and decodes the answer."""

import uuid

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Keys S3 stores that LocalStack 4.8 listed again or skipped: percent signs, what URL
# encoding changes ("+", space), control characters, noncharacters, the last code point.
EDGE_KEYS = [
    "100%.png",
    "a+b.png",
    "a%2Bb.png",
    "a b.png",
    "x\ry",
    "\x00nul",
    "tab\there",
    "del\x7f",
    "\ufdd0k",
    "\ufffe",
    "\U0010ffff",
    "é",
    "dir/100%/a",
    "dir/a+b/c",
    ".",
    "..",
    "~",
    "&lt;<>",
]
# Any Unicode scalar value (UTF-8 has no surrogates); keys made only of "/" are left out:
# LocalStack routes `PUT /bucket//` as a bucket request (a separate gap, not the listing's).
KEYS = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12).filter(lambda key: key.strip("/"))


@pytest.fixture(scope="module")
def s3(engine):
    return boto3.client("s3")


def bucket_with(s3, keys: list[str]) -> str:
    bucket = f"listing-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    return bucket


def empty(s3, bucket: str) -> None:
    for version in s3.list_object_versions(Bucket=bucket).get("Versions", []):
        s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    s3.delete_bucket(Bucket=bucket)


def by_start_after(s3, bucket: str, page: int, prefix: str = "") -> list[str]:
    listed: list[str] = []
    request = {"Bucket": bucket, "MaxKeys": page, "Prefix": prefix}
    while True:
        answer = s3.list_objects_v2(**request)
        if "StartAfter" in request:
            assert answer["StartAfter"] == request["StartAfter"]  # echoed as sent
        assert answer["Prefix"] == prefix
        listed += [entry["Key"] for entry in answer.get("Contents", [])]
        if not answer["IsTruncated"]:
            return listed
        assert len(listed) <= 2 * 64, "the listing does not end"
        request["StartAfter"] = listed[-1]


def by_continuation_token(s3, bucket: str, page: int) -> list[str]:
    listed: list[str] = []
    request = {"Bucket": bucket, "MaxKeys": page}
    while True:
        answer = s3.list_objects_v2(**request)
        listed += [entry["Key"] for entry in answer.get("Contents", [])]
        if not answer["IsTruncated"]:
            return listed
        assert len(listed) <= 2 * 64, "the listing does not end"
        request["ContinuationToken"] = answer["NextContinuationToken"]


def by_marker(s3, bucket: str, page: int) -> list[str]:
    listed: list[str] = []
    request = {"Bucket": bucket, "MaxKeys": page}
    while True:
        answer = s3.list_objects(**request)
        assert answer["Marker"] == request.get("Marker", "")
        listed += [entry["Key"] for entry in answer.get("Contents", [])]
        if not answer["IsTruncated"]:
            return listed
        assert len(listed) <= 2 * 64, "the listing does not end"
        request["Marker"] = listed[-1]


def by_key_marker(s3, bucket: str, page: int) -> list[str]:
    listed: list[str] = []
    request = {"Bucket": bucket, "MaxKeys": page}
    while True:
        answer = s3.list_object_versions(**request)
        listed += [entry["Key"] for entry in answer.get("Versions", [])]
        if not answer["IsTruncated"]:
            return listed
        assert len(listed) <= 2 * 64, "the listing does not end"
        request.update(KeyMarker=answer["NextKeyMarker"], VersionIdMarker=answer["NextVersionIdMarker"])


LISTINGS = [by_start_after, by_continuation_token, by_marker, by_key_marker]


def in_s3_order(keys) -> list[str]:
    return sorted(set(keys), key=lambda key: key.encode("utf-8"))


@pytest.mark.parametrize("listing", LISTINGS, ids=lambda listing: listing.__name__)
def test_every_edge_key_is_listed_once_in_order_whatever_the_page_size(s3, listing):
    bucket = bucket_with(s3, EDGE_KEYS)
    try:
        for page in (1, 2, 3, 7, len(EDGE_KEYS)):
            assert listing(s3, bucket, page) == in_s3_order(EDGE_KEYS), f"pages of {page}"
    finally:
        empty(s3, bucket)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.lists(KEYS, min_size=1, max_size=10, unique=True), page=st.integers(1, 4), data=st.data())
def test_generated_keys_are_each_listed_once_under_every_prefix(s3, keys, page, data):
    bucket = bucket_with(s3, keys)
    try:
        for listing in LISTINGS:
            assert listing(s3, bucket, page) == in_s3_order(keys), listing.__name__
        # A prefix taken from one of the keys (S3 compares prefixes as raw key text too).
        key = data.draw(st.sampled_from(keys))
        prefix = key[: data.draw(st.integers(1, len(key)))]
        expected = in_s3_order(k for k in keys if k.startswith(prefix))
        assert by_start_after(s3, bucket, page, prefix) == expected
    finally:
        empty(s3, bucket)


def test_a_start_after_that_is_not_a_key_starts_at_the_next_key(s3):
    bucket = bucket_with(s3, ["a+b.png", "a%2Bb.png", "a%2Bc.png"])
    try:
        # "a%2B" < "a%2Bb.png" < "a%2Bc.png" < "a+b.png" in UTF-8 order ('%' < '+').
        answer = s3.list_objects_v2(Bucket=bucket, StartAfter="a%2Bb")
        assert [entry["Key"] for entry in answer["Contents"]] == ["a%2Bb.png", "a%2Bc.png", "a+b.png"]
        answer = s3.list_objects_v2(Bucket=bucket, StartAfter="a%2Bc.png")
        assert [entry["Key"] for entry in answer["Contents"]] == ["a+b.png"]
    finally:
        empty(s3, bucket)
