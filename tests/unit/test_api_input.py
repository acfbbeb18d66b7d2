"""Client input the services downstream would refuse is a 400 with a reason, and never sent.

Tests without the `aws` fixture have no AWS at all (no moto, no endpoint): a request that
reached a service would fail them.

One test per class of input (issues 10 and 20): nesting depth, strings the services refuse
(lone surrogates, noncharacters, control characters), numbers (read exactly, integers
within a double's), encodings other than UTF-8, over-long fields, pagination tokens;
hypothesis draws the members of each class.
"""

import base64
import json
import math
import zlib
from decimal import Decimal

import api_handler
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roxs_common import client, cursor
from roxs_common.untrusted import parse_json
from tests.support.reads import counting
from tests.unit import listers
from tests.unit.conftest import ALLOW_ORIGIN
from tests.unit.test_api_handler import api_event, call, signed_token

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
    path, query = "/logs", {"limit": "5"}
    if where == "path":
        path = f"/notifications/n{bad}"
    elif where == "name":
        query[f"x{bad}"] = "1"
    else:
        query["level"] = f"s{bad}"
    status, payload, _ = call(context, "GET", path, query)
    assert status == 400
    if where == "value" and bad in NONCHARACTERS:
        # Values may hold noncharacters (S3 keys do, so /files takes them in a prefix): the
        # parameter's own check refuses them, naming the value.
        assert payload["error"].startswith("level must be one of") and repr(bad)[1:-1] in payload["error"]
    else:
        assert f"U+{ord(bad):04X}" in payload["error"]


@pytest.mark.parametrize(
    "query, reason",
    [
        ({"prefix": "p" * 1025}, "prefix is 1025 bytes in UTF-8, the maximum is 1024"),
        ({"prefix": "é" * 513}, "prefix is 1026 bytes in UTF-8, the maximum is 1024"),
        ({"prefix": "a\udc00b"}, "contains U+DC00 (a lone surrogate) at position 1"),
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
        st.sampled_from(["NaN", "Infinity", "-Infinity", "-" + "1" * 5000, "-1.5e400"]),
    )
)
def test_a_number_beyond_a_double_is_400_not_500(context, number):
    status, payload, sends = post(context, '{"title": "t", "message": "m", "extra": ' + number + "}")
    assert status == 400 and payload["error"].startswith("body is not valid JSON: "), payload
    assert sends == 0


@SETTINGS
@given(
    number=st.one_of(
        st.integers(min_value=-300, max_value=308).map(lambda exponent: f"1.000000000000000000000000001e{exponent}"),
        # a fraction or an exponent (an integer literal follows the rule above)
        st.decimals(allow_nan=False, allow_infinity=False)
        .filter(lambda number: math.isfinite(float(number)))
        .map(str)
        .filter(lambda text: any(c in text for c in ".E")),
        st.integers(25, 200).map(lambda digits: "0." + "1" * digits),
    )
)
def test_any_other_number_within_a_doubles_range_is_read_exactly_never_rounded(number):
    assert parse_json('{"n": ' + number + "}") == {"n": Decimal(number)}
    assert str(parse_json("[" + number + "]")[0]) == str(Decimal(number))  # its digits, as sent


# UTF-16 and UTF-32 (both byte orders, with and without a byte order mark), and UTF-8 with a BOM.
OTHER_ENCODINGS = ["utf-16-le", "utf-16-be", "utf-16", "utf-32-le", "utf-32-be", "utf-32", "utf-8-sig"]


@SETTINGS
@given(fields=st.fixed_dictionaries({"title": accepted_text, "message": accepted_text}))
@pytest.mark.parametrize("encoding", OTHER_ENCODINGS)
def test_a_body_in_another_encoding_than_utf8_is_400_with_the_reason(context, encoding, fields):
    body = json.dumps(fields, ensure_ascii=False).encode(encoding)
    with counting(client("sqs")) as requests:
        status, payload, _ = call(
            context, "POST", "/notifications", body=base64.b64encode(body).decode(), is_base64=True
        )
    assert status == 400 and not requests.requests, payload
    if encoding == "utf-8-sig":
        assert (
            payload["error"]
            == "body is not valid JSON: it starts with a byte order mark (EF BB BF); send UTF-8 without one"
        )
    else:
        assert payload["error"].startswith("body is not valid JSON: it is encoded in UTF-")
        assert payload["error"].endswith("; JSON must be sent in UTF-8")


