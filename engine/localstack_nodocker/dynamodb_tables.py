"""DynamoDB table descriptions as DynamoDB writes them: every answer that holds one (CreateTable,
DescribeTable, UpdateTable, DeleteTable, RestoreTableFromBackup, RestoreTableToPointInTime) is
shaped by ``_shaped``.

moto's description of a table differs from DynamoDB's (LocalStack's own recordings of AWS,
tests/aws/services/dynamodb):

- no ``TableId``: a UUID DynamoDB fixes per table, which CloudFormation's
  ``AWS::DynamoDB::GlobalTable`` reads. Here it is derived from the table's ARN and creation
  time, so it is the same in every answer and after a restart (both are saved with the table),
  and a table created again under the same name has another;
- ``BillingModeSummary`` for a provisioned table (DynamoDB gives it only when the table is
  billed per request, with ``LastUpdateToPayPerRequestDateTime`` once the table exists), and
  empty ``GlobalSecondaryIndexes``/``LocalSecondaryIndexes`` lists;
- indexes without ``IndexArn``, ``IndexSizeBytes``, ``ItemCount``, and a global index's
  throughput without ``NumberOfDecreasesToday``;
- ``WarmThroughput`` in the CreateTable answer (DynamoDB gives it there only when asked for,
  still ``UPDATING``) and in the DeleteTable answer, which DynamoDB also gives without the
  key schema, attribute definitions and creation time, in status ``DELETING``;
- SSE's default key made in moto's KMS, which the engine does not serve (LocalStack's KMS
  does): DescribeKey of the ARN a table named answered NotFound. The key is now DynamoDB's
  AWS-managed key in LocalStack's KMS (``alias/aws/dynamodb``), made on first use;
  UpdateTable's ``SSESpecification`` (ignored by moto) switches encryption;
- a missing table named without its name by DeleteTable and UpdateTable, and moto's own
  wording for throughput given with ``PAY_PER_REQUEST``.
"""

import uuid
from datetime import datetime, timezone

from localstack.aws.api import CommonServiceException, RequestContext
from localstack.aws.connect import connect_to
from localstack.services.moto import call_moto, call_moto_with_request

from localstack_nodocker import dynamodb_replicas

# TableIds are UUIDs derived in this namespace from a table's ARN and creation time.
_TABLE_ID_NAMESPACE = uuid.UUID("6f1c2e8a-3b0d-4f57-9a4e-2d8b5c7e9f10")
MANAGED_KEY_ALIAS = "alias/aws/dynamodb"
MANAGED_KEY_DESCRIPTION = "Default key that protects my DynamoDB data when no other key is defined"
PAY_PER_REQUEST = "PAY_PER_REQUEST"
# Left out of DeleteTable's answer by DynamoDB.
_NOT_IN_DELETE_ANSWER = ("AttributeDefinitions", "KeySchema", "CreationDateTime", "WarmThroughput")
# Set on moto's table when UpdateTable switches it to PAY_PER_REQUEST (saved with the table).
_SWITCHED_TO_PAY_PER_REQUEST = "nodocker_pay_per_request_since"


class ValidationException(CommonServiceException):
    def __init__(self, message: str):
        super().__init__("ValidationException", message, 400, True)


class ResourceNotFoundException(CommonServiceException):
    def __init__(self, message: str):
        super().__init__("ResourceNotFoundException", message, 400, True)


def backend(context: RequestContext):
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[context.account_id][context.region]


def table_of(context: RequestContext, name: str, missing: str = "Requested resource not found"):
    """moto's table by name or ARN; ResourceNotFoundException(``missing``) if there is none."""
    from moto.dynamodb.exceptions import ResourceNotFoundException as MotoNotFound

    try:
        return backend(context).get_table(name)
    except MotoNotFound:
        raise ResourceNotFoundException(missing) from None


def _table(context: RequestContext, name: str):
    """The table, or the not-found answer of the table operations (which name it)."""
    return table_of(context, name, f"Requested resource not found: Table: {name} not found")


def table_id(description: dict) -> str:
    return str(
        uuid.uuid5(_TABLE_ID_NAMESPACE, f"{description['TableArn']}@{description['CreationDateTime'].isoformat()}")
    )


def _managed_key_arn(context: RequestContext) -> str:
    """DynamoDB's AWS-managed KMS key of this account and region, in LocalStack's KMS."""
    from localstack.services.kms.provider import set_key_managed

    kms = connect_to(aws_access_key_id=context.account_id, region_name=context.region).kms
    key = kms.describe_key(KeyId=MANAGED_KEY_ALIAS)["KeyMetadata"]  # LocalStack's KMS makes it on first use
    if key["KeyManager"] != "AWS":
        kms.update_key_description(KeyId=key["KeyId"], Description=MANAGED_KEY_DESCRIPTION)
        set_key_managed(key["KeyId"], context.account_id, context.region)
    return key["Arn"]


def _key_arn(context: RequestContext, key: str) -> str:
    """The ARN DynamoDB names for a KMS key given by ID, alias or ARN."""
    if key.startswith("arn:"):
        return key
    kms = connect_to(aws_access_key_id=context.account_id, region_name=context.region).kms
    try:
        return kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"]
    except kms.exceptions.NotFoundException:
        return f"arn:aws:kms:{context.region}:{context.account_id}:key/{key}"


