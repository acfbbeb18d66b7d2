"""Lambda-backed CloudFormation custom resources (``Custom::*``, ``AWS::CloudFormation::CustomResource``).

LocalStack's open-source CloudFormation (4.8 and 2026.3.0) has no provider for them and deploys them as
no-ops. This provider does what CloudFormation does: it sends the function the request
(Create, Update with the old properties, Delete), waits for the response the function
PUTs to its ``ResponseURL``, and takes ``PhysicalResourceId`` and ``Data`` (for
``Fn::GetAtt``) from it, or fails the resource with the function's ``Reason``.

The ResponseURL is an engine route, ``https://localhost.localstack.cloud:<port>/_custom_resource_response/<token>``
(the name and certificate workers reach, see names.py); a token is valid while its
request waits. Differences from AWS, each in the function's favour while developing:
the function is invoked synchronously, so one that fails without responding fails the
resource at once with its error instead of after the timeout; the timeout is the
resource's ``ServiceTimeout`` or else LocalStack's per-resource timeout
(CFN_PER_RESOURCE_TIMEOUT, 300 s) rather than one hour.
"""

import json
import logging
import threading
import time
import uuid

from botocore.config import Config
from localstack import config
from localstack.aws.connect import connect_to
from localstack.http import Response
from localstack.services.cloudformation.resource_provider import (
    CloudFormationResourceProviderPlugin,
    OperationStatus,
    ProgressEvent,
    ResourceProvider,
    ResourceRequest,
)
from localstack.services.edge import ROUTER

LOG = logging.getLogger(__name__)

RESPONSE_PATH = "/_custom_resource_response"
MAX_RESPONSE_BYTES = 4096  # CloudFormation's limit for the response object
# Kept in the resource's model next to the Data attributes (which Fn::GetAtt reads from it)
PHYSICAL_ID = "PhysicalResourceId"
PROPERTIES = "ResourceProperties"


