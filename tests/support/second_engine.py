"""A second engine for tests that stop and start it (own port and state folder), so the
session's engine is left alone; and what those tests build on it."""

import contextlib
import io
import json
import os
import urllib.parse
import urllib.request
import zipfile

import boto3
from botocore.config import Config

from tests.support.engine import ctl, endpoint

PORT = int(os.environ.get("ROXS_SECOND_ENGINE_PORT", (urllib.parse.urlparse(endpoint()).port or 4566) + 33))
URL = f"http://localhost:{PORT}"
STATE_ROUTE = "/_localstack/nodocker/state"
ROLE = "arn:aws:iam::000000000000:role/keep"


@contextlib.contextmanager
def second_engine_at(state_dir, **env):
    """ctl.py bound to PORT and `state_dir`, with `env` (e.g. SNAPSHOT_FLUSH_INTERVAL);
    stopped at the end whatever happens."""
    env = {"AWS_ENDPOINT_URL": URL, "LOCALSTACK_STATE_DIR": str(state_dir), **env}
    try:
        yield lambda *args: ctl(*args, env=env, check=False)
    finally:
        ctl("down", env=env, check=False)


def client(service: str, attempts: int | None = None, region_name: str = "us-east-1"):
    """A client of the second engine; `attempts=1`: no retries, so an answer is the engine's."""
    config = Config(retries={"total_max_attempts": attempts, "mode": "standard"}) if attempts else None
    return boto3.client(service, endpoint_url=URL, region_name=region_name, config=config)


def started(result) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def state_document() -> dict:
    return get_json(f"{URL}{STATE_ROUTE}")


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def create_function(name: str, runtime: str, handler: str, files: dict[str, str], **options) -> str:
    """The function's ARN, once it is active."""
    arn = client("lambda").create_function(
        FunctionName=name,
        Runtime=runtime,
        Handler=handler,
        Role=ROLE,
        Code={"ZipFile": zipped(files)},
        Timeout=20,
        **options,
    )["FunctionArn"]
    client("lambda").get_waiter("function_active_v2").wait(FunctionName=name)
    return arn


def stream_table(name: str) -> dict:
    """A table keyed by `pk` with a KEYS_ONLY stream; its description."""
    return client("dynamodb").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )["TableDescription"]


def answer(name: str) -> dict:
    response = client("lambda").invoke(FunctionName=name)
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())
