"""DynamoDB transactions that save and restore only their own items.

Replaces moto's ``DynamoDBBackend.transact_write_items``: moto deep-copies every table of the
account before a transaction and puts that copy back when it is cancelled: the cost grows
with the account's items, and any write another request made in between is lost. Here the
transaction saves the previous version (or absence) of each item it writes, restores only
those on cancel (keeping the index partitions of dynamodb_indexes.py in step), and holds the
stream records of its writes until it commits, so a cancelled transaction leaves no record.
``_apply_transaction`` is moto's loop, copied with ``_save`` before each write. The same holding
keeps an UpdateItem that creates its item to one record (``write_one_record_per_update``).
seam.py targets (TRANSACTIONS, STREAM_RECORDS).
"""

import functools
from contextvars import ContextVar

from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)

from localstack_nodocker import seam
from localstack_nodocker.dynamodb_copies import copy_of
from localstack_nodocker.dynamodb_expressions import parsed_condition
from localstack_nodocker.dynamodb_indexes import index_item, stored, unindex_item
from localstack_nodocker.dynamodb_requests import REQUEST_LOCK


def save_and_restore_own_items() -> None:
    seam.replace(seam.TRANSACT_WRITE_ITEMS, transact_write_items)


def transact_write_items(self, transact_items: list[dict]) -> None:
    """moto's DynamoDBBackend.transact_write_items, except for what it saves and restores.
    ClientRequestToken is not honoured (moto ignores it too)."""
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


@functools.cache
def _shard_class() -> type:
    return seam.STREAM_SHARD_ADD.resolve()[0]


# The stream records of the transaction running in this context, written when it commits.
_HELD_RECORDS: ContextVar[list | None] = ContextVar("held_stream_records", default=None)


def _hold_stream_records_in_transactions() -> None:
    """Wrap StreamShard.add as it is now (streams.py replaces moto's at infra start) so that
    a write inside a transaction holds its record. Nothing is set on the shards themselves:
    a state snapshot taken meanwhile must not keep a transaction's hook. Called at every
    transaction and update: the target is resolved and its shape checked (inspect, a tenth of
    a millisecond) only when the wrapper is not in place yet."""
    if getattr(vars(_shard_class()).get("add"), "holds_transaction_records", False):
        return
    add = seam.original(seam.STREAM_SHARD_ADD)

    def add_or_hold(self, old, new):
        held = _HELD_RECORDS.get()
        if held is None:
            add(self, old, new)
        else:
            held.append((self, old, new))

    add_or_hold.holds_transaction_records = True
    seam.replace(seam.STREAM_SHARD_ADD, add_or_hold)


def write_one_record_per_update() -> None:
    """moto's UpdateItem of an item that is not there first puts its key alone, writing a
    record, then updates it, writing another: DynamoDB writes one INSERT. The records of an
    update are held (as a transaction's are) and only its last is written."""
    update_item = seam.original(seam.BACKEND_UPDATE_ITEM)

    @functools.wraps(update_item)  # its signature moto's, as the wrapper around it checks (dynamodb_indexes.py)
    def update_item_once(self, table_name, key, *args, **kwargs):
        _hold_stream_records_in_transactions()
        held: list[tuple] = []
        token = _HELD_RECORDS.set(held)
        try:
            return update_item(self, table_name, key, *args, **kwargs)
        finally:
            _HELD_RECORDS.reset(token)
            if held:  # within a transaction, held by it in turn
                shard, old, new = held[-1]
                shard.add(old, new)

    seam.replace(seam.BACKEND_UPDATE_ITEM, update_item_once)


def _save(table, key_values, saved: list) -> None:
    hash_key, range_key = key_values
    saved.append((table, hash_key, range_key, copy_of(table.get_item(hash_key, range_key))))


def _restore(saved: list) -> None:
    for table, hash_key, range_key, previous in reversed(saved):
        current = stored(table, hash_key, range_key)
        if current is not None:
            unindex_item(table, current)
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
            index_item(table, previous)


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
                if not parsed_condition(condition_expression, names, values).expr(current):
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
