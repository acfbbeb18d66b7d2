"""Code that ignores AWS_ENDPOINT_URL reaches the engine from inside functions: the AWS SDK for
JavaScript v2, a boto3 client built with a region and no endpoint, a v3 client in a process
without the variable, plain HTTPS to an AWS host name. Their calls go to the real host names
(dynamodb.eu-west-1.amazonaws.com, <bucket>.s3.amazonaws.com, sts.amazonaws.com); the workers
resolve them to the engine, which answers TLS for each with a certificate from the checkout's
CA, verified by the runtime's SDK. DISABLE_TRANSPARENT_ENDPOINT_INJECTION turns it off.
Against the real engine over HTTP."""

import contextlib
import json
import runpy
import shutil
import subprocess
import sys
import uuid

import boto3
import pytest

from tests.engine.test_lambda_paths import wait_active, zipped
from tests.support.engine import ROOT
from tests.support.second_engine import client, second_engine_at, started

PRELOAD = ROOT / "engine" / "localstack_nodocker" / "preload"
# us-east-1: the SDKs' global host forms (s3.amazonaws.com, <bucket>.s3.amazonaws.com); the
# others: regional ones.
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")

# Each probe reads the item the test wrote in the engine (so the call reached the engine, not
# AWS), writes an S3 object and an SQS message the test reads back, asks STS who it is, and
# says which host its client used. `off` expects the calls to fail (the switch is on): it
# reports the error.
NODE_V2 = """
const AWS = require("aws-sdk");
const https = require("https");
const get = (url) => new Promise((resolve, reject) => https.get(url, (response) => {
  let body = "";
  response.on("data", (chunk) => { body += chunk; });
  response.on("end", () => resolve(body));
}).on("error", reject));
exports.handler = async ({ region, table, key, bucket, queue, off }) => {
  const options = { region, maxRetries: 0, httpOptions: { connectTimeout: 3000, timeout: 5000 } };
  const dynamodb = new AWS.DynamoDB(options);
  try {
    const item = await dynamodb.getItem({ TableName: table, Key: { key: { S: key } } }).promise();
    const s3 = new AWS.S3(options);
    await s3.putObject({ Bucket: bucket, Key: `node-v2-${region}`, Body: "from the SDK v2" }).promise();
    const sqs = new AWS.SQS(options);
    const { QueueUrl } = await sqs.getQueueUrl({ QueueName: queue }).promise();
    await sqs.sendMessage({ QueueUrl, MessageBody: `node-v2-${region}` }).promise();
    const who = await new AWS.STS(options).getCallerIdentity({}).promise();
    // a presigned URL to the bucket's virtual host, fetched without the SDK
    const presigned = await get(s3.getSignedUrl("getObject", { Bucket: bucket, Key: `node-v2-${region}` }));
    return { sdk: `v2 ${AWS.VERSION}`, hosts: [dynamodb.endpoint.host, s3.endpoint.host], value: item.Item.value.S,
             account: who.Account, presigned };
  } catch (error) {
    if (!off) throw error;
    return { failed: error.code };
  }
};
"""
NODE_V3_WITHOUT_ENDPOINT = """
delete process.env.AWS_ENDPOINT_URL; // as in a process that never had it
const https = require("https");
const { DynamoDBClient, GetItemCommand } = require("@aws-sdk/client-dynamodb");
const { S3Client, PutObjectCommand } = require("@aws-sdk/client-s3");
const { STSClient, GetCallerIdentityCommand } = require("@aws-sdk/client-sts");
const { SQSClient, GetQueueUrlCommand, SendMessageCommand } = require("@aws-sdk/client-sqs");
exports.handler = async ({ region, table, key, bucket, queue }) => {
  const dynamodb = new DynamoDBClient({ region });
  const item = await dynamodb.send(new GetItemCommand({ TableName: table, Key: { key: { S: key } } }));
  await new S3Client({ region }).send(new PutObjectCommand({ Bucket: bucket, Key: `node-v3-${region}`, Body: "from the SDK v3" }));
  const sqs = new SQSClient({ region });
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queue }));
  await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: `node-v3-${region}` }));
  const who = await new STSClient({ region }).send(new GetCallerIdentityCommand({}));
  // no SDK: https (LocalStack's health, verified) and fetch to AWS host names
  const health = await new Promise((resolve, reject) => {
    https.get(`https://s3.${region}.amazonaws.com/_localstack/health`, (response) => resolve(response.statusCode)).on("error", reject);
  });
  const fetched = await fetch("https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15");
  const endpoint = await dynamodb.config.endpointProvider({ Region: region, UseDualStack: false, UseFIPS: false });
  return { sdk: "v3", hosts: [endpoint.url.hostname], value: item.Item.value.S, account: who.Account,
           health: [health, fetched.status] };
};
"""
PYTHON_REGION_ONLY = """
import os
os.environ.pop("AWS_ENDPOINT_URL", None)  # as in code that predates the variable
import boto3
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError


def handler(event, context):
    region = event["region"]
    options = {"region_name": region, "config": Config(retries={"max_attempts": 1}, connect_timeout=3,
               s3={"addressing_style": "virtual"})}
    dynamodb = boto3.client("dynamodb", **options)
    try:
        item = dynamodb.get_item(TableName=event["table"], Key={"key": {"S": event["key"]}})
        s3 = boto3.client("s3", **options)
        s3.put_object(Bucket=event["bucket"], Key="python-" + region, Body=b"from boto3")
        sqs = boto3.client("sqs", **options)
        queue_url = sqs.get_queue_url(QueueName=event["queue"])["QueueUrl"]
        sqs.send_message(QueueUrl=queue_url, MessageBody="python-" + region)
        account = boto3.client("sts", **options).get_caller_identity()["Account"]
    except EndpointConnectionError as error:
        if not event.get("off"):
            raise
        return {"failed": type(error).__name__}
    return {"sdk": "boto3 " + boto3.__version__, "value": item["Item"]["value"]["S"], "account": account,
            "hosts": [dynamodb.meta.endpoint_url.split("/")[2], s3.meta.endpoint_url.split("/")[2]]}
"""
PROBES = {
    "nodejs16.x": ("index.js", NODE_V2),  # AWS's nodejs16.x and older runtimes provide the SDK v2
    "nodejs20.x": ("index.js", NODE_V3_WITHOUT_ENDPOINT),
    "python3.8": ("index.py", PYTHON_REGION_ONLY),
    "python3.12": ("index.py", PYTHON_REGION_ONLY),
}


