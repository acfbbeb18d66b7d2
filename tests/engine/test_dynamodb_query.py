"""The engine's Query reads one partition (of the table or an index): the answers of moto's whole-table walk."""

import os
import subprocess
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE_PYTHON = Path(os.environ.get("LOCALSTACK_INSTALL_DIR", ROOT / ".localstack")) / "venv" / "bin" / "python"

# Runs in the engine's interpreter: moto's own Table.query, before the provider patches it,
# against the patched one, on seeded random tables with a GSI and an LSI, with puts, updates
# (moving items between index partitions), deletes and transactions between the queries.
COMPARE = r"""
import random, sys
from decimal import Decimal
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import TransactionCanceledException
from localstack_nodocker import dynamodb

dynamodb._compare_numbers_exactly()
moto_query = Table.query
dynamodb._query_reads_one_partition()
dynamodb._index_writes()
DynamoDBBackend.transact_write_items = dynamodb.transact_write_items
patched_query = Table.query
paged = []  # index Queries answered from a sorted partition (O(log n + page)), not the whole one
index_page = dynamodb._index_page

def counted_index_page(*args):
    page = index_page(*args)
    if page is not None:
        paged.append(1)
    return page

dynamodb._index_page = counted_index_page
rng = random.Random(int(sys.argv[1]))
backend = DynamoDBBackend("us-east-1", "123456789012")

def number():  # written as DynamoDB stores it: moto would keep 10 and 1e1 as two keys that tie
    return format((Decimal(rng.randint(-3000, 3000)) / rng.choice([1, 100])).normalize(), "f")

def string():
    return "".join(rng.choice("ab") for _ in range(rng.randint(1, 3)))

value_of = {"N": number, "S": string}

def key_schema(hash_name, range_name):
    return [{"AttributeName": hash_name, "KeyType": "HASH"}] + (
        [{"AttributeName": range_name, "KeyType": "RANGE"}] if range_name else [])

compared = 0
for shape in range(10):
    types = {name: rng.choice("SN") for name in ("h", "r", "g", "gr", "lr")}
    has_range, gsi_range = rng.random() < 0.8, rng.random() < 0.6
    attr = [{"AttributeName": name, "AttributeType": kind} for name, kind in types.items()
            if has_range or name not in ("r", "lr")]
    projection = {"ProjectionType": "ALL"}
    gsis = [{"IndexName": "gsi", "KeySchema": key_schema("g", "gr" if gsi_range else None), "Projection": projection}]
    lsis = [{"IndexName": "lsi", "KeySchema": key_schema("h", "lr"), "Projection": projection}] if has_range else []
    name = f"t{shape}"
    table = backend.create_table(name, schema=key_schema("h", "r" if has_range else None), throughput=None,
                                 attr=attr, global_indexes=gsis, indexes=lsis, streams=None,
                                 billing_mode="PAY_PER_REQUEST", sse_specification=None, tags=[],
                                 deletion_protection_enabled=False, warm_throughput=None)
    pools = {name: [{kind: value_of[kind]()} for _ in range(rng.randint(1, 4))] for name, kind in types.items()}

    def random_item():
        item = {"h": rng.choice(pools["h"]), "v": {"N": str(rng.randint(0, 9))}}
        if has_range:
            item["r"] = {types["r"]: value_of[types["r"]]()}
        for name in ("g", "gr", "lr"):
            if rng.random() < 0.85 and (has_range or name != "lr"):
                item[name] = rng.choice(pools[name])
        return item

    def key_of(item):
        return {name: item[name] for name in ("h", "r") if name in item}

    def buckets_hold_exactly_the_stored_items():
        for attribute, buckets in dynamodb._INDEX_PARTITIONS.get(table, {}).values():
            held = {(value, key): item for value, bucket in buckets.items() for key, item in bucket.items()}
            stored = {(item.attrs[attribute], (item.hash_key, item.range_key)): item
                      for item in Table.all_items(table) if attribute in item.attrs}
            assert held.keys() == stored.keys() and all(held[key] is stored[key] for key in held), (held, stored)

    def write():
        one_write()
        buckets_hold_exactly_the_stored_items()

    def one_write():
        existing = [item.to_json()["Attributes"] for item in Table.all_items(table)]
        action = rng.choice(["put", "put", "update", "delete", "transaction"]) if existing else "put"
        if action == "put":
            backend.put_item(name, random_item())
        elif action == "update":
            target = key_of(rng.choice(existing))
            if rng.random() < 0.3:
                backend.update_item(name, target, "REMOVE g", None, None)
            else:
                backend.update_item(name, target, "SET g = :g, v = :v", None,
                                    {":g": rng.choice(pools["g"]), ":v": {"N": str(rng.randint(0, 9))}})
        elif action == "delete":
            backend.delete_item(name, key_of(rng.choice(existing)))
        else:  # a Put and an Update, cancelled or not by the check
            check = {"TableName": name, "Key": key_of(rng.choice(existing)),
                     "ConditionExpression": rng.choice(["attribute_exists(h)", "attribute_not_exists(h)"])}
            target, new = rng.choice(existing), random_item()
            actions = [{"Put": {"TableName": name, "Item": new}}, {"ConditionCheck": check}]
            if key_of(target) not in (key_of(new), check["Key"]):
                actions.append({"Update": {"TableName": name, "Key": key_of(target), "UpdateExpression": "SET g = :g",
                                           "ExpressionAttributeValues": {":g": rng.choice(pools["g"])}}})
            if key_of(new) == check["Key"]:
                actions.pop(1)
            try:
                backend.transact_write_items(actions)
            except TransactionCanceledException:
                pass

    for _ in range(rng.randint(0, 80)):
        write()
    for _ in range(80):
        if rng.random() < 0.5:
            write()
        index_name = rng.choice([None, "gsi"] + (["lsi"] if has_range else []))
        hash_name, range_name = {None: ("h", "r" if has_range else None), "gsi": ("g", "gr" if gsi_range else None),
                                 "lsi": ("h", "lr")}[index_name]
        hash_key = DynamoType(rng.choice(pools[hash_name] + [{types[hash_name]: value_of[types[hash_name]]()}]))
        comparison, objs = None, []
        if range_name and rng.random() < 0.7:
            kind = types[range_name]
            comparison = rng.choice(["EQ", "LT", "LE", "GT", "GE", "BETWEEN"] + (["BEGINS_WITH"] * (kind == "S")))
            objs = sorted(DynamoType({kind: value_of[kind]()}) for _ in range(2 if comparison == "BETWEEN" else 1))
        limit = rng.choice([None, 1, 2, 5, 17])
        forward = rng.random() < 0.5
        start = None
        stored = [item for item in Table.all_items(table) if all(
            name in item.attrs for name in ("h", "r", hash_name, range_name) if name and (has_range or name != "r"))]
        if stored and rng.random() < 0.5:
            chosen = rng.choice(stored)
            start = {name: chosen.attrs[name].to_json() for name in ("h", "r", hash_name, range_name)
                     if name and name in chosen.attrs}
        projection = [["v"]] if rng.random() < 0.2 else None
        # no FilterExpression reaches Table.query as OpDefault from the engine, None when called directly
        filter_op = (get_filter_expression("v > :v", None, {":v": {"N": "4"}}) if rng.random() < 0.3
                     else rng.choice([None, get_filter_expression(None, None, None)]))
        answers = []
        for query in (moto_query, patched_query):
            try:
                items, scanned, last = query(table, hash_key, comparison, objs, limit, start, forward, projection,
                                             index_name, False, filter_op)
            except Exception as error:  # moto refuses some shapes: both paths must refuse alike
                answers.append(repr(error))
                continue
            answers.append(([item.to_json() for item in items], scanned, last and {
                name: value.to_json() if isinstance(value, DynamoType) else value for name, value in last.items()}))
        assert answers[0] == answers[1], (shape, index_name, hash_key, comparison, objs, limit, forward, start, answers)
        compared += 1
print(compared, len(paged))
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_query_answers_as_moto_does(seed):
    result = subprocess.run(
        [str(ENGINE_PYTHON), "-c", COMPARE, str(seed)], capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    compared, paged = map(int, result.stdout.split())
    assert compared == 10 * 80
    assert paged > 20  # the sorted-partition path answered its share of them


def test_query_pages_a_partition_over_http(engine):
    """Through the engine: pages of one partition, both directions, beside another partition."""
    client = boto3.client("dynamodb")
    name = f"query-{os.urandom(4).hex()}"
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
    )
    try:
        for partition in ("a", "b"):
            for first in range(0, 60, 25):
                client.batch_write_item(
                    RequestItems={
                        name: [
                            {"PutRequest": {"Item": {"pk": {"S": partition}, "sk": {"N": str(index)}}}}
                            for index in range(first, min(first + 25, 60))
                        ]
                    }
                )
        for forward in (True, False):
            pages = client.get_paginator("query").paginate(
                TableName=name,
                KeyConditionExpression="pk = :p AND sk BETWEEN :low AND :high",
                ExpressionAttributeValues={":p": {"S": "a"}, ":low": {"N": "10"}, ":high": {"N": "49"}},
                ScanIndexForward=forward,
                PaginationConfig={"PageSize": 7},
            )
            keys = [int(item["sk"]["N"]) for page in pages for item in page["Items"]]
            assert keys == sorted(range(10, 50), reverse=not forward)
    finally:
        client.delete_table(TableName=name)


def test_index_query_follows_writes_over_http(engine):
    """An index Query after puts, an update that moves an item to another index partition,
    a delete, a cancelled and a committed transaction, and an index replaced by UpdateTable."""
    client = boto3.client("dynamodb")
    name = f"query-{os.urandom(4).hex()}"
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "bucket", "AttributeType": "S"},
            {"AttributeName": "at", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byBucket",
                "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [
                    {"AttributeName": "bucket", "KeyType": "HASH"},
                    {"AttributeName": "at", "KeyType": "RANGE"},
                ],
            }
        ],
    )

    def bucket(value: str, index: str = "byBucket", key: str = "bucket") -> list[str]:
        pages = client.get_paginator("query").paginate(
            TableName=name,
            IndexName=index,
            KeyConditionExpression="#k = :v",
            ExpressionAttributeNames={"#k": key},
            ExpressionAttributeValues={":v": {"S": value}},
            PaginationConfig={"PageSize": 3},
        )
        return [item["id"]["S"] for page in pages for item in page["Items"]]

    try:
        for index in range(8):
            client.put_item(
                TableName=name,
                Item={
                    "id": {"S": f"i{index}"},
                    "bucket": {"S": f"b{index % 2}"},
                    "at": {"N": str(index)},
                    "kind": {"S": "k"},
                },
            )
        assert bucket("b0") == ["i0", "i2", "i4", "i6"]
        client.update_item(
            TableName=name,
            Key={"id": {"S": "i2"}},
            UpdateExpression="SET #b = :b",
            ExpressionAttributeNames={"#b": "bucket"},
            ExpressionAttributeValues={":b": {"S": "b1"}},
        )
        client.delete_item(TableName=name, Key={"id": {"S": "i4"}})
        with pytest.raises(client.exceptions.TransactionCanceledException):
            client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": name, "Item": {"id": {"S": "i6"}, "bucket": {"S": "b1"}, "at": {"N": "6"}}}},
                    {
                        "ConditionCheck": {
                            "TableName": name,
                            "Key": {"id": {"S": "none"}},
                            "ConditionExpression": "attribute_exists(id)",
                        }
                    },
                ]
            )
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": {"id": {"S": "i9"}, "bucket": {"S": "b0"}, "at": {"N": "-1"}}}},
                {"Delete": {"TableName": name, "Key": {"id": {"S": "i7"}}}},
            ]
        )
        assert bucket("b0") == ["i9", "i0", "i6"]
        assert bucket("b1") == ["i1", "i2", "i3", "i5"]
        # The index replaced by one of the same name on another key: nothing of the old one is kept.
        client.update_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "kind", "AttributeType": "S"}],
            GlobalSecondaryIndexUpdates=[
                {"Delete": {"IndexName": "byBucket"}},
                {
                    "Create": {
                        "IndexName": "byBucket",
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                        "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                    }
                },
            ],
        )
        assert sorted(bucket("k", key="kind")) == ["i0", "i1", "i2", "i3", "i5", "i6"]
    finally:
        client.delete_table(TableName=name)
