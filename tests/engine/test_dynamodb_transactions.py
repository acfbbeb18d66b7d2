"""TransactWriteItems on the engine: a cancelled transaction undoes its own writes and nothing else."""

import threading
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError


def create_keyed_table(dynamodb, stream: bool = False) -> str:
    """A table keyed pk (S) + sk (N), with a stream of both images if `stream`."""
    name = f"tx-{uuid.uuid4().hex[:8]}"
    extra = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}} if stream else {}
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        **extra,
    )
    return name


@pytest.fixture
def dynamodb(engine):
    client = boto3.client("dynamodb")
    created = []

    def create(stream: bool = False) -> str:
        created.append(create_keyed_table(client, stream))
        return created[-1]

    yield client, create
    for name in created:
        client.delete_table(TableName=name)


def _key(pk: str, sk: int) -> dict:
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}}


def _sort_keys(client, table: str, pk: str) -> set[int]:
    pages = client.get_paginator("query").paginate(
        TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": pk}}
    )
    return {int(item["sk"]["N"]) for page in pages for item in page["Items"]}


def _cancelled_transaction(client, table: str, marker: str) -> None:
    """A Put that succeeds, then a ConditionCheck that fails: the Put must be undone."""
    with pytest.raises(ClientError) as raised:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {**_key("tx", 1), "marker": {"S": marker}}}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": _key("absent", 0),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"


def test_cancelled_transactions_lose_no_concurrent_write_to_another_table(dynamodb):
    client, create = dynamodb
    transacted, written = create(), create()
    # Items elsewhere in the account made moto's copy of all tables slow: writes acknowledged
    # while a transaction ran were then undone by its cancellation.
    for first in range(0, 1500, 25):
        client.batch_write_item(
            RequestItems={
                written: [{"PutRequest": {"Item": _key("seed", index)}} for index in range(first, first + 25)]
            }
        )
    acknowledged, stop = [], threading.Event()

    def writer():
        writes = boto3.client("dynamodb")
        while not stop.is_set():
            index = len(acknowledged)
            writes.put_item(TableName=written, Item=_key("w", index))
            acknowledged.append(index)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for attempt in range(20):
            _cancelled_transaction(client, transacted, str(attempt))
    finally:
        stop.set()
        thread.join()
    assert acknowledged and _sort_keys(client, written, "w") == set(acknowledged)
    assert _sort_keys(client, written, "seed") == set(range(1500))
    assert client.scan(TableName=transacted)["Count"] == 0


def test_a_cancelled_transaction_restores_exactly_its_own_items(dynamodb):
    client, create = dynamodb
    table, other = create(stream=True), create()
    for sk in range(3):
        client.put_item(TableName=table, Item={**_key("p", sk), "n": {"N": str(sk)}, "tag": {"SS": ["a", "b"]}})
    client.put_item(TableName=other, Item={**_key("o", 0), "v": {"S": "before"}})
    before = client.scan(TableName=table, ConsistentRead=True)["Items"]
    stream_arn = client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    records_before = _records(streams, stream_arn, shard)

    with pytest.raises(ClientError) as raised:
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": _key("p", 0),
                        "UpdateExpression": "SET n = n + :one ADD tag :c",
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":c": {"SS": ["c"]}},
                    }
                },
                {"Put": {"TableName": table, "Item": {**_key("p", 9), "n": {"N": "9"}}}},
                {"Delete": {"TableName": table, "Key": _key("p", 2)}},
                {
                    "Put": {
                        "TableName": other,
                        "Item": {**_key("o", 0), "v": {"S": "after"}},
                        "ConditionExpression": "v = :never",
                        "ExpressionAttributeValues": {":never": {"S": "x"}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
                {
                    "Update": {
                        "TableName": other,
                        "Key": _key("o", 1),
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"S": "new"}},
                    }
                },
            ]
        )
    reasons = raised.value.response["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None", "None", "None", "ConditionalCheckFailed", "None"]
    assert reasons[3]["Item"] == {**_key("o", 0), "v": {"S": "before"}}

    assert client.scan(TableName=table, ConsistentRead=True)["Items"] == before
    assert client.scan(TableName=other, ConsistentRead=True)["Items"] == [{**_key("o", 0), "v": {"S": "before"}}]
    assert _records(streams, stream_arn, shard) == records_before  # no record of a cancelled write

    # The same writes without the failing check commit, with their stream records in order.
    client.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": table,
                    "Key": _key("p", 0),
                    "UpdateExpression": "SET n = n + :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
            {"Put": {"TableName": table, "Item": {**_key("p", 9), "n": {"N": "9"}}}},
            {"Delete": {"TableName": table, "Key": _key("p", 2)}},
        ]
    )
    items = client.scan(TableName=table, ConsistentRead=True)["Items"]
    assert sorted((item["sk"]["N"], item["n"]["N"]) for item in items) == [("0", "1"), ("1", "1"), ("9", "9")]
    new = _records(streams, stream_arn, shard)[len(records_before) :]
    assert [(record["eventName"], record["dynamodb"]["Keys"]["sk"]["N"]) for record in new] == [
        ("MODIFY", "0"),
        ("INSERT", "9"),
        ("REMOVE", "2"),
    ]


def _records(streams, arn: str, shard: str) -> list[dict]:
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
