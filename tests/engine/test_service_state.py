"""Every service the engine offers keeps its state across a restart, or `make status` names it as
not persisted. One representative resource per service is made before a snapshot (`make save`:
written from the snapshot) and another after it (written from the journal); after one `down`
and `up` of a second engine (own port and state folder), both are read back over HTTP."""

import json
import time
import uuid

import boto3
import pytest

from tests.support.second_engine import (
    ROLE,
    URL,
    client,
    create_function,
    get_json,
    second_engine_at,
    started,
    state_document,
)
from tests.support.waiting import wait_for

BEFORE, AFTER = "before", "after"  # made before the snapshot, and after it (journal only)
ACCOUNT = "000000000000"
ANSWER = "def handler(event, context):\n    return {'answer': event.get('answer')}\n"
TEMPLATE = {
    "Resources": {
        "Parameter": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "kept"}},
    },
    "Outputs": {"Name": {"Value": {"Ref": "Parameter"}}},
}


def names(tag: str, token: str) -> str:
    return f"{tag}-{token}"


def tags_in(found, token: str) -> list[str]:
    """The tags of the names made by this test among `found` (each begins with its tag)."""
    return sorted({tag for name in found if token in name for tag in (BEFORE, AFTER) if name.startswith(tag)})


# --- one resource per service: make(token, tag), read(token) -> the tags found -------------------


def make_acm(token, tag):
    client("acm").request_certificate(DomainName=f"{tag}.{token}.example.com")


def read_acm(token):
    return tags_in([c["DomainName"] for c in client("acm").list_certificates()["CertificateSummaryList"]], token)


def make_apigateway(token, tag):
    client("apigateway").create_rest_api(name=names(tag, token))


def read_apigateway(token):
    return tags_in([api["name"] for api in client("apigateway").get_rest_apis()["items"]], token)


def make_cloudformation(token, tag):
    cloudformation = client("cloudformation")
    cloudformation.create_stack(StackName=names(tag, token), TemplateBody=json.dumps(TEMPLATE))
    cloudformation.get_waiter("stack_create_complete").wait(StackName=names(tag, token), WaiterConfig={"Delay": 1})


def read_cloudformation(token):
    stacks = client("cloudformation").describe_stacks()["Stacks"]
    parameters = [client("ssm").get_parameter(Name=stack["Outputs"][0]["OutputValue"]) for stack in stacks]
    assert all(parameter["Parameter"]["Value"] == "kept" for parameter in parameters)
    return tags_in([stack["StackName"] for stack in stacks if stack["StackStatus"] == "CREATE_COMPLETE"], token)


def make_cloudwatch(token, tag):
    cloudwatch = client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=names(tag, token),
        Namespace=token,
        MetricName=tag,
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.put_metric_data(Namespace=token, MetricData=[{"MetricName": names(tag, token), "Value": 5}])


def read_cloudwatch(token):
    cloudwatch = client("cloudwatch")
    alarms = tags_in([alarm["AlarmName"] for alarm in cloudwatch.describe_alarms()["MetricAlarms"]], token)
    metrics = tags_in([metric["MetricName"] for metric in cloudwatch.list_metrics(Namespace=token)["Metrics"]], token)
    return alarms if alarms == metrics else {"alarms": alarms, "metrics": metrics}


def make_config(token, tag):
    client("config").put_configuration_aggregator(
        ConfigurationAggregatorName=names(tag, token),
        AccountAggregationSources=[{"AccountIds": [ACCOUNT], "AllAwsRegions": True}],
    )


def read_config(token):
    aggregators = client("config").describe_configuration_aggregators()["ConfigurationAggregators"]
    return tags_in([aggregator["ConfigurationAggregatorName"] for aggregator in aggregators], token)


def make_dynamodb(token, tag):
    dynamodb = client("dynamodb")
    if tag == BEFORE:
        dynamodb.create_table(
            TableName=token,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
    item = {"pk": {"S": names(tag, token)}, "sk": {"N": "1.50"}, "nested": {"M": {"list": {"L": [{"B": b"\x00\xff"}]}}}}
    dynamodb.put_item(TableName=token, Item=item)


def read_dynamodb(token):
    items = client("dynamodb").scan(TableName=token)["Items"]
    assert all(item["nested"]["M"]["list"]["L"][0]["B"] == b"\x00\xff" for item in items), items
    return tags_in([item["pk"]["S"] for item in items], token)


def make_dynamodbstreams(token, tag):
    """The records of make_dynamodb's writes."""


def read_dynamodbstreams(token):
    arn = client("dynamodb").describe_table(TableName=token)["Table"]["LatestStreamArn"]
    streams = client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return tags_in([record["dynamodb"]["Keys"]["pk"]["S"] for record in records], token)


def make_ec2(token, tag):
    client("ec2").create_vpc(
        CidrBlock="10.9.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": names(tag, token)}]}],
    )


