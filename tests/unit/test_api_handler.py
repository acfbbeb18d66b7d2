import base64
import io
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import api_handler
import notification_processor
import roxs_common
from http_router import HttpError, decode_token, encode_token
from roxs_common import to_item
from tests.unit.conftest import ALLOW_ORIGIN, LOG_INDEX_TABLE, METADATA_TABLE, ORIGINALS


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
    payload = json.loads(response["body"]) if response["body"] else None
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
    assert call(context, "GET", "/notifications")[0] == 405


def test_options_is_a_preflight_on_known_paths_only(context):
    response = api_handler.lambda_handler(api_event("OPTIONS", "/notifications"), context)
    assert response["statusCode"] == 204 and response["body"] == ""
    assert response["headers"]["Access-Control-Allow-Methods"] == "OPTIONS,POST"
    assert response["headers"]["Access-Control-Allow-Origin"] == ALLOW_ORIGIN
    assert call(context, "OPTIONS", "/notifications/abc")[0] == 204
    assert call(context, "OPTIONS", "/elsewhere")[0] == 404


def test_pagination_token_round_trip_and_rejection():
    key = {"ImageId": {"S": "abc"}, "UploadTimestamp": {"N": "1700000000"}}
    assert decode_token(encode_token("images", key), "images") == key
    for token, kind in (("%%%", "images"), ("bm90LWpzb24=", "images"), (encode_token("files", "t"), "images")):
        with pytest.raises(HttpError) as raised:
            decode_token(token, kind)
        assert raised.value.status == 400 and "next_token" in raised.value.message


# --- images and files ---------------------------------------------------------------------------


def put_images(aws, n):
    for i in range(n):
        aws.ddb.put_item(
            TableName=METADATA_TABLE,
            Item=to_item(
                {
                    "ImageId": f"img-{i}",
                    "UploadTimestamp": 1_700_000_000 + i,
                    "OriginalKey": f"{i}.jpg",
                    "Status": "completed",
                    "Width": 10,
                }
            ),
        )


def test_images_pages_follow_next_token_until_the_end(aws, context):
    put_images(aws, 5)
    seen, query, pages = [], {"limit": "2"}, 0
    while True:
        status, body, _ = call(context, "GET", "/images", query)
        assert status == 200 and body["count"] <= 2
        seen += [image["id"] for image in body["images"]]
        pages += 1
        if "next_token" not in body:
            break
        query = {"limit": "2", "next_token": body["next_token"]}
    assert sorted(seen) == [f"img-{i}" for i in range(5)] and pages >= 3
    first = call(context, "GET", "/images")[1]["images"][0]
    assert first["width"] == 10 and isinstance(first["upload_timestamp"], int)


@pytest.mark.parametrize("path", ["/images", "/files"])
@pytest.mark.parametrize(
    "query, reason",
    [
        ({"limit": "0"}, "limit must be an integer between 1 and 100"),
        ({"limit": "101"}, "limit must be an integer between 1 and 100"),
        ({"limit": "ten"}, "limit must be an integer between 1 and 100"),
        ({"next_token": "not base64 at all!"}, "next_token is not valid"),
        (
            {"next_token": base64.urlsafe_b64encode(b'{"kind":"images","value":{"ImageId":1}}').decode()},
            "next_token is not valid",
        ),
    ],
)
def test_bad_paging_parameters_are_400_with_reason(aws, context, path, query, reason):
    status, body, _ = call(context, "GET", path, query)
    assert status == 400 and reason in body["error"]


def test_files_are_paginated_with_s3_uris(aws, context):
    for i in range(5):
        aws.s3.put_object(Bucket=ORIGINALS, Key=f"f{i}.jpg", Body=b"x" * i)
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


# --- logs ---------------------------------------------------------------------------------------


def put_log(aws, level, ms, seq=0):
    aws.ddb.put_item(
        TableName=LOG_INDEX_TABLE,
        Item=to_item(
            {"LogLevel": level, "Timestamp": Decimal(f"{ms}.{seq:015d}"), "TimestampMs": ms, "Message": f"{level}@{ms}"}
        ),
    )


def test_logs_are_the_most_recent_across_levels(aws, context):
    for i in range(40):
        put_log(aws, "INFO", 1_000 + i)
    for ms in (5_000, 5_002):
        put_log(aws, "ERROR", ms)
    put_log(aws, "DEBUG", 5_001)
    status, body, _ = call(context, "GET", "/logs", {"limit": "4"})
    assert status == 200
    assert [(log["level"], log["timestamp"]) for log in body["logs"]] == [
        ("ERROR", 5_002),
        ("DEBUG", 5_001),
        ("ERROR", 5_000),
        ("INFO", 1_039),
    ]
    status, body, _ = call(context, "GET", "/logs", {"level": "info"})
    assert status == 200 and body["count"] == 20 and body["logs"][0]["timestamp"] == 1_039
    assert {log["level"] for log in body["logs"]} == {"INFO"}


def test_logs_unknown_level_is_400(aws, context):
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
        ('{"title": "t", "message": "m", "priority": 3}', 400, "priority must be one of"),
        ('{"title": "t", "message": "m", "recipient": 7}', 400, "recipient must be a non-empty string"),
        (json.dumps({"title": "t", "message": "m", "pad": "x" * 70_000}), 413, "limit is 65536"),
    ],
)
def test_post_notification_rejects_bad_bodies(aws, context, body, status, reason):
    got_status, payload, _ = call(context, "POST", "/notifications", body=body)
    assert got_status == status and reason in payload["error"]
    assert "Messages" not in aws.sqs.receive_message(QueueUrl=aws.queue_url)


# --- stats, dashboard, errors -------------------------------------------------------------------


def test_stats_counts_everything(aws, context):
    put_images(aws, 3)
    put_log(aws, "INFO", 1)
    put_log(aws, "WARN", 2)
    aws.s3.put_object(Bucket=ORIGINALS, Key="a.jpg", Body=b"1")
    status, body, _ = call(context, "GET", "/stats")
    assert status == 200
    assert (body["total_images"], body["total_logs"], body["total_notifications"], body["total_files"]) == (3, 2, 0, 1)
    assert body["generated_at"]


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
    monkeypatch.setenv("METADATA_TABLE", "TableThatDoesNotExist")
    status, body, headers = call(context, "GET", "/images")
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
def test_client_input_never_causes_a_server_error(aws, context, method, path, query, body):
    status, _, headers = call(context, method, path, query, body)
    assert status < 500
    assert headers["Access-Control-Allow-Origin"] == ALLOW_ORIGIN
