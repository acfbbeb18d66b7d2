"""Lambda's payload limits, as AWS applies them, against the real engine: a request over
6 MiB (synchronous) or 1 MiB (asynchronous) is refused with 413 RequestEntityTooLargeException
before any function runs (engine/localstack_nodocker/invoke_limits.py); a response or an
error over 6 MiB + 100 bytes is Function.ResponseSizeTooLarge, a smaller error the function's
own (worker.py, worker.js)."""

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.engine.test_lambda_paths import create_proxy_api, wait_active, zipped
from tests.support.engine import endpoint

SYNC_LIMIT = 6 * 1024 * 1024
ASYNC_LIMIT = 1024 * 1024
RESPONSE_LIMIT = SYNC_LIMIT + 100
TOO_LARGE = {
    "errorMessage": f"Response payload size exceeded maximum allowed payload size ({RESPONSE_LIMIT} bytes).",
    "errorType": "Function.ResponseSizeTooLarge",
}
SOURCES = {
    "python3.11": (
        "index.py",
        """
import json

def handler(event, context):
    if "httpMethod" in event:  # through API Gateway
        return {"statusCode": 200, "body": json.dumps({"received": len(event["body"] or "")})}
    if "fail" in event:
        raise ValueError("x" * event["fail"])
    if "respond" in event:
        return "x" * (event["respond"] - 2)  # a JSON string of exactly `respond` bytes
    return {"received": len(event.get("pad", ""))}
""",
    ),
    "nodejs20.x": (
        "index.js",
        """
exports.handler = async (event) => {
  if ("httpMethod" in event) return { statusCode: 200, body: JSON.stringify({ received: (event.body || "").length }) };
  if ("fail" in event) throw new Error("x".repeat(event.fail));
  if ("respond" in event) return "x".repeat(event.respond - 2); // a JSON string of exactly `respond` bytes
  return { received: (event.pad || "").length };
};
""",
    ),
}


PAD_OVERHEAD = len('{"pad": ""}')


def padded(size: int) -> bytes:
    """An event of exactly ``size`` bytes (at least PAD_OVERHEAD)."""
    return json.dumps({"pad": "a" * (size - PAD_OVERHEAD)}).encode()


@pytest.fixture(scope="module")
def lam(engine):
    return boto3.client("lambda")


@pytest.fixture(scope="module")
def functions(lam):
    """runtime -> function name, for the runtimes this host runs."""
    names = {}
    for runtime, (file_name, source) in SOURCES.items():
        name = f"limits-{runtime.replace('.', '')}-{uuid.uuid4().hex[:6]}"
        lam.create_function(
            FunctionName=name,
            Runtime=runtime,
            Handler="index.handler",
            Role="arn:aws:iam::000000000000:role/limits",
            Code={"ZipFile": zipped(source, file_name)},
            Timeout=30,
            MemorySize=1024,
        )
        if wait_active(lam, name)["State"] == "Active":
            names[runtime] = name
    assert "python3.11" in names
    yield names
    for name in names.values():
        lam.delete_function(FunctionName=name)


@pytest.fixture(params=list(SOURCES))
def function(request, functions):
    if request.param not in functions:
        pytest.skip(f"{request.param} is not available on this host")
    return functions[request.param]


def refused_invoke(lam, **invoke) -> dict:
    """The error response of an Invoke the engine refuses."""
    with pytest.raises(ClientError) as raised:
        lam.invoke(**invoke)
    return raised.value.response


@pytest.mark.parametrize("invocation_type", ["RequestResponse", "DryRun"])
@pytest.mark.parametrize("size", [SYNC_LIMIT + 1, SYNC_LIMIT + 512 * 1024, 10 * 1024 * 1024])
def test_a_synchronous_payload_over_6_mib_is_refused_before_the_function_runs(lam, functions, size, invocation_type):
    response = refused_invoke(
        lam, FunctionName=functions["python3.11"], Payload=padded(size), InvocationType=invocation_type
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert response["Error"]["Message"] == (
        f"Request must be smaller than {SYNC_LIMIT} bytes for the InvokeFunction operation"
    )


@pytest.mark.parametrize("size", [PAD_OVERHEAD, 1024, SYNC_LIMIT])
def test_a_synchronous_payload_up_to_6_mib_reaches_the_function(lam, function, size):
    response = lam.invoke(FunctionName=function, Payload=padded(size))
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"received": size - PAD_OVERHEAD}


