import base64
import io
import json
import zlib
from decimal import Decimal

import api_handler
import notification_processor
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import roxs_common
from roxs_common import aggregates, cursor
from tests.unit import listers as listers_module
from tests.unit.conftest import (
    ALLOW_ORIGIN,
    ORIGINALS,
    STATS_TABLE,
)


def api_event(method, path, query=None, body=None, is_base64=False):
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": None,
        "multiValueHeaders": None,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "requestContext": {"requestId": "apigw-req-1", "stage": "prod"},
        "body": body,
        "isBase64Encoded": is_base64,
    }


def call(context, method, path, query=None, body=None, **kwargs):
    response = api_handler.lambda_handler(api_event(method, path, query, body, **kwargs), context)
    json_body = response["headers"].get("Content-Type", "").startswith("application/json")
    payload = json.loads(response["body"]) if response["body"] and json_body else response["body"]
    return response["statusCode"], payload, response["headers"]


# --- router -------------------------------------------------------------------------------------


def test_health_has_cors_headers_from_the_environment(context):
    status, body, headers = call(context, "GET", "/health")
    assert status == 200 and body["status"] == "healthy"
    assert headers["Access-Control-Allow-Origin"] == ALLOW_ORIGIN
    assert headers["Access-Control-Allow-Headers"] == "Content-Type"
    assert headers["Access-Control-Allow-Methods"] == "GET,OPTIONS"
    assert call(context, "GET", "/health/")[0] == 200


def test_unknown_path_lists_the_endpoints(context):
    status, body, headers = call(context, "GET", "/nope")
    assert status == 404
    assert body["error"] and body["path"] == "/nope" and body["method"] == "GET"
    assert set(body["available_endpoints"]) == {
        "GET /health",
        "GET /images",
        "GET /logs",
        "POST /notifications",
        "GET /notifications",
        "GET /notifications/{id}",
        "GET /files",
        "GET /stats",
        "GET /dashboard",
        "GET /dashboard/data",
    }
    assert headers["Access-Control-Allow-Origin"] == ALLOW_ORIGIN


def test_wrong_method_is_405_with_allow_header(context):
    status, body, headers = call(context, "DELETE", "/logs")
    assert status == 405 and headers["Allow"] == "GET, OPTIONS"
    assert "DELETE is not supported on /logs" in body["reason"]
    assert call(context, "PUT", "/notifications")[0] == 405


def test_options_is_a_preflight_on_known_paths_only(context):
    response = api_handler.lambda_handler(api_event("OPTIONS", "/notifications"), context)
    assert response["statusCode"] == 204 and response["body"] == ""
    assert response["headers"]["Access-Control-Allow-Methods"] == "GET,OPTIONS,POST"
    assert response["headers"]["Access-Control-Allow-Origin"] == ALLOW_ORIGIN
    assert call(context, "OPTIONS", "/notifications/abc")[0] == 204
    assert call(context, "OPTIONS", "/elsewhere")[0] == 404


# --- lists: one page of the owner's listing, resumed from an opaque next_token -------------------


@pytest.fixture
def listers(monkeypatch):
    return listers_module.install(monkeypatch)


def image_row(i, status="completed"):
    return {
        "ImageId": f"img-{i}",
        "UploadTimestamp": Decimal(1_700_000_000 + i),
        "OriginalKey": f"{i}.jpg",
        "Status": status,
        "Width": Decimal(10),
    }


def follow(context, path, query):
    """Every page of a list route: (items, number of pages)."""
    items, pages, name = [], 0, path.strip("/")
    while True:
        status, body, _ = call(context, "GET", path, query)
        assert status == 200, body
        items += body[name]
        pages += 1
        if "next_token" not in body:
            return items, pages
        query = {**query, "next_token": body["next_token"]}


