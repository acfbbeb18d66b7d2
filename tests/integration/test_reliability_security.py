"""Least privilege, read back from the deployed stack: every function's role may touch only
its own resources, with no wildcard action and no "*" resource beyond the one documented
exception (docs/reliability-and-security.md)."""

import json
from urllib.parse import unquote

import boto3
import pytest

import build

# (function, action, resource) allowed although not resource-scoped, each with its reason in
# docs/reliability-and-security.md and next to the statement in Terraform.
DOCUMENTED_EXCEPTIONS = {
    # lambda:ListFunctions supports no resource-level permissions: IAM only accepts "*".
    ("dashboard", "lambda:ListFunctions", "*"),
    # cloudwatch:GetMetricData likewise: the dashboard's functions and queues panels.
    ("dashboard", "cloudwatch:GetMetricData", "*"),
    # cloudwatch:PutMetricData likewise, limited by a condition to the functions' own namespace.
    *((package.name, "cloudwatch:PutMetricData", "*") for package in build.packages()),
}


@pytest.fixture(scope="module")
def arns(aws, deployed):
    """ARN builders for the stack's resources (account and region of the engine)."""
    account = boto3.client("sts").get_caller_identity()["Account"]
    region = aws["lambda"].meta.region_name

    def queue(url: str) -> str:
        return aws["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    tables = {
        role: aws["dynamodb"].describe_table(TableName=name)["Table"]["TableArn"]
        for role, name in deployed["tables"].items()
    }
    buckets = {role: f"arn:aws:s3:::{name}" for role, name in deployed["buckets"].items()}
    functions = {
        role: f"arn:aws:lambda:{region}:{account}:function:{name}" for role, name in deployed["functions"].items()
    }
    return {
        "tables": tables,
        "buckets": buckets,
        "functions": functions,
        "queue": queue(deployed["notifications_queue_url"]),
        "image_dlq": queue(deployed["image_processor_dlq_url"]),
        "notifications_dlq": queue(deployed["notifications_dlq_url"]),
        "topic": deployed["topic_arn"],
        "stats": aws["dynamodb"].describe_table(TableName=deployed["stats_table"])["Table"]["TableArn"],
        "state_tables": {
            role: aws["dynamodb"].describe_table(TableName=name)["Table"]["TableArn"]
            for role, name in deployed["state_tables"].items()
        },
        "storage_dlq": queue(deployed["storage_counter_dlq_url"]),
        "token_key": deployed["api_token_key_secret_arn"],
        "log_group": lambda role: (
            f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{deployed['functions'][role]}:*"
        ),
    }


def own_resources(arns, role: str) -> set[str]:
    """What each function is meant to reach: its pipeline's resources and its own log group."""
    t, b = arns["tables"], arns["buckets"]
    own = {
        "image_processor": {
            b["original"],
            f"{b['original']}/*",
            f"{b['processed']}/processed/*",
            f"{b['thumbnails']}/thumbnails/*",
            t["images"],
            arns["image_dlq"],
            arns["state_tables"]["image_keys"],
        },
        "storage_counter": {
            *b.values(),
            *(f"{bucket}/*" for bucket in b.values()),
            arns["state_tables"]["object_sizes"],
            arns["storage_dlq"],
        },
        "log_processor": {t["logs"], t["log_hours"], f"{b['logs']}/logs/*"},
        "notification_processor": {
            arns["topic"],
            t["notifications"],
            f"{t['notifications']}/index/ByClaimExpiry",  # the claim sweep's expired claims
            t["notification_days"],
            arns["queue"],
        },
        "api_handler": {
            # every list is a Query of a table or its indexes, walking the directory tables
            *(
                arn
                for table in ("images", "logs", "notifications", "log_hours", "notification_days")
                for arn in (t[table], f"{t[table]}/index/*")
            ),
            b["original"],
            arns["queue"],
            arns["functions"]["dashboard"],
            arns["token_key"],  # the key that signs next_token, read once per environment
        },
        "dashboard": {
            t["images"],
            f"{t['images']}/index/*",
            t["logs"],
            f"{t['logs']}/index/*",
            t["log_hours"],
            *b.values(),
            f"{b['thumbnails']}/thumbnails/*",
            arns["queue"],
            arns["notifications_dlq"],
            arns["image_dlq"],
        },
    }[role]
    # Every function ADDs or reads counters in the stats table (roxs_common.aggregates).
    return own | {arns["log_group"](role), arns["stats"]}


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def role_policies(aws, function_name: str) -> tuple[str, list[dict]]:
    role_arn = aws["lambda"].get_function_configuration(FunctionName=function_name)["Role"]
    role = role_arn.rsplit("/", 1)[-1]
    assert not aws["iam"].list_attached_role_policies(RoleName=role)["AttachedPolicies"], "managed policies attached"
    documents = []
    for name in aws["iam"].list_role_policies(RoleName=role)["PolicyNames"]:
        document = aws["iam"].get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        documents.append(json.loads(unquote(document)) if isinstance(document, str) else document)
    return role, documents


