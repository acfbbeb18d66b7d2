"""DynamoDB from moto behaves like DynamoDB where the stack depends on it."""

import time
import uuid

import boto3
import pytest


@pytest.fixture
def table(engine):
    dynamodb = boto3.client("dynamodb")
    name = f"exact-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "Level", "KeyType": "HASH"}, {"AttributeName": "Timestamp", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "Level", "AttributeType": "S"},
            {"AttributeName": "Timestamp", "AttributeType": "N"},
        ],
    )
    yield dynamodb, name
    dynamodb.delete_table(TableName=name)


def test_sort_keys_that_differ_past_float_precision_stay_distinct_and_ordered(table):
    dynamodb, name = table
    millisecond = int(time.time() * 1000)
    keys = [f"{millisecond}.{123456789:09d}{index:06d}" for index in range(30)]  # equal as floats
    for key in keys:
        dynamodb.put_item(TableName=name, Item={"Level": {"S": "INFO"}, "Timestamp": {"N": key}})
    scanned, start = [], {}
    for _ in range(10):  # 30 items in pages of 7: 5 pages; a loop would exceed this
        page = dynamodb.scan(TableName=name, Limit=7, **start)
        scanned += [item["Timestamp"]["N"] for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
    assert sorted(scanned) == keys
    newest = dynamodb.query(
        TableName=name,
        KeyConditionExpression="#l = :l",
        ExpressionAttributeNames={"#l": "Level"},
        ExpressionAttributeValues={":l": {"S": "INFO"}},
        ScanIndexForward=False,
        Limit=3,
    )["Items"]
    assert [item["Timestamp"]["N"] for item in newest] == keys[::-1][:3]
