"""Lambda-backed CloudFormation custom resources: a raw template deployed with create_stack;
the function answers through its ResponseURL, as cfn-response does."""

import json
import uuid

import boto3
import pytest

from tests.engine.test_lambda_paths import wait_active, zipped
from tests.support.waiting import wait_for

HANDLER_SOURCE = """
import json
import urllib.request

import boto3


def handler(event, context):
    properties = event["ResourceProperties"]
    boto3.client("sqs").send_message(QueueUrl=properties["Journal"], MessageBody=json.dumps(event))
    if properties.get("Silent") == event["RequestType"]:
        return
    physical_id = event.get("PhysicalResourceId") or "greeter-" + properties["Name"]
    if event["RequestType"] == "Update" and properties.get("Replace") == "yes":
        physical_id = "greeter-" + properties["Name"]
    response = {"Status": "SUCCESS", "PhysicalResourceId": physical_id, "StackId": event["StackId"],
                "RequestId": event["RequestId"], "LogicalResourceId": event["LogicalResourceId"],
                "Data": {"Greeting": "hello " + properties["Name"]}}
    if properties.get("Fail") == event["RequestType"]:
        response.update(Status="FAILED", Reason="refusing to " + event["RequestType"].lower() + " " + properties["Name"])
    request = urllib.request.Request(event["ResponseURL"], data=json.dumps(response).encode(), method="PUT",
                                     headers={"Content-Type": ""})
    urllib.request.urlopen(request, timeout=10).read()
"""


def template(neighbour: str | None = None, **extra_properties) -> str:
    """The greeter resource; with a neighbour, an SNS topic of that name created before it."""
    neighbours = {"Neighbour": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": neighbour}}} if neighbour else {}
    return json.dumps(
        {
            "Parameters": {"Name": {"Type": "String"}, "Token": {"Type": "String"}, "Journal": {"Type": "String"}},
            "Resources": {
                **neighbours,
                "Greeter": {
                    "Type": "Custom::Greeter",
                    "DependsOn": list(neighbours),
                    "Properties": {
                        "ServiceToken": {"Ref": "Token"},
                        "Name": {"Ref": "Name"},
                        "Journal": {"Ref": "Journal"},
                        **extra_properties,
                    },
                },
            },
            "Outputs": {
                "Greeting": {"Value": {"Fn::GetAtt": ["Greeter", "Greeting"]}},
                "Id": {"Value": {"Ref": "Greeter"}},
            },
        }
    )


@pytest.fixture(scope="module")
def aws(engine):
    return {name: boto3.client(name) for name in ("lambda", "sqs", "cloudformation", "sns")}


@pytest.fixture(scope="module")
def greeter_function(aws):
    name = f"greeter-{uuid.uuid4().hex[:8]}"
    arn = aws["lambda"].create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="greeter.handler",
        Timeout=15,
        Role="arn:aws:iam::000000000000:role/greeter",
        Code={"ZipFile": zipped(HANDLER_SOURCE, "greeter.py")},
    )["FunctionArn"]
    assert wait_active(aws["lambda"], name)["State"] == "Active"
    yield arn
    aws["lambda"].delete_function(FunctionName=name)


