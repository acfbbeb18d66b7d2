"""Run in the engine's interpreter by test_dynamodb_query.py: ``python query_against_moto.py SEED``.

moto's own Table.query, before the engine patches it, against the patched one, on seeded random
tables with a GSI and an LSI, with puts, updates (moving items between index partitions),
deletes and transactions between the queries. Prints the number of queries compared and how
many of them the sorted-partition path (O(log n + page)) answered.
"""

import random
import sys
from decimal import Decimal

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

from localstack_nodocker import dynamodb_indexes, dynamodb_numbers, dynamodb_query, dynamodb_transactions

SHAPES = 10
QUERIES_PER_SHAPE = 80


def key_schema(hash_name, range_name):
    return [{"AttributeName": hash_name, "KeyType": "HASH"}] + (
        [{"AttributeName": range_name, "KeyType": "RANGE"}] if range_name else []
    )


def key_of(item: dict) -> dict:
    return {name: item[name] for name in ("h", "r") if name in item}


class RandomTable:
    """A table of a random shape (key types, a sort key or not, a GSI with or without a sort
    key, an LSI), its values drawn from small pools so that partitions and ties are many."""

    def __init__(self, rng: random.Random, backend: DynamoDBBackend, name: str):
        self.rng, self.backend, self.name = rng, backend, name
        self.types = {name: rng.choice("SN") for name in ("h", "r", "g", "gr", "lr")}
        self.has_range, self.gsi_range = rng.random() < 0.8, rng.random() < 0.6
        attr = [
            {"AttributeName": name, "AttributeType": kind}
            for name, kind in self.types.items()
            if self.has_range or name not in ("r", "lr")
        ]
        projection = {"ProjectionType": "ALL"}
        gsis = [
            {
                "IndexName": "gsi",
                "KeySchema": key_schema("g", "gr" if self.gsi_range else None),
                "Projection": projection,
            }
        ]
        lsis = [{"IndexName": "lsi", "KeySchema": key_schema("h", "lr"), "Projection": projection}]
        self.table = backend.create_table(
            name,
            schema=key_schema("h", "r" if self.has_range else None),
            throughput=None,
            attr=attr,
            global_indexes=gsis,
            indexes=lsis if self.has_range else [],
            streams=None,
            billing_mode="PAY_PER_REQUEST",
            sse_specification=None,
            tags=[],
            deletion_protection_enabled=False,
            warm_throughput=None,
        )
        self.pools = {
            name: [{kind: self.value(kind)} for _ in range(rng.randint(1, 4))] for name, kind in self.types.items()
        }

    def value(self, kind: str) -> str:
        if kind == "N":  # written as DynamoDB stores it: moto would keep 10 and 1e1 as two keys that tie
            return format((Decimal(self.rng.randint(-3000, 3000)) / self.rng.choice([1, 100])).normalize(), "f")
        return "".join(self.rng.choice("ab") for _ in range(self.rng.randint(1, 3)))

    def random_item(self) -> dict:
        item = {"h": self.rng.choice(self.pools["h"]), "v": {"N": str(self.rng.randint(0, 9))}}
        if self.has_range:
            item["r"] = {self.types["r"]: self.value(self.types["r"])}
        for name in ("g", "gr", "lr"):
            if self.rng.random() < 0.85 and (self.has_range or name != "lr"):
                item[name] = self.rng.choice(self.pools[name])
        return item

    def write(self) -> None:
        """A put, an update, a delete or a transaction, then the index buckets checked."""
        self._one_write()
        self._buckets_hold_exactly_the_stored_items()

    def _buckets_hold_exactly_the_stored_items(self) -> None:
        for attribute, buckets in dynamodb_indexes.INDEX_PARTITIONS.get(self.table, {}).values():
            held = {(value, key): item for value, bucket in buckets.items() for key, item in bucket.items()}
            stored = {
                (item.attrs[attribute], (item.hash_key, item.range_key)): item
                for item in Table.all_items(self.table)
                if attribute in item.attrs
            }
            assert held.keys() == stored.keys() and all(held[key] is stored[key] for key in held), (held, stored)

    def _one_write(self) -> None:
        rng, backend, name = self.rng, self.backend, self.name
        existing = [item.to_json()["Attributes"] for item in Table.all_items(self.table)]
        action = rng.choice(["put", "put", "update", "delete", "transaction"]) if existing else "put"
        if action == "put":
            backend.put_item(name, self.random_item())
        elif action == "update":
            target = key_of(rng.choice(existing))
            if rng.random() < 0.3:
                backend.update_item(name, target, "REMOVE g", None, None)
            else:
                backend.update_item(
                    name,
                    target,
                    "SET g = :g, v = :v",
                    None,
                    {":g": rng.choice(self.pools["g"]), ":v": {"N": str(rng.randint(0, 9))}},
                )
        elif action == "delete":
            backend.delete_item(name, key_of(rng.choice(existing)))
        else:  # a Put and an Update, cancelled or not by the check
            check = {
                "TableName": name,
                "Key": key_of(rng.choice(existing)),
                "ConditionExpression": rng.choice(["attribute_exists(h)", "attribute_not_exists(h)"]),
            }
            target, new = rng.choice(existing), self.random_item()
            actions = [{"Put": {"TableName": name, "Item": new}}, {"ConditionCheck": check}]
            if key_of(target) not in (key_of(new), check["Key"]):
                update = {
                    "TableName": name,
                    "Key": key_of(target),
                    "UpdateExpression": "SET g = :g",
                    "ExpressionAttributeValues": {":g": rng.choice(self.pools["g"])},
                }
                actions.append({"Update": update})
            if key_of(new) == check["Key"]:
                actions.pop(1)
            try:
                backend.transact_write_items(actions)
            except TransactionCanceledException:
                pass

    def random_query(self) -> tuple:
        """The arguments of Table.query for a random Query of the table or one of its indexes."""
        rng, types, has_range = self.rng, self.types, self.has_range
        index_name = rng.choice([None, "gsi"] + (["lsi"] if has_range else []))
        hash_name, range_name = {
            None: ("h", "r" if has_range else None),
            "gsi": ("g", "gr" if self.gsi_range else None),
            "lsi": ("h", "lr"),
        }[index_name]
        hash_key = DynamoType(rng.choice(self.pools[hash_name] + [{types[hash_name]: self.value(types[hash_name])}]))
        comparison, objs = None, []
        if range_name and rng.random() < 0.7:
            kind = types[range_name]
            comparison = rng.choice(["EQ", "LT", "LE", "GT", "GE", "BETWEEN"] + (["BEGINS_WITH"] * (kind == "S")))
            objs = sorted(DynamoType({kind: self.value(kind)}) for _ in range(2 if comparison == "BETWEEN" else 1))
        limit = rng.choice([None, 1, 2, 5, 17])
        forward = rng.random() < 0.5
        start = None
        key_names = [name for name in ("h", "r", hash_name, range_name) if name and (has_range or name != "r")]
        stored = [item for item in Table.all_items(self.table) if all(name in item.attrs for name in key_names)]
        if stored and rng.random() < 0.5:
            chosen = rng.choice(stored)
            start = {
                name: chosen.attrs[name].to_json()
                for name in ("h", "r", hash_name, range_name)
                if name and name in chosen.attrs
            }
        projection = [["v"]] if rng.random() < 0.2 else None
        # no FilterExpression reaches Table.query as OpDefault from the engine, None when called directly
        filter_op = (
            get_filter_expression("v > :v", None, {":v": {"N": "4"}})
            if rng.random() < 0.3
            else rng.choice([None, get_filter_expression(None, None, None)])
        )
        return hash_key, comparison, objs, limit, start, forward, projection, index_name, False, filter_op


