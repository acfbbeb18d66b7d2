"""The engine's base-table Query reads one partition: same answers as moto's whole-table walk."""

import os
import subprocess
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE_PYTHON = Path(os.environ.get("LOCALSTACK_INSTALL_DIR", ROOT / ".localstack")) / "venv" / "bin" / "python"

# Runs in the engine's interpreter: moto's own Table.query, before the provider patches it,
# against the patched one on seeded random tables and queries.
COMPARE = r'''
import random, sys
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.comparisons import get_filter_expression
from localstack_nodocker import dynamodb

dynamodb._compare_numbers_exactly()
moto_query = Table.query
dynamodb._query_reads_one_partition()
patched_query = Table.query
rng = random.Random(int(sys.argv[1]))
backend = DynamoDBBackend("us-east-1", "123456789012")

def number():
    return rng.choice([str(rng.randint(-50, 50)), f"{rng.randint(0, 20)}.{rng.randint(0, 99)}", "1e1", "10"])

def string():
    return "".join(rng.choice("ab") for _ in range(rng.randint(1, 4)))

value_of = {"N": number, "S": string}
compared = 0
for shape in range(12):
    hash_type, range_type = rng.choice("SN"), rng.choice(["S", "N", None])
    schema = [{"AttributeName": "h", "KeyType": "HASH"}] + (
        [{"AttributeName": "r", "KeyType": "RANGE"}] if range_type else [])
    attr = [{"AttributeName": "h", "AttributeType": hash_type}] + (
        [{"AttributeName": "r", "AttributeType": range_type}] if range_type else [])
    table = backend.create_table(f"t{shape}", schema, None, attr, None, None, None, "PAY_PER_REQUEST", None, [], False)
    hashes = [{hash_type: value_of[hash_type]()} for _ in range(rng.randint(1, 6))]
    for _ in range(rng.randint(0, 150)):
        item = {"h": rng.choice(hashes), "v": {"N": str(rng.randint(0, 9))}, "pad": {"S": "x" * rng.randint(0, 30)}}
        if range_type:
            item["r"] = {range_type: value_of[range_type]()}
        table.put_item(item)
    for _ in range(60):
        hash_key = DynamoType(rng.choice(hashes + [{hash_type: value_of[hash_type]()}]))
        comparison, objs = None, []
        if range_type and rng.random() < 0.7:
            comparison = rng.choice(["EQ", "LT", "LE", "GT", "GE", "BETWEEN"] + (["BEGINS_WITH"] * (range_type == "S")))
            objs = [DynamoType({range_type: value_of[range_type]()}) for _ in range(2 if comparison == "BETWEEN" else 1)]
            if comparison == "BETWEEN":
                objs.sort()
        limit = rng.choice([None, 1, 2, 5, 17])
        forward = rng.random() < 0.5
        start = None
        if rng.random() < 0.4:
            start = {"h": hash_key.to_json()}
            if range_type:
                start["r"] = {range_type: value_of[range_type]()}
        projection = [["v"]] if rng.random() < 0.2 else None
        filter_op = get_filter_expression("v > :v", None, {":v": {"N": "4"}}) if rng.random() < 0.3 else None
        pages = []
        for query in (moto_query, patched_query):
            items, scanned, last = query(table, hash_key, comparison, objs, limit, start, forward, projection,
                                         None, False, filter_op)
            pages.append(([item.to_json() for item in items], scanned, last and {
                name: value.to_json() if isinstance(value, DynamoType) else value for name, value in last.items()}))
        assert pages[0] == pages[1], (shape, hash_key, comparison, objs, limit, forward, start, pages)
        compared += 1
print(compared)
'''


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_base_table_query_answers_as_moto_does(seed):
    result = subprocess.run([str(ENGINE_PYTHON), "-c", COMPARE, str(seed)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout) == 12 * 60


def test_query_pages_a_partition_over_http(engine):
    """Through the engine: pages of one partition, both directions, beside another partition."""
    client = boto3.client("dynamodb")
    name = f"query-{os.urandom(4).hex()}"
    client.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "N"}])
    try:
        for partition in ("a", "b"):
            for first in range(0, 60, 25):
                client.batch_write_item(RequestItems={name: [
                    {"PutRequest": {"Item": {"pk": {"S": partition}, "sk": {"N": str(index)}}}}
                    for index in range(first, min(first + 25, 60))]})
        for forward in (True, False):
            pages = client.get_paginator("query").paginate(
                TableName=name, KeyConditionExpression="pk = :p AND sk BETWEEN :low AND :high",
                ExpressionAttributeValues={":p": {"S": "a"}, ":low": {"N": "10"}, ":high": {"N": "49"}},
                ScanIndexForward=forward, PaginationConfig={"PageSize": 7})
            keys = [int(item["sk"]["N"]) for page in pages for item in page["Items"]]
            assert keys == sorted(range(10, 50), reverse=not forward)
    finally:
        client.delete_table(TableName=name)
