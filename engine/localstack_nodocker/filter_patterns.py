"""CloudWatch Logs filter patterns, as AWS documents them ("Filter pattern syntax for metric
filters, subscription filters, filter log events, and Live Tail").

LocalStack's community build matches every event to every pattern (its
``get_pattern_matcher`` is a stub that "can be patched by plugins"); the logs provider
(logs.py) puts this matcher there, so FilterLogEvents, subscription filters and metric filters
all use it. No library implements this syntax; the three grammars are small enough to parse
here by recursive descent. Standard library only: the tests load it alone.

- Terms (unstructured events): every plain term must occur in the message, no ``-term``, and
  at least one ``?term`` when there are any. A term is a word or a ``"quoted phrase"``;
  matching is case-sensitive and by substring (``ERROR`` matches ``ERRORCODE``). An empty
  pattern matches every event.
- ``%regex%`` alone: the event matches where the expression is found; AWS's character set
  (no parentheses, no multi-byte characters).
- JSON, ``{ $.a.b[0] = value }``: ``=`` and ``!=`` on strings (``*`` at either end of the value
  is a wildcard, ``*`` alone matches any value), on numbers and comparisons ``< > <= >=``;
  ``IS NULL``, ``IS TRUE``, ``IS FALSE``, ``NOT EXISTS``; ``&&`` binds tighter than ``||``,
  parentheses group. A selector that is missing or points at an object or array makes its
  condition false. Events that are not a JSON object match no JSON pattern.
- Space-delimited, ``[ip, user, ..., status_code = 4* && bytes > 1000, size]``: the message
  split on spaces, text in ``[...]`` or ``"..."`` one field; ``...`` stands for any number of
  fields; a field may carry conditions joined by ``&&`` and ``||`` on any named field. Without
  ``...`` the number of fields must equal the message's.

A pattern AWS refuses is refused here too, with ``PatternError`` naming what is wrong (the
provider answers InvalidParameterException with it).
"""

import functools
import json
import re
from decimal import Decimal

# AWS: "Filter patterns with regex can only include" these, and no parentheses.
REGEX_CHARACTERS = re.compile(r"[A-Za-z0-9_#=@/;,:\-^$?\[\]{}|\\*+.]*")
# AWS: "a limit of 2 regex for each filter pattern when creating a delimited or JSON filter pattern".
MAX_REGEXES = 2
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
COMPARISONS = ("!=", "<=", ">=", "=", "<", ">")


class PatternError(ValueError):
    """A pattern AWS would refuse; the message says why."""


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str | None) -> "Pattern":
    text = (pattern or "").strip()
    if not text:
        return Everything()
    if text.startswith("{"):
        return JsonPattern(text)
    if text.startswith("["):
        return DelimitedPattern(text)
    if len(text) > 1 and text.startswith("%") and text.endswith("%"):
        return RegexPattern(text)
    return TermsPattern(text)


def matches(pattern: str | None, message: str) -> bool:
    return compile_pattern(pattern).matches(message)


class Pattern:
    def matches(self, message: str) -> bool:
        raise NotImplementedError

    def fields(self, message: str) -> dict | None:
        """What a metric filter's ``$...`` values read from a matching event: ``{"$.a.b": value}``
        selectors for JSON events, ``{"$name": text, "$1": text}`` for space-delimited ones.
        None when the event does not match."""
        return {} if self.matches(message) else None


class Everything(Pattern):
    def matches(self, message: str) -> bool:
        return True


def _regex(body: str, pattern: str) -> re.Pattern:
    if not REGEX_CHARACTERS.fullmatch(body):
        bad = next(character for character in body if not REGEX_CHARACTERS.fullmatch(character))
        raise PatternError(f"Invalid regex in filter pattern {pattern!r}: the character {bad!r} is not supported")
    try:
        return re.compile(body)
    except re.error as error:
        raise PatternError(f"Invalid regex in filter pattern {pattern!r}: {error}") from None


class RegexPattern(Pattern):
    def __init__(self, text: str):
        self.expression = _regex(text[1:-1], text)

    def matches(self, message: str) -> bool:
        return self.expression.search(message) is not None