def read_ec2(token):
    vpcs = client("ec2").describe_vpcs(Filters=[{"Name": "tag-key", "Values": ["Name"]}])["Vpcs"]
    return tags_in([tag["Value"] for vpc in vpcs for tag in vpc.get("Tags", []) if tag["Key"] == "Name"], token)


def make_es(token, tag):
    client("es").create_elasticsearch_domain(DomainName=names(tag, token[:8]))


def read_es(token):
    return tags_in([domain["DomainName"] for domain in client("es").list_domain_names()["DomainNames"]], token[:8])


def make_events(token, tag):
    client("events").put_rule(Name=names(tag, token), EventPattern=json.dumps({"source": [token]}))


def read_events(token):
    return tags_in([rule["Name"] for rule in client("events").list_rules()["Rules"]], token)


def make_firehose(token, tag):
    client("firehose").create_delivery_stream(
        DeliveryStreamName=names(tag, token),
        S3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{token}"},
    )


def read_firehose(token):
    return tags_in(client("firehose").list_delivery_streams()["DeliveryStreamNames"], token)


def make_iam(token, tag):
    client("iam").create_role(RoleName=names(tag, token), AssumeRolePolicyDocument="{}")


def read_iam(token):
    return tags_in([role["RoleName"] for role in client("iam").list_roles()["Roles"]], token)


def make_kms(token, tag):
    kms = client("kms")
    key = kms.create_key(Description=names(tag, token))["KeyMetadata"]["KeyId"]
    sealed = kms.encrypt(KeyId=key, Plaintext=names(tag, token).encode())["CiphertextBlob"]
    kms.tag_resource(KeyId=key, Tags=[{"TagKey": "sealed", "TagValue": sealed.hex()}])


def read_kms(token):
    """Keys whose material came back: what they sealed before the restart opens after it."""
    kms, opened = client("kms"), []
    for key in kms.list_keys()["Keys"]:
        tags = {tag["TagKey"]: tag["TagValue"] for tag in kms.list_resource_tags(KeyId=key["KeyId"])["Tags"]}
        if "sealed" in tags:
            opened.append(kms.decrypt(CiphertextBlob=bytes.fromhex(tags["sealed"]))["Plaintext"].decode())
    return tags_in(opened, token)


def make_kinesis(token, tag):
    """A stream with a record (kinesis-mock keeps both in its own file, in the data folder)."""
    kinesis = client("kinesis")
    kinesis.create_stream(StreamName=names(tag, token), ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=names(tag, token), WaiterConfig={"Delay": 1})
    kinesis.put_record(StreamName=names(tag, token), Data=tag.encode(), PartitionKey=tag)


def read_kinesis(token):
    kinesis, found = client("kinesis"), []
    for name in kinesis.list_streams()["StreamNames"]:
        if token in name:
            shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
            iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
            records = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
            found += [name for record in records if name.startswith(record["Data"].decode())]
    return tags_in(found, token)


def make_lambda(token, tag):
    create_function(names(tag, token), "python3.11", "index.handler", {"index.py": ANSWER})


def read_lambda(token):
    found = []
    for function in client("lambda").list_functions()["Functions"]:
        if token in function["FunctionName"]:
            response = client("lambda").invoke(FunctionName=function["FunctionName"], Payload=b'{"answer": "yes"}')
            if json.loads(response["Payload"].read()) == {"answer": "yes"}:
                found.append(function["FunctionName"])
    return tags_in(found, token)


def make_logs(token, tag):
    logs = client("logs")
    if tag == BEFORE:
        logs.create_log_group(logGroupName=token)
        logs.create_log_stream(logGroupName=token, logStreamName="stream")
    logs.put_log_events(
        logGroupName=token,
        logStreamName="stream",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": names(tag, token)}],
    )


def read_logs(token):
    events = client("logs").filter_log_events(logGroupName=token)["events"]
    assert len({event["eventId"] for event in events}) == len(events), events
    return tags_in([event["message"] for event in events], token)


def make_opensearch(token, tag):
    # Elasticsearch domains are OpenSearch's too: another name than make_es's
    client("opensearch").create_domain(DomainName=names(tag, token[-8:]))


def read_opensearch(token):
    return tags_in(
        [domain["DomainName"] for domain in client("opensearch").list_domain_names()["DomainNames"]], token[-8:]
    )


def make_redshift(token, tag):
    client("redshift").create_cluster(
        ClusterIdentifier=names(tag, token),
        NodeType="dc2.large",
        MasterUsername="admin",
        MasterUserPassword="Password1",
    )


