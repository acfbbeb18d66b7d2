"""Checks of client input before any of it reaches a downstream service.

A value a service refuses must be refused here, with a reason, and never sent: the
service's own refusal comes back as an error the client cannot act on (LocalStack's SQS
even answers 500 for characters outside its set, which the SDK's standard retry mode
then retries), and a string Python cannot encode fails inside the SDK instead.

- `parse_json`: RFC 7493 (I-JSON) on top of JSON: UTF-8 only (RFC 8259 §8.1; no byte order
  mark; json.loads would guess UTF-16 or UTF-32 from bytes), no surrogates or
  noncharacters in any string, no NaN/Infinity, unique member names, bounded depth.
  Numbers are kept exactly: an integer as int (within +-max_integer, checked on the literal
  so Python's int-string limit is never reached), any other number within a double's
  magnitude as the Decimal its literal says, never rounded through a double.
- `text_problem`: what no service and no UTF-8 encoder takes anywhere (lone surrogates,
  noncharacters), for paths, query strings and every string of a body.
"""

import codecs
import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

MAX_JSON_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1
# Unicode noncharacters: U+FDD0..U+FDEF and the last two code points of every plane.
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF) for plane in range(17))
# Lone surrogates (json.loads makes them from "\ud800" escapes; UTF-8 cannot encode them) and noncharacters.
_NOT_INTERCHANGEABLE = re.compile(f"[\ud800-\udfff{_NONCHARACTERS}]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(value: str, name: str, *, noncharacters: bool = False) -> str | None:
    """Why `value` cannot be interchanged (a lone surrogate, or a noncharacter unless
    `noncharacters` allows them), or None."""
    match = (_LONE_SURROGATE if noncharacters else _NOT_INTERCHANGEABLE).search(value)
    if match is None:
        return None
    code = ord(match.group())
    kind = "a lone surrogate" if 0xD800 <= code <= 0xDFFF else "a Unicode non-character"
    return f"{name} contains U+{code:04X} ({kind}) at position {match.start()}"


def _shown(literal: str) -> str:
    return literal if len(literal) <= 24 else f"{literal[:20]}... ({len(literal)} characters)"


def _integer_within(max_integer: int) -> Callable[[str], int]:
    bound = "(2**53 - 1)" if max_integer == MAX_SAFE_INTEGER else _shown(str(max_integer))

    def integer(literal: str) -> int:
        # Checked on the literal, before int() meets Python's int-string conversion limit.
        if len(literal.lstrip("-")) > len(str(max_integer)) or abs(int(literal)) > max_integer:
            raise ValueError(f"the integer {_shown(literal)} is outside +-{bound}")
        return int(literal)

    return integer


def _exact_number(literal: str) -> Decimal:
    number = Decimal(literal)  # exact: a Decimal from text is never rounded
    if not math.isfinite(float(number)):
        raise ValueError(f"the number {_shown(literal)} does not fit a double")
    return number


def _constant(literal: str) -> Any:
    raise ValueError(f"{literal} is not a JSON number")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise ValueError(f"member name {name!r} appears more than once")
        seen.add(name)
    return dict(pairs)


def _check_tree(value: Any, max_depth: int) -> None:
    """Depth and strings of a parsed value, iteratively (no recursion to exhaust)."""
    pending = [(value, 1, "$")]
    while pending:
        node, depth, where = pending.pop()
        if isinstance(node, (dict, list)):
            if depth > max_depth:
                raise ValueError(f"nested more than {max_depth} levels (at {where})")
            children = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in children:
                if isinstance(key, str):
                    problem = text_problem(key, f"a member name in {where}")
                    if problem:
                        raise ValueError(problem)
                pending.append((child, depth + 1, f"{where}.{key}" if isinstance(key, str) else f"{where}[{key}]"))
        elif isinstance(node, str):
            problem = text_problem(node, f"the string at {where}")
            if problem:
                raise ValueError(problem)


def utf8_text(data: bytes) -> str:
    """`data` as UTF-8 text, the only encoding of JSON exchanged between systems (RFC 8259
    §8.1); ValueError saying what it is otherwise."""
    if data.startswith(codecs.BOM_UTF8):
        raise ValueError("it starts with a byte order mark (EF BB BF); send UTF-8 without one")
    # JSON's first two characters are ASCII, so zero bytes among the first four tell UTF-16
    # and UTF-32 (RFC 4627 §3), with or without their byte order marks.
    encoding = json.detect_encoding(data)
    if encoding != "utf-8":
        raise ValueError(f"it is encoded in {encoding.upper()}; JSON must be sent in UTF-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"it is not UTF-8 (byte 0x{data[exc.start]:02X} at offset {exc.start})") from None


def parse_json(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH, max_integer: int = MAX_SAFE_INTEGER) -> Any:
    """`text` parsed as I-JSON with exact numbers (see the module's docstring); ValueError
    with the reason otherwise."""
    if isinstance(text, bytes):
        text = utf8_text(text)
    if text.startswith("\ufeff"):
        raise ValueError("it starts with a byte order mark (U+FEFF); send JSON without one")
    try:
        value = json.loads(
            text,
            parse_int=_integer_within(max_integer),
            parse_float=_exact_number,
            parse_constant=_constant,
            object_pairs_hook=_unique_members,
        )
    except RecursionError:
        raise ValueError(f"nested more than {max_depth} levels") from None
    except json.JSONDecodeError as exc:
        raise ValueError(str(exc)) from None
    _check_tree(value, max_depth)
    return value