@pytest.mark.parametrize("size", [ASYNC_LIMIT + 1, 2 * ASYNC_LIMIT, SYNC_LIMIT + 1])
def test_an_asynchronous_payload_over_1_mib_is_refused(lam, functions, size):
    response = refused_invoke(lam, FunctionName=functions["python3.11"], Payload=padded(size), InvocationType="Event")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert response["Error"]["Message"] == (
        f"{size} byte payload is too large for the Event invocation type (limit {ASYNC_LIMIT} bytes)"
    )


def test_an_asynchronous_payload_of_1_mib_is_queued(lam, functions):
    response = lam.invoke(FunctionName=functions["python3.11"], Payload=padded(ASYNC_LIMIT), InvocationType="Event")
    assert response["StatusCode"] == 202


@pytest.mark.parametrize(("size", "status"), [(SYNC_LIMIT + 1, 413), (2 * SYNC_LIMIT, 413), (1024, 200)])
def test_a_payload_without_a_content_length_is_measured_as_it_is_read(functions, size, status):
    """Chunked transfer: no Content-Length to judge by."""
    url = urllib.parse.urlparse(endpoint())
    connection = http.client.HTTPConnection(url.hostname, url.port or 4566, timeout=60)
    body = padded(size)
    connection.request(
        "POST",
        f"/2015-03-31/functions/{functions['python3.11']}/invocations",
        body=(body[start : start + 65536] for start in range(0, len(body), 65536)),
        headers={
            "Content-Type": "application/json",
            # LocalStack tells the service from the credential scope; it checks no signature
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/lambda/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
        encode_chunked=True,
    )
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    assert response.status == status
    if status == 413:
        assert response.getheader("x-amzn-errortype").startswith("RequestEntityTooLargeException")
        assert f"Request must be smaller than {SYNC_LIMIT} bytes" in json.dumps(answer)
    else:
        assert answer == {"received": size - PAD_OVERHEAD}


@pytest.mark.parametrize(
    "event",
    [
        {"respond": RESPONSE_LIMIT + 1},
        {"respond": 7_000_000},
        {"respond": 20_000_000},
        {"fail": 7_000_000},
        {"fail": 20_000_000},
    ],
    ids=["response-limit+1", "response-7MB", "response-20MB", "error-7MB", "error-20MB"],
)
def test_a_response_or_error_over_the_limit_is_lambdas_size_error(lam, function, event):
    response = lam.invoke(FunctionName=function, Payload=json.dumps(event))
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read()) == TOO_LARGE
    # the environment is not broken by it: the next invoke is served
    assert json.loads(lam.invoke(FunctionName=function, Payload=b"{}")["Payload"].read()) == {"received": 0}


def test_a_response_at_the_limit_is_returned_whole(lam, function):
    response = lam.invoke(FunctionName=function, Payload=json.dumps({"respond": RESPONSE_LIMIT}))
    assert "FunctionError" not in response
    assert response["Payload"].read() == json.dumps("x" * (RESPONSE_LIMIT - 2)).encode()


@pytest.mark.parametrize("size", [0, 1000, 1024 * 1024])
def test_an_error_within_the_limit_is_the_functions_own(lam, function, size):
    response = lam.invoke(FunctionName=function, Payload=json.dumps({"fail": size}))
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] in ("ValueError", "Error") and error["errorMessage"] == "x" * size


@pytest.fixture(scope="module")
def api_url(engine, functions):
    """A REST API whose every path is the Python function."""
    apigw = boto3.client("apigateway")
    arn = boto3.client("lambda").get_function(FunctionName=functions["python3.11"])["Configuration"]["FunctionArn"]
    api = create_proxy_api(apigw, arn)
    yield f"{engine}/_aws/execute-api/{api}/test/upload"
    apigw.delete_rest_api(restApiId=api)


def post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "text/plain"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    "body",
    [b"a" * (SYNC_LIMIT + 1), b"a" * (9 * 1024 * 1024), b'"' * (4 * 1024 * 1024)],
    ids=["body-over-6MiB", "body-9MiB", "4MiB-of-quotes-escaped-past-6MiB-in-the-event"],
)
def test_an_api_request_whose_event_is_over_the_limit_is_413_as_api_gateway_answers(api_url, body):
    assert post(api_url, body) == (413, {"message": "Request Too Long"})


@pytest.mark.parametrize("size", [0, 1024, 5 * 1024 * 1024])
def test_an_api_request_whose_event_fits_reaches_the_function(api_url, size):
    assert post(api_url, b"a" * size) == (200, {"received": size})
