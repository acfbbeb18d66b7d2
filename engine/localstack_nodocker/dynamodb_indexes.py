"""DynamoDB index partitions kept as buckets, and in order, beside moto's table.

moto keeps a table's items per hash key only: its Query on an index walks and sorts every
item of the table (O(table) per request). This module keeps, per table and queried index, the
items of each index partition (a bucket per index hash key, built on the index's first Query)
and, for an index with a sort key, each paged partition in moto's Query order (a page found
by bisection: O(log n + page)). It wraps moto's ``Table.put_item``, ``Table.delete_item`` and
``DynamoDBBackend.update_item`` so that both follow every write, and drops them after any other
request that may write (dynamodb_requests.py calls ``forget_unless_maintained``). Query
paths: dynamodb_query.py. seam.py targets (INDEX_UPKEEP, PARTITION_QUERY).
"""

import bisect
import weakref

from moto.dynamodb.comparisons import OpDefault
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

from localstack_nodocker import seam

# Per table and queried index: {index hash key: {table key: item}}, built on the index's first
# Query and kept up by the writes below. A Query still checks each entry against the stored
# item (and drops it if that was replaced or moved), so a write path missed here could only
# leave an extra entry, never a wrong answer; a missing entry is what the hooks prevent.
INDEX_PARTITIONS: "weakref.WeakKeyDictionary[Table, dict]" = weakref.WeakKeyDictionary()

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


def forget_unless_maintained(operation: str) -> None:
    """After a request: drop every bucket and sorted partition unless its writes keep them up."""
    if operation not in _INDEX_MAINTAINED_BY:
        INDEX_PARTITIONS.clear()
        _SORTED_PARTITIONS.clear()


def stored(table, hash_key, range_key):
    """The item stored under this key, without moto's defaultdict creating a partition."""
    found = table.items.get(hash_key)
    return found.get(range_key) if found is not None and table.range_key_attr else found


def index_item(table, item) -> None:
    for index_name, (attribute, buckets) in INDEX_PARTITIONS.get(table, {}).items():
        _add_to_bucket(attribute, buckets, item)
        _sorted_partition_of(table, index_name, attribute, item, lambda ordered: ordered.add(item))


def unindex_item(table, item) -> None:
    key = (item.hash_key, item.range_key)
    for index_name, (attribute, buckets) in INDEX_PARTITIONS.get(table, {}).items():
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


def index_partition(table, index_name: str, hash_key) -> list | None:
    """The items of one partition of an index (and possibly some that moto's filter drops);
    None for an index moto would refuse."""
    hash_attribute = _key_schema(table, index_name).get("HASH")
    if not hash_attribute:
        return None
    by_index = INDEX_PARTITIONS.setdefault(table, {})
    if index_name not in by_index:
        by_index[index_name] = (hash_attribute, {})
        for item in Table.all_items(table):
            _add_to_bucket(*by_index[index_name], item)
    attribute, buckets = by_index[index_name]
    bucket = buckets.get(hash_key, {})
    items = []
    for key, item in list(bucket.items()):
        value = item.attrs.get(attribute)  # an update may have removed or changed it
        if stored(table, *key) is item and value is not None and value == hash_key:
            items.append(item)
        else:
            del bucket[key]
    return items


def index_page(table, index_name: str, hash_key, arguments: dict) -> list | None:
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
            items = index_partition(table, index_name, hash_key)
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
        stored(table, item.hash_key, item.range_key) is item and item.attrs.get(schema["HASH"]) == hash_key
        for item in page
    ):
        return page
    partitions.pop((index_name, hash_key), None)
    return None


def keep_indexes_up_with_writes() -> None:
    """Keep INDEX_PARTITIONS up with moto's writes: a put replaces the stored item, an
    update changes it in place (also when it then fails, e.g. on item size), a delete
    removes it. Only for tables with an index queried since the last bucket reset."""
    put_item, delete_item = seam.original(seam.TABLE_PUT_ITEM), seam.original(seam.TABLE_DELETE_ITEM)
    update_item = seam.original(seam.BACKEND_UPDATE_ITEM)

    def stored_at(table, key: dict):
        """The stored item at the key attributes of ``key`` (an item or a key), if any."""
        try:
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            return stored(table, DynamoType(key[table.hash_key_attr]), range_key)
        except (KeyError, TypeError):  # moto refuses such a key itself
            return None

    def indexed_put_item(self, item_attrs, *args, **kwargs):
        previous = stored_at(self, item_attrs) if self in INDEX_PARTITIONS else None
        item = put_item(self, item_attrs, *args, **kwargs)
        if previous is not None:
            unindex_item(self, previous)
        index_item(self, item)
        return item

    def indexed_update_item(self, table_name, key, *args, **kwargs):
        table = next((table for table in self.tables.values() if table_name in (table.name, table.table_arn)), None)
        if table not in INDEX_PARTITIONS:
            return update_item(self, table_name, key, *args, **kwargs)
        previous = stored_at(table, key)
        if previous is not None:
            unindex_item(table, previous)
        try:
            return update_item(self, table_name, key, *args, **kwargs)
        finally:
            item = stored_at(table, key)
            if item is not None:
                index_item(table, item)

    def indexed_delete_item(self, hash_key, range_key):
        item = delete_item(self, hash_key, range_key)
        if item is not None:
            unindex_item(self, item)
        return item

    seam.replace(seam.TABLE_PUT_ITEM, indexed_put_item)
    seam.replace(seam.BACKEND_UPDATE_ITEM, indexed_update_item)
    seam.replace(seam.TABLE_DELETE_ITEM, indexed_delete_item)
