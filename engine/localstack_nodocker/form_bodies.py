"""API Gateway and function URLs pass a form body on as it was sent, as AWS does.

LocalStack builds the event's body with rolo's ``restore_payload``: werkzeug parses a
``multipart/form-data`` or ``application/x-www-form-urlencoded`` body into fields, without
keeping its bytes, and ``restore_payload`` encodes the fields again. The bytes the function
gets are then not the bytes sent (``curl -d`` sends JSON as a form: it arrives re-encoded), a
multipart body gains a closing boundary taken from the wrong parameter, and a multipart
``Content-Type`` without ``boundary=`` fails with ``IndexError``: a 500 "Error in apigateway
invocation: list index out of range" for what is the client's body. AWS does not parse the
body at all.

So the bytes of a form body sent to an API or a function URL are kept before anything reads
them (a handler of LocalStack's gateway, in its ``preprocess_request`` step, before the edge
routes), and both places that build an event take the body from there: ``restore_payload`` is
replaced in the two modules that call it (seam.py targets). Requests to AWS services are not
touched: their query-protocol forms are parsed as before.
"""

import io

from localstack.runtime import hooks
from rolo.request import restore_payload

from localstack_nodocker import seam

AS_SENT = "localstack_nodocker.form_body_as_sent"  # a WSGI environ key
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _to_api_or_function_url(request) -> bool:
    return (
        request.path.startswith("/_aws/execute-api/")
        or "/_user_request_" in request.path
        or ".execute-api." in request.host
        or ".lambda-url." in request.host
    )


def keep_form_bodies(chain, context, response) -> None:
    """A handler of LocalStack's gateway: the request reads the same bytes from a new stream,
    so what comes after is unchanged."""
    request = context.request
    if request.mimetype in FORM_TYPES and _to_api_or_function_url(request):
        body = request.stream.read()
        request.environ[AS_SENT] = body
        request.stream = io.BytesIO(body)


def body_as_sent(request) -> bytes:
    """The body of an event: the kept bytes of a form, any other body as werkzeug read it."""
    body = request.environ.get(AS_SENT)
    return restore_payload(request) if body is None else body


@hooks.on_infra_start()
def pass_form_bodies_as_sent() -> None:
    from localstack.aws import handlers

    handlers.preprocess_request.append(keep_form_bodies)
    # Replaced when LocalStack first imports API Gateway's execute-api handlers and Lambda's
    # function URL router (their providers, on first use or when state is loaded), not at start.
    seam.replace_on_import(seam.API_EVENT_BODY, lambda _restore_payload: body_as_sent)
    seam.replace_on_import(seam.FUNCTION_URL_EVENT_BODY, lambda _restore_payload: body_as_sent)
