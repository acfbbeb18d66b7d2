"""DynamoDB Streams from the moto-backed tables reach Lambda through LocalStack's own event
source mapping poller: record shape and order per view type, starting positions, retries,
bisect on error, partial batch failures and the on-failure destination."""

import json
import time
import uuid

import boto3
import pytest

from tests.engine.test_lambda_paths import recorder_function
from tests.support.waiting import wait_for

# Every batch a function sees goes, in order, to a FIFO queue named after its source (the
# table, a Kinesis stream: the second part of its ARN).
FORWARD_BATCH_SOURCE = """
import json
import boto3

sqs = boto3.client("sqs")


def forward(event, context):
    records = event["Records"]
    source = records[0]["eventSourceARN"].split("/")[1]
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=source + ".fifo")["QueueUrl"],
                     MessageBody=json.dumps(records), MessageGroupId="batches",
                     MessageDeduplicationId=context.aws_request_id)
    return records
"""
RECORDER_SOURCE = (
    FORWARD_BATCH_SOURCE
    + """

def handler(event, context):
    records = forward(event, context)
    images = [record["dynamodb"].get("NewImage", {}) for record in records]
    failed = [r["dynamodb"]["SequenceNumber"] for r, image in zip(records, images) if "partial" in image]
    if failed:
        return {"batchItemFailures": [{"itemIdentifier": number} for number in failed]}
    if any("poison" in image for image in images):
        raise ValueError("poison record in the batch")
    return {}
"""
)

VIEW_TYPES = ["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"]


@pytest.fixture(scope="module")
def aws(engine):
    return {name: boto3.client(name) for name in ("lambda", "sqs", "dynamodb", "dynamodbstreams")}


@pytest.fixture(scope="module")
def recorder(aws):
    with recorder_function(aws["lambda"], "stream-recorder", RECORDER_SOURCE) as name:
        yield name


class Stream:
    """A table with a stream, its mapping to the recorder and the batches it delivered."""

    def __init__(self, aws, recorder, view_type, starting_position, before_mapping=(), **mapping):
        self.aws, self.name = aws, f"stream-{view_type.lower().replace('_', '-')}-{uuid.uuid4().hex[:8]}"
        table = aws["dynamodb"].create_table(
            TableName=self.name,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": view_type},
        )["TableDescription"]
        self.stream_arn = table["LatestStreamArn"]
        self.queue = aws["sqs"].create_queue(QueueName=f"{self.name}.fifo", Attributes={"FifoQueue": "true"})[
            "QueueUrl"
        ]
        for item in before_mapping:
            self.put(item)
        self.mapping = aws["lambda"].create_event_source_mapping(
            FunctionName=recorder, EventSourceArn=self.stream_arn, StartingPosition=starting_position, **mapping
        )["UUID"]
        self.batches: list[list[dict]] = []

    def enabled(self):
        return self.aws["lambda"].get_event_source_mapping(UUID=self.mapping)["State"] == "Enabled"

    def put(self, item: dict):
        self.aws["dynamodb"].put_item(TableName=self.name, Item=item)

    def collect(self) -> list[dict]:
        """Every record delivered so far, in delivery order."""
        for message in (
            self.aws["sqs"]
            .receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            .get("Messages", [])
        ):
            self.batches.append(json.loads(message["Body"]))
            self.aws["sqs"].delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        return [record for batch in self.batches for record in batch]

    def batch_keys(self) -> list[list[str]]:
        self.collect()
        return [[record["dynamodb"]["Keys"]["pk"]["S"] for record in batch] for batch in self.batches]

    def wait_until_polling(self):
        """With LATEST, records written before the poller's first iterator are skipped, as on
        AWS: write markers until one is delivered."""
        wait_for(self.enabled, timeout=30, what="the mapping to be enabled")

        def marker_delivered():
            self.put({"pk": {"S": f"marker-{uuid.uuid4().hex[:6]}"}})
            return any(r["dynamodb"]["Keys"]["pk"]["S"].startswith("marker-") for r in self.collect())

        wait_for(marker_delivered, timeout=30, interval=0, what=f"a record of {self.name} to reach the function")

    def close(self):
        self.aws["lambda"].delete_event_source_mapping(UUID=self.mapping)
        self.aws["dynamodb"].delete_table(TableName=self.name)
        self.aws["sqs"].delete_queue(QueueUrl=self.queue)


