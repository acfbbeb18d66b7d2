"""DynamoDB item operations answered as DynamoDB answers them.

moto answers with what DynamoDB leaves out unless asked (LocalStack's recordings of AWS,
tests/aws/services/dynamodb): an empty ``Attributes`` for a write whose ``ReturnValues``
returns nothing, ``ConsumedCapacity`` for every UpdateItem, BatchWriteItem and BatchGetItem
(DynamoDB: only with ``ReturnConsumedCapacity`` TOTAL or INDEXES) and an empty
``ItemCollectionMetrics``. Its BatchWriteItem also writes every put before any delete (the
stream records come in another order than the request's), accepts a batch of more than 25
writes, an empty one and one naming an item twice, and words a key that does not match the
table's schema as PutItem would. Here BatchWriteItem is checked as DynamoDB checks it and
written in the request's order, under the engine's DynamoDB lock (dynamodb_requests.py). moto's
TransactGetItems ignores ProjectionExpression: those items are read again with it.
"""

import copy
import json

from localstack.aws.api import CommonServiceException, RequestContext
from localstack.aws.forwarder import create_aws_request_context
from localstack.services.moto import call_moto

from localstack_nodocker import dynamodb_direct
from localstack_nodocker.dynamodb_items import check_item, check_key
from localstack_nodocker.dynamodb_requests import REQUEST_LOCK
from localstack_nodocker.dynamodb_tables import ValidationException, backend, table_of

MAX_BATCH_WRITES = 25
# Not in LocalStack's recordings of AWS: a write that is neither a put nor a delete, or both.
_ONE_REQUEST = "A WriteRequest must contain exactly one of PutRequest or DeleteRequest"


def asked_for(request: dict, answer: dict) -> dict:
    """The answer without what the request did not ask for (or what is empty)."""
    if not answer.get("Attributes"):
        answer.pop("Attributes", None)
    if request.get("ReturnConsumedCapacity", "NONE") == "NONE":
        answer.pop("ConsumedCapacity", None)
    if request.get("ReturnItemCollectionMetrics", "NONE") == "NONE" or not answer.get("ItemCollectionMetrics"):
        answer.pop("ItemCollectionMetrics", None)
    return answer


def answered(context: RequestContext, request: dict) -> dict:
    """moto's answer to this request, as asked for."""
    return asked_for(request, dynamodb_direct.answer(context))


def put_item(context: RequestContext, request: dict) -> dict:
    """The item checked as every write checks it (dynamodb_items.py), then moto's answer."""
    check_item(table_of(context, request["TableName"]), request["Item"])
    return answered(context, request)


def sent_as(context: RequestContext, operation: str, request: dict) -> RequestContext:
    """``operation`` with ``request``, as the caller would send it (their headers: their account)."""
    local = create_aws_request_context("dynamodb", operation, parameters=request, region=context.region)
    headers = copy.deepcopy(context.request.headers)
    headers.update(local.request.headers)
    local.request.headers = headers
    return local


def call(context: RequestContext, operation: str, request: dict) -> dict:
    """moto's answer to ``operation`` with ``request``, sent as the caller's."""
    return call_moto(sent_as(context, operation, request))


def transact_get_items(context: RequestContext, request: dict) -> dict:
    """moto reads a transaction's items whole: those read with a ProjectionExpression are read
    again with it (GetItem), under the same hold of the lock, so all are of one moment."""
    gets = [action["Get"] for action in request["TransactItems"]]
    if not any("ProjectionExpression" in get for get in gets):
        return dynamodb_direct.answer(context)
    with REQUEST_LOCK:
        answer = dynamodb_direct.answer(context)
        for get, response in zip(gets, answer["Responses"]):
            if "ProjectionExpression" in get and "Item" in response:
                projected = {
                    name: get[name]
                    for name in ("TableName", "Key", "ProjectionExpression", "ExpressionAttributeNames")
                    if name in get
                }
                response["Item"] = call(context, "GetItem", projected).get("Item", {})
    return answer


