"""Every key S3 stores is listed by GET /files exactly once, in S3's order, page after page
to the end, whatever its characters and the page size (issue 20): the engine's listing
(engine/localstack_nodocker/s3_listing.py) and the API's token and checks, on the deployed
stack. Objects are put under a prefix of this run and deleted after."""

import urllib.parse
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.s3_keys import EDGE_KEYS, KEYS, in_s3_order
from tools.http import call

RUN = f"files-{uuid.uuid4().hex[:8]}/"


@pytest.fixture(scope="module")
def originals(aws, deployed):
    """Put keys in the originals bucket (each is deleted at the end of the module)."""
    bucket, put = deployed["buckets"]["original"], []

    def put_keys(keys):
        for key in keys:
            aws["s3"].put_object(Bucket=bucket, Key=key, Body=b"not an image")
            put.append(key)

    yield put_keys
    for key in put:
        aws["s3"].delete_object(Bucket=bucket, Key=key)


def listed(deployed, prefix: str, limit: int) -> list[str]:
    """Every key /files lists under `prefix`, following next_token to the end."""
    keys, query = [], {"prefix": prefix, "limit": str(limit)}
    for _ in range(200):  # more pages than keys: a listing that does not end fails below
        reply = call(deployed.api_url, "GET", "/files?" + urllib.parse.urlencode(query))
        assert reply.status == 200, reply.body
        keys += [entry["key"] for entry in reply.body["files"]]
        if "next_token" not in reply.body:
            return keys
        query["next_token"] = reply.body["next_token"]
    raise AssertionError(f"/files under {prefix!r} did not end after 200 pages: {keys[:20]}")


def test_every_edge_key_is_listed_once_whatever_the_page_size(deployed, originals):
    prefix = f"{RUN}edge/"
    keys = [prefix + key for key in EDGE_KEYS]
    originals(keys)
    for limit in (1, 2, 3, 5, len(keys)):
        assert listed(deployed, prefix, limit) == in_s3_order(keys), f"limit={limit}"


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(KEYS, min_size=1, max_size=6, unique=True), limit=st.integers(1, 4))
def test_generated_keys_are_each_listed_once(deployed, originals, names, limit):
    prefix = f"{RUN}generated-{uuid.uuid4().hex[:6]}/"
    keys = [prefix + name for name in names]
    originals(keys)
    assert listed(deployed, prefix, limit) == in_s3_order(keys)


@pytest.mark.parametrize("start", ["\x00", "\ufffe", "100%", "a+", "a%2B", "\U0010ffff"])
def test_a_prefix_of_any_key_s3_stores_lists_it(deployed, originals, start):
    prefix = f"{RUN}prefix/{start}"
    originals([prefix + "1", prefix + "2", f"{RUN}prefix/other"])
    assert listed(deployed, prefix, 1) == [prefix + "1", prefix + "2"]
