"""Lambda's invocation payload limits on the request side, as AWS applies them.

LocalStack leaves the request limit to its Lambda container's init (LOCALSTACK_MAX_PAYLOAD_SIZE),
which the local-process executor does not run, so a 6.5 MB synchronous payload reached the
function. AWS refuses, before any function runs, with 413 RequestEntityTooLargeException:

- synchronous (RequestResponse, DryRun): over 6 MiB, "Request must be smaller than 6291456
  bytes for the InvokeFunction operation";
- asynchronous (Event): over 1 MiB (256 KiB until 2025), "<n> byte payload is too large for
  the Event invocation type (limit 1048576 bytes)".

A request handler of LocalStack's chain (after the request is parsed) applies them to every
Invoke, the engine's own calls included (API Gateway, EventBridge, SNS go through the same
gateway, as on AWS). API Gateway then answers as AWS's does, 413 ``{"message": "Request Too
Long"}`` (LocalStack answered every refusal of its Lambda integration 502 "Internal server
error"). The response side is the workers' (worker.py, worker.js).
"""

import io

from localstack.aws.handlers import serve_custom_service_request_handlers
from localstack.runtime import hooks
from localstack.services.lambda_.invocation.lambda_models import RequestEntityTooLargeException

from localstack_nodocker import seam

SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
ASYNC_PAYLOAD_LIMIT = 1024 * 1024


def refuse_oversized_payloads(chain, context, response) -> None:
    if context.service is None or context.service.service_name != "lambda":
        return
    if context.operation is None or context.operation.name != "Invoke":
        return
    request = context.service_request
    asynchronous = request.get("InvocationType") == "Event"
    limit = ASYNC_PAYLOAD_LIMIT if asynchronous else SYNC_PAYLOAD_LIMIT
    size = context.request.content_length
    if size is None and request.get("Payload") is not None:
        # no Content-Length (chunked): measured by reading; a payload within the limit is
        # handed on as read, the rest of one over it only counted
        stream = request["Payload"]
        payload = stream.read(limit + 1)
        size = len(payload)
        if size <= limit:
            request["Payload"] = io.BytesIO(payload)
        else:
            size += sum(len(chunk) for chunk in iter(lambda: stream.read(1024 * 1024), b""))
    if not size or size <= limit:
        return
    if asynchronous:
        raise RequestEntityTooLargeException(
            f"{size} byte payload is too large for the Event invocation type (limit {limit} bytes)"
        )
    raise RequestEntityTooLargeException(f"Request must be smaller than {limit} bytes for the InvokeFunction operation")


def _answer_api_requests_too_large_for_lambda(handle):
    """A patch of LocalStack's API Gateway exception handler (no extension point turns an
    integration failure into another gateway response): its Lambda integration raises
    IntegrationFailureError from Lambda's ClientError (both seam.py targets)."""
    from botocore.exceptions import ClientError
    from localstack.services.apigateway.next_gen.execute_api.gateway_response import (
        IntegrationFailureError,
        RequestTooLargeError,
    )

    def answer(self, chain, exception, context, response):
        cause = exception.__cause__
        if (
            isinstance(exception, IntegrationFailureError)
            and isinstance(cause, ClientError)
            and cause.response.get("Error", {}).get("Code") == "RequestEntityTooLargeException"
        ):
            exception = RequestTooLargeError("Request Too Long")
        return handle(self, chain, exception, context, response)

    return answer


@hooks.on_infra_start()
def limit_invoke_payloads():
    serve_custom_service_request_handlers.append(refuse_oversized_payloads)
    # Patched when LocalStack first imports API Gateway's execute-api handlers (its provider, on
    # first use or when state is loaded), not at start: most starts never use API Gateway.
    seam.replace_on_import(seam.GATEWAY_EXCEPTION_HANDLER, _answer_api_requests_too_large_for_lambda)