def test_images_pages_follow_next_token_until_the_end(aws, context, listers):
    listers["images"].rows = [image_row(i) for i in reversed(range(5))]
    images, pages = follow(context, "/images", {"limit": "2"})
    assert [image["id"] for image in images] == [f"img-{i}" for i in reversed(range(5))] and pages == 3
    assert images[0]["width"] == 10 and isinstance(images[0]["upload_timestamp"], int)
    first, second, third = listers["images"].calls
    assert first == {"limit": 2, "after": None, "status": None}
    assert second["after"] == {"index": 2} and third["after"] == {"index": 4}


def test_images_by_status_binds_the_token_to_the_status(aws, context, listers):
    listers["images"].rows = [image_row(i, "error" if i % 2 else "completed") for i in reversed(range(6))]
    listers["images"].filter_fields = {"status": "Status"}
    status, body, _ = call(context, "GET", "/images", {"status": "Error", "limit": "2"})
    assert status == 200 and body["status"] == "error" and [i["id"] for i in body["images"]] == ["img-5", "img-3"]
    status, rest, _ = call(
        context, "GET", "/images", {"status": "error", "limit": "2", "next_token": body["next_token"]}
    )
    assert status == 200 and [i["id"] for i in rest["images"]] == ["img-1"] and "next_token" not in rest
    for query in ({"status": "completed"}, {}):
        status, refused, _ = call(context, "GET", "/images", {**query, "next_token": body["next_token"]})
        assert status == 400 and "issued for other filters" in refused["error"]


def test_logs_newest_first_across_levels_and_by_level(aws, context, listers):
    rows = [
        {
            "LogLevel": "ERROR" if i % 3 == 0 else "INFO",
            "Timestamp": Decimal(5_000 - i),
            "TimestampMs": 5_000 - i,
            "Message": f"m{i}",
        }
        for i in range(7)
    ]
    listers["logs"].rows, listers["logs"].filter_fields = rows, {"level": "LogLevel"}
    logs, _ = follow(context, "/logs", {"limit": "3"})
    assert [log["timestamp"] for log in logs] == [5_000 - i for i in range(7)]
    status, body, _ = call(context, "GET", "/logs", {"level": "error"})
    assert status == 200 and body["levels"] == ["ERROR"] and body["level"] == "ERROR"
    assert [log["timestamp"] for log in body["logs"]] == [5_000, 4_997, 4_994]
    assert listers["logs"].calls[-1] == {"limit": 20, "after": None, "level": "ERROR"}
    status, body, _ = call(context, "GET", "/logs")
    assert status == 200 and body["levels"] == list(roxs_common.LOG_LEVELS) and "level" not in body


def test_notifications_list_by_priority_or_status(aws, context, listers):
    rows = [
        {
            "NotificationId": f"n{i}",
            "CreatedAt": Decimal(100 - i),
            "Status": "sent",
            "Priority": "high" if i % 2 else "low",
            "Title": "t",
        }
        for i in range(4)
    ]
    listers["notifications"].rows = rows
    listers["notifications"].filter_fields = {"priority": "Priority", "status": "Status"}
    notifications, pages = follow(context, "/notifications", {"limit": "3"})
    assert [n["id"] for n in notifications] == ["n0", "n1", "n2", "n3"] and pages == 2
    assert notifications[0] == {
        "id": "n0",
        "created_at": 100,
        "status": "sent",
        "priority": "low",
        "type": None,
        "recipient": None,
        "title": "t",
        "sns_message_id": None,
        "processed_at": None,
    }
    status, body, _ = call(context, "GET", "/notifications", {"priority": "HIGH"})
    assert status == 200 and [n["id"] for n in body["notifications"]] == ["n1", "n3"]
    assert listers["notifications"].calls[-1] == {"limit": 50, "after": None, "priority": "high", "status": None}
    status, body, _ = call(context, "GET", "/notifications", {"priority": "high", "status": "sent"})
    assert status == 400 and body["error"] == "give priority or status, not both"


