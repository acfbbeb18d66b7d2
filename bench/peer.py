"""The engine beside its lightest peer, MiniStack (`make bench ONLY=peer`).

MiniStack (PyPI ``ministack``, MIT) is a single process on one port, like the engine, and
runs Python functions without Docker too. Both start empty, side by side: the engine with
``ctl.py up`` on the bench's scratch port (its own state folder), MiniStack pinned and
hash-locked (bench/ministack.txt, from bench/ministack.in; the command that locks it is at
its top) in its own virtualenv under the install folder (.localstack/ministack), on
BENCH_PORT + 3, bound to the loopback. Each
operation is sampled round-robin (one call on one, then one on the other, the order swapped
every sample, so a noisy moment of the shared machine falls on both) with one boto3 client
configuration, and its p50/p99 on each and the ratio of the p50s are printed.
"""

import io
import json
import os
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid
import zipfile
from contextlib import contextmanager
from pathlib import Path

import boto3
from botocore.config import Config

HERE = Path(__file__).resolve().parent
MINISTACK_LOCK = HERE / "ministack.txt"
START_TIMEOUT_S = 60
QUERY_ITEMS = 20_000
QUERY_PARTITION = "bench"
BODY = b"x" * 1024
TRIVIAL = "def handler(event, context):\n    return {'echo': event.get('n')}\n"
# Same client for both: no retries (a failure shows, not a slower sample), the default timeouts.
CLIENT_CONFIG = Config(region_name="us-east-1", retries={"total_max_attempts": 1})
# The calls whose p50 must not exceed MiniStack's (ratio <= 1.0); the others must stay ahead (< 1.0).
PLAIN = (
    "S3 PutObject",
    "S3 GetObject",
    "DynamoDB PutItem",
    "DynamoDB GetItem",
    "SQS SendMessage",
    "SQS ReceiveMessage",
    "SNS Publish → SQS",
)


class Side:
    """One engine under test: its name, endpoint, boto3 clients, start time and idle RSS."""

    def __init__(self, name: str, endpoint: str, start_s: float, pid: int):
        self.name, self.endpoint, self.start_s, self.pid = name, endpoint, start_s, pid
        self.idle_rss_mb = rss_mb(pid)
        self._clients: dict = {}

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service,
                endpoint_url=self.endpoint,
                aws_access_key_id="test",
                aws_secret_access_key="test",
                config=CLIENT_CONFIG,
            )
        return self._clients[service]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


# --- MiniStack ------------------------------------------------------------------------------------


def install_ministack(ctl: list, venv: Path, python: str) -> None:
    """The locked set in its own virtualenv (re-synced when the lock changed)."""
    stamp = venv / "lock.txt"
    if stamp.exists() and stamp.read_text() == MINISTACK_LOCK.read_text():
        return
    if not (venv / "bin" / "python").exists():
        subprocess.run([*ctl, "uv", "venv", "-q", "--python", python, str(venv)], check=True)
    subprocess.run(
        [
            *ctl,
            "uv",
            "pip",
            "sync",
            "-q",
            "--python",
            str(venv / "bin" / "python"),
            "--require-hashes",
            str(MINISTACK_LOCK),
        ],
        check=True,
    )
    stamp.write_text(MINISTACK_LOCK.read_text())