@pytest.fixture(scope="module")
def data(engine):
    """A table holding one item and a queue in each region, and a bucket."""
    key, value, bucket = (
        uuid.uuid4().hex,
        f"written by the test {uuid.uuid4().hex[:8]}",
        f"hosts-{uuid.uuid4().hex[:8]}",
    )
    tables, queues = {}, {}
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    for region in REGIONS:
        dynamodb = boto3.client("dynamodb", region_name=region)
        table = f"hosts-{uuid.uuid4().hex[:8]}"
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.put_item(TableName=table, Item={"key": {"S": key}, "value": {"S": value}})
        tables[region] = table
        queues[region] = boto3.client("sqs", region_name=region).create_queue(QueueName=table)["QueueUrl"]
    yield {"key": key, "value": value, "bucket": bucket, "tables": tables, "queues": queues}
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)
    for region, table in tables.items():
        boto3.client("dynamodb", region_name=region).delete_table(TableName=table)
        boto3.client("sqs", region_name=region).delete_queue(QueueUrl=queues[region])


@contextlib.contextmanager
def function(runtime: str, variables: dict | None = None):
    lam = boto3.client("lambda")
    name = f"hosts-{runtime.replace('.', '')}-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Handler="index.handler",
        Role="arn:aws:iam::000000000000:role/hosts",
        Code={"ZipFile": zipped(PROBES[runtime][1], PROBES[runtime][0])},
        Timeout=30,
        Environment={"Variables": variables or {}},
    )
    try:
        config = wait_active(lam, name)
        assert config["State"] == "Active", config.get("StateReason")
        yield name
    finally:
        lam.delete_function(FunctionName=name)


def invoke(name: str, event: dict) -> dict:
    response = boto3.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event))
    result = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, result
    return result


@pytest.mark.parametrize("runtime", sorted(PROBES))
def test_code_that_ignores_the_endpoint_reaches_the_engine_in_every_region(data, runtime):
    s3 = boto3.client("s3")
    prefix = {"nodejs16.x": "node-v2-", "nodejs20.x": "node-v3-"}.get(runtime, "python-")
    with function(runtime) as name:
        for region in REGIONS:
            found = invoke(name, event(data, region))
            assert found["hosts"][0] == f"dynamodb.{region}.amazonaws.com", found  # AWS's host name ...
            assert found["value"] == data["value"], found  # ... and the engine's item behind it
            assert found["account"] == "000000000000"
            assert found.get("health", [200, 200]) == [200, 200]
            assert found.get("presigned", "from the SDK v2") == "from the SDK v2"
            sqs = boto3.client("sqs", region_name=region)
            messages = sqs.receive_message(QueueUrl=data["queues"][region], WaitTimeSeconds=1).get("Messages", [])
            assert [message["Body"] for message in messages] == [f"{prefix}{region}"]
            sqs.delete_message(QueueUrl=data["queues"][region], ReceiptHandle=messages[0]["ReceiptHandle"])
    written = {item["Key"] for item in s3.list_objects_v2(Bucket=data["bucket"]).get("Contents", [])}
    assert {f"{prefix}{region}" for region in REGIONS} <= written


def event(data: dict, region: str) -> dict:
    return {
        "region": region,
        "table": data["tables"][region],
        "key": data["key"],
        "bucket": data["bucket"],
        "queue": data["tables"][region],  # each region's queue has its table's name
    }