@pytest.mark.parametrize("path", ["/images", "/logs", "/notifications", "/files"])
@pytest.mark.parametrize(
    "query, reason",
    [
        ({"limit": "0"}, "limit must be an integer between 1 and 100"),
        ({"limit": "101"}, "limit must be an integer between 1 and 100"),
        ({"limit": "ten"}, "limit must be an integer between 1 and 100"),
        ({"next_token": "not base64 at all!"}, "next_token is not valid: it is not a token this API issued"),
        ({"next_token": "A" * 2049}, "next_token is not valid: it is 2049 characters long"),
        (
            # a token of the format before issue 20 (a checksum keyed by a constant)
            {
                "next_token": base64.urlsafe_b64encode(zlib.compress(b'[1,"GET /images","0",{},"0"]'))
                .decode()
                .rstrip("=")
            },
            "next_token is not valid: it is not a token this API issues (an older format, or not a token)",
        ),
    ],
)
def test_bad_paging_parameters_are_400_with_reason(aws, context, listers, path, query, reason):
    status, body, _ = call(context, "GET", path, query)
    assert status == 400 and reason in body["error"]


def test_tokens_are_bound_to_their_route_and_checked_by_the_lister(aws, context, listers):
    listers["logs"].rows = [{"LogLevel": "INFO", "Timestamp": Decimal(i)} for i in range(3)]
    token = call(context, "GET", "/logs", {"limit": "1"})[1]["next_token"]
    status, body, _ = call(context, "GET", "/images", {"next_token": token})
    assert status == 400 and body["error"] == "next_token is not valid: it was issued by GET /logs, not GET /images"
    # an edited token: its signature no longer matches
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[-1] ^= 1
    edited = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    status, body, _ = call(context, "GET", "/logs", {"next_token": edited})
    assert status == 400 and "signature does not match" in body["error"]
    # a token signed with the key whose position the lister refuses (a leaked key)
    forged = signed_token("GET /logs", {"level": None}, {"index": -5})
    status, body, _ = call(context, "GET", "/logs", {"next_token": forged})
    assert status == 400 and body["error"] == (
        "next_token is not valid: its position is not valid: index must be a positive integer"
    )
    assert len(listers["logs"].calls) == 1  # the refused ones never reached the lister


def signed_token(route, filters, position, key=None):
    """A token as cursor.encode makes it, signed with the deployment's key (or `key`), with \\u
    escapes, so a position may hold what UTF-8 cannot: what a holder of a leaked key could send."""
    body = json.dumps([route, cursor.filters_digest(filters), position]).encode()
    signed = bytes([cursor.FORMAT]) + zlib.compress(body)
    tag = cursor._tag(key or cursor.token_key(), signed)
    return base64.urlsafe_b64encode(signed[:1] + tag + signed[1:]).decode().rstrip("=")


def put_files(aws, keys):
    for i, key in enumerate(keys):
        aws.s3.put_object(Bucket=ORIGINALS, Key=key, Body=b"x" * i)


def test_files_are_paginated_with_s3_uris(aws, context):
    put_files(aws, [f"f{i}.jpg" for i in range(5)])
    status, body, _ = call(context, "GET", "/files", {"limit": "3"})
    assert status == 200 and body["count"] == 3 and body["bucket"] == ORIGINALS
    assert body["files"][0] == {
        "key": "f0.jpg",
        "size": 0,
        "last_modified": body["files"][0]["last_modified"],
        "uri": f"s3://{ORIGINALS}/f0.jpg",
    }
    status, rest, _ = call(context, "GET", "/files", {"limit": "3", "next_token": body["next_token"]})
    assert [f["key"] for f in rest["files"]] == ["f3.jpg", "f4.jpg"] and "next_token" not in rest


def test_files_by_prefix_and_a_token_outside_the_prefix_is_refused(aws, context):
    put_files(aws, ["a/1", "a/2", "a/3", "b/1"])
    files, pages = follow(context, "/files", {"prefix": "a/", "limit": "2"})
    assert [f["key"] for f in files] == ["a/1", "a/2", "a/3"] and pages == 2
    for position, reason in [
        ({"after": "b/1"}, "its key is not under the prefix"),
        ({"after": "a/\udfff"}, "contains U+DFFF (a lone surrogate)"),
        ({"after": 7}, "after must be a string"),
        ({"token": "x"}, "exactly the key 'after'"),
    ]:
        token = signed_token("GET /files", {"prefix": "a/"}, position)
        status, body, _ = call(context, "GET", "/files", {"prefix": "a/", "next_token": token})
        assert status == 400 and reason in body["error"], (position, body)
    token = signed_token("GET /files", {"prefix": "a/"}, {"after": "a/" + "é" * 600})
    status, body, _ = call(context, "GET", "/files", {"prefix": "a/", "next_token": token})
    assert status == 400 and "after is 1202 bytes in UTF-8, the maximum is 1024" in body["error"]


