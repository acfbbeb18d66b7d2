"""Run in the engine's interpreter by test_dynamodb_direct.py: ``python direct_against_moto.py``.

The same requests through moto's HTTP dispatch (``call_moto``, account A) and through its
handler directly (dynamodb_direct.py, account B, the same data): answers and errors must be
equal, value for value and type for type (bytes stay bytes, floats floats). Prints, as JSON,
how many requests were compared, how each was answered (the direct path's answer, finished by
moto's dispatch, handed to call_moto) and how many were errors, and how a GetItem and a PutItem
sent through the provider's skeleton (parsed and serialised as the gateway does) were answered.
"""

import json
import re
import sys

from localstack.aws.api import CommonServiceException
from localstack.aws.forwarder import create_aws_request_context
from localstack.services.moto import call_moto

from localstack_nodocker import dynamodb, dynamodb_direct

OLD, NEW = "111111111111", "222222222222"
REQUEST_ID = re.compile(r"<RequestId>.*?</RequestId>")
HASH = "direct-hash"
RANGED = "direct-ranged"
NESTED = {
    "M": {
        "blob": {"B": b"\x00\xffnested"},
        "blobs": {"BS": [b"\x01", b"\x02\x03"]},
        "list": {"L": [{"B": b"in a list"}, {"M": {"deep": {"B": b"\xfe"}}}, {"N": "1.50"}, {"NULL": True}]},
        "flag": {"BOOL": False},
        "strings": {"SS": ["a", "b"]},
        "numbers": {"NS": ["1", "2.5"]},
    }
}


def context(account: str, operation: str, request: dict):
    local = create_aws_request_context("dynamodb", operation, parameters=request, region="eu-west-1")
    local.request.headers.add("x-moto-account-id", account)
    local.account_id = account
    return local


def outcome(call, account: str, operation: str, request: dict):
    """The answer, or the error as what LocalStack serialises of it (its attributes too)."""
    try:
        return "answer", call(context(account, operation, request))
    except CommonServiceException as error:
        fields = {name: value for name, value in vars(error).items() if not name.startswith("__")}
        return "error", type(error).__name__, str(error), error.code, error.status_code, error.sender_fault, fields
    except Exception as error:  # what LocalStack answers 500 for
        return "raised", type(error).__name__, str(error)


