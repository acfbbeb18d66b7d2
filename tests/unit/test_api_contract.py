"""docs/openapi.yaml describes exactly the routes the handler serves, and the query-string
rules the schemathesis run relies on (tests/integration/test_reliability_api.py)."""

import json
from pathlib import Path

import api_handler
import pytest
import yaml

from tests.unit import listers
from tests.unit.test_api_handler import api_event

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "trace"}


def documented_operations() -> set[str]:
    document = yaml.safe_load(OPENAPI.read_text())
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_the_openapi_document_lists_every_route_and_only_those():
    assert documented_operations() == set(api_handler.router.endpoints)


def test_every_documented_path_answers_the_cors_preflight():
    document = yaml.safe_load(OPENAPI.read_text())
    assert all("options" in item and "204" in item["options"]["responses"] for item in document["paths"].values())


def respond(context, path, query=None, multi=None):
    event = api_event("GET", path, query)
    event["multiValueQueryStringParameters"] = multi
    response = api_handler.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize("path", ["/images", "/logs", "/notifications", "/files"])
def test_a_repeated_query_parameter_is_400_not_silently_the_last(aws, context, monkeypatch, path):
    listers.install(monkeypatch)
    # API Gateway puts the last value in queryStringParameters and all of them in the multi-value map.
    status, body = respond(context, path, {"limit": "500"}, {"limit": ["5", "500"]})
    assert status == 400 and body["error"] == "query parameter 'limit' is given 2 times; give it once"
    status, _ = respond(context, path, {"limit": "5"}, {"limit": ["5"]})
    assert status == 200


@pytest.mark.parametrize("path", ["/images", "/logs", "/notifications", "/files"])
def test_an_empty_limit_is_400_not_the_default(aws, context, monkeypatch, path):
    listers.install(monkeypatch)
    status, body = respond(context, path, {"limit": ""})
    assert status == 400 and "limit must be an integer between 1 and 100, got ''" in body["error"]
