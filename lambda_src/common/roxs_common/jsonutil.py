"""JSON encoding for values read from DynamoDB (Decimal) and for datetimes."""

import datetime as dt
import json
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


def dumps(value: Any, **kwargs: Any) -> str:
    """json.dumps that understands Decimal (as int or float), datetime and sets."""
    return json.dumps(value, default=_default, ensure_ascii=False, **kwargs)


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