@pytest.mark.parametrize("runtime", ["nodejs16.x", "python3.12"])
def test_the_switch_in_a_functions_environment_leaves_aws_host_names_alone(data, runtime):
    region = REGIONS[1]
    with function(runtime, {"DISABLE_TRANSPARENT_ENDPOINT_INJECTION": "1"}) as name:
        found = invoke(name, {**event(data, region), "off": True})
    # the system resolver answers (offline here: no such host; online: AWS refuses the keys)
    assert found.get("failed"), found


# --- which names the workers' resolvers take ---------------------------------------------------

NAME_CASES = {
    "dynamodb.us-east-1.amazonaws.com": True,
    "DYNAMODB.EU-WEST-1.AMAZONAWS.COM.": True,
    "s3.amazonaws.com": True,
    "my-bucket.s3.eu-west-1.amazonaws.com": True,
    "abc123.execute-api.us-east-1.amazonaws.com": True,
    "dynamodb.cn-north-1.amazonaws.com.cn": True,
    "amazonaws.com": False,
    "evilamazonaws.com": False,
    "dynamodb.us-east-1.amazonaws.com.example.org": False,
    "localhost": False,
}


def test_the_python_preload_takes_exactly_the_aws_host_names():
    namespace = runpy.run_path(str(PRELOAD / "localstack_names.py"))
    assert {name: namespace["is_aws_name"](name) for name in NAME_CASES} == NAME_CASES


PYTHON_RESOLVES = """
import json, socket, sys
sys.path.insert(0, sys.argv[1])
import localstack_names
localstack_names.install()
found = {}
for name in json.loads(sys.argv[2]):  # the engine's port (4999 here), whatever port was asked
    try:
        found[name] = socket.getaddrinfo(name, 443, 0, socket.SOCK_STREAM)[0][4] == ("127.0.0.1", 4999)
    except OSError:
        found[name] = False
print(json.dumps(found))
"""
NODE_CONNECTS = """
const net = require("net"); const names = JSON.parse(process.argv[1]); const found = {}; let left = names.length;
const server = net.createServer((socket) => socket.end()).listen(4999, "127.0.0.1", () => {
  for (const name of names) {  // connected to this server (the engine's port) whatever port was asked
    const socket = net.connect({ host: name, port: 443, timeout: 3000 }, () => {
      found[name] = socket.remoteAddress === "127.0.0.1" && socket.remotePort === 4999; socket.destroy(); done(); });
    socket.on("error", () => { found[name] = false; done(); });
    socket.on("timeout", () => { found[name] = false; socket.destroy(); done(); });
  }
});
function done() { if (--left === 0) { console.log(JSON.stringify(found)); server.close(); } }
"""


PRELOAD_PROBES = {
    "python": [sys.executable, "-c", PYTHON_RESOLVES, str(PRELOAD)],
    "node": ["node", "--require", str(PRELOAD / "localstack_names.js"), "-e", NODE_CONNECTS],
}


@pytest.mark.parametrize(
    "language",
    ["python", pytest.param("node", marks=pytest.mark.skipif(shutil.which("node") is None, reason="no node"))],
)
@pytest.mark.parametrize("port", ["4999", ""])
def test_the_preloads_send_aws_host_names_to_the_engines_port_only_in_workers(language, port):
    """With the variable (a worker): AWS names go to 127.0.0.1 on its port, whatever port was
    asked; without it (a shell with `ctl.py env`): the system resolver's answer."""
    names = [
        "dynamodb.us-east-1.amazonaws.com",
        "DYNAMODB.EU-WEST-1.AMAZONAWS.COM",
        "my-bucket.s3.eu-west-1.amazonaws.com",
        "evilamazonaws.com",
    ]
    result = subprocess.run(
        [*PRELOAD_PROBES[language], json.dumps(names)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"LOCALSTACK_NODOCKER_AWS_HOSTS_PORT": port, "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {name: bool(port) and name != "evilamazonaws.com" for name in names}


@pytest.mark.exhaustive
def test_the_switch_for_the_engine_leaves_every_functions_aws_host_names_alone(tmp_path, engine):
    """A second engine (the session's port + 33) started with the switch: a function with a
    region-only client fails to reach AWS's host name, as without this engine feature."""
    with second_engine_at(tmp_path / "state", PERSISTENCE="0", DISABLE_TRANSPARENT_ENDPOINT_INJECTION="1") as ctl:
        started(ctl("up"))
        lam = client("lambda")
        lam.create_function(
            FunctionName="region-only",
            Runtime="python3.12",
            Handler="index.handler",
            Role="arn:aws:iam::000000000000:role/hosts",
            Code={"ZipFile": zipped(PYTHON_REGION_ONLY, "index.py")},
            Timeout=30,
        )
        assert wait_active(lam, "region-only")["State"] == "Active"
        response = lam.invoke(FunctionName="region-only", Payload=json.dumps({**event_off(), "off": True}))
        found = json.loads(response["Payload"].read())
    assert "FunctionError" not in response and found.get("failed"), found


def event_off() -> dict:
    """Names for a probe whose first call is expected to fail."""
    return {"region": REGIONS[1], "table": "none", "key": "none", "bucket": "none", "queue": "none"}