class TermsPattern(Pattern):
    """``ERROR "Failed to" -DEBUG ?WARN ?"Time out"``."""

    TERM = re.compile(r'\s*([?-]?)\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))')

    def __init__(self, text: str):
        self.required, self.excluded, self.any_of = [], [], []
        position = 0
        while position < len(text):
            found = self.TERM.match(text, position)
            if not found:
                raise PatternError(f"Invalid filter pattern {text!r}: unbalanced quotes at {text[position:]!r}")
            prefix, phrase, word = found.groups()
            term = re.sub(r"\\(.)", r"\1", phrase) if phrase is not None else word
            {"": self.required, "-": self.excluded, "?": self.any_of}[prefix].append(term)
            position = found.end()
            while position < len(text) and text[position].isspace():
                position += 1

    def matches(self, message: str) -> bool:
        return (
            all(term in message for term in self.required)
            and not any(term in message for term in self.excluded)
            and (not self.any_of or any(term in message for term in self.any_of))
        )


# --- values compared in JSON and space-delimited patterns --------------------------------------


class Value:
    """The right side of a condition: a number, a string (with ``*`` at either end a wildcard), a
    ``%regex%`` or ``*`` (any value)."""

    def __init__(self, text: str, quoted: bool, pattern: str):
        self.text, self.number, self.regex = text, None, None
        self.any = text == "*" and not quoted
        if not quoted and NUMBER.fullmatch(text):
            self.number = Decimal(text)
        elif not quoted and len(text) > 1 and text.startswith("%") and text.endswith("%"):
            self.regex = _regex(text[1:-1], pattern)
        self.prefix = not quoted and len(text) > 1 and text.endswith("*")
        self.suffix = not quoted and len(text) > 1 and text.startswith("*")
        self.core = text[1 if self.suffix else 0 : -1 if self.prefix else None]

    def equals(self, found) -> bool:
        if self.any:
            return True
        if self.regex is not None:
            return isinstance(found, str) and self.regex.search(found) is not None
        if self.number is not None:
            number = decimal(found)
            if number is not None:
                return number == self.number
        if isinstance(found, bool):
            return self.text.lower() == str(found).lower()
        text = found if isinstance(found, str) else _text(found)
        if self.prefix and self.suffix:
            return self.core in text
        if self.prefix:
            return text.startswith(self.core)
        if self.suffix:
            return text.endswith(self.core)
        return text == self.text


def decimal(found) -> Decimal | None:
    if isinstance(found, bool) or found is None:
        return None
    if isinstance(found, (int, float)):
        return Decimal(str(found))
    if isinstance(found, str) and NUMBER.fullmatch(found.strip()):
        return Decimal(found.strip())
    return None


def _text(found) -> str:
    return json.dumps(found) if found is None or isinstance(found, bool) else str(found)


def compare(operator: str, found, value: Value) -> bool:
    if operator == "=":
        return value.equals(found)
    if operator == "!=":
        return not value.any and not value.equals(found)
    number = decimal(found)
    if number is None or value.number is None:
        return False
    return {"<": number < value.number, ">": number > value.number, "<=": number <= value.number}.get(
        operator, number >= value.number
    )


