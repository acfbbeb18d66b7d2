"""DynamoDB Streams for the moto-backed tables (``PROVIDER_OVERRIDE_DYNAMODBSTREAMS=moto``).

moto records every write of a table with a stream in ``table.stream_shard`` (one open
shard per table). This provider serves the dynamodbstreams API from those records, so
LocalStack's own event source mapping poller (``DynamoDBPoller``) drives Lambda.

Shard iterators are self-contained tokens (stream, shard, next sequence number, issue
time) rather than server-side objects, in DynamoDB's form (``<stream ARN>|1|<token>``):
nothing accumulates per poll, an iterator still reads the table's current shard after moto
swaps a table back on a failed transaction, and expiry after 15 minutes is checked as AWS
does. Records are answered with binary values as bytes (moto keeps them in base64, which
the API's serializer encoded a second time).

Every record written wakes the event source mappings' pollers waiting for their stream
(``wait_for_records``, stream_mapping.py): a record reaches its function without a
polling interval, and an idle mapping reads nothing until there is something to read.
"""

import base64
import binascii
import json
import threading
import time
from collections import Counter
from datetime import datetime, timezone

from localstack.aws.api import CommonServiceException, RequestContext
from localstack.aws.api.dynamodbstreams import (
    DescribeStreamOutput,
    DynamodbstreamsApi,
    ExpiredIteratorException,
    GetRecordsOutput,
    GetShardIteratorOutput,
    ListStreamsOutput,
    ResourceNotFoundException,
    ShardIteratorType,
)
from localstack.runtime import hooks
from localstack.services.plugins import Service, aws_provider

from localstack_nodocker import seam
from localstack_nodocker.dynamodb_replicas import in_region

ITERATOR_LIFETIME_S = 15 * 60
MAX_RECORDS_PER_CALL = 1000

# Records written since the start, per stream ARN (one number per stream), and the pollers'
# wake-up when it changes.
_WRITTEN: Counter = Counter()
_WRITE = threading.Condition()


def _counted(stream_arn: str) -> str:
    """The ARN records are counted under: a replica's stream is its table's (dynamodb_replicas.py)."""
    try:
        table = _table(stream_arn)
    except (ValidationException, ResourceNotFoundException):
        return stream_arn
    return f"{table.table_arn}/stream/{table.latest_stream_label}"


def records_written(stream_arn: str) -> int:
    stream_arn = _counted(stream_arn)
    with _WRITE:
        return _WRITTEN[stream_arn]


def wait_for_records(stream_arn: str, seen: int, timeout: float) -> None:
    """Until `stream_arn` has had more records written than `seen` (from records_written), or `timeout`."""
    stream_arn = _counted(stream_arn)
    with _WRITE:
        _WRITE.wait_for(lambda: _WRITTEN[stream_arn] != seen, timeout)


class ValidationException(CommonServiceException):
    def __init__(self, message: str):
        super().__init__("ValidationException", message, 400, True)


def _parse_stream_arn(arn: str) -> tuple[str, str, str, str]:
    """(account, region, table, label) of ``arn:aws:dynamodb:<region>:<account>:table/<t>/stream/<label>``."""
    parts = (arn or "").split(":", 5)
    resource = parts[5].split("/") if len(parts) == 6 else []
    if len(resource) != 4 or resource[0] != "table" or resource[2] != "stream" or parts[2] != "dynamodb":
        raise ValidationException(f"Invalid StreamArn: {arn}")
    return parts[4], parts[3], resource[1], resource[3]


def _table(arn: str):
    """The moto table whose current stream is ``arn``; ResourceNotFound otherwise."""
    from moto.dynamodb.models import dynamodb_backends

    account, region, name, label = _parse_stream_arn(arn)
    table = dynamodb_backends[account][region].tables.get(name)
    if table is None or table.stream_shard is None or table.latest_stream_label != label:
        raise ResourceNotFoundException(f"Requested resource not found: Stream: {arn} not found")
    return table


def _stream_enabled(table) -> bool:
    return bool((table.stream_specification or {}).get("StreamEnabled"))


