"""The engine's Query reads one partition (of the table or an index): the answers of moto's whole-table walk."""

import os
import subprocess
from pathlib import Path

import boto3
import pytest

from tests.support.engine import ENGINE_PYTHON

# Run in the engine's interpreter: moto's own Query against the engine's (query_against_moto.py).
QUERY_AGAINST_MOTO = Path(__file__).with_name("query_against_moto.py")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_query_answers_as_moto_does(seed):
    result = subprocess.run(
        [str(ENGINE_PYTHON), str(QUERY_AGAINST_MOTO), str(seed)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    compared, paged = map(int, result.stdout.split())
    assert compared == 10 * 80  # query_against_moto.SHAPES * QUERIES_PER_SHAPE
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
