"""CloudWatch clients for tests that talk to the engine: the handlers' own (roxs_common.aws),
which pins the query protocol that LocalStack 4.8 parses, and one that speaks CBOR."""

import sys

import boto3
import botocore.session
from botocore.config import Config

from tests.support.engine import ROOT

_COMMON = str(ROOT / "lambda_src" / "common")
if _COMMON not in sys.path:
    sys.path.insert(0, _COMMON)

from roxs_common.aws import new_client  # noqa: E402


def cloudwatch_client(config: Config | None = None):
    return new_client("cloudwatch", config) if config else new_client("cloudwatch")


class _CborFirst:
    """botocore's model loader, with CloudWatch in smithy-rpc-v2-cbor only: botocore itself
    prefers CloudWatch's JSON protocol, where the AWS CLI v2 and the SDKs for JavaScript v3
    and Java v2 send CBOR."""

    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def load_service_model(self, service_name, type_name, api_version=None):
        model = self._loader.load_service_model(service_name, type_name, api_version)
        if type_name == "service-2" and service_name == "cloudwatch":
            assert "smithy-rpc-v2-cbor" in model["metadata"]["protocols"], model["metadata"]["protocols"]
            cbor = {"protocol": "smithy-rpc-v2-cbor", "protocols": ["smithy-rpc-v2-cbor"]}
            model["metadata"] = {**model["metadata"], **cbor}
        return model


def cbor_cloudwatch_client():
    """A CloudWatch client whose requests and answers are smithy-rpc-v2-cbor."""
    session = botocore.session.get_session()
    session.register_component("data_loader", _CborFirst(session.get_component("data_loader")))
    client = boto3.Session(botocore_session=session).client("cloudwatch")
    assert client.meta.service_model.resolved_protocol == "smithy-rpc-v2-cbor"
    return client
