"""DynamoDB served by LocalStack's bundled moto (no DynamoDB Local, no Java download).

Every operation falls through the empty provider to moto, the way LocalStack serves
ec2 and acm. Its streams are served by streams.py (``dynamodbstreams:moto``). Where moto
differs from DynamoDB in ways the stack depends on, it is patched here: numbers compare
exactly, requests are atomic, a transaction saves and restores only its own items, a
Query reads only its partition, and a page of an index partition costs O(log n + page).
Each moto internal patched or read here is a target in seam.py, checked at start.
"""

import bisect
import copy
import functools
import inspect
import json
import threading
import weakref
from contextvars import ContextVar
from decimal import Decimal

from localstack.aws.api.dynamodb import DynamodbApi
from localstack.services.plugins import Service, aws_provider
from moto.dynamodb.comparisons import OpDefault, get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

from localstack_nodocker import dynamodb_memory, seam


class MotoDynamoDBProvider(DynamodbApi):
    """All operations are dispatched to moto by MotoFallbackDispatcher."""


def _compare_numbers_exactly() -> None:
    """DynamoDB orders numbers as decimals of up to 38 digits; moto casts them to float.
    Keys that differ past the 16th digit (e.g. an epoch-ms sort key with a fractional
    uniqueness suffix) then compare equal: sort order breaks and a Scan or Query resumed
    from such a LastEvaluatedKey returns the same page forever. Compare as Decimal."""
    as_float = seam.original(seam.CAST_VALUE).fget

    def cast_value(self):
        if self.is_number():
            try:
                return int(self.value)
            except ValueError:
                return Decimal(self.value)
        return as_float(self)

    seam.replace(seam.CAST_VALUE, property(cast_value))


# moto takes no lock around its data: LocalStack calls it from concurrent request threads,
# so a conditional put could interleave with another write to its item, and a transaction
# with any write. DynamoDB makes each request atomic; one lock over every request does too
# (the GIL serialises moto's pure-Python work anyway, so little parallelism is lost).
REQUEST_LOCK = threading.RLock()


def _serialise_requests() -> None:
    call_action = seam.original(seam.CALL_ACTION)

    def locked_call_action(self):
        with REQUEST_LOCK:
            try:
                return call_action(self)
            finally:
                if self.get_endpoint_name(self.headers) not in _INDEX_MAINTAINED_BY:
                    _INDEX_PARTITIONS.clear()
                    _SORTED_PARTITIONS.clear()

    seam.replace(seam.CALL_ACTION, locked_call_action)


def transact_write_items(self, transact_items: list[dict]) -> None:
    """moto's DynamoDBBackend.transact_write_items, except for what it saves and restores.

    moto deep-copies every table of the account before a transaction and puts that copy
    back when it is cancelled: the cost grows with the account's items, and any write
    another request made in between is lost. Here the transaction saves the previous
    version (or absence) of each item it writes, restores only those on cancel, and holds
    the stream records of its writes until it commits, so a cancelled transaction leaves
    no record. ClientRequestToken is not honoured (moto ignores it too)."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    _hold_stream_records_in_transactions()
    with REQUEST_LOCK:
        saved: list[tuple] = []  # (table, hash key, range key, previous item or None)
        held_records: list[tuple] = []  # (shard, old, new) in write order
        token = _HELD_RECORDS.set(held_records)
        try:
            errors = _apply_transaction(self, transact_items, saved)
        except BaseException:
            _restore(saved)
            raise
        finally:
            _HELD_RECORDS.reset(token)
        if any(code is not None for code, _, _ in errors):
            _restore(saved)
            raise TransactionCanceledException(errors)
        for shard, old, new in held_records:
            shard.add(old, new)


# The stream records of the transaction running in this context, written when it commits.
_HELD_RECORDS: ContextVar[list | None] = ContextVar("held_stream_records", default=None)


def _hold_stream_records_in_transactions() -> None:
    """Wrap StreamShard.add as it is now (streams.py replaces moto's at infra start) so that
    a write inside a transaction holds its record. Nothing is set on the shards themselves:
    a state snapshot taken meanwhile must not keep a transaction's hook."""
    add = seam.original(seam.STREAM_SHARD_ADD)
    if getattr(add, "holds_transaction_records", False):
        return

    def add_or_hold(self, old, new):
        held = _HELD_RECORDS.get()
        if held is None:
            add(self, old, new)
        else:
            held.append((self, old, new))

    add_or_hold.holds_transaction_records = True
    seam.replace(seam.STREAM_SHARD_ADD, add_or_hold)


def _save(table, key_values, saved: list) -> None:
    hash_key, range_key = key_values
    saved.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))