def read_redshift(token):
    return tags_in(
        [cluster["ClusterIdentifier"] for cluster in client("redshift").describe_clusters()["Clusters"]], token
    )


def make_resource_groups(token, tag):
    query = {
        "Type": "TAG_FILTERS_1_0",
        "Query": json.dumps(
            {"ResourceTypeFilters": ["AWS::AllSupported"], "TagFilters": [{"Key": token, "Values": [tag]}]}
        ),
    }
    client("resource-groups").create_group(Name=names(tag, token), ResourceQuery=query)


def read_resource_groups(token):
    return tags_in([group["GroupName"] for group in client("resource-groups").list_groups()["GroupIdentifiers"]], token)


def make_resourcegroupstaggingapi(token, tag):
    client("ec2").create_vpc(
        CidrBlock="10.8.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": token, "Value": tag}]}]
    )


def read_resourcegroupstaggingapi(token):
    tagged = client("resourcegroupstaggingapi").get_resources(TagFilters=[{"Key": token}])["ResourceTagMappingList"]
    return sorted(tag["Value"] for mapping in tagged for tag in mapping["Tags"] if tag["Key"] == token)


def make_route53(token, tag):
    client("route53").create_hosted_zone(Name=f"{tag}.{token}.example.com", CallerReference=names(tag, token))


def read_route53(token):
    return tags_in([zone["Name"] for zone in client("route53").list_hosted_zones()["HostedZones"]], token)


def make_route53resolver(token, tag):
    client("route53resolver").create_firewall_domain_list(Name=names(tag, token), CreatorRequestId=names(tag, token))


def read_route53resolver(token):
    lists = client("route53resolver").list_firewall_domain_lists()["FirewallDomainLists"]
    return tags_in([domain_list["Name"] for domain_list in lists], token)


def make_s3(token, tag):
    s3 = client("s3")
    if tag == BEFORE:
        s3.create_bucket(Bucket=token)
    s3.put_object(Bucket=token, Key=names(tag, token), Body=names(tag, token).encode() * 1000)


def read_s3(token):
    s3 = client("s3")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=token).get("Contents", [])]
    return tags_in(
        [key for key in keys if s3.get_object(Bucket=token, Key=key)["Body"].read() == key.encode() * 1000], token
    )


def s3control():
    """botocore puts the account id before the host (``000000000000.localhost``), a name
    that resolves nowhere here: the request goes to the engine's own host."""
    control = boto3.client("s3control", endpoint_url=URL, region_name="us-east-1")

    def to_the_engine(request, **kwargs):
        request.url = request.url.replace(f"//{ACCOUNT}.", "//", 1)

    control.meta.events.register("before-send.s3-control.*", to_the_engine)
    return control


def make_s3control(token, tag):
    if tag == BEFORE:
        client("s3").create_bucket(Bucket=f"control-{token}")
    s3control().create_access_point(AccountId=ACCOUNT, Name=names(tag, token), Bucket=f"control-{token}")


def read_s3control(token):
    found = []
    for tag in (BEFORE, AFTER):
        try:
            found.append(s3control().get_access_point(AccountId=ACCOUNT, Name=names(tag, token))["Name"])
        except client("s3control").exceptions.ClientError:
            continue
    return tags_in(found, token)


def make_scheduler(token, tag):
    client("scheduler").create_schedule(
        Name=names(tag, token),
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{token}", "RoleArn": ROLE},
    )


def read_scheduler(token):
    return tags_in([schedule["Name"] for schedule in client("scheduler").list_schedules()["Schedules"]], token)


def make_secretsmanager(token, tag):
    client("secretsmanager").create_secret(Name=names(tag, token), SecretString=names(tag, token))


def read_secretsmanager(token):
    secrets = client("secretsmanager")
    found = [entry["Name"] for entry in secrets.list_secrets()["SecretList"]]
    return tags_in([name for name in found if secrets.get_secret_value(SecretId=name)["SecretString"] == name], token)


def make_ses(token, tag):
    client("ses").verify_email_identity(EmailAddress=f"{tag}@{token}.example.com")


def read_ses(token):
    return tags_in(client("ses").list_identities()["Identities"], token)


def make_sns(token, tag):
    sns = client("sns")
    topic = sns.create_topic(Name=names(tag, token))["TopicArn"]
    queue = client("sqs").create_queue(QueueName=f"subscriber-{names(tag, token)}")["QueueUrl"]
    queue_arn = client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)


def read_sns(token):
    subscriptions = client("sns").list_subscriptions()["Subscriptions"]
    return tags_in([subscription["TopicArn"].rsplit(":", 1)[1] for subscription in subscriptions], token)


def make_sqs(token, tag):
    queue = client("sqs").create_queue(QueueName=names(tag, token))["QueueUrl"]
    client("sqs").send_message(QueueUrl=queue, MessageBody=names(tag, token))