def answer(query, table, arguments: tuple):
    """What a Query answers, comparable between the two paths (moto refuses some shapes: both
    paths must refuse alike)."""
    try:
        items, scanned, last = query(table, *arguments)
    except Exception as error:
        return repr(error)
    last = last and {name: value.to_json() if isinstance(value, DynamoType) else value for name, value in last.items()}
    return [item.to_json() for item in items], scanned, last


def main(seed: int) -> tuple[int, int]:
    dynamodb_numbers.compare_numbers_exactly()
    moto_query = Table.query
    dynamodb_query.query_reads_one_partition()
    dynamodb_indexes.keep_indexes_up_with_writes()
    DynamoDBBackend.transact_write_items = dynamodb_transactions.transact_write_items
    patched_query = Table.query
    paged = []  # index Queries answered from a sorted partition, not the whole one
    index_page = dynamodb_indexes.index_page

    def counted_index_page(*args):
        page = index_page(*args)
        if page is not None:
            paged.append(1)
        return page

    dynamodb_indexes.index_page = counted_index_page
    rng = random.Random(seed)
    backend = DynamoDBBackend("us-east-1", "123456789012")
    compared = 0
    for shape in range(SHAPES):
        table = RandomTable(rng, backend, f"t{shape}")
        for _ in range(rng.randint(0, 80)):
            table.write()
        for _ in range(QUERIES_PER_SHAPE):
            if rng.random() < 0.5:
                table.write()
            arguments = table.random_query()
            answers = [answer(query, table.table, arguments) for query in (moto_query, patched_query)]
            assert answers[0] == answers[1], (shape, arguments, answers)
            compared += 1
    return compared, len(paged)


if __name__ == "__main__":
    print(*main(int(sys.argv[1])))