# --- a small tokenizer shared by the JSON and space-delimited grammars -------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\)|,)
      | "(?P<quoted>(?:[^"\\]|\\.)*)"
      | (?P<regex>%[^%]+%)
      | (?P<word>[^\s()&|!=<>,"%]+)
    )""",
    re.VERBOSE,
)


def _tokens(body: str, pattern: str) -> list[tuple[str, str]]:
    """(kind, text) pairs: kind "op", "quoted" or "word"."""
    found, position = [], 0
    body = body.rstrip()
    while position < len(body):
        match = _TOKEN.match(body, position)
        if not match or match.end() == position:
            raise PatternError(f"Invalid filter pattern {pattern!r}: cannot read {body[position:].strip()!r}")
        kind = match.lastgroup
        text = match.group(kind)
        found.append((kind, re.sub(r"\\(.)", r"\1", text) if kind == "quoted" else text))
        position = match.end()
        while position < len(body) and body[position].isspace():
            position += 1
    return found


class _Reader:
    def __init__(self, tokens: list, pattern: str):
        self.tokens, self.position, self.pattern = tokens, 0, pattern

    def peek(self, offset: int = 0):
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else (None, None)

    def take(self):
        token = self.peek()
        self.position += 1
        return token

    def expect_op(self, text: str) -> None:
        kind, found = self.take()
        if (kind, found) != ("op", text):
            self.fail(f"expected {text!r}, found {found!r}" if found else f"expected {text!r} at the end")

    def fail(self, problem: str):
        raise PatternError(f"Invalid filter pattern {self.pattern!r}: {problem}")

    def value(self) -> Value:
        kind, text = self.take()
        if kind not in ("quoted", "word", "regex"):
            self.fail(f"expected a value, found {text!r}" if text else "expected a value at the end")
        return Value(text, kind == "quoted", self.pattern)

    def operator(self) -> str:
        kind, text = self.take()
        if kind != "op" or text not in COMPARISONS:
            self.fail(f"expected one of {', '.join(COMPARISONS)}, found {text!r}" if text else "a condition ends early")
        return text


def _count_regexes(tokens: list, pattern: str) -> None:
    regexes = sum(1 for kind, _ in tokens if kind == "regex")
    if regexes > MAX_REGEXES:
        raise PatternError(f"Invalid filter pattern {pattern!r}: at most {MAX_REGEXES} regular expressions per pattern")


# --- JSON -------------------------------------------------------------------------------------

_SELECTOR = re.compile(r"\$((?:\.[A-Za-z0-9_@-]+|\[\d+\])*)")
_STEP = re.compile(r"\.([A-Za-z0-9_@-]+)|\[(\d+)\]")
_MISSING = object()


class JsonPattern(Pattern):
    def __init__(self, text: str):
        if not text.endswith("}"):
            raise PatternError(f"Invalid filter pattern {text!r}: a JSON pattern ends with '}}'")
        tokens = _tokens(text[1:-1], text)
        if not tokens:
            raise PatternError(f"Invalid filter pattern {text!r}: the JSON pattern has no condition")
        _count_regexes(tokens, text)
        reader = _Reader(tokens, text)
        self.condition = self._or(reader)
        if reader.peek()[0] is not None:
            reader.fail(f"unexpected {reader.peek()[1]!r}")

    def _or(self, reader):
        return self._joined(reader, "||", self._and, any)

    def _and(self, reader):
        return self._joined(reader, "&&", self._unary, all)

    @staticmethod
    def _joined(reader, joiner: str, operand, combine):
        """Operands joined by ``joiner``: true where ``combine`` (any, all) of them is."""
        parts = [operand(reader)]
        while reader.peek() == ("op", joiner):
            reader.take()
            parts.append(operand(reader))
        return parts[0] if len(parts) == 1 else lambda document: combine(part(document) for part in parts)

    def _unary(self, reader):
        if reader.peek() == ("op", "("):
            reader.take()
            inner = self._or(reader)
            reader.expect_op(")")
            return inner
        kind, text = reader.take()
        selected = _SELECTOR.fullmatch(text or "") if kind == "word" else None
        if not selected:
            reader.fail(f"expected a selector such as $.field, found {text!r}" if text else "a condition is missing")
        steps = _steps(selected)
        keyword = (reader.peek()[1] or "").upper() if reader.peek()[0] == "word" else ""
        if keyword in ("IS", "NOT"):
            reader.take()
            _, second = reader.take()
            test = f"{keyword} {(second or '').upper()}"
            checks = {
                "IS NULL": lambda found: found is None,
                "IS TRUE": lambda found: found is True,
                "IS FALSE": lambda found: found is False,
            }
            if test == "NOT EXISTS":
                return lambda document: _select(document, steps) is _MISSING
            if test not in checks:
                reader.fail(f"expected IS NULL, IS TRUE, IS FALSE or NOT EXISTS after {text}, found {test!r}")
            check = checks[test]
            return lambda document: (found := _select(document, steps)) is not _MISSING and check(found)
        operator = reader.operator()
        value = reader.value()
        if operator not in ("=", "!=") and value.number is None:
            reader.fail(f"{operator} compares numbers: {value.text!r} is not one")

        def condition(document):
            found = _select(document, steps)
            if found is _MISSING or isinstance(found, (dict, list)):
                return False  # AWS: the selector must point at a value node
            return compare(operator, found, value)

        return condition

    @staticmethod
    def _document(message: str):
        try:
            document = json.loads(message)
        except ValueError:
            return None
        return document if isinstance(document, dict) else None

    def matches(self, message: str) -> bool:
        document = self._document(message)
        return document is not None and self.condition(document)

    def fields(self, message: str) -> dict | None:
        document = self._document(message)
        if document is None or not self.condition(document):
            return None
        return {"$": document}


def _steps(selected: re.Match) -> list:
    """A selector's steps: a key (str) or an array index (int)."""
    return [name if name else int(index) for name, index in _STEP.findall(selected.group(1))]


def _select(document, steps: list):
    found = document
    for step in steps:
        if isinstance(step, int):
            if not isinstance(found, list) or step >= len(found):
                return _MISSING
            found = found[step]
        elif isinstance(found, dict) and step in found:
            found = found[step]
        else:
            return _MISSING
    return found


def json_value(document, selector: str):
    """The value at a ``$.a.b[0]`` selector (a metric filter's metricValue or dimension), or None."""
    selected = _SELECTOR.fullmatch(selector)
    if not selected:
        return None
    found = _select(document, _steps(selected))
    return None if found is _MISSING or isinstance(found, (dict, list)) else found


# --- space-delimited ---------------------------------------------------------------------------

_DELIMITED_FIELD = re.compile(r'\[([^\]]*)\]|"((?:[^"\\]|\\.)*)"|(\S+)')
ELLIPSIS = "..."


def split_fields(message: str) -> list[str]:
    """The fields of a space-delimited event: ``[...]`` and ``"..."`` are one field each."""
    return [
        next(group for group in match.groups() if group is not None) for match in _DELIMITED_FIELD.finditer(message)
    ]


class DelimitedPattern(Pattern):
    def __init__(self, text: str):
        if not text.endswith("]"):
            raise PatternError(f"Invalid filter pattern {text!r}: a space-delimited pattern ends with ']'")
        tokens = _tokens(text[1:-1], text)
        _count_regexes(tokens, text)
        slots: list[list] = [[]]
        for token in tokens:
            if token == ("op", ","):
                slots.append([])
            else:
                slots[-1].append(token)
        self.slots: list[str | None] = []  # a field's name, None (unnamed: empty between commas) or ELLIPSIS
        conditions, names = [], set()
        for slot in slots:
            if not slot:
                self.slots.append(None)
                continue
            kind, name = slot[0]
            if kind != "word":
                raise PatternError(f"Invalid filter pattern {text!r}: expected a field name, found {name!r}")
            self.slots.append(name)
            if name == ELLIPSIS:
                if len(slot) > 1:
                    raise PatternError(f"Invalid filter pattern {text!r}: '...' takes no condition")
                continue
            if len(slot) > 1:
                reader = _Reader(slot, text)
                conditions.append(self._conditions(reader, names))
                if reader.peek()[0] is not None:
                    reader.fail(f"unexpected {reader.peek()[1]!r} in the field {name}")
        if self.slots == [None]:
            raise PatternError(f"Invalid filter pattern {text!r}: a space-delimited pattern names its fields")
        unknown = names - set(self.slots)
        if unknown:
            raise PatternError(
                f"Invalid filter pattern {text!r}: the condition names {', '.join(sorted(unknown))},"
                " which is no field of the pattern"
            )
        self.conditions = conditions

    @staticmethod
    def _conditions(reader: _Reader, names: set):
        """``name op value`` joined by && and || (&& first); the first name is the field's own."""

        def one():
            kind, name = reader.take()
            if kind != "word":
                reader.fail(f"expected a field name, found {name!r}")
            names.add(name)
            operator = reader.operator()
            value = reader.value()
            if operator not in ("=", "!=") and value.number is None:
                reader.fail(f"{operator} compares numbers: {value.text!r} is not one")
            return lambda fields: name in fields and compare(operator, fields[name], value)

        alternatives, current = [], [one()]
        while reader.peek()[0] == "op" and reader.peek()[1] in ("&&", "||"):
            _, joiner = reader.take()
            if joiner == "||":
                alternatives.append(current)
                current = []
            current.append(one())
        alternatives.append(current)
        return lambda fields: any(all(check(fields) for check in group) for group in alternatives)

    def _fit(self, values: list[str], slot: int, field: int, assigned: list):
        """The fields by name and position when the slots from ``slot`` on fit the values from
        ``field`` on and every condition holds (an ellipsis takes any number of values), else None."""
        if slot == len(self.slots):
            if field != len(values):
                return None
            named = {name: value for name, value in assigned if name is not None}
            if not all(condition(named) for condition in self.conditions):
                return None
            fields = {f"${name}": value for name, value in named.items()}
            fields.update({f"${position}": value for position, (_, value) in enumerate(assigned, 1)})
            return fields
        name = self.slots[slot]
        if name == ELLIPSIS:
            for end in range(len(values), field - 1, -1):
                found = self._fit(values, slot + 1, end, assigned + [(None, value) for value in values[field:end]])
                if found is not None:
                    return found
            return None
        if field == len(values):
            return None
        return self._fit(values, slot + 1, field + 1, assigned + [(name, values[field])])

    def fields(self, message: str) -> dict | None:
        return self._fit(split_fields(message), 0, 0, [])

    def matches(self, message: str) -> bool:
        return self.fields(message) is not None
