"""boto3 clients, created once per execution environment and reused by warm invocations."""

import functools

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

# "standard" retry mode backs off on throttling and transient 5xx for every service.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})

# botocore >= 1.38 speaks CloudWatch's newest protocol (smithy-rpc-v2-cbor), which LocalStack
# 4.8 does not parse (it answers "Operation detection failed"); CloudWatch on AWS still
# serves the query protocol (its model lists both), so pinning query works on both.
_PINNED_PROTOCOLS = {"cloudwatch": "query"}


class _PinnedProtocolLoader(botocore.loaders.Loader):
    def load_service_model(self, service_name, type_name, api_version=None):
        model = super().load_service_model(service_name, type_name, api_version)
        protocol = _PINNED_PROTOCOLS.get(service_name)
        if protocol and type_name == "service-2":
            model = {**model, "metadata": {**model["metadata"], "protocol": protocol, "protocols": [protocol]}}
        return model


def new_client(service_name: str, config: Config = _CONFIG):
    """A new client for `service_name` (uncached; `client` is the cached one)."""
    if service_name not in _PINNED_PROTOCOLS:
        return boto3.client(service_name, config=config)
    session = botocore.session.get_session()
    session.register_component("data_loader", _PinnedProtocolLoader())
    return boto3.Session(botocore_session=session).client(service_name, config=config)


@functools.cache
def client(service_name: str):
    """A client for `service_name` from boto3's default chain.

    Region, credentials and endpoint come from the environment (AWS_REGION, the execution
    role, and AWS_ENDPOINT_URL which LocalStack sets), never from code.
    """
    return new_client(service_name)


# What S3 answers for a key that is not there: GetObject says NoSuchKey, HEAD (no body to
# carry a code) NotFound or the bare status.
NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
# What DynamoDB answers when a conditional write or a transaction finds the item changed.
CONFLICT_CODES = frozenset({"TransactionCanceledException", "ConditionalCheckFailedException"})


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def is_not_found(error: ClientError) -> bool:
    return error_code(error) in NOT_FOUND_CODES


def is_conflict(error: ClientError) -> bool:
    return error_code(error) in CONFLICT_CODES