@pytest.fixture(scope="module")
def streams(aws, recorder):
    """One stream per view type, started together; two read from TRIM_HORIZON, two from LATEST."""
    made = {
        view_type: Stream(
            aws,
            recorder,
            view_type,
            "TRIM_HORIZON" if index % 2 else "LATEST",
            before_mapping=[{"pk": {"S": "before"}}],
            BatchSize=3,
        )
        for index, view_type in enumerate(VIEW_TYPES)
    }
    yield made
    for stream in made.values():
        stream.close()


def write_history(aws, table: str):
    """put a, update a, put b, then one transaction: put c, update b, delete a."""
    dynamodb = aws["dynamodb"]
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"N": "1"}})  # no change: no record
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "b"}, "v": {"N": "1"}})
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):  # rolled back: no records
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "x"}}}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": {"S": "a"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "c"}, "v": {"N": "1"}}}},
            {
                "Update": {
                    "TableName": table,
                    "Key": {"pk": {"S": "b"}},
                    "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"N": "5"}},
                }
            },
            {"Delete": {"TableName": table, "Key": {"pk": {"S": "a"}}}},
        ]
    )


# (event, key, old v, new v) in write order
EXPECTED = [
    ("INSERT", "a", None, "1"),
    ("MODIFY", "a", "1", "2"),
    ("INSERT", "b", None, "1"),
    ("INSERT", "c", None, "1"),
    ("MODIFY", "b", "1", "5"),
    ("REMOVE", "a", "2", None),
]