def _view_type(table) -> str | None:
    """moto forgets the view type when a stream is disabled; its records keep it."""
    shard = table.stream_shard
    return (table.stream_specification or {}).get("StreamViewType") or (
        shard.items[-1].record["dynamodb"]["StreamViewType"] if shard.items else None
    )


def _encode_iterator(arn: str, shard_id: str, sequence_number: int) -> str:
    """``<stream ARN>|1|<token>``, the form of DynamoDB's iterators."""
    token = json.dumps({"arn": arn, "shard": shard_id, "next": str(sequence_number), "issued": time.time()})
    return f"{arn}|1|{base64.urlsafe_b64encode(token.encode()).decode()}"


def _token(iterator: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(iterator.rpartition("|")[2].encode()))


def iterator_at(arn: str, shard_id: str, sequence_number: int) -> str:
    """A fresh iterator at a position saved earlier (a mapping resumed after a restart)."""
    return _encode_iterator(arn, shard_id, sequence_number)


def iterator_position(iterator: str) -> int | None:
    """The next sequence number an iterator reads, expired or not; None if it is not one of ours."""
    try:
        return int(_token(iterator)["next"])
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error):
        return None


def _decode_iterator(iterator: str) -> dict:
    try:
        token = _token(iterator)
        int(token["next"]), float(token["issued"]), token["arn"], token["shard"]
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error):
        raise ValidationException("Invalid ShardIterator") from None
    if time.time() - token["issued"] > ITERATOR_LIFETIME_S:
        raise ExpiredIteratorException("Iterator expired. The iterator was created more than 15 minutes ago")
    return token


class MotoDynamoDBStreamsProvider(DynamodbstreamsApi):
    def describe_stream(
        self,
        context: RequestContext,
        stream_arn,
        limit=None,
        exclusive_start_shard_id=None,
        shard_filter=None,
        **kwargs,
    ) -> DescribeStreamOutput:
        table = _table(stream_arn)
        shard = table.stream_shard
        return DescribeStreamOutput(
            StreamDescription={
                "StreamArn": stream_arn,
                "StreamLabel": table.latest_stream_label,
                "StreamStatus": "ENABLED" if _stream_enabled(table) else "DISABLED",
                "StreamViewType": _view_type(table),
                "CreationRequestDateTime": shard.created_on,
                "TableName": table.name,
                "KeySchema": table.schema,
                "Shards": [] if exclusive_start_shard_id == shard.id else [shard.to_json()],
            }
        )

    def list_streams(
        self, context: RequestContext, table_name=None, limit=None, exclusive_start_stream_arn=None, **kwargs
    ) -> ListStreamsOutput:
        from moto.dynamodb.models import dynamodb_backends

        backend = dynamodb_backends[context.account_id][context.region]
        streams = []
        for table in backend.tables.values():
            if table.stream_shard is None or (table_name and table.name != table_name):
                continue
            streams.append(
                {
                    # a replica's stream is named in its own region (dynamodb_replicas.py)
                    "StreamArn": f"{in_region(table.table_arn, context.region)}/stream/{table.latest_stream_label}",
                    "TableName": table.name,
                    "StreamLabel": table.latest_stream_label,
                }
            )
        return ListStreamsOutput(Streams=streams)

    def get_shard_iterator(
        self, context: RequestContext, stream_arn, shard_id, shard_iterator_type, sequence_number=None, **kwargs
    ) -> GetShardIteratorOutput:
        shard = _table(stream_arn).stream_shard
        if shard_id != shard.id:
            raise ResourceNotFoundException(f"Requested resource not found: Shard {shard_id} does not exist")
        first, end = shard.starting_sequence_number, shard.starting_sequence_number + len(shard.items)
        if shard_iterator_type == ShardIteratorType.TRIM_HORIZON:
            position = first
        elif shard_iterator_type == ShardIteratorType.LATEST:
            position = end
        else:
            try:
                wanted = int(sequence_number)
            except (TypeError, ValueError):
                raise ValidationException(
                    f"SequenceNumber is required and must be a number for {shard_iterator_type}"
                ) from None
            if not first <= wanted < end:
                raise ValidationException(f"Invalid SequenceNumber {sequence_number} for shard {shard_id}")
            position = wanted + (shard_iterator_type == ShardIteratorType.AFTER_SEQUENCE_NUMBER)
        return GetShardIteratorOutput(ShardIterator=_encode_iterator(stream_arn, shard_id, position))

    def get_records(self, context: RequestContext, shard_iterator, limit=None, **kwargs) -> GetRecordsOutput:
        token = _decode_iterator(shard_iterator)
        limit = MAX_RECORDS_PER_CALL if limit is None else limit
        if not 1 <= limit <= MAX_RECORDS_PER_CALL:
            raise ValidationException(f"Limit must be between 1 and {MAX_RECORDS_PER_CALL}, got {limit}")
        table = _table(token["arn"])
        shard = table.stream_shard
        if token["shard"] != shard.id:
            raise ResourceNotFoundException(f"Requested resource not found: Shard {token['shard']} does not exist")
        start = int(token["next"]) - shard.starting_sequence_number
        records = [_with_binary_values(record.to_json()) for record in shard.items[start : start + limit]]
        position = int(token["next"]) + len(records)
        output = GetRecordsOutput(Records=records)
        # A disabled stream's shard is closed: once read to its end there is no next iterator.
        if _stream_enabled(table) or position < shard.starting_sequence_number + len(shard.items):
            output["NextShardIterator"] = _encode_iterator(token["arn"], shard.id, position)
        return output


