"""DynamoDB item operations answered by moto's handler directly.

LocalStack calls moto through its HTTP dispatch (``call_moto``): moto's ``setup_class`` reads
the request again (its URL, its body as a form, the region, the access key), ``call_action``
adds a request id and a CRC32 to the answer, and botocore parses moto's JSON back into the
answer LocalStack serialises; two thirds of the CPU a GetItem spends in moto. moto's DynamoDB
actions read only the body, the account and the region (seam.py checks that no other
attribute is read), so for these operations the engine sets those on moto's ``DynamoHandler``
as ``setup_class`` would, calls the action under the request lock (dynamodb_requests.py) and
reads a plain answer as botocore's JSON parser does (``_reader``).

Anything else goes through moto's dispatch as before: a request moto reads otherwise (not one
JSON body: compressed, a form, a query string) from the start; an error (raised, or the
400 moto returns for a bad ``ReturnConsumedCapacity``) and an answer ``call_action`` would
rewrite are handed to moto's dispatch as the action gave them, without running it again. So
every answer and error is the one ``call_moto`` gives (tests/engine/direct_against_moto.py
compares them).
"""

import json
from collections.abc import Callable

from botocore.parsers import JSONParser
from localstack.aws.api import CommonServiceException, RequestContext
from localstack.aws.forwarder import dispatch_to_backend
from localstack.http import Response
from localstack.http.request import get_full_raw_path, get_raw_current_url
from localstack.services.moto import call_moto
from moto import settings as moto_settings
from moto.core.exceptions import RESTError
from moto.core.utils import utcnow
from moto.dynamodb.responses import DynamoHandler
from moto.iam.models import mark_account_as_visited
from werkzeug.http import http_date

from localstack_nodocker import dynamodb_requests

# Each operation's DynamoHandler action (call_action's camelcase_to_underscores of the name).
ACTIONS = {
    "GetItem": "get_item",
    "PutItem": "put_item",
    "UpdateItem": "update_item",
    "DeleteItem": "delete_item",
    "Query": "query",
    "Scan": "scan",
    "BatchGetItem": "batch_get_item",
    "TransactGetItems": "transact_get_items",
    "TransactWriteItems": "transact_write_items",
}
_JSON = "application/x-amz-json-1.0"
# moto checks no signature until INITIAL_NO_AUTH_ACTION_COUNT requests have been served; its
# default is never, which _handler requires (read at each call: moto can set it at runtime).
_NEVER = float("inf")


def answer(context: RequestContext) -> dict:
    """moto's answer to the request, as ``call_moto`` gives it."""
    handler = _handler(context)
    if handler is None:
        return call_moto(context)
    action = ACTIONS[context.operation.name]
    try:
        answered = dynamodb_requests.handled(handler, getattr(handler, action))
    except Exception as error:  # what moto's call_action makes of it, as for any request
        raised = error

        def answered_again():
            raise raised

        # moto's dispatch takes the request lock and runs _after again (its call_action is
        # locked_call_action): harmless, answered_again touches no data and _after only drops caches
        return _finished_by_moto(context, action, answered_again)
    # call_action rewrites a <RequestId> in any answer, and a tuple is moto's own 400
    if type(answered) is str and "<RequestId>" not in answered:
        try:
            # as botocore reads call_moto's UTF-8 bytes of it: moto's JSON is ASCII only
            # (dynamo_json_dump's ensure_ascii, a seam.py target), so even a lone surrogate is alike
            parsed = json.loads(answered)
        except ValueError:  # botocore reads it otherwise
            parsed = None
        if type(parsed) is dict:
            return _reader_of(context.operation)(parsed)
    return _finished_by_moto(context, action, lambda: answered)