# --- logs ---------------------------------------------------------------------------------------


def test_logs_unknown_level_is_400(aws, context, listers):
    status, body, _ = call(context, "GET", "/logs", {"level": "LOUD"})
    assert status == 400 and "level must be one of" in body["error"]


# --- notifications ------------------------------------------------------------------------------


def test_post_notification_queues_it_and_history_becomes_visible(aws, context):
    status, body, headers = call(
        context, "POST", "/notifications", body=json.dumps({"title": "Hi", "message": "There", "priority": "High"})
    )
    assert status == 202 and body["status"] == "queued" and body["sqs_message_id"]
    notification_id = body["notification_id"]
    assert (
        body["links"] == {"self": f"/notifications/{notification_id}"} and headers["Location"] == body["links"]["self"]
    )

    status, missing, _ = call(context, "GET", f"/notifications/{notification_id}")
    assert status == 404 and "may still be queued" in missing["error"]

    (message,) = aws.sqs.receive_message(QueueUrl=aws.queue_url, AttributeNames=["All"])["Messages"]
    queued = json.loads(message["Body"])
    assert queued["notification_id"] == notification_id and isinstance(queued["created_at_ms"], int)
    assert {k: queued[k] for k in ("title", "message", "priority", "type", "recipient")} == {
        "title": "Hi",
        "message": "There",
        "priority": "high",
        "type": "api",
        "recipient": "api-user@roxs.com",
    }
    record = {
        "messageId": message["MessageId"],
        "body": message["Body"],
        "attributes": message["Attributes"],
        "eventSource": "aws:sqs",
    }
    assert notification_processor.lambda_handler({"Records": [record]}, context) == {"batchItemFailures": []}

    status, row, _ = call(context, "GET", f"/notifications/{notification_id}")
    assert status == 200 and row["Status"] == "sent" and row["Title"] == "Hi"
    assert row["CreatedAt"] == queued["created_at_ms"] and isinstance(row["CreatedAt"], int)


def test_post_notification_accepts_base64_bodies(aws, context):
    raw = base64.b64encode(json.dumps({"title": "t", "message": "m"}).encode()).decode()
    assert call(context, "POST", "/notifications", body=raw, is_base64=True)[0] == 202


@pytest.mark.parametrize(
    "body, status, reason",
    [
        ("{not json", 400, "body is not valid JSON: "),
        ("[1, 2]", 400, "body must be a JSON object"),
        (None, 400, "request body is required"),
        ("{}", 400, "title is required"),
        ('{"title": "t"}', 400, "message is required"),
        ('{"title": "  ", "message": "m"}', 400, "title must be a non-empty string"),
        (json.dumps({"title": "t" * 201, "message": "m"}), 400, "title is 201 characters, the maximum is 200"),
        (json.dumps({"title": "t", "message": "m" * 4001}), 400, "message is 4001 characters"),
        (
            '{"title": "t", "message": "m", "priority": "urgent"}',
            400,
            "priority must be one of low, normal, high, critical",
        ),
        ('{"title": "t", "message": "m", "priority": 3}', 400, "priority must be a non-empty string"),
        ('{"title": "t", "message": "m", "recipient": 7}', 400, "recipient must be a non-empty string"),
        (json.dumps({"title": "t", "message": "m", "pad": "x" * 70_000}), 413, "limit is 65536"),
    ],
)
def test_post_notification_rejects_bad_bodies(aws, context, body, status, reason):
    got_status, payload, _ = call(context, "POST", "/notifications", body=body)
    assert got_status == status and reason in payload["error"]
    assert "Messages" not in aws.sqs.receive_message(QueueUrl=aws.queue_url)


