"""The last phase of a session: `tflocal destroy` leaves no resource behind."""

import boto3
import pytest

from tools import stack


@pytest.mark.phase("destroy")
def test_destroy_leaves_no_resource(aws, deployed):
    stack.destroy()
    prefix = "roxs"
    assert not [b["Name"] for b in aws["s3"].list_buckets()["Buckets"] if b["Name"].startswith(prefix)]
    assert not [t for t in aws["dynamodb"].list_tables()["TableNames"] if t.startswith("Roxs")]
    assert not [
        f["FunctionName"] for f in aws["lambda"].list_functions()["Functions"] if f["FunctionName"].startswith(prefix)
    ]
    assert not [q for q in aws["sqs"].list_queues().get("QueueUrls", []) if f"/{prefix}-" in q]
    assert not [t["TopicArn"] for t in aws["sns"].list_topics()["Topics"] if f":{prefix}-" in t["TopicArn"]]
    assert not [a for a in aws["apigateway"].get_rest_apis()["items"] if a["name"].startswith(prefix)]
    # the token key: deleted at once (no recovery window), so the next apply can create it again
    secrets = boto3.client("secretsmanager").list_secrets(IncludePlannedDeletion=True)["SecretList"]
    assert not [s["Name"] for s in secrets if s["Name"].startswith(prefix)]
    assert not [r["RoleName"] for r in aws["iam"].list_roles()["Roles"] if r["RoleName"].startswith(prefix)]
    assert not [
        g["logGroupName"]
        for g in aws["logs"].describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{prefix}")["logGroups"]
    ]
    assert not aws["lambda"].list_event_source_mappings()["EventSourceMappings"] or all(
        prefix not in m["FunctionArn"] for m in aws["lambda"].list_event_source_mappings()["EventSourceMappings"]
    )