@pytest.mark.parametrize("view_type", VIEW_TYPES)
def test_records_reach_the_function_in_order_with_the_aws_shape(aws, streams, view_type):
    stream = streams[view_type]
    stream.wait_until_polling()
    write_history(aws, stream.name)
    wanted = {key for _, key, _, _ in EXPECTED}

    def history():
        records = [r for r in stream.collect() if r["dynamodb"]["Keys"]["pk"]["S"] in wanted]
        return records if len(records) >= len(EXPECTED) else None

    records = wait_for(history, timeout=30, what="the history's records")
    assert len(records) == len(EXPECTED)
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    for record, (event, key, old, new) in zip(records, EXPECTED, strict=True):
        assert record["eventName"] == event
        assert record["eventSource"] == "aws:dynamodb" and record["eventSourceARN"] == stream.stream_arn
        assert record["awsRegion"] == aws["dynamodb"].meta.region_name and record["eventID"]
        body = record["dynamodb"]
        assert body["Keys"] == {"pk": {"S": key}}
        assert body["StreamViewType"] == view_type and body["SizeBytes"] > 0
        assert isinstance(body["ApproximateCreationDateTime"], (int, float))
        new_image = {"pk": {"S": key}, "v": {"N": new}} if new else None
        old_image = {"pk": {"S": key}, "v": {"N": old}} if old else None
        assert body.get("NewImage") == (new_image if view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") else None)
        assert body.get("OldImage") == (old_image if view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") else None)
    assert max(len(batch) for batch in stream.batches) <= 3  # BatchSize
    before_delivered = any(r["dynamodb"]["Keys"]["pk"]["S"] == "before" for r in stream.collect())
    assert before_delivered == (VIEW_TYPES.index(view_type) % 2 == 1)  # TRIM_HORIZON yes, LATEST no


def test_the_streams_api_reads_the_same_records(aws, streams):
    stream = streams["NEW_AND_OLD_IMAGES"]
    api = aws["dynamodbstreams"]
    description = api.describe_stream(StreamArn=stream.stream_arn)["StreamDescription"]
    assert description["StreamStatus"] == "ENABLED" and description["TableName"] == stream.name
    shard = description["Shards"][0]["ShardId"]
    iterator = api.get_shard_iterator(StreamArn=stream.stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    page = api.get_records(ShardIterator=iterator, Limit=1)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]] == ["before"]
    first = page["Records"][0]["dynamodb"]["SequenceNumber"]
    after = api.get_shard_iterator(
        StreamArn=stream.stream_arn, ShardId=shard, ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=first
    )["ShardIterator"]
    assert (
        api.get_records(ShardIterator=after, Limit=1)["Records"]
        == api.get_records(ShardIterator=page["NextShardIterator"], Limit=1)["Records"]
    )
    with pytest.raises(api.exceptions.ResourceNotFoundException):
        api.describe_stream(StreamArn=stream.stream_arn.rsplit("/", 1)[0] + "/2000-01-01T00:00:00.000")
    with pytest.raises(api.exceptions.ClientError, match="ValidationException"):
        api.get_records(ShardIterator="not-an-iterator")


def test_a_failing_batch_is_retried_bisected_and_sent_to_its_destination(aws, recorder):
    destination = aws["sqs"].create_queue(QueueName=f"stream-failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    destination_arn = aws["sqs"].get_queue_attributes(QueueUrl=destination, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    stream = Stream(
        aws,
        recorder,
        "NEW_IMAGE",
        "TRIM_HORIZON",
        BatchSize=4,
        MaximumBatchingWindowInSeconds=2,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": destination_arn}},
    )
    try:
        wait_for(stream.enabled, timeout=30, what="the mapping to be enabled")
        aws["dynamodb"].transact_write_items(
            TransactItems=[
                {"Put": {"TableName": stream.name, "Item": {"pk": {"S": key}, **extra}}}
                for key, extra in [("r1", {}), ("r2", {}), ("r3", {"poison": {"BOOL": True}}), ("r4", {})]
            ]
        )
        failure = wait_for(
            lambda: aws["sqs"].receive_message(QueueUrl=destination, WaitTimeSeconds=1).get("Messages"),
            timeout=60,
            what="the on-failure destination",
        )[0]
        details = json.loads(failure["Body"])
        stream_info = details["DDBStreamBatchInfo"]
        assert stream_info["batchSize"] == 1 and stream_info["streamArn"] == stream.stream_arn
        assert details["requestContext"]["condition"] == "RetryAttemptsExhausted"
        batches = wait_for(
            lambda: ["r4"] in stream.batch_keys() and stream.batch_keys(),
            timeout=30,
            what="the last half to be delivered",
        )
        # whole batch, its halves, the poisoned record alone and its one retry, then its neighbour
        assert batches == [["r1", "r2", "r3", "r4"], ["r1", "r2"], ["r3", "r4"], ["r3"], ["r3"], ["r4"]]
        poisoned = [r for b in stream.batches for r in b if r["dynamodb"]["Keys"]["pk"]["S"] == "r3"][0]
        assert stream_info["startSequenceNumber"] == poisoned["dynamodb"]["SequenceNumber"]
    finally:
        stream.close()
        aws["sqs"].delete_queue(QueueUrl=destination)


def test_reported_item_failures_are_retried_from_the_first_failure(aws, recorder):
    destination = aws["sqs"].create_queue(QueueName=f"stream-partial-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    destination_arn = aws["sqs"].get_queue_attributes(QueueUrl=destination, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    stream = Stream(
        aws,
        recorder,
        "NEW_IMAGE",
        "TRIM_HORIZON",
        BatchSize=3,
        MaximumBatchingWindowInSeconds=2,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": destination_arn}},
    )
    try:
        wait_for(stream.enabled, timeout=30, what="the mapping to be enabled")
        aws["dynamodb"].transact_write_items(
            TransactItems=[
                {"Put": {"TableName": stream.name, "Item": {"pk": {"S": key}, **extra}}}
                for key, extra in [("p1", {}), ("p2", {"partial": {"BOOL": True}}), ("p3", {})]
            ]
        )
        failure = wait_for(
            lambda: aws["sqs"].receive_message(QueueUrl=destination, WaitTimeSeconds=1).get("Messages"),
            timeout=60,
            what="the on-failure destination",
        )[0]
        assert json.loads(failure["Body"])["DDBStreamBatchInfo"]["batchSize"] == 2
        assert stream.batch_keys() == [["p1", "p2", "p3"], ["p2", "p3"]]
    finally:
        stream.close()
        aws["sqs"].delete_queue(QueueUrl=destination)


def test_records_written_one_by_one_after_an_idle_while_arrive_in_one_batch_of_the_window(aws, recorder):
    """The poller waits for writes (stream_mapping.py): each write wakes it, and the batching
    window still gathers what is written within it."""
    stream = Stream(aws, recorder, "KEYS_ONLY", "TRIM_HORIZON", BatchSize=10, MaximumBatchingWindowInSeconds=3)
    try:
        wait_for(stream.enabled, timeout=30, what="the mapping to be enabled")
        time.sleep(5)  # the scenario, not a wait for a result: idle through a few waits
        for key in ("w1", "w2", "w3", "w4"):
            stream.put({"pk": {"S": key}})
        batches = wait_for(lambda: stream.batch_keys(), timeout=30, what="the batch")
        assert batches == [["w1", "w2", "w3", "w4"]]
    finally:
        stream.close()