# --- stats, dashboard, errors -------------------------------------------------------------------


def test_stats_are_the_counters(aws, context):
    deltas = aggregates.Deltas()
    deltas.add(aggregates.IMAGES, Total=3, Completed=2, Error=1, OriginalBytes=300)
    deltas.add(aggregates.LOGS, Total=5, INFO=4, ERROR=1)
    deltas.add(aggregates.NOTIFICATIONS, Total=2, priority_high=2, status_sent=2)
    deltas.add(aggregates.bucket_counter(ORIGINALS), Objects=4, Bytes=4096)
    aws.ddb.transact_write_items(TransactItems=deltas.updates(STATS_TABLE))
    status, body, _ = call(context, "GET", "/stats")
    assert status == 200 and body.pop("generated_at")
    assert body == {
        "total_images": 3,
        "total_logs": 5,
        "total_notifications": 2,
        "total_files": 4,
        "images": {"completed": 2, "error": 1, "rejected": 0, "original_bytes": 300},
        "logs_by_level": {"INFO": 4, "ERROR": 1},
        "notifications_by_priority": {"high": 2},
        "notifications_by_status": {"sent": 2},
        "files": {"bucket": ORIGINALS, "objects": 4, "bytes": 4096},
    }


def test_stats_of_an_empty_stack_are_zeros(aws, context):
    status, body, _ = call(context, "GET", "/stats")
    assert status == 200
    assert (body["total_images"], body["total_logs"], body["total_notifications"], body["total_files"]) == (0, 0, 0, 0)


class StubLambda:
    def __init__(self, payload, function_error=None):
        self.payload, self.function_error, self.calls = payload, function_error, []

    def invoke(self, **kwargs):
        self.calls.append(kwargs)
        response = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.payload).encode())}
        if self.function_error:
            response["FunctionError"] = self.function_error
        return response


def use_lambda_stub(monkeypatch, stub):
    real = roxs_common.client
    monkeypatch.setattr(api_handler, "client", lambda name: stub if name == "lambda" else real(name))


def test_dashboard_data_returns_the_function_payload(context, monkeypatch):
    stub = StubLambda({"images": {"total": 1}})
    use_lambda_stub(monkeypatch, stub)
    status, body, _ = call(context, "GET", "/dashboard/data")
    assert status == 200 and body == {"images": {"total": 1}}
    assert stub.calls[0]["FunctionName"] == "roxs-dashboard"


def test_dashboard_function_error_is_502_with_reason(context, monkeypatch):
    use_lambda_stub(
        monkeypatch,
        StubLambda({"errorMessage": "table missing", "errorType": "ResourceNotFoundException"}, "Unhandled"),
    )
    status, body, _ = call(context, "GET", "/dashboard/data")
    assert status == 502 and body["reason"] == "table missing"


def test_unexpected_error_is_a_generic_500_with_request_id(aws, context, monkeypatch):
    monkeypatch.setenv("STATS_TABLE", "TableThatDoesNotExist")
    status, body, headers = call(context, "GET", "/stats")
    assert status == 500 and body == {"error": "internal server error", "request_id": "req-0000-unit"}
    assert headers["Access-Control-Allow-Origin"] == ALLOW_ORIGIN


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    path=st.sampled_from(
        ["/", "/health", "/images", "/logs", "/notifications", "/notifications/x", "/files", "/stats", "/zzz"]
    )
    | st.text(max_size=30).map(lambda s: "/" + s),
    query=st.none()
    | st.dictionaries(st.sampled_from(["limit", "next_token", "level", "x"]), st.text(max_size=20), max_size=3),
    body=st.none() | st.text(max_size=200) | st.just('{"title": "t", "message": "m"}'),
)
def test_client_input_never_causes_a_server_error(aws, context, monkeypatch, method, path, query, body):
    listers_module.install(monkeypatch)
    status, _, headers = call(context, method, path, query, body)
    assert status < 500
    assert headers["Access-Control-Allow-Origin"] == ALLOW_ORIGIN
