"""DynamoDB served by LocalStack's bundled moto (no DynamoDB Local, no Java download).

Every operation falls through the empty provider to moto, the way LocalStack serves
ec2 and acm. Its streams are served by streams.py (``dynamodbstreams:moto``).
"""

from decimal import Decimal

from localstack.aws.api.dynamodb import DynamodbApi
from localstack.services.plugins import Service, aws_provider


class MotoDynamoDBProvider(DynamodbApi):
    """All operations are dispatched to moto by MotoFallbackDispatcher."""


def _compare_numbers_exactly() -> None:
    """DynamoDB orders numbers as decimals of up to 38 digits; moto casts them to float.
    Keys that differ past the 16th digit (e.g. an epoch-ms sort key with a fractional
    uniqueness suffix) then compare equal: sort order breaks and a Scan or Query resumed
    from such a LastEvaluatedKey returns the same page forever. Compare as Decimal."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    as_float = DynamoType.cast_value.fget

    def cast_value(self):
        if self.is_number():
            try:
                return int(self.value)
            except ValueError:
                return Decimal(self.value)
        return as_float(self)

    DynamoType.cast_value = property(cast_value)


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto():
    from localstack.services.moto import MotoFallbackDispatcher

    _compare_numbers_exactly()
    return Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=MotoFallbackDispatcher)
