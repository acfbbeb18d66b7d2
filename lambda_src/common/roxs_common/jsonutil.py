"""JSON encoding for values read from DynamoDB (Decimal) and for datetimes."""

import datetime as dt
import json
import re
import secrets
from decimal import Decimal
from typing import Any


def _plain_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _plain_number(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def number_literal(value: Decimal) -> str:
    """The JSON number a Decimal is, digit for digit (str() of a finite Decimal is one)."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a JSON number")
    return str(value)


def dumps(value: Any) -> str:
    """JSON text of `value`: a Decimal written exactly (its own digits, never through a
    double), datetimes in ISO 8601, sets as sorted lists."""
    literals: list[str] = []
    # json writes a Decimal only through `default`, as some other value: here a placeholder
    # string, swapped for the literal afterwards. NUL (always escaped) and 64 random bits
    # per call: no string of the value can be mistaken for one.
    tag = f"\x00{secrets.token_hex(8)}#"

    def placeholder(item: Any) -> Any:
        if isinstance(item, Decimal):
            literals.append(number_literal(item))
            return f"{tag}{len(literals) - 1}"
        return _default(item)

    text = json.dumps(value, default=placeholder, ensure_ascii=False)
    if not literals:
        return text
    quoted = re.escape(json.dumps(tag)[:-1])
    return re.sub(quoted + r'(\d+)"', lambda found: literals[int(found.group(1))], text)


def to_plain(value: Any) -> Any:
    """`value` with Decimals, datetimes and sets replaced by JSON-native types.

    Needed for values a handler returns directly: the Lambda runtime serialises them with
    the plain json module, which rejects Decimal.
    """
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    if isinstance(value, (Decimal, dt.datetime, dt.date, set, frozenset)):
        return to_plain(_default(value))
    return value
