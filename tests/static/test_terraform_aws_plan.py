"""The same Terraform on AWS, checked offline: `terraform test` (tests/static/terraform/
aws.tftest.hcl) plans the root with plain terraform (no tflocal override) against a mocked
AWS provider, and the planned resources of each run, nested modules included, are checked
here: names from the prefix, no endpoint or key, policies naming only the stack's own
resources, the CORS origin and log retention from their variables, and, for an AWS-style
configuration (api_auth = api_key or iam), no write method without authorization and a
throttled stage."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import build
from tests.support.terraform import copy_configuration
from tools.stack import ROOT

pytestmark = pytest.mark.slow  # terraform init and test with a mocked provider; make test-quick leaves it out

TEST_DIR = Path(__file__).parent / "terraform"
DEPLOY_GUIDE = ROOT / "docs" / "deploy-to-aws.md"
PREFIX = "acme-prod"
CORS_ORIGIN = "https://dashboard.example.com"
LOG_RETENTION_DAYS = 30
PACKAGES = tuple(package.name for package in build.packages())
PUBLIC_METHODS = {"GET", "OPTIONS"}
# The one documented statement on "*" (docs/reliability-and-security.md): it has no resource-level form.
# Actions IAM grants on "*" only, each justified where it is granted.
DOCUMENTED_WILDCARDS = {
    ("module.dashboard.module.function", "lambda:ListFunctions"),
    ("module.dashboard.module.function", "cloudwatch:GetMetricData"),
}
# Every function may publish its own metrics: "*" limited by a condition on the namespace.
NAMESPACE_CONDITION = {"test": "StringEquals", "variable": "cloudwatch:namespace", "values": ["Roxs/Functions"]}
# Attributes that carry a resource's own name.
NAME_ATTRIBUTES = ("name", "bucket", "function_name")
LOCAL_ONLY = ("localhost", "4566", "localstack", "http://")


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict:
    """run name -> planned resource changes, from one `terraform test -verbose -json`."""
    work = tmp_path_factory.mktemp("aws-plan")
    # Only the configuration: no localstack_providers_override.tf, no state, no .terraform.
    copy_configuration(work)
    shutil.copytree(TEST_DIR, work / "tftest")
    # The plan hashes the packages; their content does not matter here (build.py is not run).
    (work / "build").mkdir()
    for package in PACKAGES:
        (work / "build" / f"{package}.zip").write_bytes(b"placeholder")
    env = os.environ.copy()
    for name in list(env):  # nothing of the local engine may leak into "the AWS plan"
        if name.startswith(("AWS_", "TF_VAR_")):
            del env[name]
    init = subprocess.run(
        ["terraform", "init", "-backend=false", "-input=false"],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    test = subprocess.run(
        ["terraform", "test", "-test-directory=tftest", "-verbose", "-json"],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    messages = [json.loads(line) for line in test.stdout.splitlines() if line.startswith("{")]
    errors = [m["@message"] + " " + m["diagnostic"].get("detail", "") for m in messages if m["type"] == "diagnostic"]
    statuses = {
        m["test_run"]["run"]: m["test_run"]["status"]
        for m in messages
        if m["type"] == "test_run" and m["test_run"].get("progress") == "complete"
    }
    assert test.returncode == 0 and set(statuses.values()) == {"pass"}, (
        f"{statuses}\n" + "\n".join(errors) + test.stderr
    )
    return {m["@testrun"]: m["test_plan"]["resource_changes"] for m in messages if m["type"] == "test_plan"}


def planned(changes: list, resource_type: str) -> list[dict]:
    return [
        {
            **change["change"]["after"],
            "_address": change["address"],
            "_module": change.get("module_address", ""),
            "_unknown": change["change"]["after_unknown"],
        }
        for change in changes
        if change["type"] == resource_type
    ]


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def open_write_methods(changes: list) -> list[str]:
    return [
        method["_address"]
        for method in planned(changes, "aws_api_gateway_method")
        if method["http_method"] not in PUBLIC_METHODS
        and method["authorization"] == "NONE"
        and not method["api_key_required"]
    ]


def test_every_run_of_the_aws_plan_passes(plans):
    # (the fixture asserts that every run, the refused values included, passed)
    assert {"aws_with_api_key", "aws_with_iam", "tutorial_without_auth"} <= set(plans)


@pytest.mark.parametrize("run", ["aws_with_api_key", "aws_with_iam"])
def test_every_name_comes_from_the_prefix(plans, run):
    names = [
        (resource["_address"], resource[attribute])
        for change in plans[run]
        if change["mode"] == "managed"
        for resource in [planned([change], change["type"])[0]]
        for attribute in NAME_ATTRIBUTES
        if isinstance(resource.get(attribute), str)
    ]
    assert len(names) > 30
    assert [(address, name) for address, name in names if PREFIX not in name.lower()] == []


@pytest.mark.parametrize("run", ["aws_with_api_key", "aws_with_iam"])
def test_no_endpoint_or_key_anywhere(plans, run):
    found = [
        (change["address"], text)
        for change in plans[run]
        for text in strings(change["change"]["after"])
        if any(word in text.lower() for word in LOCAL_ONLY)
    ]
    assert found == []
    provider = re.search(r'provider "aws" \{[^}]*\}', (ROOT / "main.tf").read_text()).group(0)
    assert re.sub(r"\s+", " ", provider) == 'provider "aws" { region = var.aws_region }'


def test_each_policy_names_only_resources_of_the_stack(plans):
    documents = [
        doc
        for doc in planned(plans["aws_with_api_key"], "aws_iam_policy_document")
        if doc["_address"].endswith("module.function.data.aws_iam_policy_document.this")
    ]
    assert len(documents) == len(PACKAGES)
    # Every statement is known at plan time (a dead-letter queue's ARN is an unknown resource
    # of a known statement), so every function's policy is checked here.
    assert [doc["_address"] for doc in documents if doc["_unknown"].get("statement") is True] == []
    for document, unknown in ((doc, doc["_unknown"]) for doc in documents):
        sids = [statement["sid"] for statement in document["statement"]]
        assert sids[0] == "WriteOwnLogs", document["_address"]
        for statement, statement_unknown in zip(document["statement"], unknown["statement"], strict=True):
            assert statement["effect"] == "Allow" and not any("*" in action for action in statement["actions"])
            for resource, is_reference in zip(statement["resources"], statement_unknown["resources"], strict=True):
                # An unknown value at plan time is an attribute of a resource this stack creates;
                # a known one must be an ARN built from a name of the stack (the notifications
                # queue's, see modules/notifications), or the documented "*".
                if is_reference:
                    continue
                if resource == "*" and statement["actions"] == ["cloudwatch:PutMetricData"]:
                    assert [NAMESPACE_CONDITION] == statement["condition"], (document["_address"], statement)
                elif resource == "*":
                    assert all(
                        (document["_module"], action) in DOCUMENTED_WILDCARDS for action in statement["actions"]
                    ), (document["_address"], statement)
                else:
                    assert resource.startswith("arn:") and resource.split(":")[-1].startswith(f"{PREFIX}-"), (
                        document["_address"],
                        resource,
                    )


def test_cors_origin_and_log_retention_follow_their_variables(plans):
    changes = plans["aws_with_api_key"]
    functions = {fn["function_name"]: fn for fn in planned(changes, "aws_lambda_function")}
    assert functions[f"{PREFIX}-api-handler"]["environment"][0]["variables"]["CORS_ALLOW_ORIGIN"] == CORS_ORIGIN
    groups = {group["name"]: group["retention_in_days"] for group in planned(changes, "aws_cloudwatch_log_group")}
    assert groups == {f"/aws/lambda/{name}": LOG_RETENTION_DAYS for name in functions}
    # build.py installs wheels for the runtime Terraform deploys: it reads the same variable.
    assert {fn["runtime"] for fn in functions.values()} == {f"python{build.lambda_python_version()}"}


def test_the_image_processors_settings_default_to_limits_json(plans):
    limits = json.loads((ROOT / "lambda_src" / "image_processor" / "limits.json").read_text())
    [function] = [
        fn
        for fn in planned(plans["aws_with_api_key"], "aws_lambda_function")
        if fn["function_name"] == f"{PREFIX}-image-processor"
    ]
    environment = function["environment"][0]["variables"]
    assert environment["THUMBNAIL_MAX_PX"] == str(limits["thumbnail_max_px"]["default"])
    assert environment["MAX_IMAGE_PIXELS"] == str(limits["max_image_pixels"]["default"])
    assert function["memory_size"] == limits["function_memory_mb"]["default"]


def test_an_aws_style_configuration_has_no_write_method_without_authorization(plans):
    assert open_write_methods(plans["aws_with_api_key"]) == []
    assert open_write_methods(plans["aws_with_iam"]) == []
    # The check sees an open API: the tutorial's configuration has its ANY methods open.
    assert len(open_write_methods(plans["tutorial_without_auth"])) == 2
    for run, expected in (("aws_with_api_key", ("NONE", True)), ("aws_with_iam", ("AWS_IAM", False))):
        methods = planned(plans[run], "aws_api_gateway_method")
        assert {(m["authorization"], m["api_key_required"]) for m in methods if m["http_method"] == "ANY"} == {expected}
        assert {(m["authorization"], m["api_key_required"]) for m in methods if m["http_method"] in PUBLIC_METHODS} == {
            ("NONE", False)
        }


@pytest.mark.parametrize("run", ["aws_with_api_key", "aws_with_iam"])
def test_the_stage_is_throttled(plans, run):
    [settings] = planned(plans[run], "aws_api_gateway_method_settings")
    assert settings["method_path"] == "*/*"
    assert (
        settings["settings"][0]["throttling_rate_limit"] > 0 and settings["settings"][0]["throttling_burst_limit"] >= 1
    )


def test_the_api_key_has_a_daily_quota_and_iam_a_caller_policy(plans):
    [plan] = planned(plans["aws_with_api_key"], "aws_api_gateway_usage_plan")
    assert plan["quota_settings"][0]["period"] == "DAY" and plan["quota_settings"][0]["limit"] >= 1
    assert planned(plans["aws_with_api_key"], "aws_iam_policy") == []
    [policy] = planned(plans["aws_with_iam"], "aws_iam_policy")
    assert policy["name"] == f"{PREFIX}-api-writer"
    assert planned(plans["aws_with_iam"], "aws_api_gateway_api_key") == []


# --- docs/deploy-to-aws.md states what this plan checks ------------------------------------------


def assignments(text: str) -> dict:
    """name -> value of the `name = "string"` or `name = number` lines of an HCL snippet."""
    return {
        name: value.strip('"') if value.startswith('"') else int(value)
        for name, value in re.findall(r'^\s*(\w+)\s*=\s*("[^"]*"|\d+)\s*$', text, re.MULTILINE)
    }


def test_the_deploy_guides_aws_tfvars_is_the_planned_configuration():
    guide = DEPLOY_GUIDE.read_text()
    tfvars = re.search(r"```hcl\n# aws\.tfvars\n(.*?)```", guide, re.DOTALL).group(1)
    planned_variables = re.search(r"^variables \{\n(.*?)^\}", (TEST_DIR / "aws.tftest.hcl").read_text(), re.M | re.S)
    expected = {name: value for name, value in assignments(planned_variables.group(1)).items() if name != "build_dir"}
    assert assignments(tfvars) == expected
    assert expected["prefix"] == PREFIX and expected["cors_allow_origin"] == CORS_ORIGIN


def test_the_deploy_guides_bucket_names_are_the_planned_ones(plans):
    guide = DEPLOY_GUIDE.read_text()
    sentence = re.search(r"the buckets are(.*?);", guide, re.DOTALL).group(1)
    named = {name.replace("<prefix>", PREFIX) for name in re.findall(r"`(<prefix>-[a-z-]+)`", sentence)}
    assert named == {bucket["bucket"] for bucket in planned(plans["aws_with_api_key"], "aws_s3_bucket")}


def test_the_deploy_guides_facts_about_state_and_packages_hold():
    guide = DEPLOY_GUIDE.read_text()
    # "the configuration has no `backend` block": the local state is this folder's terraform.tfstate
    assert "no `backend` block" in guide
    assert not re.search(r"^\s*backend\s", "".join(path.read_text() for path in ROOT.glob("*.tf")), re.MULTILINE)
    # the plan's message without the zips, as quoted
    quoted = " ".join(
        re.search(r"`(Deployment package \./build/<function>\.zip does not exist: [^`]*)`", guide)[1].split()
    )
    module = (ROOT / "modules" / "lambda_function" / "main.tf").read_text()
    assert quoted.replace("./build/<function>.zip", "${var.filename}") in module
