"""DynamoDB served by LocalStack's bundled moto (no DynamoDB Local, no Java download).

Every operation falls through the empty provider to moto, the way LocalStack serves
ec2 and acm. DynamoDB Streams are not wired to this backend.
"""

from localstack.aws.api.dynamodb import DynamodbApi
from localstack.services.plugins import Service, aws_provider


class MotoDynamoDBProvider(DynamodbApi):
    """All operations are dispatched to moto by MotoFallbackDispatcher."""


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto():
    from localstack.services.moto import MotoFallbackDispatcher

    return Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=MotoFallbackDispatcher)
