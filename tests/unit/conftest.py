"""Unit tests: handlers run in-process against moto (no engine, no network)."""

import contextlib
import copy
import copyreg
import json
import os
import secrets
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

import build

LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"
# Every package build.py zips (the folders of lambda_src/ but common/).
FUNCTION_DIRS = tuple(package.name for package in build.packages())
# The same layout as inside each zip: roxs_common and the handler module at the top level.
for directory in ("common", *FUNCTION_DIRS):
    path = str(LAMBDA_SRC / directory)
    if path not in sys.path:
        sys.path.insert(0, path)

import boto3  # noqa: E402
import botocore.session  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.backends import get_backend  # noqa: E402
from moto.core.base_backend import BackendDict  # noqa: E402

import roxs_common.aws  # noqa: E402
import roxs_common.cursor  # noqa: E402

REGION = "us-east-1"
ORIGINALS = "roxs-images-original"
PROCESSED = "roxs-images-processed"
THUMBNAILS = "roxs-images-thumbnails"
LOGS = "roxs-logs-storage"
METADATA_TABLE = "RoxsImageMetadata"
LOG_INDEX_TABLE = "RoxsLogIndex"
HISTORY_TABLE = "RoxsNotificationHistory"
STATS_TABLE = "RoxsStats"
IMAGE_KEYS_TABLE = "RoxsImageKeys"
OBJECT_SIZES_TABLE = "RoxsObjectSizes"
LOG_HOURS_TABLE = "RoxsLogHours"
NOTIFICATION_DAYS_TABLE = "RoxsNotificationDays"
TABLE_KEYS = {
    METADATA_TABLE: (("ImageId", "S"), ("UploadTimestamp", "N")),
    LOG_INDEX_TABLE: (("LogLevel", "S"), ("Timestamp", "N")),
    HISTORY_TABLE: (("NotificationId", "S"), ("CreatedAt", "N")),
    # The time-bucket directories of roxs_common.timeline.
    LOG_HOURS_TABLE: (("Scope", "S"), ("Bucket", "S")),
    NOTIFICATION_DAYS_TABLE: (("Scope", "S"), ("Bucket", "S")),
}
# GSIs as in modules/log_pipeline and modules/notifications: (name, hash key, range key).
TABLE_INDEXES = {
    LOG_INDEX_TABLE: (("ByLevelHour", "LevelHour", ("Timestamp", "N")), ("ByHour", "Hour", ("Timestamp", "N"))),
    HISTORY_TABLE: (
        *(
            (name, attribute, ("CreatedAt", "N"))
            for name, attribute in (("ByDay", "Day"), ("ByPriorityDay", "PriorityDay"), ("ByStatusDay", "StatusDay"))
        ),
        ("ByClaimExpiry", "Status", ("ClaimExpiresMs", "N")),
    ),
}
ALLOW_ORIGIN = "https://dashboard.example.test"

HANDLER_ENV = {
    "PROCESSED_BUCKET": PROCESSED,
    "THUMBNAILS_BUCKET": THUMBNAILS,
    "METADATA_TABLE": METADATA_TABLE,
    "THUMBNAIL_MAX_PX": "128",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",  # set by Lambda; the image processor's memory bound reads it
    "LOG_INDEX_TABLE": LOG_INDEX_TABLE,
    "LOG_BUCKET": LOGS,
    "HISTORY_TABLE": HISTORY_TABLE,
    "STATS_TABLE": STATS_TABLE,
    "IMAGE_KEYS_TABLE": IMAGE_KEYS_TABLE,
    "OBJECT_SIZES_TABLE": OBJECT_SIZES_TABLE,
    "COUNTED_BUCKETS": ",".join((ORIGINALS, PROCESSED, THUMBNAILS, LOGS)),
    "LOG_HOURS_TABLE": LOG_HOURS_TABLE,
    "NOTIFICATION_DAYS_TABLE": NOTIFICATION_DAYS_TABLE,
    "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:roxs-notifications",
    "NOTIFICATIONS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/roxs-notifications-queue",
    "ORIGINALS_BUCKET": ORIGINALS,
    "DASHBOARD_FUNCTION_NAME": "roxs-dashboard",
    "CORS_ALLOW_ORIGIN": ALLOW_ORIGIN,
    "BUCKETS": ",".join((ORIGINALS, PROCESSED, THUMBNAILS, LOGS)),
    "FUNCTION_PREFIX": "roxs-",
    "SERVICE_NAME": "roxs-unit-tests",
}


