"""Small REST APIs for the engine's API Gateway tests, and requests to them.

Every method is a MOCK integration answering 200 with the caller API Gateway saw: no
function runs, so what the gateway itself refuses (403, 429) is all there is to see.
"""

import json
import os
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from tools.http import Reply

STAGE = "test"
# The content types the tests send (LocalStack picks a MOCK's template by the whole header).
MULTIPART = "multipart/form-data; boundary=xyz"
CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded", MULTIPART)
# What the integration answers: the identity API Gateway put in $context (AWS_IAM callers).
ANSWER = '{"ok": true, "user_arn": "$context.identity.userArn", "account": "$context.identity.accountId"}'


@dataclass(frozen=True)
class Api:
    id: str
    root_id: str
    ping_id: str  # the resource /ping

    @property
    def url(self) -> str:
        return f"{os.environ['AWS_ENDPOINT_URL']}/_aws/execute-api/{self.id}/{STAGE}"


def create_api(apigateway, authorization: str = "NONE", api_key_required: bool = False, settings=()) -> Api:
    """ANY on / and /ping, deployed to the stage STAGE, with the stage patched by `settings`
    (path, value) pairs, e.g. ("/*/*/throttling/burstLimit", "40")."""
    api = apigateway.create_rest_api(name=f"gateway-test-{uuid.uuid4().hex[:8]}")
    ping = apigateway.create_resource(restApiId=api["id"], parentId=api["rootResourceId"], pathPart="ping")
    for resource in (api["rootResourceId"], ping["id"]):
        method = {"restApiId": api["id"], "resourceId": resource, "httpMethod": "ANY"}
        apigateway.put_method(**method, authorizationType=authorization, apiKeyRequired=api_key_required)
        answered = {kind: '{"statusCode": 200}' for kind in CONTENT_TYPES}
        apigateway.put_integration(**method, type="MOCK", requestTemplates=answered)
        apigateway.put_method_response(**method, statusCode="200")
        apigateway.put_integration_response(**method, statusCode="200", responseTemplates={"application/json": ANSWER})
    apigateway.create_deployment(restApiId=api["id"], stageName=STAGE)
    if settings:
        operations = [{"op": "replace", "path": path, "value": value} for path, value in settings]
        apigateway.update_stage(restApiId=api["id"], stageName=STAGE, patchOperations=operations)
    return Api(api["id"], api["rootResourceId"], ping["id"])


def throttle(rate: float, burst: int, method: str = "*/*") -> list[tuple[str, str]]:
    """Stage settings: `rate` requests per second, `burst` at most, for `method` ("*/*" or
    "~1ping/ANY")."""
    return [(f"/{method}/throttling/rateLimit", str(rate)), (f"/{method}/throttling/burstLimit", str(burst))]


def send(
    url: str, method: str = "GET", headers=None, body: bytes | None = None, credentials=None, sent_body=None
) -> Reply:
    """One request; signed with SigV4 (execute-api, us-east-1) when `credentials` are given.
    `sent_body`: bytes sent instead of the signed `body` (a request changed on the way)."""
    headers = dict(headers or {})
    if credentials is not None:
        request = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
        SigV4Auth(credentials, "execute-api", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")).add_auth(request)
        headers = dict(request.headers.items())
    request = urllib.request.Request(url, data=body if sent_body is None else sent_body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, reply_headers, payload = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, reply_headers, payload = error.code, dict(error.headers), error.read()
    try:
        parsed = json.loads(payload)
    except ValueError:
        parsed = payload.decode("utf-8", "replace")
    return Reply(status, {key.lower(): value for key, value in reply_headers.items()}, parsed)