def _capacity(request: dict, units: dict[str, float], kind: str | None = None) -> list[dict]:
    """ConsumedCapacity per table, as ReturnConsumedCapacity asks (TOTAL or INDEXES)."""
    consumed = []
    for table, used in units.items():
        entry = {"TableName": table, "CapacityUnits": used}
        if kind:
            entry[kind] = used
        if request.get("ReturnConsumedCapacity") == "INDEXES":
            entry["Table"] = {"CapacityUnits": used}
        consumed.append(entry)
    return consumed


def transact_write_items(context: RequestContext, request: dict) -> dict:
    # Every table and item checked before moto writes any (it cancelled the transaction with a
    # reason per action where DynamoDB refuses the request, or stored what it should refuse).
    for action in request["TransactItems"]:
        for kind, entry in action.items():
            table = table_of(context, entry["TableName"])
            if kind == "Put":
                check_item(table, entry["Item"])
            else:
                check_key(table, entry["Key"])
    answer = dynamodb_direct.answer(context)
    answer.pop("ItemCollectionMetrics", None)
    if request.get("ReturnConsumedCapacity", "NONE") == "NONE":
        answer.pop("ConsumedCapacity", None)
    else:  # a transactional write of an item up to 1 KB costs 2 write units
        units: dict[str, float] = {}
        for action in request["TransactItems"]:
            table = next(iter(action.values()))["TableName"]
            units[table] = units.get(table, 0.0) + 2.0
        answer["ConsumedCapacity"] = _capacity(request, units, "WriteCapacityUnits")
    return answer


def _moto_error(error) -> CommonServiceException:
    """moto's DynamoDB error as the service's (moto prefixes its codes with the API's namespace)."""
    return CommonServiceException(error.error_type.rpartition("#")[2], error.message, error.code, True)


def batch_write_item(context: RequestContext, request: dict) -> dict:
    from moto.core.exceptions import JsonRESTError

    # The items as sent, as moto stores them (binary values in base64; the parsed request has bytes).
    batches = json.loads(context.request.get_data())["RequestItems"]
    if sum(len(writes) for writes in batches.values()) > MAX_BATCH_WRITES:
        raise ValidationException("Too many items requested for the BatchWriteItem call")
    if any(not writes for writes in batches.values()):
        shown = ", ".join(f"{name}=[{'...' if writes else ''}]" for name, writes in batches.items())
        raise ValidationException(
            f"1 validation error detected: Value '{{{shown}}}' at 'requestItems' failed to satisfy constraint: Map "
            "value must satisfy constraint: [Member must have length less than or equal to 25, Member must have "
            "length greater than or equal to 1]"
        )
    with REQUEST_LOCK:
        # Every table and write checked before the first is written (dynamodb_items.py).
        planned = []
        for name, writes in batches.items():
            table, keys = table_of(context, name), set()
            for write in writes:
                put, delete = write.get("PutRequest"), write.get("DeleteRequest")
                if (put is None) == (delete is None):
                    raise ValidationException(_ONE_REQUEST)
                if put is not None:
                    attributes = put.get("Item")
                    key = check_item(table, attributes, schema_wording=True)
                else:
                    attributes = delete.get("Key")
                    key = check_key(table, attributes)
                if key in keys:
                    raise ValidationException("Provided list of item keys contains duplicates")
                keys.add(key)
                planned.append((name, attributes, put is not None))
        try:
            for name, attributes, put in planned:
                if put:
                    backend(context).put_item(name, attributes)
                else:
                    backend(context).delete_item(name, attributes)
        except JsonRESTError as error:
            raise _moto_error(error) from None
    answer = {"UnprocessedItems": {}}
    if request.get("ReturnConsumedCapacity", "NONE") != "NONE":  # a write of an item up to 1 KB: 1 unit
        units: dict[str, float] = {}
        for name, _, _ in planned:
            units[name] = units.get(name, 0.0) + 1.0
        answer["ConsumedCapacity"] = _capacity(request, units)
    return answer