@contextmanager
def ministack(venv: Path, port: int):
    """MiniStack started as its README says (`ministack`), on the loopback, empty; stopped after."""
    with tempfile.TemporaryDirectory() as home:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "TMPDIR": home,
            "GATEWAY_PORT": str(port),
            "BIND_HOST": "127.0.0.1",
        }
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(venv / "bin" / "ministack")],
            env=env,
            cwd=home,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            endpoint = f"http://localhost:{port}"
            while not healthy(f"{endpoint}/_ministack/health"):
                if process.poll() is not None or time.perf_counter() - started > START_TIMEOUT_S:
                    raise SystemExit(f"MiniStack did not start on port {port} (exit code {process.poll()})")
                time.sleep(0.02)
            start_s = time.perf_counter() - started
            time.sleep(1)  # idle: what it holds once started, not while it still imports
            yield Side("MiniStack", endpoint, start_s, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def engine(ctl: list, port: int):
    """The engine as `make up` starts it, on a state folder of its own (empty); stopped after."""
    with tempfile.TemporaryDirectory() as state:
        env = {**os.environ, "AWS_ENDPOINT_URL": f"http://localhost:{port}", "LOCALSTACK_STATE_DIR": state}
        started = time.perf_counter()
        result = subprocess.run([*ctl, "up"], env=env, capture_output=True, text=True)
        start_s = time.perf_counter() - started
        try:
            if result.returncode != 0:
                raise SystemExit(f"the engine did not start on port {port}: {result.stdout}{result.stderr}")
            time.sleep(1)
            yield Side("engine", env["AWS_ENDPOINT_URL"], start_s, int((Path(state) / "localstack.pid").read_text()))
        finally:
            subprocess.run([*ctl, "down"], env=env, capture_output=True)


# --- the operations -------------------------------------------------------------------------------


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("trivial.py", source)
    return buffer.getvalue()


def prepare(side: Side) -> dict:
    """The resources the calls use, created on one side; their names."""
    suffix = uuid.uuid4().hex[:8]
    names = {
        "bucket": f"bench-peer-{suffix}",
        "table": f"bench-peer-{suffix}",
        "query_table": f"bench-peer-query-{suffix}",
        "function": f"bench-peer-{suffix}",
    }
    side.client("s3").create_bucket(Bucket=names["bucket"])
    dynamodb = side.client("dynamodb")
    dynamodb.create_table(
        TableName=names["table"],
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )
    dynamodb.create_table(
        TableName=names["query_table"],
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
    )
    for start in range(0, QUERY_ITEMS, 25):
        items = [
            {"PutRequest": {"Item": {"pk": {"S": QUERY_PARTITION}, "sk": {"N": str(n)}, "body": {"S": f"item {n}"}}}}
            for n in range(start, min(start + 25, QUERY_ITEMS))
        ]
        unprocessed = dynamodb.batch_write_item(RequestItems={names["query_table"]: items})["UnprocessedItems"]
        if unprocessed:
            raise SystemExit(f"{side.name}: BatchWriteItem left items unprocessed")
    sqs = side.client("sqs")
    names["queue"] = sqs.create_queue(QueueName=f"bench-peer-{suffix}")["QueueUrl"]
    names["subscriber"] = sqs.create_queue(QueueName=f"bench-peer-sns-{suffix}")["QueueUrl"]
    subscriber_arn = sqs.get_queue_attributes(QueueUrl=names["subscriber"], AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns = side.client("sns")
    names["topic"] = sns.create_topic(Name=f"bench-peer-{suffix}")["TopicArn"]
    sns.subscribe(
        TopicArn=names["topic"],
        Protocol="sqs",
        Endpoint=subscriber_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    lam = side.client("lambda")
    lam.create_function(
        FunctionName=names["function"],
        Runtime="python3.11",
        Handler="trivial.handler",
        Role="arn:aws:iam::000000000000:role/bench",
        Code={"ZipFile": _zip(TRIVIAL)},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=names["function"])
    lam.invoke(FunctionName=names["function"], Payload=b'{"n": 0}')["Payload"].read()  # warm
    return names


def _receive_published(sqs, queue: str, body: str) -> None:
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline:
        for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", []):
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            if message["Body"] == body:
                return
    raise SystemExit(f"a message published to SNS did not reach its SQS subscriber within 10 s ({queue})")


def operations() -> dict:
    """Operation name -> call(side, names, n): one sample (the response read in full)."""

    def receive(side, names, n):
        messages = side.client("sqs").receive_message(QueueUrl=names["queue"], MaxNumberOfMessages=1)
        if not messages.get("Messages"):
            raise SystemExit(f"{side.name}: ReceiveMessage found no message (sample {n})")

    def publish_to_sqs(side, names, n):
        body = f"published {n}"
        side.client("sns").publish(TopicArn=names["topic"], Message=body)
        _receive_published(side.client("sqs"), names["subscriber"], body)

    def query(side, names, n):
        items = side.client("dynamodb").query(
            TableName=names["query_table"],
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": QUERY_PARTITION}},
            ScanIndexForward=False,
            Limit=20,
        )["Items"]
        if len(items) != 20:
            raise SystemExit(f"{side.name}: Query answered {len(items)} items, not 20")

    return {
        "S3 PutObject": lambda side, names, n: side.client("s3").put_object(
            Bucket=names["bucket"], Key=f"object-{n}", Body=BODY
        ),
        "S3 GetObject": lambda side, names, n: (
            side.client("s3").get_object(Bucket=names["bucket"], Key=f"object-{n}")["Body"].read()
        ),
        "DynamoDB PutItem": lambda side, names, n: side.client("dynamodb").put_item(
            TableName=names["table"], Item={"id": {"S": f"item-{n}"}, "n": {"N": str(n)}, "body": {"S": "x" * 100}}
        ),
        "DynamoDB GetItem": lambda side, names, n: side.client("dynamodb").get_item(
            TableName=names["table"], Key={"id": {"S": f"item-{n}"}}
        ),
        "SQS SendMessage": lambda side, names, n: side.client("sqs").send_message(
            QueueUrl=names["queue"], MessageBody=f"message {n}"
        ),
        "SQS ReceiveMessage": receive,
        "SNS Publish → SQS": publish_to_sqs,
        f"DynamoDB Query Limit 20 of {QUERY_ITEMS:,}": query,
        "Lambda warm invoke": lambda side, names, n: (
            side.client("lambda")
            .invoke(FunctionName=names["function"], Payload=json.dumps({"n": n}).encode())["Payload"]
            .read()
        ),
    }


def sample(sides: list[Side], names: dict, samples: int) -> dict:
    """operation -> side name -> milliseconds of each sample, taken round-robin."""
    figures: dict = {}
    for operation, call in operations().items():
        figures[operation] = {side.name: [] for side in sides}
        for n in range(samples):
            for side in sides if n % 2 == 0 else reversed(sides):
                started = time.perf_counter()
                call(side, names[side.name], n)
                figures[operation][side.name].append((time.perf_counter() - started) * 1000)
    return figures


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def run(ctl: list, install_dir: Path, engine_port: int, peer_port: int, samples: int, row) -> None:
    """Start both, prepare, sample, and report one row per operation plus start and memory.
    ``row`` is bench/run.py's row(what, figure, baseline, target, met, **data)."""
    venv = install_dir / "ministack"
    install_ministack(ctl, venv, str(install_dir / "venv" / "bin" / "python"))
    with engine(ctl, engine_port) as ours, ministack(venv, peer_port) as peer:
        names = {side.name: prepare(side) for side in (ours, peer)}
        figures = sample([ours, peer], names, samples)
        for operation, by_side in figures.items():
            p50 = {name: percentile(values, 0.5) for name, values in by_side.items()}
            p99 = {name: percentile(values, 0.99) for name, values in by_side.items()}
            ratio = p50["engine"] / p50["MiniStack"]
            plain = operation in PLAIN
            row(
                f"vs MiniStack: {operation} ({samples})",
                f"p50 {p50['engine']:.1f} ms, p99 {p99['engine']:.1f} ms; {ratio:.2f}x",
                f"MiniStack p50 {p50['MiniStack']:.1f} ms, p99 {p99['MiniStack']:.1f} ms",
                "p50 <= 1.0x MiniStack" if plain else "p50 < 1.0x MiniStack",
                ratio <= 1.0 if plain else ratio < 1.0,
                operation=operation,
                ratio=ratio,
                p50_ms=p50,
                p99_ms=p99,
                mean_ms={name: statistics.fmean(values) for name, values in by_side.items()},
            )
        row(
            "vs MiniStack: start → healthy, idle RSS",
            f"{ours.start_s:.2f} s, {ours.idle_rss_mb:.0f} MB",
            f"MiniStack {peer.start_s:.2f} s, {peer.idle_rss_mb:.0f} MB",
            "report",
            None,
            start_s={"engine": ours.start_s, "MiniStack": peer.start_s},
            idle_rss_mb={"engine": ours.idle_rss_mb, "MiniStack": peer.idle_rss_mb},
        )
