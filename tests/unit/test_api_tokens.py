"""Paging tokens (issue 20, roxs_common.cursor): signed with the deployment's own key, so no
client can make or edit one; a token that is not one this route issued for these filters
(edited, cut, another route's, other filters', another deployment's, an older format) is a
400 with its reason, and even a token signed with the key (a leaked key) is a 200 or a 400,
never a 500. The listings here are the real ones, on moto."""

import base64
import json
import uuid
import zlib

import log_processor
import notification_processor
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from roxs_common import NOTIFICATION_PRIORITIES, cursor
from roxs_common.image_index import STATUSES
from roxs_common.notifications import FINAL_STATUSES
from tests.support.s3_keys import EDGE_KEYS, in_s3_order
from tests.unit.conftest import LOG_INDEX_TABLE, ORIGINALS
from tests.unit.test_api_handler import call, signed_token
from tests.unit.test_api_reads import put_image_rows

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
HOUR_MS = 3_600_000
START_MS = 1_700_000_000_000
FILE_KEYS = ["a/1", "a/2", "a/3", "b/1", "b/2", "c"]

# route -> its filters and the values each may take (None: not given)
FILTERS = {
    "/images": {"status": [None, *STATUSES]},
    "/logs": {"level": [None, "INFO", "ERROR", "WARN"]},
    "/notifications": {"priority": [None, *NOTIFICATION_PRIORITIES], "status": [None, *FINAL_STATUSES]},
    "/files": {"prefix": [None, "a/", "b/", "a"]},
}


@pytest.fixture
def stack(aws, context):
    """Rows in every listing: images of each status, logs of three levels in two hours,
    notifications of each priority, files under two prefixes."""
    put_image_rows(aws, 9)
    for hour in range(2):
        received = START_MS + hour * HOUR_MS
        entries = log_processor.parse_logs(
            {
                "logs": [
                    {"level": level, "message": f"{level}{n}"} for level in ("INFO", "ERROR", "WARN") for n in range(2)
                ]
            }
        )
        _, rows = log_processor.build_batch(
            entries, batch_id=f"b{hour}", received_ms=received, nonce=hour, processed_at="t"
        )
        log_processor.index_batch(LOG_INDEX_TABLE, rows, received, f"b{hour}")
    for n, priority in enumerate(NOTIFICATION_PRIORITIES * 2):
        notification_processor.lambda_handler(
            {"notification_id": f"n{n}", "created_at_ms": START_MS + n * HOUR_MS, "priority": priority}, context
        )
    for key in FILE_KEYS:
        aws.s3.put_object(Bucket=ORIGINALS, Key=key, Body=b"x")
    return aws


@st.composite
def listings(draw):
    """(path, query of filters) with at most one notification filter (the API takes one)."""
    path = draw(st.sampled_from(sorted(FILTERS)))
    query = {name: draw(st.sampled_from(values)) for name, values in FILTERS[path].items()}
    if path == "/notifications" and query["priority"] and query["status"]:
        query[draw(st.sampled_from(["priority", "status"]))] = None
    return path, {name: value for name, value in query.items() if value is not None}


def issued(context, path, query) -> str | None:
    status, body, _ = call(context, "GET", path, {**query, "limit": "1"})
    assert status == 200, body
    return body.get("next_token")


def refused(context, path, query, token) -> str:
    status, body, _ = call(context, "GET", path, {**query, "limit": "1", "next_token": token})
    assert status == 400, body
    assert body["error"].startswith("next_token is not valid: "), body
    return body["error"]


def the_position(token: str, route: str, filters: dict) -> dict:
    return cursor.decode(cursor.token_key(), token, route, filters, lambda position: None)


def token_filters(path, query) -> dict:
    """The filters as the route passes them to the token (every one, None when not given)."""
    return {name: query.get(name) for name in FILTERS[path]}


# --- the probe's example ------------------------------------------------------------------------


def test_a_signed_token_of_level_info_on_the_error_list_is_400_not_500(stack, context):
    token = issued(context, "/logs", {"level": "INFO"})
    info_position = the_position(token, "GET /logs", {"level": "INFO"})
    assert info_position["level"] == "INFO"
    # Signed with the key, as only a leaked key could: the position's own check still holds.
    forged = signed_token("GET /logs", {"level": "ERROR"}, info_position)
    assert refused(context, "/logs", {"level": "ERROR"}, forged) == (
        "next_token is not valid: its position is not valid: position is of level INFO, the list of level ERROR"
    )


def test_without_the_key_the_same_token_cannot_be_made(stack, context):
    token = issued(context, "/logs", {"level": "INFO"})
    position = the_position(token, "GET /logs", {"level": "INFO"})
    # The checksum key this repository once held, and any other key: not the deployment's.
    for key in (b"roxs-cursor", uuid.uuid4().hex.encode() * 2):
        forged = signed_token("GET /logs", {"level": "INFO"}, position, key=key)
        assert "its signature does not match" in refused(context, "/logs", {"level": "INFO"}, forged)
    # The format the API issued before (zlib-compressed JSON, its checksum keyed by a constant).
    older = base64.urlsafe_b64encode(zlib.compress(json.dumps([1, "GET /logs", "", position, ""]).encode()))
    assert "an older format" in refused(context, "/logs", {"level": "INFO"}, older.decode().rstrip("="))


# --- edited, cut, reused ---------------------------------------------------------------------------

BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@st.composite
def edits(draw, token: str):
    """`token` cut, or with one character replaced, removed or added, or with text appended."""
    at = draw(st.integers(0, len(token) - 1))
    char = draw(st.sampled_from(BASE64URL))
    return draw(
        st.sampled_from(
            [
                token[:at],
                token[:at] + char + token[at + 1 :],
                token[:at] + token[at + 1 :],
                token[:at] + char + token[at:],
                token + draw(st.text(BASE64URL, min_size=1, max_size=8)),
            ]
        )
    )