def _binary(value):
    """An attribute value with its binaries as bytes: moto keeps them in base64 (its JSON), and
    the API's serializer encodes bytes (a base64 string would be encoded twice)."""
    kind, inner = next(iter(value.items()))
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(member) for member in inner]}
    if kind == "M":
        return {"M": {name: _binary(member) for name, member in inner.items()}}
    if kind == "L":
        return {"L": [_binary(member) for member in inner]}
    return value


def _with_binary_values(record: dict) -> dict:
    """A copy of a stored record (moto's own dict) for the answer."""
    images = dict(record["dynamodb"])
    for image in ("Keys", "NewImage", "OldImage"):
        if image in images:
            images[image] = {name: _binary(value) for name, value in images[image].items()}
    return {**record, "dynamodb": images}


def _record_writes_as_dynamodb_does() -> None:
    """Patch moto's StreamShard.add where it differs from DynamoDB Streams:
    - a write that changes nothing (same item put again) writes no record;
    - a table whose stream was disabled writes no record (moto raised KeyError, failing the write);
    - the record carries the table's region and its creation time to the second, as a timestamp;
    - an INSERT has no OldImage and a REMOVE no NewImage (moto wrote empty ones);
    - moto's own Lambda (unused here: LocalStack polls the stream) is not called."""
    from moto.dynamodb.models.table import StreamRecord

    def add(self, old, new):
        table = self.table
        if not _stream_enabled(table):
            return
        if old is not None and new is not None and old.to_json() == new.to_json():
            return
        event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
        sequence_number = self.starting_sequence_number + len(self.items)
        record = StreamRecord(
            table, table.stream_specification["StreamViewType"], event_name, old, new, sequence_number
        )
        images = record.record["dynamodb"]
        if old is None:  # moto writes an empty image for the side that does not exist
            images.pop("OldImage", None)
        if new is None:
            images.pop("NewImage", None)
        record.record["awsRegion"] = table.region_name
        record.record["eventVersion"] = "1.1"
        record.record["dynamodb"]["ApproximateCreationDateTime"] = datetime.now(timezone.utc).replace(microsecond=0)
        self.items.append(record)
        with _WRITE:
            _WRITTEN[f"{table.table_arn}/stream/{table.latest_stream_label}"] += 1
            _WRITE.notify_all()

    seam.replace(seam.STREAM_SHARD_ADD, add)


@hooks.on_infra_start()
def record_stream_writes_as_dynamodb_does() -> None:
    """Before the first write reaches moto, not when the streams API is first called."""
    _record_writes_as_dynamodb_does()


@aws_provider(api="dynamodbstreams", name="moto")
def dynamodbstreams_moto():
    return Service.for_provider(MotoDynamoDBStreamsProvider())