class _PendingResponses:
    """Responses PUT to the engine route, handed to the deployment waiting for them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[threading.Event, list]] = {}
        self._route = None

    def open(self) -> str:
        with self._lock:
            if self._route is None:
                self._route = ROUTER.add(path=f"{RESPONSE_PATH}/<token>", endpoint=self._receive, methods=["PUT"])
            token = uuid.uuid4().hex
            self._waiting[token] = (threading.Event(), [])
        return token

    def wait(self, token: str, timeout: float) -> bytes | None:
        event, bodies = self._waiting[token]
        event.wait(timeout)
        return bodies[0] if bodies else None

    def close(self, token: str) -> None:
        with self._lock:
            self._waiting.pop(token, None)

    def _receive(self, request, token: str) -> Response:
        with self._lock:
            waiting = self._waiting.get(token)
        if waiting is None:
            return Response("No custom resource request waits for this response (unknown or finished)", status=404)
        event, bodies = waiting
        if not event.is_set():
            bodies.append(request.get_data())
            event.set()
        return Response(status=200)


PENDING = _PendingResponses()


def _response_url(token: str) -> str:
    return f"https://localhost.localstack.cloud:{config.GATEWAY_LISTEN[0].port}{RESPONSE_PATH}/{token}"


def _lambda_token(service_token) -> tuple[str, str] | str:
    """(region, account) of a Lambda function ARN, or the reason the token is refused."""
    parts = str(service_token or "").split(":")
    if len(parts) >= 7 and parts[0] == "arn" and parts[2] == "lambda" and parts[5] == "function":
        return parts[3], parts[4]
    if len(parts) >= 6 and parts[0] == "arn" and parts[2] == "sns":
        return (
            f"ServiceToken {service_token} is an SNS topic: SNS-backed custom resources are not supported "
            "by this engine, only Lambda-backed ones (a function ARN)"
        )
    return f"Invalid ServiceToken {service_token!r}: expected a Lambda function ARN"


class CustomResourceProvider(ResourceProvider[dict]):
    TYPE = "AWS::CloudFormation::CustomResource"
    SCHEMA = {
        "typeName": TYPE,
        "properties": {"ServiceToken": {"type": "string"}, "ServiceTimeout": {"type": "integer"}},
        "required": ["ServiceToken"],
        "primaryIdentifier": [f"/properties/{PHYSICAL_ID}"],
        "readOnlyProperties": [f"/properties/{PHYSICAL_ID}"],
        "additionalProperties": True,
    }

    def create(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        return self._send(request, "Create", request.desired_state)

    def update(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        previous = request.previous_state or {}
        old_properties = previous.get(PROPERTIES, {})
        if old_properties.get("ServiceToken") != request.desired_state.get("ServiceToken"):
            return _failed("Modifying service token is not allowed.")
        event = self._send(request, "Update", request.desired_state, previous.get(PHYSICAL_ID), old_properties)
        new_id = (event.resource_model or {}).get(PHYSICAL_ID)
        if event.status == OperationStatus.SUCCESS and new_id != previous.get(PHYSICAL_ID):
            # A new physical id means a replacement: CloudFormation deletes the old one (at clean-up).
            cleanup = self._send(request, "Delete", old_properties, previous.get(PHYSICAL_ID))
            if cleanup.status != OperationStatus.SUCCESS:
                LOG.warning(
                    "Custom resource %s: deleting the replaced %s failed: %s",
                    request.logical_resource_id,
                    previous.get(PHYSICAL_ID),
                    cleanup.message,
                )
        return event

    def delete(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        previous = request.previous_state or {}
        if not previous.get(PHYSICAL_ID):  # its Create failed: there is nothing to delete
            return ProgressEvent(OperationStatus.SUCCESS, resource_model={})
        properties = previous.get(PROPERTIES) or request.desired_state
        event = self._send(request, "Delete", properties, previous.get(PHYSICAL_ID))
        return (
            ProgressEvent(OperationStatus.SUCCESS, resource_model={})
            if event.status == OperationStatus.SUCCESS
            else event
        )

    def read(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        raise NotImplementedError

    def _send(
        self,
        request: ResourceRequest[dict],
        request_type: str,
        properties: dict,
        physical_id: str | None = None,
        old_properties: dict | None = None,
    ) -> ProgressEvent[dict]:
        service_token = properties.get("ServiceToken")
        target = _lambda_token(service_token)
        if isinstance(target, str):
            return _failed(target)
        try:
            timeout = int(properties.get("ServiceTimeout") or config.CFN_PER_RESOURCE_TIMEOUT)
        except ValueError:
            return _failed(f"ServiceTimeout must be an integer number of seconds, got {properties['ServiceTimeout']!r}")
        token = PENDING.open()
        request_id = str(uuid.uuid4())
        message = {
            "RequestType": request_type,
            "ServiceToken": service_token,
            "ResponseURL": _response_url(token),
            "StackId": request.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": request.logical_resource_id,
            "ResourceType": request.resource_type,
            "ResourceProperties": _as_strings(properties),
        }
        if physical_id is not None:
            message["PhysicalResourceId"] = physical_id
        if old_properties is not None:
            message["OldResourceProperties"] = _as_strings(old_properties)
        started = time.monotonic()
        try:
            function_error = _invoke(target, service_token, message)
            body = PENDING.wait(token, 0 if function_error else max(0.0, timeout - (time.monotonic() - started)))
        finally:
            PENDING.close(token)
        if body is None:
            if function_error:
                return _failed(
                    f"The custom resource function {service_token} failed without sending a response "
                    f"(RequestId: {request_id}): {function_error}"
                )
            return _failed(
                "CloudFormation did not receive a response from your Custom Resource. Please check your "
                f"logs for requestId [{request_id}]."
            )
        return _outcome(body, message, properties)


def _as_strings(value):
    """CloudFormation hands custom resources every scalar as a string (true → "true", 5 → "5")."""
    if isinstance(value, dict):
        return {key: _as_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_strings(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _invoke(target: tuple[str, str], function_arn: str, message: dict) -> str | None:
    """Invoke and wait for the function; its error message, if it failed."""
    region, account = target
    client = connect_to(
        region_name=region,
        aws_access_key_id=account,
        config=Config(read_timeout=910, retries={"total_max_attempts": 1}),
    ).lambda_
    try:
        response = client.invoke(FunctionName=function_arn, Payload=json.dumps(message).encode())
    except Exception as exc:  # function missing, throttled, ...: the reason goes to the stack
        return str(exc)
    if response.get("FunctionError"):
        return response["Payload"].read().decode(errors="replace")[:1000]
    return None


def _outcome(body: bytes, message: dict, properties: dict) -> ProgressEvent[dict]:
    if len(body) > MAX_RESPONSE_BYTES:
        return _failed("Response object is too long.")
    try:
        response = json.loads(body)
        if not isinstance(response, dict):
            raise ValueError("not an object")
    except ValueError:
        return _failed(f"Invalid response object: not JSON (RequestId: {message['RequestId']})")
    for field in ("RequestId", "StackId", "LogicalResourceId"):
        if response.get(field) != message[field]:
            return _failed(
                f"Invalid response object: {field} does not match the request "
                f"({response.get(field)!r}, expected {message[field]!r})"
            )
    status = response.get("Status")
    if status == "FAILED":
        return _failed(
            f"Received response status [FAILED] from custom resource. Message returned: "
            f"{response.get('Reason', '')} (RequestId: {message['RequestId']})"
        )
    if status != "SUCCESS":
        return _failed(f"Invalid response object: Status must be SUCCESS or FAILED, got {status!r}")
    physical_id = response.get("PhysicalResourceId")
    if not isinstance(physical_id, str) or not physical_id or len(physical_id) > 1024:
        return _failed("Invalid PhysicalResourceId")
    if message["RequestType"] == "Delete":
        return ProgressEvent(OperationStatus.SUCCESS, resource_model={})
    data = response.get("Data") or {}
    if not isinstance(data, dict):
        return _failed("Invalid response object: Data must be an object")
    return ProgressEvent(
        OperationStatus.SUCCESS, resource_model={**data, PHYSICAL_ID: physical_id, PROPERTIES: properties}
    )


def _failed(reason: str) -> ProgressEvent[dict]:
    return ProgressEvent(OperationStatus.FAILED, resource_model={}, message=reason)


class CustomResourceProviderPlugin(CloudFormationResourceProviderPlugin):
    name = "AWS::CloudFormation::CustomResource"

    def __init__(self):
        self.factory = None

    def load(self):
        self.factory = CustomResourceProvider
