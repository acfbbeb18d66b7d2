"""Client input the services downstream would refuse is a 400 with a reason, and never sent.

Tests without the `aws` fixture have no AWS at all (no moto, no endpoint): a request that
reached a service would fail them.

One test per class of input (issue 10): nesting depth, strings the services refuse (lone
surrogates, noncharacters, control characters), numbers beyond a double, over-long fields,
pagination tokens; hypothesis draws the members of each class.
"""

import base64
import json
import zlib

import api_handler
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roxs_common import client, cursor
from roxs_common.untrusted import parse_json
from tests.support.reads import counting
from tests.unit import listers
from tests.unit.conftest import ALLOW_ORIGIN
from tests.unit.test_api_handler import api_event, ascii_token, call

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NONCHARACTERS = [chr(code) for code in range(0xFDD0, 0xFDF0)] + [
    chr(plane << 16 | low) for plane in range(17) for low in (0xFFFE, 0xFFFF)
]
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
control_chars = st.sampled_from([chr(c) for c in [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]])
refused_chars = surrogates | st.sampled_from(NONCHARACTERS) | control_chars
# What every service here takes: XML's Char less controls and noncharacters.
accepted_text = st.text(
    st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters=NONCHARACTERS) | st.sampled_from("\t\n\r"),
    min_size=1,
    max_size=50,
).filter(lambda text: text.strip())
NOTIFICATION_FIELDS = ["title", "message", "type", "recipient"]


def take_queued(aws) -> list[dict]:
    """The messages in the queue, deleted from it."""
    messages = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(message["Body"]) for message in messages]


def post(context, body: str):
    with counting(client("sqs")) as requests:
        status, payload, headers = call(context, "POST", "/notifications", body=body)
    assert headers["Access-Control-Allow-Origin"] == ALLOW_ORIGIN
    return status, payload, requests.requests["SendMessage"]


# --- strings -------------------------------------------------------------------------------------


@SETTINGS
@given(field=st.sampled_from(NOTIFICATION_FIELDS), before=accepted_text, bad=refused_chars, after=st.text(max_size=5))
def test_a_character_a_service_refuses_is_400_and_never_sent(context, field, before, bad, after):
    body = {"title": "t", "message": "m", field: before + bad + after}
    status, payload, sends = post(context, json.dumps(body))  # ensure_ascii: "\ud800" escapes, as a client sends them
    assert status == 400 and f"U+{ord(bad):04X}" in payload["error"], payload
    assert sends == 0


@SETTINGS
@given(fields=st.fixed_dictionaries({name: accepted_text for name in NOTIFICATION_FIELDS}))
def test_text_the_services_accept_goes_through_unchanged(aws, context, fields):
    status, payload, sends = post(context, json.dumps(fields, ensure_ascii=False))
    assert status == 202 and sends == 1, payload
    (message,) = take_queued(aws)
    assert {name: message[name] for name in NOTIFICATION_FIELDS} == fields


def test_a_body_that_is_not_unicode_text_is_400(context):
    # A JSON event can carry a lone surrogate in the body string itself (not as an escape).
    status, payload, sends = post(context, '{"title": "t\ud800", "message": "m"}')
    assert status == 400 and "body is not valid Unicode text: surrogates not allowed" in payload["error"]
    assert sends == 0


@SETTINGS
@given(bad=surrogates | st.sampled_from(NONCHARACTERS), where=st.sampled_from(["path", "name", "value"]))
def test_a_query_or_path_a_service_cannot_take_is_400(context, monkeypatch, bad, where):
    listers.install(monkeypatch)
    path, query = "/images", {"limit": "5"}
    if where == "path":
        path = f"/notifications/n{bad}"
    elif where == "name":
        query[f"x{bad}"] = "1"
    else:
        query["level"] = f"s{bad}"
    status, payload, _ = call(context, "GET", path, query)
    assert status == 400 and f"U+{ord(bad):04X}" in payload["error"]


@pytest.mark.parametrize(
    "query, reason",
    [
        ({"prefix": "p" * 1025}, "prefix is 1025 characters, the maximum is 1024"),
        ({"prefix": "é" * 513}, "prefix is 1026 bytes in UTF-8, the maximum is 1024"),
        ({"prefix": "a\x00b"}, "prefix contains U+0000 (a control character) at position 1"),
    ],
)
def test_a_prefix_s3_would_refuse_is_400(context, query, reason):
    with counting(client("s3")) as requests:
        status, payload, _ = call(context, "GET", "/files", query)
    assert status == 400 and reason in payload["error"] and not requests.requests


def test_an_over_long_notification_id_is_400_before_any_read(context):
    with counting(client("dynamodb")) as requests:
        status, payload, _ = call(context, "GET", f"/notifications/{'n' * 257}")
    assert status == 400 and "notification_id is 257 characters, the maximum is 256" in payload["error"]
    assert not requests.requests


# --- structure and numbers ------------------------------------------------------------------------


