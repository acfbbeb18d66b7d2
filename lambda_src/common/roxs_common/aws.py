"""boto3 clients, created once per execution environment and reused by warm invocations."""

import functools

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# "standard" retry mode backs off on throttling and transient 5xx for every service.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


@functools.cache
def client(service_name: str):
    """A client for `service_name` from boto3's default chain.

    Region, credentials and endpoint come from the environment (AWS_REGION, the execution
    role, and AWS_ENDPOINT_URL which LocalStack sets), never from code.
    """
    return boto3.client(service_name, config=_CONFIG)


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")
