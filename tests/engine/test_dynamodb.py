"""DynamoDB from moto behaves like DynamoDB where the stack depends on it, and answers as
DynamoDB answers (LocalStack's recordings of AWS, `make conformance`)."""

import re
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.second_engine import client as second_client
from tests.support.second_engine import second_engine_at, started

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
KEY = {"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}
PK = {"AttributeName": "pk", "AttributeType": "S"}


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


@pytest.fixture
def dynamodb(engine):
    """A client that sends what it is given (no client-side checks, no retries), and a maker of
    tables (pk, a string) deleted afterwards."""
    client = boto3.client("dynamodb", config=Config(parameter_validation=False, retries={"total_max_attempts": 1}))
    made = []

    def create(**options) -> dict:
        name = options.pop("TableName", f"answers-{uuid.uuid4().hex[:8]}")
        options.setdefault("AttributeDefinitions", [PK])
        options.setdefault("KeySchema", KEY["KeySchema"])
        if "ProvisionedThroughput" not in options:
            options.setdefault("BillingMode", "PAY_PER_REQUEST")
        made.append(name)
        return client.create_table(TableName=name, **options)["TableDescription"]

    yield client, create
    for name in made:
        try:
            client.delete_table(TableName=name)
        except client.exceptions.ResourceNotFoundException:
            pass


def refusal(call, **request) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        call(**request)
    error = raised.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"]["Message"]


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


# --- table descriptions -------------------------------------------------------------------------


def test_a_table_has_one_table_id_in_every_answer_and_the_same_name_made_again_another(dynamodb):
    client, create = dynamodb
    created = create()
    name, table_id = created["TableName"], created["TableId"]
    assert UUID.match(table_id)
    assert client.describe_table(TableName=name)["Table"]["TableId"] == table_id
    assert (
        client.update_table(TableName=name, DeletionProtectionEnabled=False)["TableDescription"]["TableId"] == table_id
    )
    assert client.delete_table(TableName=name)["TableDescription"]["TableId"] == table_id

    assert create(TableName=name)["TableId"] not in (table_id, None)


def test_descriptions_hold_what_dynamodb_gives_and_nothing_it_leaves_out(dynamodb):
    client, create = dynamodb
    index = {"IndexName": "by-sk", "KeySchema": [{"AttributeName": "sk", "KeyType": "HASH"}]}
    created = create(
        AttributeDefinitions=[PK, {"AttributeName": "sk", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        GlobalSecondaryIndexes=[
            {
                **index,
                "Projection": {"ProjectionType": "ALL"},
                "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
            }
        ],
    )
    name, arn = created["TableName"], created["TableArn"]
    # provisioned: no billing summary; no empty list of local indexes; warm throughput only once active
    assert {"BillingModeSummary", "LocalSecondaryIndexes", "WarmThroughput"}.isdisjoint(created)
    (created_index,) = created["GlobalSecondaryIndexes"]
    assert "WarmThroughput" not in created_index
    assert created_index["IndexArn"] == f"{arn}/index/by-sk"
    assert (created_index["IndexSizeBytes"], created_index["ItemCount"]) == (0, 0)
    assert created_index["ProvisionedThroughput"] == {
        "NumberOfDecreasesToday": 0,
        "ReadCapacityUnits": 1,
        "WriteCapacityUnits": 1,
    }

    described = client.describe_table(TableName=name)["Table"]
    assert described["WarmThroughput"] == {"ReadUnitsPerSecond": 5, "WriteUnitsPerSecond": 5, "Status": "ACTIVE"}
    assert "WarmThroughput" in described["GlobalSecondaryIndexes"][0]

    deleted = client.delete_table(TableName=name)["TableDescription"]
    assert deleted["TableStatus"] == "DELETING"
    assert {"AttributeDefinitions", "KeySchema", "CreationDateTime", "WarmThroughput"}.isdisjoint(deleted)


def test_a_restored_table_is_described_as_every_table_is(dynamodb):
    client, create = dynamodb
    source = create()["TableName"]
    backup = client.create_backup(TableName=source, BackupName="before")["BackupDetails"]["BackupArn"]
    client.update_continuous_backups(
        TableName=source, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    restores = (
        lambda target: client.restore_table_from_backup(TargetTableName=target, BackupArn=backup),
        lambda target: client.restore_table_to_point_in_time(
            SourceTableName=source, TargetTableName=target, UseLatestRestorableTime=True
        ),
    )
    for restore in restores:
        target = f"restored-{uuid.uuid4().hex[:8]}"
        try:
            restored = restore(target)["TableDescription"]
            assert UUID.match(restored["TableId"])
            assert restored["TableId"] == client.describe_table(TableName=target)["Table"]["TableId"]
            assert {"GlobalSecondaryIndexes", "LocalSecondaryIndexes"}.isdisjoint(restored)
            assert restored.get("BillingModeSummary") != {}
        finally:
            client.delete_table(TableName=target)


def test_a_table_billed_per_request_says_so_and_since_when(dynamodb):
    client, create = dynamodb
    created = create(WarmThroughput={"ReadUnitsPerSecond": 13000, "WriteUnitsPerSecond": 4500})
    assert created["BillingModeSummary"] == {"BillingMode": "PAY_PER_REQUEST"}
    assert created["WarmThroughput"] == {"ReadUnitsPerSecond": 13000, "WriteUnitsPerSecond": 4500, "Status": "UPDATING"}
    summary = client.describe_table(TableName=created["TableName"])["Table"]["BillingModeSummary"]
    assert summary == {
        "BillingMode": "PAY_PER_REQUEST",
        "LastUpdateToPayPerRequestDateTime": created["CreationDateTime"],
    }

    provisioned = create(ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    switched = client.update_table(TableName=provisioned["TableName"], BillingMode="PAY_PER_REQUEST")
    since = switched["TableDescription"]["BillingModeSummary"]["LastUpdateToPayPerRequestDateTime"]
    assert since > provisioned["CreationDateTime"]


def test_table_refusals_are_worded_as_dynamodb_words_them(dynamodb):
    client, create = dynamodb
    assert refusal(
        create, ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}, BillingMode="PAY_PER_REQUEST"
    ) == (
        400,
        "ValidationException",
        "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be "
        "specified when BillingMode is PAY_PER_REQUEST",
    )
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    not_found = (400, "ResourceNotFoundException", f"Requested resource not found: Table: {missing} not found")
    assert refusal(client.delete_table, TableName=missing) == not_found
    assert refusal(client.update_table, TableName=missing, BillingMode="PAY_PER_REQUEST") == not_found
    assert refusal(client.describe_contributor_insights, TableName=missing) == not_found


def test_contributor_insights_are_reported_disabled(dynamodb):
    client, create = dynamodb
    name = create()["TableName"]
    answer = client.describe_contributor_insights(TableName=name)
    assert (answer["TableName"], answer["ContributorInsightsStatus"]) == (name, "DISABLED")


def test_encryption_without_a_key_names_dynamodbs_aws_managed_key_which_kms_has(dynamodb):
    client, create = dynamodb
    kms = boto3.client("kms")
    first = create(SSESpecification={"Enabled": True})["SSEDescription"]
    assert (first["Status"], first["SSEType"]) == ("ENABLED", "KMS")
    key = kms.describe_key(KeyId=first["KMSMasterKeyArn"])["KeyMetadata"]
    assert key["KeyManager"] == "AWS"
    assert key["Description"] == "Default key that protects my DynamoDB data when no other key is defined"
    assert kms.describe_key(KeyId="alias/aws/dynamodb")["KeyMetadata"]["Arn"] == first["KMSMasterKeyArn"]

    second = create(SSESpecification={"Enabled": True})
    assert second["SSEDescription"]["KMSMasterKeyArn"] == first["KMSMasterKeyArn"]
    disabled = client.update_table(TableName=second["TableName"], SSESpecification={"Enabled": False})
    assert disabled["TableDescription"]["SSEDescription"] == {**first, "Status": "UPDATING"}
    assert "SSEDescription" not in client.describe_table(TableName=second["TableName"])["Table"]


# --- item operations' answers --------------------------------------------------------------------


def test_writes_answer_only_what_was_asked_for(dynamodb):
    client, create = dynamodb
    name = create()["TableName"]
    key = {"pk": {"S": "a"}}
    assert "Attributes" not in client.put_item(TableName=name, Item=key, ReturnValues="ALL_OLD")
    updated = client.update_item(
        TableName=name,
        Key={"pk": {"S": "b"}},
        UpdateExpression="SET x = :x",
        ExpressionAttributeValues={":x": {"N": "1"}},
    )
    assert {"Attributes", "ConsumedCapacity"}.isdisjoint(updated)
    assert "Attributes" not in client.delete_item(TableName=name, Key={"pk": {"S": "none"}})
    assert "ConsumedCapacity" not in client.batch_get_item(RequestItems={name: {"Keys": [key]}})
    written = client.transact_write_items(TransactItems=[{"Put": {"TableName": name, "Item": key}}])
    assert {"ConsumedCapacity", "ItemCollectionMetrics"}.isdisjoint(written)
    batch = client.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": key}}]})
    assert {"ConsumedCapacity", "ItemCollectionMetrics"}.isdisjoint(batch) and batch["UnprocessedItems"] == {}

    asked = client.batch_write_item(
        RequestItems={name: [{"PutRequest": {"Item": key}}]}, ReturnConsumedCapacity="TOTAL"
    )
    assert asked["ConsumedCapacity"] == [{"TableName": name, "CapacityUnits": 1.0}]
    asked = client.transact_write_items(
        TransactItems=[{"Put": {"TableName": name, "Item": key}}], ReturnConsumedCapacity="TOTAL"
    )
    assert asked["ConsumedCapacity"] == [{"TableName": name, "CapacityUnits": 2.0, "WriteCapacityUnits": 2.0}]
    old = client.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="SET x = :x",
        ExpressionAttributeValues={":x": {"N": "2"}},
        ReturnValues="ALL_OLD",
    )
    assert old["Attributes"] == key


def test_batch_writes_are_checked_as_dynamodb_checks_them(dynamodb):
    client, create = dynamodb
    name = create(
        AttributeDefinitions=[PK, {"AttributeName": "sk", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )["TableName"]
    key = {"pk": {"S": "a"}, "sk": {"N": "1"}}

    def refused(*writes, table=name):
        return refusal(client.batch_write_item, RequestItems={table: list(writes)})

    schema = (400, "ValidationException", "The provided key element does not match the schema")
    assert refused({"PutRequest": {"Item": {"nonKey": {"S": "x"}}}}) == schema
    assert refused({"PutRequest": {"Item": {**key, "sk": {"S": "1"}}}}) == schema
    assert refused({"DeleteRequest": {"Key": {"pk": {"S": "a"}}}}) == schema
    assert refused({"DeleteRequest": {"Key": {**key, "other": {"S": "x"}}}}) == schema
    assert refused({"PutRequest": {"Item": key}}, {"DeleteRequest": {"Key": key}}) == (
        400,
        "ValidationException",
        "Provided list of item keys contains duplicates",
    )
    many = [{"PutRequest": {"Item": {"pk": {"S": str(n)}, "sk": {"N": "1"}}}} for n in range(26)]
    assert refused(*many) == (400, "ValidationException", "Too many items requested for the BatchWriteItem call")
    assert refused(table=name) == (
        400,
        "ValidationException",
        f"1 validation error detected: Value '{{{name}=[]}}' at 'requestItems' failed to satisfy constraint: Map value "
        "must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater "
        "than or equal to 1]",
    )
    missing = refused({"PutRequest": {"Item": key}}, table=f"missing-{uuid.uuid4().hex[:8]}")
    assert missing == (400, "ResourceNotFoundException", "Requested resource not found")
    assert client.scan(TableName=name)["Items"] == []  # nothing of a refused batch was written


# A valid write, then one DynamoDB refuses; the refusal, as PutItem words it unless given.
REFUSED_WRITES = {
    "item over 400 KB": ({"x": {"S": "x" * 410_000}}, "Item size has exceeded the maximum allowed size"),
    "empty set": ({"x": {"NS": []}}, "One or more parameter values were invalid: An number set  may not be empty"),
    "number that is not one": ({"x": {"N": "abc"}}, "The parameter cannot be converted to a numeric value: abc"),
    "value without a type": (
        {"x": {}},
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
    ),
    "value of two types": (
        {"x": {"S": "a", "N": "1"}},
        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
    ),
    "empty index key": (
        {"g": {"S": ""}},
        "One or more parameter values are not valid. A value specified for a secondary index key is not supported. "
        "The AttributeValue for a key attribute cannot contain an empty string value. IndexName: by-g, IndexKey: g",
    ),
    "index key of another type": (
        {"g": {"N": "1"}},
        "One or more parameter values were invalid: Type mismatch for Index Key g Expected: S Actual: N IndexName: by-g",
    ),
    "hash key over 2048 bytes": (
        {"pk": {"S": "k" * 2049}},
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes",
    ),
}


@pytest.fixture
def indexed_table(dynamodb):
    client, create = dynamodb
    name = create(
        AttributeDefinitions=[PK, {"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )["TableName"]
    return client, name


@pytest.mark.parametrize("case", REFUSED_WRITES)
def test_a_write_dynamodb_refuses_refuses_its_whole_batch_or_transaction_and_put(indexed_table, case):
    client, name = indexed_table
    attributes, message = REFUSED_WRITES[case]
    refused = {"pk": {"S": "refused"}, **attributes}
    valid = {"pk": {"S": "valid"}}
    expected = (400, "ValidationException", message)
    assert refusal(client.put_item, TableName=name, Item=refused) == expected
    batch = [{"PutRequest": {"Item": valid}}, {"PutRequest": {"Item": refused}}]
    assert refusal(client.batch_write_item, RequestItems={name: batch}) == expected
    transaction = [{"Put": {"TableName": name, "Item": valid}}, {"Put": {"TableName": name, "Item": refused}}]
    assert refusal(client.transact_write_items, TransactItems=transaction) == expected
    assert client.scan(TableName=name)["Items"] == []


def test_a_missing_table_or_a_bad_key_later_in_a_request_refuses_it_before_any_write(indexed_table):
    client, name = indexed_table
    valid = {"pk": {"S": "valid"}}
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    not_found = (400, "ResourceNotFoundException", "Requested resource not found")
    batch = {name: [{"PutRequest": {"Item": valid}}], missing: [{"PutRequest": {"Item": valid}}]}
    assert refusal(client.batch_write_item, RequestItems=batch) == not_found
    for action in ({"Put": {"TableName": missing, "Item": valid}}, {"Delete": {"TableName": missing, "Key": valid}}):
        transaction = [{"Put": {"TableName": name, "Item": valid}}, action]
        assert refusal(client.transact_write_items, TransactItems=transaction) == not_found
    no_key = [{"Put": {"TableName": name, "Item": valid}}, {"Put": {"TableName": name, "Item": {"x": {"S": "a"}}}}]
    assert refusal(client.transact_write_items, TransactItems=no_key) == (
        400,
        "ValidationException",
        "One or more parameter values were invalid: Missing the key pk in the item",
    )
    for write in ({}, {"PutRequest": {"Item": valid}, "DeleteRequest": {"Key": valid}}):
        assert refusal(client.batch_write_item, RequestItems={name: [{"PutRequest": {"Item": valid}}, write]})[:2] == (
            400,
            "ValidationException",
        )
    assert client.scan(TableName=name)["Items"] == []


def _records(name: str, stream_arn: str) -> list[dict]:
    streams = boto3.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    assert iterator["ShardIterator"].startswith(f"{stream_arn}|1|")  # DynamoDB's form
    answer = streams.get_records(ShardIterator=iterator["ShardIterator"])
    assert answer["NextShardIterator"].startswith(f"{stream_arn}|1|")
    return answer["Records"]


def test_stream_records_follow_the_writes_as_dynamodb_writes_them(dynamodb):
    """A batch in its order, an UpdateItem that creates its item as one INSERT, binary values as written."""
    client, create = dynamodb
    created = create(StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    name = created["TableName"]
    client.put_item(TableName=name, Item={"pk": {"S": "first"}})
    client.batch_write_item(
        RequestItems={
            name: [
                {"DeleteRequest": {"Key": {"pk": {"S": "first"}}}},
                {"PutRequest": {"Item": {"pk": {"S": "second"}, "data": {"B": b"\x90\x00"}}}},
            ]
        }
    )
    client.update_item(
        TableName=name,
        Key={"pk": {"S": "third"}},
        UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "1"}},
    )
    records = _records(name, created["LatestStreamArn"])
    assert [(record["eventName"], record["dynamodb"]["Keys"]["pk"]["S"]) for record in records] == [
        ("INSERT", "first"),
        ("REMOVE", "first"),
        ("INSERT", "second"),
        ("INSERT", "third"),
    ]
    assert records[2]["dynamodb"]["NewImage"]["data"] == {"B": b"\x90\x00"}
    assert records[3]["dynamodb"]["NewImage"] == {"pk": {"S": "third"}, "n": {"N": "1"}}
    assert client.get_item(TableName=name, Key={"pk": {"S": "second"}})["Item"]["data"] == {"B": b"\x90\x00"}


def _in(region: str, service: str = "dynamodb"):
    return boto3.client(service, region_name=region)


def test_a_replica_region_serves_its_table_until_the_replica_is_deleted(dynamodb):
    client, create = dynamodb
    home = client.meta.region_name
    created = create(StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    name = created["TableName"]
    updated = client.update_table(
        TableName=name, ReplicaUpdates=[{"Create": {"RegionName": "eu-west-1", "KMSMasterKeyId": "key-eu"}}]
    )["TableDescription"]
    assert updated["Replicas"] == [{"RegionName": "eu-west-1", "ReplicaStatus": "ACTIVE", "KMSMasterKeyId": "key-eu"}]
    client.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": "ap-south-1"}}])
    europe, asia = _in("eu-west-1"), _in("ap-south-1")

    described = europe.describe_table(TableName=name)["Table"]
    assert [replica["RegionName"] for replica in described["Replicas"]] == [home, "ap-south-1"]
    assert described["TableArn"] == created["TableArn"].replace(f":{home}:", ":eu-west-1:")
    assert described["TableId"] != created["TableId"]
    assert name in asia.list_tables()["TableNames"]
    assert name not in _in("sa-east-1").list_tables()["TableNames"]

    europe.put_item(TableName=name, Item={"pk": {"S": "written-in-europe"}})
    client.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": {"pk": {"S": "written-at-home"}}}}]})
    assert asia.get_item(TableName=name, Key={"pk": {"S": "written-in-europe"}})["Item"]
    assert sorted(item["pk"]["S"] for item in europe.scan(TableName=name)["Items"]) == [
        "written-at-home",
        "written-in-europe",
    ]
    streams = _in("eu-west-1", "dynamodbstreams")
    (stream,) = streams.list_streams(TableName=name)["Streams"]
    assert stream["StreamArn"] == described["LatestStreamArn"] and ":eu-west-1:" in stream["StreamArn"]
    shard = streams.describe_stream(StreamArn=stream["StreamArn"])["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream["StreamArn"], ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )
    assert len(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]) == 2

    assert refusal(client.update_table, TableName=name, ReplicaUpdates=[{"Create": {"RegionName": "eu-west-1"}}]) == (
        400,
        "ValidationException",
        f"Failed to create a the new replica of table with name: '{name}' because one or more replicas already "
        "existed as tables.",
    )
    europe.delete_table(TableName=name)
    assert refusal(europe.get_item, TableName=name, Key={"pk": {"S": "written-in-europe"}})[1] == (
        "ResourceNotFoundException"
    )
    assert refusal(client.update_table, TableName=name, ReplicaUpdates=[{"Delete": {"RegionName": "eu-west-1"}}]) == (
        400,
        "ValidationException",
        "Update global table operation failed because one or more replicas were not part of the global table.",
    )
    asia.update_table(TableName=name, ReplicaUpdates=[{"Delete": {"RegionName": "ap-south-1"}}])
    assert {"Replicas", "GlobalTableVersion"}.isdisjoint(client.describe_table(TableName=name)["Table"])
    assert name not in asia.list_tables()["TableNames"]
    assert len(client.scan(TableName=name)["Items"]) == 2


def test_table_id_and_the_managed_key_stay_after_a_restart(tmp_path):
    """The second engine (its own state): the table's TableId and its key, a PartiQL write
    (journaled by the tables its statements write) and a replica, after down and up."""
    with second_engine_at(tmp_path, SNAPSHOT_FLUSH_INTERVAL="1") as run:
        started(run("up"))
        dynamodb = second_client("dynamodb")
        name = f"kept-{uuid.uuid4().hex[:8]}"
        created = dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[PK],
            SSESpecification={"Enabled": True},
            **KEY,
        )["TableDescription"]
        dynamodb.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": "eu-west-1"}}])
        europe = second_client("dynamodb", region_name="eu-west-1")
        europe.put_item(TableName=name, Item={"pk": {"S": "europe"}})  # journaled in the replica's region
        dynamodb.execute_statement(Statement=f"INSERT INTO \"{name}\" VALUE {{'pk': 'a', 'n': 1}}")
        dynamodb.execute_statement(Statement=f"UPDATE \"{name}\" SET n = n + 41 WHERE pk = 'a'")
        started(run("down"))
        started(run("up"))

        described = dynamodb.describe_table(TableName=name)["Table"]
        assert described["TableId"] == created["TableId"]
        assert described["SSEDescription"] == created["SSEDescription"]
        key = second_client("kms").describe_key(KeyId="alias/aws/dynamodb")["KeyMetadata"]
        assert (key["Arn"], key["KeyManager"]) == (created["SSEDescription"]["KMSMasterKeyArn"], "AWS")
        assert dynamodb.get_item(TableName=name, Key={"pk": {"S": "a"}})["Item"]["n"] == {"N": "42"}
        assert dynamodb.get_item(TableName=name, Key={"pk": {"S": "europe"}})["Item"] == {"pk": {"S": "europe"}}
        europe.put_item(TableName=name, Item={"pk": {"S": "b"}})  # the replica is still its table
        assert dynamodb.get_item(TableName=name, Key={"pk": {"S": "b"}})["Item"] == {"pk": {"S": "b"}}