def _restore(saved: list) -> None:
    for table, hash_key, range_key, previous in reversed(saved):
        current = _stored(table, hash_key, range_key)
        if current is not None:
            _unindex_item(table, current)
        if range_key is None:
            if previous is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = previous
        elif previous is None:
            table.items[hash_key].pop(range_key, None)
        else:
            table.items[hash_key][range_key] = previous
        if previous is not None:
            _index_item(table, previous)


def _parsed_condition(expression: str, names: dict | None, values: dict | None):
    """moto's parsed condition: the same expression, names and values parse to the same
    stateless tree, and a batch of conditional Puts (the log index's) repeats one expression."""
    return _parse_condition(expression, json.dumps(names, sort_keys=True), json.dumps(values, sort_keys=True))


@functools.lru_cache(maxsize=256)
def _parse_condition(expression: str, names: str, values: str):
    return get_filter_expression(expression, json.loads(names), json.loads(values))


def _apply_transaction(self, transact_items: list[dict], saved: list) -> list:
    """moto's loop, with _save before each write. Returns the (code, message, item) of each
    action; raises (after which the caller restores) where moto rolls back and re-raises."""
    target_items: set = set()
    errors: list = []
    for item in transact_items:
        original_item = None
        if len(item) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            table = self.get_table(table_name)
            if op_type == "Put":
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            unique = (str(table_name), str(key))
            if unique in target_items:
                raise MultipleTransactionsException()
            target_items.add(unique)

            current = self.get_item(table_name, key)
            if condition_expression is not None:
                if not _parsed_condition(condition_expression, names, values).expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)

            if op_type != "ConditionCheck":
                _save(table, self.get_keys_value(table, key), saved)
            # The condition was checked above, under the request lock: the write does not
            # parse and check it a second time (the costliest part of a conditional Put).
            if op_type == "Put":
                self.put_item(
                    table_name,
                    op["Item"],
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:
            errors.append((type(e).__name__, str(e), original_item))
    return errors


# (table, its items in the queried partition) while Table.query runs.
_QUERIED_PARTITION: ContextVar[tuple | None] = ContextVar("queried_partition", default=None)

# Per table and queried index: {index hash key: {table key: item}}, built on the index's first
# Query and kept up by the writes below. A Query still checks each entry against the stored
# item (and drops it if that was replaced or moved), so a write path missed here could only
# leave an extra entry, never a wrong answer; a missing entry is what the hooks prevent.
_INDEX_PARTITIONS: "weakref.WeakKeyDictionary[Table, dict]" = weakref.WeakKeyDictionary()

# Per table: {(index name, index hash key): _SortedPartition}, for indexes with a sort key,
# built on a partition's first paged Query and kept in order by the same writes.
_SORTED_PARTITIONS: "weakref.WeakKeyDictionary[Table, dict]" = weakref.WeakKeyDictionary()

# Requests that write nothing, or write only through Table.put_item,
# DynamoDBBackend.update_item and Table.delete_item (indexed below). Any other request
# (UpdateTable changing an index, PartiQL, a restore...) drops every bucket: they are
# rebuilt on the next Query.
_INDEX_MAINTAINED_BY = {
    "GetItem",
    "BatchGetItem",
    "Query",
    "Scan",
    "TransactGetItems",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "DescribeTable",
    "ListTables",
    "DescribeTimeToLive",
    "ListTagsOfResource",
    "DescribeContinuousBackups",
    "DescribeLimits",
    "DescribeEndpoints",
}


def _stored(table, hash_key, range_key):
    """The item stored under this key, without moto's defaultdict creating a partition."""
    stored = table.items.get(hash_key)
    return stored.get(range_key) if stored is not None and table.range_key_attr else stored


def _index_item(table, item) -> None:
    for index_name, (attribute, buckets) in _INDEX_PARTITIONS.get(table, {}).items():
        _add_to_bucket(attribute, buckets, item)
        _sorted_partition_of(table, index_name, attribute, item, lambda ordered: ordered.add(item))


def _unindex_item(table, item) -> None:
    key = (item.hash_key, item.range_key)
    for index_name, (attribute, buckets) in _INDEX_PARTITIONS.get(table, {}).items():
        _sorted_partition_of(table, index_name, attribute, item, lambda ordered: ordered.remove(item))
        try:
            bucket = buckets.get(item.attrs.get(attribute), {})
        except TypeError:  # never indexed
            continue
        if bucket.get(key) is item:
            del bucket[key]


def _sorted_partition_of(table, index_name: str, attribute: str, item, change) -> None:
    """Apply ``change`` to the sorted partition of ``item`` in the index, if one is kept; drop
    it when the change fails (it is rebuilt on the next Query)."""
    partitions = _SORTED_PARTITIONS.get(table)
    value = item.attrs.get(attribute)
    if not partitions or value is None:
        return
    try:
        ordered = partitions.get((index_name, value))
        if ordered is not None and not change(ordered):
            del partitions[(index_name, value)]
    except TypeError:  # a list or map value: in no partition
        pass


class _SortedPartition:
    """The items of one index partition in moto's Query order (index sort key, then the
    table's keys), for pages found by bisection. Items without the index's sort key are not
    in the index (moto leaves them out too)."""

    def __init__(self, sort_attributes: list, range_attribute: str, items: list):
        self.sort_attributes, self.range_attribute = sort_attributes, range_attribute
        self.items = sorted((item for item in items if item.attrs.get(range_attribute)), key=self.key_of)
        self.keys = [self.key_of(item) for item in self.items]

    def key_of(self, item) -> tuple:
        return tuple(item.attrs[name] for name in self.sort_attributes)

    def add(self, item) -> bool:
        return self._place(item, insert=True)

    def remove(self, item) -> bool:
        return self._place(item, insert=False)

    def _place(self, item, insert: bool) -> bool:
        """Insert or remove ``item`` at its place; False when it has none (then rebuilt)."""
        if not item.attrs.get(self.range_attribute):
            return True  # not in the index
        try:
            key = self.key_of(item)
        except KeyError:
            return False
        if insert:
            position = bisect.bisect_right(self.keys, key)
            self.keys.insert(position, key)
            self.items.insert(position, item)
            return True
        for position in range(bisect.bisect_left(self.keys, key), bisect.bisect_right(self.keys, key)):
            if self.items[position] is item:
                del self.keys[position], self.items[position]
                return True
        return False  # not where its key says

    def page(self, start_key, forward: bool, limit: int) -> list:
        """The items a page of ``limit`` can hold after ``start_key``, and one more (so that
        moto sees whether the page is the last)."""
        if forward:
            position = 0 if start_key is None else bisect.bisect_right(self.keys, start_key)
            return self.items[position : position + limit + 1]
        position = len(self.items) if start_key is None else bisect.bisect_left(self.keys, start_key)
        return self.items[max(0, position - limit - 1) : position]


def _add_to_bucket(attribute: str, buckets: dict, item) -> None:
    value = item.attrs.get(attribute)
    if value is None:
        return
    try:
        buckets.setdefault(value, {})[(item.hash_key, item.range_key)] = item
    except TypeError:  # a list or map is never equal to a key value: in no partition
        pass


def _key_schema(table, index_name: str) -> dict:
    """{"HASH": attribute, "RANGE": attribute} of a table's index ({} for no such index)."""
    index = {index.name: index for index in table.all_indexes()}.get(index_name)
    return {key["KeyType"]: key["AttributeName"] for key in getattr(index, "schema", [])}


def _index_partition(table, index_name: str, hash_key) -> list | None:
    """The items of one partition of an index (and possibly some that moto's filter drops);
    None for an index moto would refuse."""
    hash_attribute = _key_schema(table, index_name).get("HASH")
    if not hash_attribute:
        return None
    by_index = _INDEX_PARTITIONS.setdefault(table, {})
    if index_name not in by_index:
        by_index[index_name] = (hash_attribute, {})
        for item in Table.all_items(table):
            _add_to_bucket(*by_index[index_name], item)
    attribute, buckets = by_index[index_name]
    bucket = buckets.get(hash_key, {})
    items = []
    for key, item in list(bucket.items()):
        value = item.attrs.get(attribute)  # an update may have removed or changed it
        if _stored(table, *key) is item and value is not None and value == hash_key:
            items.append(item)
        else:
            del bucket[key]
    return items


def _index_page(table, index_name: str, hash_key, arguments: dict) -> list | None:
    """The candidates of one page of an index Query, found by bisection in the partition
    kept sorted: O(log n + page). None where moto's own walk is needed: no Limit, a
    condition on the sort key or a filter (they decide which items count), an index without
    a sort key, or an entry found stale."""
    limit = arguments.get("limit")
    if (
        not isinstance(limit, int)
        or limit < 1
        or arguments.get("range_comparison")
        or not isinstance(arguments.get("filter_expression"), (OpDefault, type(None)))  # OpDefault: no filter
        or arguments.get("filter_kwargs")
    ):
        return None
    schema = _key_schema(table, index_name)
    if "HASH" not in schema or "RANGE" not in schema:
        return None
    partitions = _SORTED_PARTITIONS.setdefault(table, {})
    try:
        ordered = partitions.get((index_name, hash_key))
        if ordered is None:
            items = _index_partition(table, index_name, hash_key)
            if items is None:
                return None
            sort_attributes = table._generate_attr_to_sort_by(
                [schema["HASH"], table.hash_key_attr], [schema["RANGE"], table.range_key_attr]
            )
            ordered = partitions[(index_name, hash_key)] = _SortedPartition(sort_attributes, schema["RANGE"], items)
        start = arguments.get("exclusive_start_key")
        start_key = None if start is None else tuple(DynamoType(start[name]) for name in ordered.sort_attributes)
    except (KeyError, TypeError):  # an item or a start key without a key attribute: moto answers
        return None
    page = ordered.page(start_key, arguments.get("scan_index_forward") is not False, limit)
    # each item still the one stored, still in this partition, and there once
    if len({id(item) for item in page}) == len(page) and all(
        _stored(table, item.hash_key, item.range_key) is item and item.attrs.get(schema["HASH"]) == hash_key
        for item in page
    ):
        return page
    partitions.pop((index_name, hash_key), None)
    return None


def _query_reads_one_partition() -> None:
    """moto's Query sorts every item of the table, then keeps those of the queried partition:
    O(table) per request, for the base table and its indexes alike. Hand moto's own query
    code (key conditions, order, paging, filters, projection) only the candidates of that
    partition: for the base table the partition moto already stores by hash key, for an
    index its bucket in _INDEX_PARTITIONS. A Query then costs O(partition)."""
    query, all_items = seam.original(seam.TABLE_QUERY), seam.original(seam.TABLE_ALL_ITEMS)
    signature = inspect.signature(query)

    def partition_query(self, hash_key, *args, **kwargs):
        arguments = signature.bind(self, hash_key, *args, **kwargs).arguments
        index_name = arguments.get("index_name")
        if index_name:
            partition = _index_page(self, index_name, hash_key, arguments)
            if partition is None:
                partition = _index_partition(self, index_name, hash_key)
            if partition is None:
                return query(self, hash_key, *args, **kwargs)  # and its error
        else:
            stored = self.items.get(hash_key)
            partition = [] if stored is None else list(stored.values()) if self.range_key_attr else [stored]
        token = _QUERIED_PARTITION.set((self, partition))
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _QUERIED_PARTITION.reset(token)

    def items_of_queried_partition(self):
        queried = _QUERIED_PARTITION.get()
        return queried[1] if queried is not None and queried[0] is self else all_items(self)

    seam.replace(seam.TABLE_QUERY, partition_query)
    seam.replace(seam.TABLE_ALL_ITEMS, items_of_queried_partition)


def _index_writes() -> None:
    """Keep _INDEX_PARTITIONS up with moto's writes: a put replaces the stored item, an
    update changes it in place (also when it then fails, e.g. on item size), a delete
    removes it. Only for tables with an index queried since the last bucket reset."""
    put_item, delete_item = seam.original(seam.TABLE_PUT_ITEM), seam.original(seam.TABLE_DELETE_ITEM)
    update_item = seam.original(seam.BACKEND_UPDATE_ITEM)

    def stored_at(table, key: dict):
        """The stored item at the key attributes of ``key`` (an item or a key), if any."""
        try:
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            return _stored(table, DynamoType(key[table.hash_key_attr]), range_key)
        except (KeyError, TypeError):  # moto refuses such a key itself
            return None

    def indexed_put_item(self, item_attrs, *args, **kwargs):
        previous = stored_at(self, item_attrs) if self in _INDEX_PARTITIONS else None
        item = put_item(self, item_attrs, *args, **kwargs)
        if previous is not None:
            _unindex_item(self, previous)
        _index_item(self, item)
        return item

    def indexed_update_item(self, table_name, key, *args, **kwargs):
        table = next((table for table in self.tables.values() if table_name in (table.name, table.table_arn)), None)
        if table not in _INDEX_PARTITIONS:
            return update_item(self, table_name, key, *args, **kwargs)
        previous = stored_at(table, key)
        if previous is not None:
            _unindex_item(table, previous)
        try:
            return update_item(self, table_name, key, *args, **kwargs)
        finally:
            item = stored_at(table, key)
            if item is not None:
                _index_item(table, item)

    def indexed_delete_item(self, hash_key, range_key):
        item = delete_item(self, hash_key, range_key)
        if item is not None:
            _unindex_item(self, item)
        return item

    seam.replace(seam.TABLE_PUT_ITEM, indexed_put_item)
    seam.replace(seam.BACKEND_UPDATE_ITEM, indexed_update_item)
    seam.replace(seam.TABLE_DELETE_ITEM, indexed_delete_item)


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto():
    from localstack.services.moto import MotoFallbackDispatcher

    _compare_numbers_exactly()
    dynamodb_memory.share_item_strings()
    _serialise_requests()
    _query_reads_one_partition()
    _index_writes()
    seam.replace(seam.TRANSACT_WRITE_ITEMS, transact_write_items)
    return Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=MotoFallbackDispatcher)