@SETTINGS
@given(depth=st.integers(min_value=32, max_value=30_000), kind=st.sampled_from(["[]", "{}"]))
def test_a_body_nested_too_deeply_is_400(context, depth, kind):
    opening, closing = ('{"a":', "}") if kind == "{}" else ("[", "]")
    body = '{"title": "t", "message": "m", "extra": ' + opening * depth + "1" + closing * depth + "}"
    status, payload, sends = post(context, body)
    if len(body) > 64 * 1024:
        assert status == 413
    else:
        assert status == 400 and "nested more than 32 levels" in payload["error"], payload
    assert sends == 0


@SETTINGS
@given(
    number=st.one_of(
        st.integers(min_value=2**53).map(str),
        st.integers(min_value=17, max_value=20_000).map(lambda digits: "9" * digits),
        st.integers(min_value=309, max_value=5_000).map(lambda exponent: f"1e{exponent}"),
        st.sampled_from(["NaN", "Infinity", "-Infinity", "-" + "1" * 5000]),
    )
)
def test_a_number_beyond_a_double_is_400_not_500(context, number):
    status, payload, sends = post(context, '{"title": "t", "message": "m", "extra": ' + number + "}")
    assert status == 400 and payload["error"].startswith("body is not valid JSON: "), payload
    assert sends == 0


def test_a_repeated_member_is_400_not_the_last_one_silently():
    with pytest.raises(ValueError, match="member name 'title' appears more than once"):
        parse_json('{"title": "a", "title": "b"}')


def test_json_within_the_limits_parses_as_usual():
    assert parse_json('{"a": [1, -2.5, "\\u00e9", null, true, {"b": 9007199254740991}]}') == {
        "a": [1, -2.5, "é", None, True, {"b": 2**53 - 1}]
    }


# --- tokens ---------------------------------------------------------------------------------------


@SETTINGS
@given(
    route=st.sampled_from(["/images", "/logs", "/notifications", "/files"]),
    token=st.text(min_size=1, max_size=60)
    | st.binary(max_size=60).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
)
def test_any_token_not_issued_here_is_400(context, monkeypatch, route, token):
    listers.install(monkeypatch)
    status, payload, _ = call(context, "GET", route, {"next_token": token})
    assert status == 400 and payload["error"].startswith("next_token is not valid"), payload


json_positions = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)


@SETTINGS
@given(position=st.dictionaries(st.sampled_from(["after", "index", "key", ""]), json_positions, max_size=3))
def test_a_forged_but_well_formed_token_reaches_no_store_unchecked(aws, context, position):
    """A token built like ours (what a client reading this code could do): the route's check
    decides, and S3 only ever sees a key this route accepted."""
    token = ascii_token("GET /files", {}, position)
    with counting(client("s3")) as requests:
        status, payload, _ = call(context, "GET", "/files", {"next_token": token})
    if status == 200:
        assert set(position) == {"after"} and isinstance(position["after"], str) and requests.requests
    else:
        assert status == 400 and "next_token is not valid" in payload["error"] and not requests.requests


def test_a_token_is_refused_with_other_filters_or_on_another_route():
    token = cursor.encode("GET /files", {"prefix": "a/"}, {"after": "a/1"})

    def accept(position):
        return None

    assert cursor.decode(token, "GET /files", {"prefix": "a/"}, accept) == {"after": "a/1"}
    with pytest.raises(cursor.CursorError, match="issued for other filters"):
        cursor.decode(token, "GET /files", {"prefix": "b/"}, accept)
    with pytest.raises(cursor.CursorError, match="issued by GET /files, not GET /images"):
        cursor.decode(token, "GET /images", {"prefix": "a/"}, accept)


@pytest.mark.parametrize(
    "key", ['"' * 1024, "\\" * 1024, "\t" * 1024, "😀" * 256, "".join(map(chr, range(32, 127))) * 10]
)
def test_the_longest_position_fits_a_token(key):
    key = key.encode()[:1024].decode("utf-8", "ignore")
    token = cursor.encode("GET /files", {"prefix": None}, {"after": key})
    assert len(token) <= cursor.MAX_TOKEN_CHARS
    assert cursor.decode(token, "GET /files", {"prefix": None}, lambda position: None) == {"after": key}


def test_a_token_that_inflates_beyond_the_bound_is_refused():
    bomb = base64.urlsafe_b64encode(zlib.compress(b"[" + b" " * 100_000 + b"]", 9)).decode().rstrip("=")
    assert len(bomb) < cursor.MAX_TOKEN_CHARS
    with pytest.raises(cursor.CursorError, match="at most 8192 bytes"):
        cursor.decode(bomb, "GET /files", {}, lambda position: None)


def test_the_handler_survives_an_event_with_nothing_usable(context):
    event = api_event("GET", "/health")
    event["queryStringParameters"] = {"\udc80": "\uffff"}
    response = api_handler.lambda_handler(event, context)
    assert response["statusCode"] == 400 and "U+DC80" in json.loads(response["body"])["error"]