def without_aws(monkeypatch, folder: Path) -> None:
    """Dummy credentials, a fixed region, the handlers' variables, and no endpoint override
    (the repository's conftest points AWS_ENDPOINT_URL at LocalStack; moto needs it unset)."""
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name == "AWS_PROFILE":
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(folder / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "no-aws-credentials"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    for name, value in HANDLER_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch, tmp_path):
    without_aws(monkeypatch, tmp_path)
    # Clients and the token key are cached per process like in a warm Lambda; each test
    # gets fresh ones.
    roxs_common.aws.client.cache_clear()
    roxs_common.cursor.token_key.cache_clear()
    yield
    roxs_common.aws.client.cache_clear()
    roxs_common.cursor.token_key.cache_clear()


# botocore's models as loaded from its JSON files, for every test's session.
MODELS = botocore.session.get_session().get_component("data_loader")


def fresh_default_session() -> None:
    """A new default session (moto leaves none, so that no client outlives a test) that shares
    the loaded models: loading them again for each test was most of its setup."""
    session = botocore.session.Session()
    session.register_component("data_loader", MODELS)
    boto3.setup_default_session(botocore_session=session)


STACK_SERVICES = ("dynamodb", "s3", "sqs", "sns", "secretsmanager")


def create_stack(ddb, s3, sqs, sns, secretsmanager) -> dict[str, str]:
    """The project's buckets, tables, queue, topic and token key; their names and ARNs."""
    secret = secretsmanager.create_secret(Name="roxs-api-token-key", SecretString=secrets.token_urlsafe(48))
    for bucket in (ORIGINALS, PROCESSED, THUMBNAILS, LOGS):
        s3.create_bucket(Bucket=bucket)
    for table, ((hash_key, hash_type), (range_key, range_type)) in TABLE_KEYS.items():
        indexes = TABLE_INDEXES.get(table, ())
        attributes = {hash_key: hash_type, range_key: range_type}
        attributes.update({index_hash: "S" for _, index_hash, _ in indexes})
        attributes.update(dict(index_range for _, _, index_range in indexes))
        ddb.create_table(
            TableName=table,
            KeySchema=[
                {"AttributeName": hash_key, "KeyType": "HASH"},
                {"AttributeName": range_key, "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": kind} for name, kind in attributes.items()],
            **(
                {
                    "GlobalSecondaryIndexes": [
                        {
                            "IndexName": name,
                            "KeySchema": [
                                {"AttributeName": index_hash, "KeyType": "HASH"},
                                {"AttributeName": index_range[0], "KeyType": "RANGE"},
                            ],
                            "Projection": {"ProjectionType": "ALL"},
                        }
                        for name, index_hash, index_range in indexes
                    ]
                }
                if indexes
                else {}
            ),
            BillingMode="PAY_PER_REQUEST",
        )
    ddb.create_table(
        TableName=STATS_TABLE,
        KeySchema=[{"AttributeName": "Counter", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "Counter", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    create_image_tables(ddb)
    queue_url = sqs.create_queue(QueueName="roxs-notifications-queue")["QueueUrl"]
    topic_arn = sns.create_topic(Name="roxs-notifications")["TopicArn"]
    assert topic_arn == HANDLER_ENV["TOPIC_ARN"] and queue_url == HANDLER_ENV["NOTIFICATIONS_QUEUE_URL"]
    return {
        "queue_url": queue_url,
        "topic_arn": topic_arn,
        "TOKEN_KEY_SECRET_ARN": secret["ARN"],
        "TOKEN_KEY_VERSION_ID": secret["VersionId"],
    }


@contextlib.contextmanager
def _locks_copied_as_new():
    """copy.deepcopy of moto's state: its locks and conditions (an SQS queue's) become new ones
    (none is held while the state is copied)."""
    lock_types = (type(threading.Lock()), type(threading.RLock()), threading.Condition)
    for kind in lock_types:
        copyreg.dispatch_table[kind] = lambda lock, kind=kind: (kind, ())
    try:
        yield
    finally:
        for kind in lock_types:
            del copyreg.dispatch_table[kind]


@pytest.fixture(scope="session")
def stack_state(tmp_path_factory):
    """moto's state with the stack made, once per worker: made through boto3 for each test, it
    was about 20 calls, most of a unit test's time. Each test gets its own copy (``aws``)."""
    with pytest.MonkeyPatch.context() as monkeypatch, mock_aws():
        without_aws(monkeypatch, tmp_path_factory.mktemp("stack"))
        fresh_default_session()
        made = create_stack(*(boto3.client(name, region_name=REGION) for name in STACK_SERVICES))
        with _locks_copied_as_new():
            state = {backend.service_name: copy.deepcopy(dict(backend)) for backend in BackendDict._instances}
    return made, state


class Stack(SimpleNamespace):
    """The stack's names, and its clients, each made when a test first asks for it."""

    _SERVICES = {"s3": "s3", "ddb": "dynamodb", "sqs": "sqs", "sns": "sns"}

    def __getattr__(self, name):
        if name not in self._SERVICES:
            raise AttributeError(name)
        client = boto3.client(self._SERVICES[name], region_name=REGION)
        setattr(self, name, client)
        return client


@pytest.fixture
def aws(aws_env, monkeypatch, stack_state):
    """moto with the project's buckets, tables, queue, topic and token key: a copy of
    ``stack_state`` for each test (the key is one per worker)."""
    made, state = stack_state
    with mock_aws():
        with _locks_copied_as_new():
            for name, accounts in state.items():
                backend = get_backend(name)
                backend.update(copy.deepcopy(accounts))
                if backend not in BackendDict._instances:  # as moto registers a backend in use: reset at stop
                    BackendDict._instances.append(backend)
        fresh_default_session()
        for name in ("TOKEN_KEY_SECRET_ARN", "TOKEN_KEY_VERSION_ID"):
            monkeypatch.setenv(name, made[name])
        yield Stack(queue_url=made["queue_url"], topic_arn=made["topic_arn"])


def create_image_tables(ddb):
    """The image listing's GSIs on the metadata table (as modules/image_pipeline declares
    them) and the per-key state tables of the image processor and the storage counter."""
    ddb.update_table(
        TableName=METADATA_TABLE,
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": kind}
            for name, kind in (("ListMonth", "S"), ("StatusMonth", "S"), ("UploadTimestamp", "N"))
        ],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": index,
                    "KeySchema": [
                        {"AttributeName": hash_key, "KeyType": "HASH"},
                        {"AttributeName": "UploadTimestamp", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            }
            for index, hash_key in (("ByMonth", "ListMonth"), ("ByStatusMonth", "StatusMonth"))
        ],
    )
    for table in (IMAGE_KEYS_TABLE, OBJECT_SIZES_TABLE):
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "ObjectRef", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "ObjectRef", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


@pytest.fixture
def published(aws):
    """Messages SNS delivered (through an SQS subscription), read back as SNS envelopes."""
    url = aws.sqs.create_queue(QueueName="sns-tap")["QueueUrl"]
    arn = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.sns.subscribe(TopicArn=aws.topic_arn, Protocol="sqs", Endpoint=arn)

    def read():
        messages = []
        while batch := aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            messages += batch
            for message in batch:
                aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(message["Body"]) for message in messages]

    return read


class FakeContext:
    function_name = "roxs-unit-function"
    aws_request_id = "req-0000-unit"


@pytest.fixture
def context():
    return FakeContext()