def _with_sse_key(context: RequestContext, specification: dict) -> dict:
    key = specification.get("KMSMasterKeyId")
    return {**specification, "KMSMasterKeyId": _key_arn(context, key) if key else _managed_key_arn(context)}


def _shaped(description: dict, table=None, region: str | None = None) -> dict:
    """What every table description shares, as DynamoDB gives it (in ``region``: a replica's
    region names its ARNs there, and its TableId is its own)."""
    if table is not None and region is not None:
        dynamodb_replicas.describe_in(region, table, description)
    description["TableId"] = table_id(description)
    summary = description.pop("BillingModeSummary", None) or {}
    if summary.get("BillingMode") == PAY_PER_REQUEST:
        since = getattr(table, _SWITCHED_TO_PAY_PER_REQUEST, None) if table is not None else None
        description["BillingModeSummary"] = {
            "BillingMode": PAY_PER_REQUEST,
            "LastUpdateToPayPerRequestDateTime": since or description["CreationDateTime"],
        }
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes = description.pop(kind, None)
        if indexes:
            description[kind] = indexes
            for index in indexes:
                index["IndexArn"] = f"{description['TableArn']}/index/{index['IndexName']}"
                # DynamoDB updates both about every six hours; the engine keeps no sizes (TableSizeBytes is 0 too)
                index.setdefault("IndexSizeBytes", 0)
                index.setdefault("ItemCount", 0)
                if "ProvisionedThroughput" in index:
                    index["ProvisionedThroughput"].setdefault("NumberOfDecreasesToday", 0)
    return description


def create_table(context: RequestContext, request: dict) -> dict:
    if request.get("BillingMode") == PAY_PER_REQUEST and request.get("ProvisionedThroughput") is not None:
        raise ValidationException(
            "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be "
            "specified when BillingMode is PAY_PER_REQUEST"
        )
    sse = request.get("SSESpecification") or {}
    if sse.get("Enabled"):
        answer = call_moto_with_request(context, {**request, "SSESpecification": _with_sse_key(context, sse)})
    else:
        answer = call_moto(context)
    description = _shaped(answer["TableDescription"])
    # Only in DescribeTable's answer, once the table is active.
    description.get("BillingModeSummary", {}).pop("LastUpdateToPayPerRequestDateTime", None)
    if "WarmThroughput" in request:
        description["WarmThroughput"]["Status"] = "UPDATING"
    else:
        description.pop("WarmThroughput", None)
    asked = {index["IndexName"] for index in request.get("GlobalSecondaryIndexes") or [] if "WarmThroughput" in index}
    for index in description.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] not in asked:
            index.pop("WarmThroughput", None)
    return answer


def describe_table(context: RequestContext, request: dict) -> dict:
    answer = call_moto(context)
    _shaped(answer["Table"], _table(context, request["TableName"]), context.region)
    return answer


def update_table(context: RequestContext, request: dict) -> dict:
    table = _table(context, request["TableName"])
    was = table.billing_mode
    replicas = dynamodb_replicas.updated(table, request["ReplicaUpdates"]) if request.get("ReplicaUpdates") else None
    answer = call_moto(context)
    if replicas is not None:  # after moto's update: a replica's region may update its own table away
        dynamodb_replicas.keep(table, replicas)
    if request.get("BillingMode") == PAY_PER_REQUEST and was != PAY_PER_REQUEST:
        setattr(table, _SWITCHED_TO_PAY_PER_REQUEST, datetime.now(timezone.utc))
    description = _shaped(answer["TableDescription"], table, context.region)
    sse = request.get("SSESpecification")
    if sse is not None:
        # moto ignores SSESpecification; DynamoDB answers UPDATING and switches
        if sse.get("Enabled", True):
            table.sse_specification = {**_with_sse_key(context, sse), "Enabled": True}
        key = (table.sse_specification or {}).get("KMSMasterKeyId")
        if key:
            description["SSEDescription"] = {"Status": "UPDATING", "SSEType": "KMS", "KMSMasterKeyArn": key}
        if not sse.get("Enabled", True):
            table.sse_specification = None
    return answer


def delete_table(context: RequestContext, request: dict) -> dict:
    table = _table(context, request["TableName"])
    answer = call_moto(context)
    if context.region == table.region_name:
        dynamodb_replicas.forget_all(table)
    else:  # a replica: moto took it from its region's backend
        dynamodb_replicas.forget(table, context.region)
    description = _shaped(answer["TableDescription"], table, context.region)
    for field in _NOT_IN_DELETE_ANSWER:
        description.pop(field, None)
    for index in description.get("GlobalSecondaryIndexes", []):
        index.pop("WarmThroughput", None)
    description["TableStatus"] = "DELETING"
    return answer


def restore_table(context: RequestContext, request: dict) -> dict:
    """RestoreTableFromBackup and RestoreTableToPointInTime: the new table described as every
    table is (moto's answer had no TableId, an empty BillingModeSummary and index lists)."""
    answer = call_moto(context)
    description = answer["TableDescription"]
    _shaped(description, _table(context, description["TableName"]), context.region)
    return answer


def describe_contributor_insights(context: RequestContext, request: dict) -> dict:
    """Contributor Insights are not kept: every table and index reports them DISABLED (moto: 501)."""
    _table(context, request["TableName"])
    answer = {"TableName": request["TableName"], "ContributorInsightsStatus": "DISABLED"}
    if request.get("IndexName"):
        answer["IndexName"] = request["IndexName"]
    return answer
