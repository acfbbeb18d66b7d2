"""A request body reaches the function as it was sent, through API Gateway and through a
function URL, whatever its Content-Type says (engine/localstack_nodocker/form_bodies.py):
LocalStack re-encodes form bodies from werkzeug's parsed fields, and answered 500 for a
multipart Content-Type without a boundary."""

import base64
import urllib.parse
import uuid

import boto3
import pytest

from tests.engine.test_lambda_paths import create_proxy_api, wait_active, zipped
from tests.support.apis import send

ECHO = """
import base64
import json

def handler(event, context):
    body = event.get("body") or ""
    sent = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    return {"statusCode": 200, "body": json.dumps({"sent": base64.b64encode(sent).decode()})}
"""
MULTIPART_PART = b'--xyz\r\nContent-Disposition: form-data; name="f"\r\n\r\nv\r\n--xyz--\r\n'
BODIES = [
    ("multipart/form-data", b'{"title": "0", "message": "0"}'),
    ("multipart/form-data; boundary=", b"a=1"),
    ("multipart/form-data; charset=utf-8", b'{"title": "no boundary, a parameter"}'),
    ("multipart/form-data; boundary=xyz", MULTIPART_PART),
    ("multipart/form-data; boundary=xyz; charset=utf-8", MULTIPART_PART),
    ("multipart/form-data; boundary=other", MULTIPART_PART),  # a boundary the body does not use
    ("application/x-www-form-urlencoded", b'{"title": "sent as curl -d sends it"}'),
    ("application/x-www-form-urlencoded", b"a=1&b=two+words&c=%7E&a=2"),
    ("application/x-www-form-urlencoded", b""),
    ("application/json", b'{"title": "json"}'),
]


@pytest.fixture(scope="module")
def echo(engine):
    """(API base URL, function URL) of one function that answers the body it got, base64."""
    lam, apigw = boto3.client("lambda"), boto3.client("apigateway")
    name = f"form-echo-{uuid.uuid4().hex[:6]}"
    arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="probe.handler",
        Role="arn:aws:iam::000000000000:role/form-echo",
        Code={"ZipFile": zipped(ECHO)},
    )["FunctionArn"]
    assert wait_active(lam, name)["State"] == "Active"
    api = create_proxy_api(apigw, arn)
    function_url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    yield f"{engine}/_aws/execute-api/{api}/test/echo", function_url
    apigw.delete_rest_api(restApiId=api)
    lam.delete_function(FunctionName=name)


@pytest.mark.parametrize("content_type, body", BODIES)
def test_an_api_passes_the_body_as_sent(echo, content_type, body):
    reply = send(echo[0], "POST", {"Content-Type": content_type}, body)
    assert reply.status == 200, reply
    assert base64.b64decode(reply.body["sent"]) == body


@pytest.mark.parametrize("content_type, body", BODIES)
def test_a_function_url_passes_the_body_as_sent(echo, engine, content_type, body):
    function_host = urllib.parse.urlsplit(echo[1]).netloc  # reached through the engine's address
    reply = send(engine, "POST", {"Content-Type": content_type, "Host": function_host}, body)
    assert reply.status == 200, reply
    assert base64.b64decode(reply.body["sent"]) == body