@pytest.fixture
def greeter(aws, greeter_function):
    """The function and a journal of the requests it got, for one test."""
    journal = aws["sqs"].create_queue(QueueName=f"greeter-journal-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    yield {"arn": greeter_function, "journal": journal}
    aws["sqs"].delete_queue(QueueUrl=journal)


def requests_seen(aws, greeter, count: int) -> list[dict]:
    seen = []

    def enough():
        for message in (
            aws["sqs"]
            .receive_message(QueueUrl=greeter["journal"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
            .get("Messages", [])
        ):
            seen.append(json.loads(message["Body"]))
            aws["sqs"].delete_message(QueueUrl=greeter["journal"], ReceiptHandle=message["ReceiptHandle"])
        return len(seen) >= count

    wait_for(enough, timeout=30, what=f"{count} custom resource requests")
    return seen


def settle(cfn, stack: str) -> dict:
    return wait_for(
        lambda: (
            (s := cfn.describe_stacks(StackName=stack)["Stacks"][0])["StackStatus"].endswith(("_COMPLETE", "_FAILED"))
            and s
        ),
        timeout=90,
        what=f"stack {stack} to settle",
    )


def parameters(greeter, name: str, token: str | None = None) -> list[dict]:
    return [
        {"ParameterKey": "Name", "ParameterValue": name},
        {"ParameterKey": "Token", "ParameterValue": token or greeter["arn"]},
        {"ParameterKey": "Journal", "ParameterValue": greeter["journal"]},
    ]


def outputs(stack: dict) -> dict:
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def test_create_update_and_delete_reach_the_function_and_its_data_reaches_getatt(aws, greeter):
    cfn, stack = aws["cloudformation"], f"greeter-{uuid.uuid4().hex[:8]}"
    stack_id = cfn.create_stack(StackName=stack, TemplateBody=template(), Parameters=parameters(greeter, "ada"))[
        "StackId"
    ]
    created = settle(cfn, stack)
    assert created["StackStatus"] == "CREATE_COMPLETE", created.get("StackStatusReason")
    assert outputs(created) == {"Greeting": "hello ada", "Id": "greeter-ada"}
    (create,) = requests_seen(aws, greeter, 1)
    assert create["RequestType"] == "Create" and create["ResourceType"] == "Custom::Greeter"
    assert create["StackId"] == created["StackId"] and create["LogicalResourceId"] == "Greeter"
    assert create["ResourceProperties"]["Name"] == "ada" and "PhysicalResourceId" not in create
    assert create["ResponseURL"].startswith("https://localhost.localstack.cloud:")

    cfn.update_stack(StackName=stack, TemplateBody=template(), Parameters=parameters(greeter, "grace"))
    updated = settle(cfn, stack)
    assert updated["StackStatus"] == "UPDATE_COMPLETE", updated.get("StackStatusReason")
    assert outputs(updated) == {"Greeting": "hello grace", "Id": "greeter-ada"}  # same physical resource
    (update,) = requests_seen(aws, greeter, 1)
    assert update["RequestType"] == "Update" and update["PhysicalResourceId"] == "greeter-ada"
    assert update["OldResourceProperties"]["Name"] == "ada" and update["ResourceProperties"]["Name"] == "grace"

    cfn.delete_stack(StackName=stack)
    (delete,) = requests_seen(aws, greeter, 1)
    assert delete["RequestType"] == "Delete" and delete["PhysicalResourceId"] == "greeter-ada"
    assert delete["ResourceProperties"]["Name"] == "grace"
    wait_for(
        lambda: cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE",
        timeout=60,
        what="the stack to be deleted",
    )


def test_an_update_with_a_new_physical_id_deletes_the_old_resource(aws, greeter):
    cfn, stack = aws["cloudformation"], f"greeter-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=stack, TemplateBody=template(Replace="yes"), Parameters=parameters(greeter, "ada"))
    assert settle(cfn, stack)["StackStatus"] == "CREATE_COMPLETE"
    requests_seen(aws, greeter, 1)
    cfn.update_stack(StackName=stack, TemplateBody=template(Replace="yes"), Parameters=parameters(greeter, "grace"))
    updated = settle(cfn, stack)
    assert updated["StackStatus"] == "UPDATE_COMPLETE" and outputs(updated)["Id"] == "greeter-grace"
    update, cleanup = requests_seen(aws, greeter, 2)
    assert update["RequestType"] == "Update"
    assert cleanup["RequestType"] == "Delete" and cleanup["PhysicalResourceId"] == "greeter-ada"
    cfn.delete_stack(StackName=stack)
    requests_seen(aws, greeter, 1)


@pytest.mark.parametrize(
    "extra, token, reason",
    [
        ({"Fail": "Create"}, None, "Message returned: refusing to create ada"),
        ({"Silent": "Create", "ServiceTimeout": 2}, None, "did not receive a response from your Custom Resource"),
        ({}, "sns", "SNS-backed custom resources are not supported"),
    ],
    ids=["function-answers-failed", "function-never-answers", "sns-token"],
)
def test_a_failed_custom_resource_rolls_the_stack_back_with_its_reason(aws, greeter, extra, token, reason):
    cfn, stack = aws["cloudformation"], f"greeter-{uuid.uuid4().hex[:8]}"
    if token == "sns":
        token = aws["sns"].create_topic(Name=f"greeter-{uuid.uuid4().hex[:8]}")["TopicArn"]
    neighbour = f"greeter-neighbour-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(
        StackName=stack, TemplateBody=template(neighbour, **extra), Parameters=parameters(greeter, "ada", token)
    )
    failed = settle(cfn, stack)
    try:
        assert failed["StackStatus"] == "ROLLBACK_COMPLETE"
        assert (
            failed["StackStatusReason"] == "The following resource(s) failed to create: [Greeter]. "
            "Rollback requested by user."
        )
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
        assert any(
            e["LogicalResourceId"] == "Greeter"
            and e["ResourceStatus"] == "CREATE_FAILED"
            and reason in e.get("ResourceStatusReason", "")
            for e in events
        )
        assert any(e["LogicalResourceId"] == "Neighbour" and e["ResourceStatus"] == "DELETE_COMPLETE" for e in events)
        topics = [t["TopicArn"].rsplit(":", 1)[1] for t in aws["sns"].list_topics()["Topics"]]
        assert neighbour not in topics  # what the stack had created is gone
        if token is None:
            assert requests_seen(aws, greeter, 1)[0]["RequestType"] == "Create"
    finally:
        cfn.delete_stack(StackName=stack)
        if token:
            aws["sns"].delete_topic(TopicArn=token)


def test_without_rollback_the_failed_stack_keeps_what_it_created(aws, greeter):
    cfn, stack = aws["cloudformation"], f"greeter-{uuid.uuid4().hex[:8]}"
    neighbour = f"greeter-neighbour-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(
        StackName=stack,
        TemplateBody=template(neighbour, Fail="Create"),
        DisableRollback=True,
        Parameters=parameters(greeter, "ada"),
    )
    try:
        assert settle(cfn, stack)["StackStatus"] == "CREATE_FAILED"
        assert neighbour in [t["TopicArn"].rsplit(":", 1)[1] for t in aws["sns"].list_topics()["Topics"]]
    finally:
        cfn.delete_stack(StackName=stack)


INLINE_TEMPLATE = {
    "Resources": {
        "Answerer": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.11",
                "Handler": "index.handler",
                "Timeout": 10,
                "Role": "arn:aws:iam::000000000000:role/answerer",
                "Code": {
                    "ZipFile": "import cfnresponse\n\n\ndef handler(event, context):\n"
                    "    answer = str(len(event['ResourceProperties']['Question']))\n"
                    "    cfnresponse.send(event, context, cfnresponse.SUCCESS, {'Answer': answer}, 'answer-1')\n"
                },
            },
        },
        "Answer": {
            "Type": "AWS::CloudFormation::CustomResource",
            "Properties": {
                "ServiceToken": {"Fn::GetAtt": ["Answerer", "Arn"]},
                "Question": "life, the universe and everything",
            },
        },
    },
    "Outputs": {"Answer": {"Value": {"Fn::GetAtt": ["Answer", "Answer"]}}, "Id": {"Value": {"Ref": "Answer"}}},
}


def test_a_function_in_the_same_stack_answers_with_the_cfnresponse_module(aws):
    cfn, stack = aws["cloudformation"], f"answer-{uuid.uuid4().hex[:8]}"
    stack_id = cfn.create_stack(StackName=stack, TemplateBody=json.dumps(INLINE_TEMPLATE))["StackId"]
    created = settle(cfn, stack)
    assert created["StackStatus"] == "CREATE_COMPLETE", created.get("StackStatusReason")
    assert outputs(created) == {"Answer": "33", "Id": "answer-1"}
    cfn.delete_stack(StackName=stack)
    wait_for(
        lambda: cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE",
        timeout=60,
        what="the stack to be deleted",
    )