def test_a_text_body_of_utf16_bytes_is_400():
    # API Gateway hands a body of valid UTF-8 on as text: UTF-16 of ASCII is, NUL bytes included.
    text = json.dumps({"title": "t", "message": "m"}).encode("utf-16-le").decode("utf-8")
    with pytest.raises(ValueError, match="it is encoded in UTF-16-LE"):
        parse_json(text.encode("utf-8"))
    with pytest.raises(ValueError, match="byte order mark"):
        parse_json("\ufeff{}")


def test_a_repeated_member_is_400_not_the_last_one_silently():
    with pytest.raises(ValueError, match="member name 'title' appears more than once"):
        parse_json('{"title": "a", "title": "b"}')


def test_json_within_the_limits_parses_as_usual():
    assert parse_json('{"a": [1, -2.5, "\\u00e9", null, true, {"b": 9007199254740991}]}') == {
        "a": [1, Decimal("-2.5"), "é", None, True, {"b": 2**53 - 1}]
    }


# --- tokens ---------------------------------------------------------------------------------------


@SETTINGS
@given(
    route=st.sampled_from(["/images", "/logs", "/notifications", "/files"]),
    token=st.text(min_size=1, max_size=60)
    | st.binary(max_size=60).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
)
def test_any_token_not_issued_here_is_400(aws, context, monkeypatch, route, token):
    listers.install(monkeypatch)
    status, payload, _ = call(context, "GET", route, {"next_token": token})
    assert status == 400 and payload["error"].startswith("next_token is not valid"), payload


# moto's S3 answers 500 to a StartAfter holding a control character or U+FFFE (the engine
# lists them: tests/integration/test_api_files.py): left out of the keys drawn here.
moto_text = st.text(st.characters(exclude_categories=["Cc"], exclude_characters="\ufffe\uffff"), max_size=10)
json_positions = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | moto_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)


@SETTINGS
@given(position=st.dictionaries(st.sampled_from(["after", "index", "key", ""]), json_positions, max_size=3))
def test_a_position_signed_with_the_key_reaches_no_store_unchecked(aws, context, position):
    """A token signed with the deployment's key (as a leaked key would allow): the route's
    check decides, and S3 only ever sees a key this route accepted."""
    token = signed_token("GET /files", {"prefix": None}, position)
    with counting(client("s3")) as requests:
        status, payload, _ = call(context, "GET", "/files", {"next_token": token})
    if status == 200:
        assert set(position) == {"after"} and isinstance(position["after"], str) and requests.requests
    else:
        assert status == 400 and "next_token is not valid" in payload["error"] and not requests.requests


KEY = b"a test key of thirty-two bytes.."


def test_a_token_is_refused_with_other_filters_or_on_another_route():
    token = cursor.encode(KEY, "GET /files", {"prefix": "a/"}, {"after": "a/1"})

    def accept(position):
        return None

    assert cursor.decode(KEY, token, "GET /files", {"prefix": "a/"}, accept) == {"after": "a/1"}
    with pytest.raises(cursor.CursorError, match="issued for other filters"):
        cursor.decode(KEY, token, "GET /files", {"prefix": "b/"}, accept)
    with pytest.raises(cursor.CursorError, match="issued by GET /files, not GET /images"):
        cursor.decode(KEY, token, "GET /images", {"prefix": "a/"}, accept)
    with pytest.raises(cursor.CursorError, match="signature does not match"):
        cursor.decode(KEY[::-1], token, "GET /files", {"prefix": "a/"}, accept)


def test_a_token_that_inflates_beyond_the_bound_is_refused():
    signed = bytes([cursor.FORMAT]) + zlib.compress(b"[" + b" " * 100_000 + b"]", 9)
    bomb = base64.urlsafe_b64encode(signed[:1] + cursor._tag(KEY, signed) + signed[1:]).decode().rstrip("=")
    assert len(bomb) < cursor.MAX_TOKEN_CHARS
    with pytest.raises(cursor.CursorError, match="at most 8192 bytes"):
        cursor.decode(KEY, bomb, "GET /files", {}, lambda position: None)


def test_the_handler_survives_an_event_with_nothing_usable(context):
    event = api_event("GET", "/health")
    event["queryStringParameters"] = {"\udc80": "\uffff"}
    response = api_handler.lambda_handler(event, context)
    assert response["statusCode"] == 400 and "U+DC80" in json.loads(response["body"])["error"]
