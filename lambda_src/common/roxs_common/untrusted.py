"""Checks of client input before any of it reaches a downstream service.

A value a service refuses must be refused here, with a reason, and never sent: the
service's own refusal comes back as an error the client cannot act on (LocalStack's SQS
even answers 500 for characters outside its set, which the SDK's standard retry mode
then retries), and a string Python cannot encode fails inside the SDK instead.

- `parse_json`: RFC 7493 (I-JSON) on top of JSON: no surrogates or noncharacters in any
  string, numbers that fit an IEEE 754 double (integers within +-(2**53 - 1), so Python's
  int-string limit is never reached), no NaN/Infinity, unique member names, bounded depth.
- `text_problem`: what no service and no UTF-8 encoder takes anywhere (lone surrogates,
  noncharacters), for paths, query strings and every string of a body.
- `check_text`: a value that is sent on: roxs_common.storable's character rule (what SQS
  accepts, XML 1.0's Char: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD |
  #x10000-#x10FFFF, less the noncharacters) plus length limits in characters and in UTF-8
  bytes (S3 keys are limited in bytes).
"""

import json
import math
import re
from typing import Any

from roxs_common import storable

MAX_JSON_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1
# Unicode noncharacters: U+FDD0..U+FDEF and the last two code points of every plane.
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF) for plane in range(17))
# Lone surrogates (json.loads makes them from "\ud800" escapes; UTF-8 cannot encode them) and noncharacters.
_NOT_INTERCHANGEABLE = re.compile(f"[\ud800-\udfff{_NONCHARACTERS}]")


def text_problem(value: str, name: str) -> str | None:
    """Why `value` cannot be interchanged (a lone surrogate or a noncharacter), or None."""
    match = _NOT_INTERCHANGEABLE.search(value)
    if match is None:
        return None
    code = ord(match.group())
    kind = "a lone surrogate" if 0xD800 <= code <= 0xDFFF else "a Unicode non-character"
    return f"{name} contains U+{code:04X} ({kind}) at position {match.start()}"


def check_text(value: Any, name: str, *, max_chars: int, max_bytes: int | None = None, blank: bool = False) -> str:
    """`value` if it is a string a downstream service accepts; ValueError naming the problem otherwise."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    if not blank and not value.strip():
        raise ValueError(f"{name} must be a non-empty string")
    if len(value) > max_chars:
        raise ValueError(f"{name} is {len(value)} characters, the maximum is {max_chars}")
    storable.check_text(value, name)
    if max_bytes is not None and len(value.encode("utf-8")) > max_bytes:
        raise ValueError(f"{name} is {len(value.encode('utf-8'))} bytes in UTF-8, the maximum is {max_bytes}")
    return value


def _integer(literal: str) -> int:
    # Checked on the literal, before int() meets Python's int-string conversion limit.
    if len(literal.lstrip("-")) > len(str(MAX_SAFE_INTEGER)) or abs(int(literal)) > MAX_SAFE_INTEGER:
        shown = literal if len(literal) <= 24 else f"{literal[:20]}... ({len(literal)} characters)"
        raise ValueError(f"the integer {shown} is outside +-(2**53 - 1)")
    return int(literal)


def _number(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        shown = literal if len(literal) <= 24 else f"{literal[:20]}... ({len(literal)} characters)"
        raise ValueError(f"the number {shown} does not fit a double")
    return value


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


def parse_json(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`text` parsed as I-JSON (see the module's docstring); ValueError with the reason otherwise."""
    try:
        value = json.loads(
            text,
            parse_int=_integer,
            parse_float=_number,
            parse_constant=_constant,
            object_pairs_hook=_unique_members,
        )
    except RecursionError:
        raise ValueError(f"nested more than {max_depth} levels") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(str(exc)) from None
    _check_tree(value, max_depth)
    return value