def raw(token: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        return None


@SETTINGS
@given(listing=listings(), data=st.data())
def test_a_token_edited_anywhere_is_400(stack, context, listing, data):
    path, query = listing
    token = issued(context, path, query)
    assume(token is not None)
    edited = data.draw(edits(token))
    # Base64's unused bits: a last character that decodes to the same bytes is the same token.
    assume(edited and raw(edited) != raw(token))
    refused(context, path, query, edited)


@SETTINGS
@given(issued_for=listings(), used_with=listings())
def test_a_token_on_another_route_or_with_other_filters_is_400_with_the_reason(stack, context, issued_for, used_with):
    assume(issued_for != used_with)
    token = issued(context, *issued_for)
    assume(token is not None)
    error = refused(context, *used_with, token)
    if issued_for[0] != used_with[0]:
        assert f"it was issued by GET {issued_for[0]}, not GET {used_with[0]}" in error
    else:
        assert "it was issued for other filters" in error


# --- any position signed with the key ------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)


@st.composite
def positions(draw, position: dict):
    """`position` with one field given another value, removed, or joined by another one; or
    with a string field edited one character at a time; or anything at all."""
    name = draw(st.sampled_from(sorted(position)))
    value = position[name]
    edited = dict(position)
    choice = draw(st.sampled_from(["replace", "remove", "add", "edit", "anything"]))
    if choice == "replace":
        edited[name] = draw(json_values)
    elif choice == "remove":
        del edited[name]
    elif choice == "add":
        edited[draw(st.text(max_size=8))] = draw(json_values)
    elif choice == "edit" and isinstance(value, str) and value:
        at = draw(st.integers(0, len(value) - 1))
        edited[name] = value[:at] + draw(st.characters()) + value[at + 1 :]
    elif choice == "edit":
        edited[name] = draw(st.integers(-(2**64), 2**64))
    else:
        return draw(st.dictionaries(st.text(max_size=8), json_values, max_size=4))
    return edited


@SETTINGS
@given(issued_for=listings(), used_with=listings(), data=st.data())
def test_any_position_signed_with_the_key_is_a_page_or_a_400(stack, context, issued_for, used_with, data):
    token = issued(context, *issued_for)
    assume(token is not None)
    path, query = issued_for
    position = data.draw(positions(the_position(token, f"GET {path}", token_filters(path, query))))
    # moto answers 500 to a StartAfter it cannot write in XML (MOTO_KEYS below says which)
    assume(used_with[0] != "/files" or not isinstance(position, dict) or moto_lists(position.get("after")))
    forged = signed_token(f"GET {used_with[0]}", token_filters(*used_with), position)
    status, body, _ = call(context, "GET", used_with[0], {**used_with[1], "limit": "2", "next_token": forged})
    assert status in (200, 400), body
    if status == 400:
        assert body["error"].startswith("next_token is not valid: its position is not valid: "), body


# --- keys S3 stores ----------------------------------------------------------------------------

# Any text S3 takes as a key: every Unicode scalar value (UTF-8 has no surrogates), up to
# 1,024 bytes; a key is cut at a character boundary when its UTF-8 form is longer.
s3_keys = (
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=1024)
    .map(lambda key: key.encode("utf-8")[:1024].decode("utf-8", "ignore"))
    .filter(bool)
)


@settings(max_examples=200, deadline=None)
@given(key=s3_keys | st.sampled_from(['"' * 1024, "\\" * 1024, "\x00" * 1024, "\U0010ffff" * 256, "\ufffe" * 341]))
def test_a_token_holds_any_key_s3_stores(key):
    token = cursor.encode(b"k" * 32, "GET /files", {"prefix": None}, {"after": key})
    assert len(token) <= cursor.MAX_TOKEN_CHARS
    assert cursor.decode(b"k" * 32, token, "GET /files", {"prefix": None}, lambda position: None) == {"after": key}


# moto answers 500 to a StartAfter holding a control character (but tab and CR) or U+FFFE:
# those keys are listed through the engine (tests/integration/test_api_files.py); the token
# and the checks take them (above).
def moto_lists(key) -> bool:
    """False for a string holding a character moto cannot echo as StartAfter."""
    return not isinstance(key, str) or all(c in "\t\r" or (" " <= c != "\x7f" and c != "\ufffe") for c in key)


MOTO_KEYS = [key for key in EDGE_KEYS if moto_lists(key)]


@pytest.mark.parametrize("limit", [1, 2, 3, len(MOTO_KEYS)])
def test_every_key_s3_stores_is_listed_once_through_files(aws, context, limit):
    for key in MOTO_KEYS:
        aws.s3.put_object(Bucket=ORIGINALS, Key=key, Body=b"x")
    listed, query = [], {"limit": str(limit)}
    for _ in range(len(MOTO_KEYS)):
        status, body, _ = call(context, "GET", "/files", query)
        assert status == 200, body
        listed += [entry["key"] for entry in body["files"]]
        if "next_token" not in body:
            break
        query = {**query, "next_token": body["next_token"]}
    assert listed == in_s3_order(MOTO_KEYS)


@pytest.mark.parametrize("prefix", ["\x00", "\ufffe", "\ufdd0", "\U0010ffff", " ", "100%", "a+"])
def test_a_prefix_of_any_key_s3_stores_is_listed(aws, context, prefix):
    aws.s3.put_object(Bucket=ORIGINALS, Key=prefix + "k", Body=b"x")
    status, body, _ = call(context, "GET", "/files", {"prefix": prefix})
    assert status == 200 and [entry["key"] for entry in body["files"]] == [prefix + "k"], body
    assert body["prefix"] == prefix
