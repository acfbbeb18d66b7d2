"""What DynamoDB checks of the items and keys a request writes, before it writes any of them.

DynamoDB refuses a request whose items are not valid as a whole: nothing of a BatchWriteItem
or a TransactWriteItems is written when one of its items is refused. moto checks an item as
it writes it, in its PutItem handler and in ``Table.put_item``, so its BatchWriteItem wrote
the items before a refused one, and some checks were on no path but PutItem's (an empty set
or an empty index key was stored by BatchWriteItem and TransactWriteItems). An attribute
value without a type, or with two, failed inside moto (500), and an index key of another type
than the index's was stored. Here every item and key of a write is checked first, with
DynamoDB's words (moto's, where it has them), before the request reaches moto.
"""

import base64
import binascii
from decimal import Decimal, InvalidOperation

from localstack_nodocker.dynamodb_tables import ValidationException

MAX_ITEM_BYTES = 400 * 1024
MAX_HASH_KEY_BYTES = 2048
MAX_RANGE_KEY_BYTES = 1024
SETS = {"SS": "string", "NS": "number", "BS": "binary"}
INVALID = "One or more parameter values were invalid: "


def _binary_size(value) -> int:
    """A binary value's length: bytes as parsed, or base64 as sent (a request's raw JSON)."""
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    try:
        return len(base64.b64decode(value, validate=True))
    except (binascii.Error, TypeError, ValueError):
        raise ValidationException(f"Invalid binary value: {value!r}") from None


def _number_size(value) -> int:
    if not isinstance(value, str):
        raise ValidationException("NUMBER_VALUE cannot be converted to String")
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise ValidationException(f"The parameter cannot be converted to a numeric value: {value}")
    return len(value)


def value_size(value) -> int:
    """The size DynamoDB counts for an attribute value; its refusal if the value is not one."""
    if not isinstance(value, dict) or not value:
        raise ValidationException(
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        )
    if len(value) > 1:
        raise ValidationException(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
        )
    ((kind, inner),) = value.items()
    if kind == "S":
        if not isinstance(inner, str):
            raise ValidationException("NUMBER_VALUE cannot be converted to String")
        return len(inner.encode())
    if kind == "N":
        return _number_size(inner)
    if kind == "B":
        return _binary_size(inner)
    if kind in SETS:
        if not inner:
            raise ValidationException(f"{INVALID}An {SETS[kind]} set  may not be empty")
        member = {"SS": "S", "NS": "N", "BS": "B"}[kind]
        return sum(value_size({member: element}) for element in inner)
    if kind == "M":
        return 3 + sum(len(name.encode()) + value_size(element) for name, element in inner.items())
    if kind == "L":
        return 3 + sum(value_size(element) for element in inner)
    if kind == "NULL" and inner is not True:
        raise ValidationException("Null attribute value types must have the value of true")
    return 1  # BOOL, NULL


def _key_value(name: str, kind: str, value: dict, limit: int, message: str) -> None:
    """A key attribute: its table's type, not empty, not longer than DynamoDB's limit."""
    if list(value) != [kind]:
        raise ValidationException(message.format(name=name, kind=kind, actual=next(iter(value))))
    if value[kind] in ("", b""):
        raise ValidationException(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain "
            f"an empty {'string' if kind == 'S' else 'binary'} value. Key: {name}"
        )
    if value_size(value) > limit:
        which = "hashkey" if limit == MAX_HASH_KEY_BYTES else "rangekey"
        raise ValidationException(f"{INVALID}Size of {which} has exceeded the maximum size limit of{limit} bytes")


def _key_attributes(table) -> list[tuple[str, str, int]]:
    names = [(table.hash_key_attr, table.hash_key_type, MAX_HASH_KEY_BYTES)]
    if table.range_key_attr:
        names.append((table.range_key_attr, table.range_key_type, MAX_RANGE_KEY_BYTES))
    return names


def check_item(table, item: dict, *, schema_wording: bool = False) -> tuple:
    """The item's key values (hash, range); DynamoDB's refusal if the item could not be written.
    ``schema_wording``: a missing or mistyped key worded as BatchWriteItem words it."""
    if not isinstance(item, dict):
        raise ValidationException(f"{INVALID}Missing the key {table.hash_key_attr} in the item")
    size = sum(len(name.encode()) + value_size(value) for name, value in item.items())
    key = []
    for name, kind, limit in _key_attributes(table):
        if name not in item:
            missing = f"{INVALID}Missing the key {name} in the item"
            raise ValidationException(
                "The provided key element does not match the schema" if schema_wording else missing
            )
        mistyped = (
            "The provided key element does not match the schema"
            if schema_wording
            else INVALID + "Type mismatch for key {name} expected: {kind} actual: {actual}"
        )
        _key_value(name, kind, item[name], limit, mistyped)
        key.append(str(item[name][kind]))
    types = {definition["AttributeName"]: definition["AttributeType"] for definition in table.attr}
    for index in [*table.global_indexes, *table.indexes]:
        for element in index.schema:
            name = element["AttributeName"]
            if name not in item or name in (table.hash_key_attr, table.range_key_attr):
                continue
            kind, actual = types.get(name), next(iter(item[name]))
            if actual != kind:
                raise ValidationException(
                    f"{INVALID}Type mismatch for Index Key {name} Expected: {kind} Actual: {actual} "
                    f"IndexName: {index.name}"
                )
            if item[name][kind] in ("", b""):
                raise ValidationException(
                    "One or more parameter values are not valid. A value specified for a secondary index key is not "
                    "supported. The AttributeValue for a key attribute cannot contain an empty "
                    f"{'string' if kind == 'S' else 'binary'} value. IndexName: {index.name}, IndexKey: {name}"
                )
    if size > MAX_ITEM_BYTES:
        raise ValidationException("Item size has exceeded the maximum allowed size")
    return tuple(key)


def check_key(table, key: dict) -> tuple:
    """The key's values (hash, range); DynamoDB's refusal unless it holds the table's key
    attributes, of their types, and nothing else."""
    schema = "The provided key element does not match the schema"
    names = _key_attributes(table)
    if not isinstance(key, dict) or len(key) != len(names) or any(name not in key for name, _, _ in names):
        raise ValidationException(schema)
    for name, kind, limit in names:
        value_size(key[name])
        _key_value(name, kind, key[name], limit, schema)
    return tuple(str(key[name][kind]) for name, kind, _ in names)
