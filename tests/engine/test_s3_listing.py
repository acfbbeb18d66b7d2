"""S3 listings page by key (engine/localstack_nodocker/s3_listing.py): every key a bucket
holds is listed exactly once, in UTF-8 binary order, whatever its characters and the page
size, through StartAfter, ContinuationToken, Marker and KeyMarker; the markers S3 echoes
come back as they were sent. botocore asks for EncodingType=url and decodes the answer."""

import uuid

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.s3_keys import EDGE_KEYS, KEYS, in_s3_order


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


# How each listing asks for the page after `listed` (the keys so far) and `answer` (the last page).
NEXT_PAGE = {
    "start_after": ("list_objects_v2", "Contents", lambda answer, listed: {"StartAfter": listed[-1]}),
    "continuation_token": (
        "list_objects_v2",
        "Contents",
        lambda answer, listed: {"ContinuationToken": answer["NextContinuationToken"]},
    ),
    "marker": ("list_objects", "Contents", lambda answer, listed: {"Marker": listed[-1]}),
    "key_marker": (
        "list_object_versions",
        "Versions",
        lambda answer, listed: {"KeyMarker": answer["NextKeyMarker"], "VersionIdMarker": answer["NextVersionIdMarker"]},
    ),
}
# The markers S3 echoes in its answer, as they were sent (botocore decodes them).
ECHOED = ("StartAfter", "Marker", "KeyMarker")


def listing(s3, bucket: str, how: str, page: int, prefix: str = "") -> list[str]:
    """Every key of `bucket` under `prefix`, in pages of `page`, resumed the way `how` says."""
    operation, entries, next_page = NEXT_PAGE[how]
    listed: list[str] = []
    request = {"Bucket": bucket, "MaxKeys": page, "Prefix": prefix}
    while True:
        answer = getattr(s3, operation)(**request)
        assert answer["Prefix"] == prefix
        for name in ECHOED:
            if name in request:
                assert answer[name] == request[name], name
        listed += [entry["Key"] for entry in answer.get(entries, [])]
        if not answer["IsTruncated"]:
            return listed
        assert len(listed) <= 2 * 64, "the listing does not end"
        request.update(next_page(answer, listed))


@pytest.mark.parametrize("how", sorted(NEXT_PAGE))
def test_every_edge_key_is_listed_once_in_order_whatever_the_page_size(s3, how):
    bucket = bucket_with(s3, EDGE_KEYS)
    try:
        for page in (1, 2, 3, 7, len(EDGE_KEYS)):
            assert listing(s3, bucket, how, page) == in_s3_order(EDGE_KEYS), f"pages of {page}"
    finally:
        empty(s3, bucket)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.lists(KEYS, min_size=1, max_size=10, unique=True), page=st.integers(1, 4), data=st.data())
def test_generated_keys_are_each_listed_once_under_every_prefix(s3, keys, page, data):
    bucket = bucket_with(s3, keys)
    try:
        for how in NEXT_PAGE:
            assert listing(s3, bucket, how, page) == in_s3_order(keys), how
        # A prefix taken from one of the keys (S3 compares prefixes as raw key text too).
        key = data.draw(st.sampled_from(keys))
        prefix = key[: data.draw(st.integers(1, len(key)))]
        expected = in_s3_order(k for k in keys if k.startswith(prefix))
        assert listing(s3, bucket, "start_after", page, prefix) == expected
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


@pytest.mark.parametrize("token", ["not base64!", "AAA", "_w=="])  # not base64, cut short, not UTF-8 (0xFF)
def test_a_continuation_token_that_is_not_one_is_refused_with_the_reason(s3, token):
    bucket = bucket_with(s3, ["a.png"])
    try:
        with pytest.raises(s3.exceptions.ClientError) as refused:
            s3.list_objects_v2(Bucket=bucket, ContinuationToken=token)
        error = refused.value.response["Error"]
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert (error["Code"], error["Message"]) == ("InvalidArgument", "The continuation token provided is incorrect")
    finally:
        empty(s3, bucket)