def normalized(value):
    """Without what differs between the two runs: the account, the request id moto writes into
    a ``<RequestId>`` of any answer (a moto quirk both paths keep)."""
    if isinstance(value, str):
        return REQUEST_ID.sub("<RequestId>-</RequestId>", value.replace(OLD, "<account>").replace(NEW, "<account>"))
    if isinstance(value, dict):
        return {normalized(key): normalized(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(normalized(item) for item in value)
    return value


def same(old, new) -> bool:
    """Equal, with the same types throughout (True == 1 and 1 == 1.0 would pass otherwise)."""
    if type(old) is not type(new):
        return False
    if isinstance(old, dict):
        return list(old) == list(new) and all(same(old[key], new[key]) for key in old)
    if isinstance(old, (list, tuple)):
        return len(old) == len(new) and all(same(a, b) for a, b in zip(old, new, strict=True))
    return old == new


def requests():
    """(operation, request): writes, reads, and the errors of each kind."""
    ranged_key = {"pk": {"B": b"\x00part"}, "sk": {"N": "1"}}
    yield (
        "CreateTable",
        {
            "TableName": HASH,
            "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    yield (
        "CreateTable",
        {
            "TableName": RANGED,
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "B"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    item = {"k": {"S": "one"}, "b": {"B": b"\x00\x01"}, "bs": {"BS": [b"x", b"\xff"]}, "n": NESTED, "c": {"N": "1"}}
    yield "PutItem", {"TableName": HASH, "Item": item}
    yield "PutItem", {"TableName": HASH, "Item": {**item, "c": {"N": "2"}}, "ReturnValues": "ALL_OLD"}
    yield "PutItem", {"TableName": HASH, "Item": item, "ReturnConsumedCapacity": "INDEXES"}
    yield "PutItem", {"TableName": HASH, "Item": {"k": {"S": "two"}, "t": {"S": "<RequestId>kept?</RequestId>"}}}
    yield "PutItem", {"TableName": HASH, "Item": {"k": {"S": "three"}, "t": {"S": "a & b, Action=DeleteItem"}}}
    yield "PutItem", {"TableName": HASH, "Item": item, "ReturnValues": "ALL_NEW"}  # not for PutItem
    yield "PutItem", {"TableName": HASH, "Item": {"k": {"S": ""}}}
    yield "PutItem", {"TableName": "missing", "Item": item}
    yield (
        "PutItem",
        {
            "TableName": HASH,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(k)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
    )
    yield "PutItem", {"TableName": HASH, "Item": item, "ConditionExpression": "c = :c", "ExpressionAttributeValues": {}}
    for sk in range(1, 5):
        yield "PutItem", {"TableName": RANGED, "Item": {**ranged_key, "sk": {"N": str(sk)}, "v": NESTED}}
    for key in ({"k": {"S": "one"}}, {"k": {"S": "two"}}, {"k": {"S": "absent"}}):
        yield "GetItem", {"TableName": HASH, "Key": key}
    yield "GetItem", {"TableName": HASH, "Key": {"k": {"S": "one"}}, "ReturnConsumedCapacity": "TOTAL"}
    yield "GetItem", {"TableName": HASH, "Key": {"k": {"S": "one"}}, "ReturnConsumedCapacity": "NOT-A-VALUE"}
    yield (
        "GetItem",
        {
            "TableName": HASH,
            "Key": {"k": {"S": "one"}},
            "ProjectionExpression": "#n.blob, #n.list[1], bs",
            "ExpressionAttributeNames": {"#n": "n"},
        },
    )
    yield "GetItem", {"TableName": HASH, "Key": {"k": {"S": "one"}}, "ProjectionExpression": "b, b"}
    yield "GetItem", {"TableName": HASH, "Key": {"k": {"S": "one"}}, "ExpressionAttributeNames": {"#n": "n"}}
    yield "GetItem", {"TableName": HASH, "Key": {"nokey": {"S": "one"}}}
    yield "GetItem", {"TableName": HASH, "Key": {"k": {"S": ""}}}
    yield "GetItem", {"TableName": "missing", "Key": {"k": {"S": "one"}}}
    yield "GetItem", {"TableName": HASH}  # moto fails on it (a 500)
    yield "GetItem", {"TableName": RANGED, "Key": {**ranged_key, "sk": {"N": "2"}}}
    for returned in ("NONE", "ALL_OLD", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW", "WRONG"):
        yield (
            "UpdateItem",
            {
                "TableName": HASH,
                "Key": {"k": {"S": "one"}},
                "UpdateExpression": "SET c = c + :one, #n.#b = :blob ADD bs :more",
                "ExpressionAttributeNames": {"#n": "n", "#b": "blob"},
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":blob": {"B": b"\x07"}, ":more": {"BS": [b"\x08"]}},
                "ReturnValues": returned,
            },
        )
    yield (
        "UpdateItem",
        {
            "TableName": HASH,
            "Key": {"k": {"S": "one"}},
            "UpdateExpression": "SET c = :c",
            "ConditionExpression": "c = :never",
            "ExpressionAttributeValues": {":c": {"N": "0"}, ":never": {"N": "-1"}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
    )
    yield "UpdateItem", {"TableName": HASH, "Key": {"k": {"S": "one"}}, "UpdateExpression": "SET c = :unused"}
    yield "UpdateItem", {"TableName": HASH, "Key": {"k": {"S": "new"}}, "UpdateExpression": "SET x = :x",
                         "ExpressionAttributeValues": {":x": {"B": b"\x10"}}, "ReturnValues": "ALL_NEW"}  # fmt: skip
    yield (
        "Query",
        {
            "TableName": RANGED,
            "KeyConditionExpression": "pk = :pk AND sk > :sk",
            "ExpressionAttributeValues": {":pk": {"B": b"\x00part"}, ":sk": {"N": "1"}},
            "Limit": 2,
            "ReturnConsumedCapacity": "TOTAL",
        },
    )
    yield (
        "Query",
        {
            "TableName": RANGED,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"B": b"\x00part"}},
            "ExclusiveStartKey": {**ranged_key, "sk": {"N": "2"}},
            "ScanIndexForward": False,
        },
    )
    yield "Query", {"TableName": RANGED, "KeyConditionExpression": "nope = :pk",
                    "ExpressionAttributeValues": {":pk": {"B": b"\x00"}}}  # fmt: skip
    yield "Scan", {"TableName": HASH}
    yield "Scan", {"TableName": RANGED, "Limit": 1, "FilterExpression": "sk > :s",
                   "ExpressionAttributeValues": {":s": {"N": "1"}}}  # fmt: skip
    yield (
        "BatchGetItem",
        {
            "RequestItems": {
                HASH: {"Keys": [{"k": {"S": "one"}}, {"k": {"S": "absent"}}], "ProjectionExpression": "b, n"},
                RANGED: {"Keys": [{**ranged_key, "sk": {"N": "3"}}]},
            },
            "ReturnConsumedCapacity": "TOTAL",
        },
    )
    yield (
        "BatchGetItem",
        {
            "RequestItems": {RANGED: {"Keys": [{**ranged_key, "sk": {"N": str(sk)}} for sk in (1, 3, 9)]}},
        },
    )
    yield "BatchGetItem", {"RequestItems": {"missing": {"Keys": [{"k": {"S": "one"}}]}}}
    yield (
        "TransactGetItems",
        {
            "TransactItems": [
                {"Get": {"TableName": HASH, "Key": {"k": {"S": "one"}}}},
                {"Get": {"TableName": RANGED, "Key": {**ranged_key, "sk": {"N": "4"}}}},
            ],
            "ReturnConsumedCapacity": "INDEXES",
        },
    )
    yield (
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": HASH, "Item": {"k": {"S": "t1"}, "b": {"B": b"\x09"}}}},
                {"Update": {"TableName": HASH, "Key": {"k": {"S": "one"}}, "UpdateExpression": "REMOVE bs"}},
            ]
        },
    )
    yield (
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": HASH, "Item": {"k": {"S": "t2"}}}},
                {
                    "ConditionCheck": {
                        "TableName": HASH,
                        "Key": {"k": {"S": "one"}},
                        "ConditionExpression": "attribute_not_exists(k)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        },
    )
    yield (
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": HASH, "Item": {"k": {"S": "t3"}}}},
                {
                    "ConditionCheck": {
                        "TableName": HASH,
                        "Key": {"k": {"S": "three"}},
                        "ConditionExpression": "attribute_not_exists(k)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        },
    )
    for key in ({"k": {"S": "t1"}}, {"k": {"S": "t2"}}, {"k": {"S": "t3"}}, {"k": {"S": "one"}}):
        yield "GetItem", {"TableName": HASH, "Key": key}
    yield "DeleteItem", {"TableName": HASH, "Key": {"k": {"S": "one"}}, "ConditionExpression": "c = :c",
                         "ExpressionAttributeValues": {":c": {"N": "0"}}, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}  # fmt: skip
    yield "DeleteItem", {"TableName": HASH, "Key": {"k": {"S": "three"}}, "ConditionExpression": "attribute_not_exists(k)",
                         "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}  # fmt: skip
    yield "DeleteItem", {"TableName": HASH, "Key": {"k": {"S": "one"}}, "ReturnValues": "ALL_OLD"}
    yield "DeleteItem", {"TableName": HASH, "Key": {"k": {"S": "one"}}, "ReturnValues": "ALL_OLD"}
    yield "DeleteItem", {"TableName": HASH, "Key": {"k": {"S": "two"}}, "ReturnValues": "UPDATED_NEW"}
    yield "DeleteItem", {"TableName": HASH, "Key": {"other": {"S": "two"}}}
    yield "DeleteItem", {"TableName": "missing", "Key": {"k": {"S": "two"}}}
    yield "Scan", {"TableName": HASH, "ReturnConsumedCapacity": "TOTAL"}


def watch_answers() -> list[str]:
    """How dynamodb_direct.answer finishes each answer from now on, one entry per hand-over:
    "finished by moto" (its dispatch, given the action's outcome) or "call_moto" (not read
    directly); an answer with no entry skipped moto's dispatch."""
    taken = []
    finish, fall_back = dynamodb_direct._finished_by_moto, dynamodb_direct.call_moto

    def finished_by_moto(*arguments):
        taken.append("finished by moto")
        return finish(*arguments)

    def called_moto(context):
        taken.append("call_moto")
        return fall_back(context)

    dynamodb_direct._finished_by_moto, dynamodb_direct.call_moto = finished_by_moto, called_moto
    return taken


def main() -> int:
    service = dynamodb.dynamodb_moto.factory().create_service()  # moto patched as the engine patches it
    taken = watch_answers()
    counts = {"compared": 0, "direct": 0, "finished by moto": 0, "call_moto": 0, "errors": 0}
    for operation, request in requests():
        if operation not in dynamodb_direct.ACTIONS:
            for account in (OLD, NEW):
                call_moto(context(account, operation, request))
            continue
        old = outcome(call_moto, OLD, operation, request)
        taken.clear()
        new = outcome(dynamodb_direct.answer, NEW, operation, request)
        if not same(normalized(old), normalized(new)):
            print(f"{operation} {request}:\n  moto:   {old}\n  direct: {new}", file=sys.stderr)
            return 1
        if len(taken) > 1 or (not taken and new[0] != "answer"):
            print(f"{operation} {request}: {new[0]} after {taken}", file=sys.stderr)
            return 1
        counts["compared"] += 1
        counts[taken[0] if taken else "direct"] += 1
        counts["errors"] += new[0] != "answer"
    # through the provider: the request parsed, the provider's operation, its answer serialised
    counts["through the provider"] = {}
    for operation, request in (
        ("PutItem", {"TableName": HASH, "Item": {"k": {"S": "served"}, "b": {"B": b"\x00"}}}),
        ("GetItem", {"TableName": HASH, "Key": {"k": {"S": "served"}}}),
    ):
        taken.clear()
        response = service.skeleton.invoke(context(NEW, operation, request))
        served = response.status_code, json.loads(response.data).get("Item")
        counts["through the provider"][operation] = [*served, taken[0] if taken else "direct"]
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
