"""What DynamoDB, S3, SQS and SNS accept, checked before anything is stored or published.

A value one of them refuses would fail the same way on every retry, so writers check
everything first and answer a ValueError naming the field, instead of failing half-way
(published but not recorded, archived but not indexed).
"""

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

# DynamoDB's limits (bytes): an item, a partition key value, a sort key value.
ITEM_MAX_BYTES = 400 * 1024
PARTITION_KEY_MAX_BYTES = 2048
SORT_KEY_MAX_BYTES = 1024
# An S3 key is any Unicode text of at most this many bytes in UTF-8.
S3_KEY_MAX_BYTES = 1024
# DynamoDB keeps 38 significant digits of a number.
NUMBER_MAX_DIGITS = 38
NUMBER_MIN_EXPONENT, NUMBER_MAX_EXPONENT = -130, 125
# JSON nesting accepted in a log's own fields (DynamoDB refuses documents deeper than 32).
MAX_DEPTH = 32

# Characters refused somewhere on the way: C0 controls other than tab, newline and carriage
# return (SQS, hence SNS deliveries to SQS, refuse them), lone surrogates (not encodable as
# UTF-8, so DynamoDB and S3 never see them) and Unicode non-characters (U+FDD0..U+FDEF and the
# last two code points of every plane: SQS refuses U+FFFE and U+FFFF).
_NONCHARACTERS = "".join(f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17))
_REFUSED = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufdd0-\ufdef{_NONCHARACTERS}]")


def check_text(value: str, where: str) -> None:
    """ValueError when `value` holds a character that a downstream service refuses."""
    found = _REFUSED.search(value)
    if found:
        code = ord(found.group())
        kind = (
            "a lone surrogate"
            if 0xD800 <= code <= 0xDFFF
            else "a control character"
            if code < 0x20
            else "a Unicode non-character"
        )
        raise ValueError(f"{where} contains U+{code:04X} ({kind}) at position {found.start()}")


def utf8_size(value: str) -> int:
    return len(value.encode("utf-8"))


def check_key(value: str, where: str, max_bytes: int) -> None:
    """A key attribute: non-empty, storable characters, within DynamoDB's key size."""
    check_text(value, where)
    size = utf8_size(value)
    if not size:
        raise ValueError(f"{where} must not be empty")
    if size > max_bytes:
        raise ValueError(f"{where} is {size} bytes in UTF-8, the maximum is {max_bytes}")


def check_s3_key(value: Any, where: str, *, empty: bool = False) -> str:
    """`value` if S3 can store it as a key (`empty`: or the empty prefix); ValueError otherwise.
    Control characters, NUL and noncharacters are keys S3 stores: only text with no UTF-8
    form (a lone surrogate) or longer than S3_KEY_MAX_BYTES is refused."""
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a string, got {type(value).__name__}")
    try:
        size = utf8_size(value)
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{where} contains U+{ord(value[exc.start]):04X} (a lone surrogate) at position {exc.start}"
        ) from None
    if not size and not empty:
        raise ValueError(f"{where} must not be empty")
    if size > S3_KEY_MAX_BYTES:
        raise ValueError(f"{where} is {size} bytes in UTF-8, the maximum is {S3_KEY_MAX_BYTES}")
    return value


def check_number(value: int | Decimal, where: str) -> None:
    """A number DynamoDB stores exactly: 38 significant digits, magnitude 1E-130 to 9.99E+125."""
    if not value:
        return
    number = Decimal(value)  # exact: no context, so no rounding
    digits = len("".join(map(str, number.as_tuple().digits)).strip("0"))
    if digits > NUMBER_MAX_DIGITS:
        raise ValueError(f"{where} has {digits} significant digits, the maximum is {NUMBER_MAX_DIGITS}")
    if not NUMBER_MIN_EXPONENT <= number.adjusted() <= NUMBER_MAX_EXPONENT:
        raise ValueError(f"{where} is outside DynamoDB's number range (1E-130 to 9.99E+125 in magnitude)")


def check_json_value(value: Any, where: str, depth: int = 0) -> None:
    """A caller's JSON value that will be archived and may later be indexed: text with storable
    characters (keys too), numbers kept exactly (int, Decimal) that DynamoDB can hold,
    nesting at most MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{where} is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        check_text(value, where)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, float):
        # A float is a number already rounded to a double (the Lambda runtime decodes an
        # event's numbers with a fraction or an exponent so): what was sent is unknown.
        raise ValueError(
            f"{where} reached the function as the double {value!r}, which may not be the number sent "
            "(a number with a fraction or an exponent is decoded as a double); to keep it exactly, "
            "send the event as JSON text (a string) or this value as a string"
        )
    elif isinstance(value, (int, Decimal)):
        check_number(value, where)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where} has a key that is not a string: {key!r}")
            check_text(key, f"{where} key {key[:40]!r}")
            check_json_value(item, f"{where}.{key[:40]}", depth + 1)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_json_value(item, f"{where}[{index}]", depth + 1)
    else:
        raise ValueError(f"{where} has a value of type {type(value).__name__}, not JSON")


def _value_size(value: Any) -> int:
    # DynamoDB's documented item size rules (strings in UTF-8, numbers ~1 byte per 2 digits).
    if isinstance(value, str):
        return utf8_size(value)
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, (int, float, Decimal)):
        return min(21, len(Decimal(value).as_tuple().digits) // 2 + 2)
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, Mapping):
        return 3 + sum(utf8_size(key) + _value_size(item) + 1 for key, item in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return 3 + sum(_value_size(item) + 1 for item in value)
    raise TypeError(f"no DynamoDB size for {type(value).__name__}")


def item_size(row: Mapping[str, Any]) -> int:
    """The size DynamoDB counts for an item of Python values (names plus values)."""
    return sum(utf8_size(name) + _value_size(value) for name, value in row.items())


def check_item_size(row: Mapping[str, Any], where: str) -> None:
    size = item_size(row)
    if size > ITEM_MAX_BYTES:
        raise ValueError(f"{where} would be {size} bytes, DynamoDB's item limit is {ITEM_MAX_BYTES}")