def test_every_function_policy_names_its_own_resources_only(aws, deployed, arns):
    findings, checked = [], 0
    for role_name, function in deployed["functions"].items():
        role, documents = role_policies(aws, function)
        assert documents, f"{role} has no inline policy"
        own = own_resources(arns, role_name)
        for document in documents:
            for statement in as_list(document["Statement"]):
                assert (
                    statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
                )
                for action in as_list(statement["Action"]):
                    for resource in as_list(statement["Resource"]):
                        checked += 1
                        if (role_name, action, resource) in DOCUMENTED_EXCEPTIONS:
                            continue
                        if "*" in action:
                            findings.append(f"{function}: wildcard action {action}")
                        if resource == "*" or resource not in own:
                            findings.append(f"{function}: {action} on {resource} (not its own)")
    assert not findings, "\n".join(findings)
    assert checked > 20


def test_the_documented_exception_is_the_only_star_resource(aws, deployed):
    stars = set()
    for role_name, function in deployed["functions"].items():
        for document in role_policies(aws, function)[1]:
            for statement in as_list(document["Statement"]):
                if "*" in as_list(statement["Resource"]):
                    stars |= {(role_name, action, "*") for action in as_list(statement["Action"])}
    assert stars == DOCUMENTED_EXCEPTIONS


def test_roles_trust_lambda_only_and_invoke_permissions_are_scoped_to_their_source(aws, deployed, arns):
    for function in deployed["functions"].values():
        role = aws["lambda"].get_function_configuration(FunctionName=function)["Role"].rsplit("/", 1)[-1]
        trust = aws["iam"].get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
        trust = json.loads(unquote(trust)) if isinstance(trust, str) else trust
        principals = [s["Principal"] for s in as_list(trust["Statement"])]
        assert principals == [{"Service": "lambda.amazonaws.com"}], (function, principals)

    def invoke_statements(role: str) -> list[dict]:
        policy = aws["lambda"].get_policy(FunctionName=deployed["functions"][role])["Policy"]
        return json.loads(policy)["Statement"]

    # S3 events reach the image processor and the storage counter through EventBridge rules
    # that select their buckets: each function may be invoked by its own rule only.
    for role, rule in (("image_processor", "images-original-changes"), ("storage_counter", "storage-changes")):
        [events] = invoke_statements(role)
        assert events["Principal"] == {"Service": "events.amazonaws.com"}
        source = events["Condition"]["ArnLike"]["AWS:SourceArn"]
        assert ":rule/" in source and source.endswith(f"-{rule}"), source
    [apigw] = invoke_statements("api_handler")
    assert apigw["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert f":{deployed['api_id']}/" in apigw["Condition"]["ArnLike"]["AWS:SourceArn"]