def read_sqs(token):
    sqs, found = client("sqs"), []
    for tag in (BEFORE, AFTER):
        queue = sqs.get_queue_url(QueueName=names(tag, token))["QueueUrl"]
        found += [message["Body"] for message in sqs.receive_message(QueueUrl=queue).get("Messages", [])]
    return tags_in(found, token)


def make_ssm(token, tag):
    client("ssm").put_parameter(Name=names(tag, token), Value=names(tag, token), Type="String")


def read_ssm(token):
    parameters = client("ssm").describe_parameters()["Parameters"]
    values = [client("ssm").get_parameter(Name=parameter["Name"])["Parameter"]["Value"] for parameter in parameters]
    return tags_in(values, token)


def make_stepfunctions(token, tag):
    sfn = client("stepfunctions")
    definition = {"StartAt": "Pass", "States": {"Pass": {"Type": "Pass", "Result": names(tag, token), "End": True}}}
    machine = sfn.create_state_machine(name=names(tag, token), definition=json.dumps(definition), roleArn=ROLE)
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"]
    wait_for(lambda: sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED", what="the execution")


def read_stepfunctions(token):
    sfn, found = client("stepfunctions"), []
    for machine in sfn.list_state_machines()["stateMachines"]:
        for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if described["status"] == "SUCCEEDED":
                found.append(json.loads(described["output"]))
    return tags_in(found, token)


SESSIONS: dict[str, dict] = {}


def make_sts(token, tag):
    credentials = client("sts").assume_role(RoleArn=ROLE, RoleSessionName=names(tag, token))["Credentials"]
    SESSIONS[tag] = credentials


def read_sts(token):
    """Sessions whose credentials still say who they are."""
    found = []
    for credentials in SESSIONS.values():
        session = boto3.client(
            "sts",
            endpoint_url=URL,
            region_name="us-east-1",
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        found.append(session.get_caller_identity()["Arn"].rsplit("/", 1)[1])
    return tags_in(found, token)


def make_support(token, tag):
    client("support").create_case(subject=names(tag, token), communicationBody="kept")


def read_support(token):
    return tags_in([case["subject"] for case in client("support").describe_cases()["cases"]], token)


def make_swf(token, tag):
    client("swf").register_domain(name=names(tag, token), workflowExecutionRetentionPeriodInDays="1")


def read_swf(token):
    domains = client("swf").list_domains(registrationStatus="REGISTERED")["domainInfos"]
    return tags_in([domain["name"] for domain in domains], token)


def make_transcribe(token, tag):
    client("transcribe").create_vocabulary(VocabularyName=names(tag, token), LanguageCode="en-US", Phrases=["kept"])


def read_transcribe(token):
    return tags_in(
        [entry["VocabularyName"] for entry in client("transcribe").list_vocabularies()["Vocabularies"]], token
    )


SERVICES = sorted(name.removeprefix("make_").replace("_", "-") for name in dir() if name.startswith("make_"))


def made_and_read(service: str):
    key = service.replace("-", "_")
    return globals()[f"make_{key}"], globals()[f"read_{key}"]


@pytest.fixture(scope="module")
def restarted(tmp_path_factory, engine):
    """Every service's resources made around a snapshot, then one down and up: (token, what
    could not be made per service, the state document after the restart)."""
    token, failed = uuid.uuid4().hex[:12], {}
    with second_engine_at(tmp_path_factory.mktemp("state"), SNAPSHOT_FLUSH_INTERVAL="1") as run:
        started(run("up"))
        for tag in (BEFORE, AFTER):
            for service in SERVICES:
                if service not in failed:
                    try:
                        made_and_read(service)[0](token, tag)
                    except Exception as exc:
                        failed[service] = f"{type(exc).__name__}: {exc}"
            if tag == BEFORE:
                started(run("save"))
        stopped = run("down")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        started(run("up"))
        yield token, failed, state_document(), run


@pytest.mark.parametrize("service", SERVICES)
def test_a_resource_made_before_and_after_the_snapshot_is_there_after_down_and_up(restarted, service):
    token, failed, document, _ = restarted
    assert service not in failed, failed[service]
    assert document["not_restored"] == [] and service not in document["not_persisted"]

    assert made_and_read(service)[1](token) == [AFTER, BEFORE]


def test_every_service_the_engine_offers_is_kept_or_named_as_not_persisted(restarted):
    _, _, document, run = restarted
    offered = set(get_json(f"{URL}/_localstack/health")["services"])
    status = run("status").stdout
    named = {name for name in offered if f"the state of {name} is not persisted" in status}

    assert offered - set(SERVICES) == named == set(), status
    assert document["not_persisted"] == {}