def _handler(context: RequestContext) -> DynamoHandler | None:
    """moto's handler for the request, set up as ``setup_class`` sets what the actions read;
    None for a request moto reads otherwise than as one JSON body."""
    request = context.request
    headers = request.headers
    if (
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT != _NEVER
        or context.protocol != "json"  # what _PARSER parses (parse_response's parser per protocol)
        or request.mimetype != _JSON  # a form's body is not request.data
        or request.query_string  # moto takes the query string's Action first
        or "Content-Encoding" in headers
        or "host" not in headers  # which moto would add
    ):
        return None
    try:
        text = request.data.decode("utf-8")
        body = json.loads(text)
    except ValueError:  # moto fails on it as it will
        return None
    # moto also reads the body as a query string: one without '&' has no Action, no AWSAccessKeyId
    if not text.startswith("{") or "&" in text:
        return None
    handler = DynamoHandler()
    handler.body = body
    handler.headers = headers
    handler.querystring = {}
    handler.region = handler.get_region_from_url(request, _url(request))
    handler.current_account = handler.get_current_account()
    handler.response_headers = {"server": "amazon.com"}
    if "werkzeug" not in str(type(request)):
        handler.response_headers["date"] = http_date(utcnow())
    mark_account_as_visited(
        account_id=handler.current_account,
        access_key=handler.get_access_key(),
        service=handler.service_name,
        region=handler.region,
    )
    return handler


def _url(request) -> str:
    """The URL moto is given (localstack.services.moto.dispatch_to_moto)."""
    return get_raw_current_url(request.scheme, request.host, request.root_path, get_full_raw_path(request))


def _finished_by_moto(context: RequestContext, action: str, outcome: Callable) -> dict:
    """``call_moto``, with ``outcome`` in place of the action moto has already run."""
    handler = DynamoHandler()
    setattr(handler, action, outcome)

    def dispatch(context: RequestContext) -> Response:  # dispatch_to_moto, to this handler
        request = context.request
        try:
            status, headers, content = handler._dispatch(request, _url(request), request.headers)
        except RESTError as error:
            raise CommonServiceException(error.error_type, error.message, status_code=error.code) from error
        return Response(None if content == "" else content, status, headers)

    return dispatch_to_backend(context, dispatch)


# --- moto's JSON answer read as botocore's JSONParser reads it (LocalStack's parse_response) ---

_PARSER = JSONParser()


def _identity(value):
    return value


def _reader(shape, readers: dict) -> Callable:
    """A function reading JSON of ``shape`` as ``_PARSER._parse_shape`` does; one per shape name
    in ``readers`` (AttributeValue holds maps and lists of itself)."""
    if shape.name in readers:
        return readers[shape.name]
    kind = shape.type_name
    if kind == "structure" and not shape.is_document_type and not shape.is_tagged_union:
        members = []

        def read(value):
            if value is None:
                return None
            if type(value) is dict and len(value) == 1:  # an AttributeValue: its one member
                ((name, raw),) = value.items()
                member = by_json_name.get(name)
                if member is not None and raw is not None:
                    return {member[0]: member[1](raw)}
            parsed = {}
            for name, json_name, read_member in members:
                raw = value.get(json_name)
                if raw is not None:
                    parsed[name] = read_member(raw)
            return parsed

        readers[shape.name] = read
        for name, member in shape.members.items():
            members.append((name, member.serialization.get("name", name), _reader(member, readers)))
        by_json_name = {json_name: (name, read_member) for name, json_name, read_member in members}
        if len(by_json_name) < len(members):  # two members of one JSON name: only the loop is exact
            by_json_name = {}
    elif kind == "map":
        read_key, read_value = _reader(shape.key, readers), _reader(shape.value, readers)

        def read(value):
            return {read_key(key): read_value(item) for key, item in value.items()}

        readers[shape.name] = read
    elif kind == "list":
        read_item = _reader(shape.member, readers)

        def read(value):
            return [None if item is None else read_item(item) for item in value]

        readers[shape.name] = read
    elif kind == "blob":
        read = readers[shape.name] = _PARSER._blob_parser
    elif not hasattr(_PARSER, f"_handle_{kind}"):  # botocore's _default_handle
        read = readers[shape.name] = _identity
    else:

        def read(value):
            return _PARSER._parse_shape(shape, value)

        readers[shape.name] = read
    return read


# per service, API version and operation: not per operation model, as LocalStack loads a new
# service model for every context create_aws_request_context makes (PartiQL, a projected get)
_READERS: dict[tuple[str, str, str], Callable] = {}


def _reader_of(operation) -> Callable:
    """The reader of the operation's answer, from the output shape LocalStack parses it with
    (built whole before it is kept: two threads may build it at once)."""
    service = operation.service_model
    key = (service.service_name, service.api_version, operation.name)
    read = _READERS.get(key)
    if read is None:
        read = _READERS[key] = _reader(operation.output_shape, {})
    return read
