"""DynamoDB Query reading only its partition.

Changes moto's ``Table.query``: it sorts every item of the table, then keeps those of the
queried partition: O(table) per request, for the base table and its indexes alike. Here
moto's own query code (key conditions, order, paging, filters, projection) is handed only the
candidates of that partition, through ``Table.all_items`` while the Query runs: for the base
table the partition moto already stores by hash key, for an index its bucket or a page of its
sorted partition (dynamodb_indexes.py). A Query then costs O(partition), a page of an index
partition O(log n + page). seam.py targets (PARTITION_QUERY).
"""

import inspect
from contextvars import ContextVar

from localstack_nodocker import dynamodb_indexes, seam

# (table, its items in the queried partition) while Table.query runs.
_QUERIED_PARTITION: ContextVar[tuple | None] = ContextVar("queried_partition", default=None)


def query_reads_one_partition() -> None:
    query, all_items = seam.original(seam.TABLE_QUERY), seam.original(seam.TABLE_ALL_ITEMS)
    signature = inspect.signature(query)

    def partition_query(self, hash_key, *args, **kwargs):
        arguments = signature.bind(self, hash_key, *args, **kwargs).arguments
        index_name = arguments.get("index_name")
        if index_name:
            partition = dynamodb_indexes.index_page(self, index_name, hash_key, arguments)
            if partition is None:
                partition = dynamodb_indexes.index_partition(self, index_name, hash_key)
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
