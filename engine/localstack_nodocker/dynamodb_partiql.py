"""DynamoDB's PartiQL (ExecuteStatement, BatchExecuteStatement, ExecuteTransaction), run as DynamoDB runs it.

moto hands each statement to py_partiql_parser with a JSON copy of every item of every table
of the region, and answers what that parser cannot do with a 500: ``UPDATE t SET a = 1`` (an
unquoted number), a ``?`` in a WHERE clause, ``DELETE`` without ``WHERE``, a statement that is
not one at all. It accepted an empty ``Parameters`` list and an INSERT over an existing item.

Here a statement is parsed (the PartiQL DynamoDB documents: SELECT, INSERT, UPDATE, DELETE,
EXISTS in transactions) and run as the DynamoDB operation it stands for, sent to moto like any
request, so the engine's lock, index upkeep and stream records apply:

- SELECT: a Query when the WHERE clause fixes the partition key (and at most one condition
  on the sort key), else a Scan; the rest of the clause is the filter, the projection the
  ProjectionExpression, Limit and NextToken page it;
- INSERT: PutItem unless the key exists (DuplicateItemException);
- UPDATE: UpdateItem of the key the WHERE clause fixes, conditioned on the whole clause (an
  item that is not there or does not match: ConditionalCheckFailedException);
- DELETE: DeleteItem of that key, conditioned on the clause when the item exists;
- ExecuteTransaction: TransactWriteItems (EXISTS is a ConditionCheck) or TransactGetItems;
  BatchExecuteStatement: each statement alone, its error in its own response.

A statement that does not parse is a ValidationException "Statement wasn't well formed, can't
be processed: ...", as DynamoDB words it; no client mistake is a 500.
"""

import base64
import json
import re
from dataclasses import dataclass, field

from localstack.aws.api import CommonServiceException, RequestContext

from localstack_nodocker.dynamodb_answers import call, sent_as, transact_get_items
from localstack_nodocker.dynamodb_tables import ValidationException, table_of

MAX_BATCH_STATEMENTS = 25
MAX_TRANSACTION_STATEMENTS = 100
NOT_WELL_FORMED = "Statement wasn't well formed, can't be processed: "
KEY_EQUALITY_MISSING = "Where clause does not contain a mandatory equality on all key attributes"
_RETURN_VALUES = {
    ("ALL", "OLD"): "ALL_OLD",
    ("MODIFIED", "OLD"): "UPDATED_OLD",
    ("ALL", "NEW"): "ALL_NEW",
    ("MODIFIED", "NEW"): "UPDATED_NEW",
}


class StatementError(ValidationException):
    def __init__(self, detail: str):
        super().__init__(NOT_WELL_FORMED + detail)


# --- tokens ------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<string>'(?:[^']|'')*')
    | (?P<quoted>"(?:[^"]|"")*")
    | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_$]*)
    | (?P<symbol><<|>>|<=|>=|<>|!=|[=<>()\[\]{},.:*?+-])
    )""",
    re.VERBOSE,
)


@dataclass
class Token:
    kind: str  # string, quoted, number, name, symbol, end
    text: str
    position: int

    def keyword(self, *words: str) -> bool:
        return self.kind == "name" and self.text.upper() in words


def _tokens(statement: str) -> list[Token]:
    tokens, position = [], 0
    while True:
        while position < len(statement) and statement[position].isspace():
            position += 1
        if position >= len(statement):
            return [*tokens, Token("end", "", position)]
        match = _TOKEN.match(statement, position)
        if match is None or match.end() == position:
            raise StatementError(f"Unexpected character '{statement[position]}' at position {position + 1}")
        kind = match.lastgroup
        tokens.append(Token(kind, match.group(kind), match.start(kind)))
        position = match.end()


# --- the parsed statement -----------------------------------------------------------------------


@dataclass
class Path:
    parts: list  # attribute names (str) and list positions (int)

    @property
    def top(self) -> str:
        return self.parts[0]


@dataclass
class Value:
    value: dict  # an AttributeValue


@dataclass
class Condition:
    """``operator`` over ``operands`` (Paths, Values, Conditions, or a Path for size())."""

    operator: str
    operands: list


@dataclass
class Statement:
    kind: str  # SELECT, INSERT, UPDATE, DELETE, EXISTS
    table: str
    index: str | None = None
    projection: list = field(default_factory=list)  # Paths; empty: *
    where: Condition | None = None
    order: tuple | None = None  # ORDER BY: (Path, ascending)
    item: Value | None = None
    set: list = field(default_factory=list)  # (Path, operator, operands)
    remove: list = field(default_factory=list)  # Paths
    returning: str | None = None  # ReturnValues


class _Parser:
    def __init__(self, statement: str, parameters: list):
        self.tokens = _tokens(statement)
        self.at = 0
        self.parameters = parameters
        self.used = 0

    # tokens

    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def unexpected(self):
        token = self.token
        if token.kind == "end":
            return StatementError("Unexpected end of statement")
        if token.kind == "name" and token.text.upper() in _KEYWORDS:
            return StatementError(f"Unexpected keyword '{token.text}' at position {token.position + 1}")
        return StatementError(f"Unexpected token '{token.text}' at position {token.position + 1}")

    def accept(self, *symbols: str) -> Token | None:
        token = self.token
        if (token.kind == "symbol" and token.text in symbols) or token.keyword(*symbols):
            return self.take()
        return None

    def expect(self, *symbols: str) -> Token:
        token = self.accept(*symbols)
        if token is None:
            raise self.unexpected()
        return token

    # statements

    def statement(self) -> Statement:
        first = self.token
        if first.keyword("SELECT"):
            parsed = self.select()
        elif first.keyword("INSERT"):
            parsed = self.insert()
        elif first.keyword("UPDATE"):
            parsed = self.update()
        elif first.keyword("DELETE"):
            parsed = self.delete()
        elif first.keyword("EXISTS"):
            self.take()
            self.expect("(")
            parsed = self.select()
            parsed.kind = "EXISTS"
            self.expect(")")
        else:
            raise StatementError("Expected data manipulation")
        if self.token.kind != "end":
            raise self.unexpected()
        if self.used != len(self.parameters):
            raise ValidationException("Number of parameters in request and statement don't match.")
        return parsed

    def select(self) -> Statement:
        self.expect("SELECT")
        projection = []
        if not self.accept("*"):
            projection.append(self.path())
            while self.accept(","):
                projection.append(self.path())
        self.expect("FROM")
        table, index = self.name(), None
        if self.accept("."):
            index = self.name()
        parsed = Statement("SELECT", table, index, projection)
        if self.accept("WHERE"):
            parsed.where = self.condition()
        if self.accept("ORDER"):
            self.expect("BY")
            path = self.path()
            direction = self.accept("ASC", "DESC")
            parsed.order = (path, direction is None or direction.text.upper() == "ASC")
        return parsed

    def insert(self) -> Statement:
        self.expect("INSERT")
        self.expect("INTO")
        table = self.name()
        self.expect("VALUE")
        item = self.value()
        if "M" not in item.value:
            raise StatementError("INSERT takes a tuple ({...}) as its value")
        return Statement("INSERT", table, item=item)

    def update(self) -> Statement:
        self.expect("UPDATE")
        parsed = Statement("UPDATE", self.name())
        while True:
            if self.accept("SET"):
                parsed.set.append(self.assignment())
                while self.accept(","):
                    parsed.set.append(self.assignment())
            elif self.accept("REMOVE"):
                parsed.remove.append(self.path())
                while self.accept(","):
                    parsed.remove.append(self.path())
            else:
                break
        if not (parsed.set or parsed.remove):
            raise self.unexpected()
        self.expect("WHERE")
        parsed.where = self.condition()
        parsed.returning = self.returning()
        return parsed

    def delete(self) -> Statement:
        self.expect("DELETE")
        self.expect("FROM")
        parsed = Statement("DELETE", self.name())
        self.expect("WHERE")
        parsed.where = self.condition()
        parsed.returning = self.returning()
        if parsed.returning not in (None, "ALL_OLD"):
            raise ValidationException("Only RETURNING ALL OLD * is allowed in DELETE statements.")
        return parsed

    def returning(self) -> str | None:
        if not self.accept("RETURNING"):
            return None
        which = self.expect("ALL", "MODIFIED").text.upper()
        when = self.expect("OLD", "NEW").text.upper()
        self.expect("*")
        return _RETURN_VALUES[(which, when)]

    def assignment(self) -> tuple:
        target = self.path()
        self.expect("=")
        token = self.token
        if token.kind == "name" and token.text.lower() in ("list_append", "set_add", "set_delete"):
            function = self.take().text.lower()
            self.expect("(")
            first = self.operand()
            self.expect(",")
            second = self.operand()
            self.expect(")")
            return target, function, [first, second]
        first = self.operand()
        operator = self.accept("+", "-")
        if operator:
            return target, operator.text, [first, self.operand()]
        return target, "=", [first]

    # names, paths and values

    def name(self) -> str:
        token = self.token
        if token.kind == "quoted":
            self.take()
            return token.text[1:-1].replace('""', '"')
        if token.kind == "name" and token.text.upper() not in _KEYWORDS:
            self.take()
            return token.text
        raise self.unexpected()

    def path(self) -> Path:
        parts = [self.name()]
        while True:
            if self.accept("."):
                parts.append(self.name())
            elif self.accept("["):
                position = self.expect_number()
                self.expect("]")
                parts.append(position)
            else:
                return Path(parts)

    def expect_number(self) -> int:
        token = self.token
        if token.kind != "number" or not token.text.isdigit():
            raise self.unexpected()
        self.take()
        return int(token.text)

    def operand(self):
        token = self.token
        if token.kind in ("quoted",) or (token.kind == "name" and token.text.upper() not in _VALUE_WORDS):
            return self.path()
        return self.value()

    def value(self) -> Value:
        token = self.take()
        if token.kind == "string":
            return Value({"S": token.text[1:-1].replace("''", "'")})
        if token.kind == "number":
            return Value({"N": token.text})
        if token.kind == "symbol" and token.text == "-" and self.token.kind == "number":
            return Value({"N": "-" + self.take().text})
        if token.kind == "symbol" and token.text == "?":
            if self.used >= len(self.parameters):
                raise ValidationException("Number of parameters in request and statement don't match.")
            self.used += 1
            return Value(self.parameters[self.used - 1])
        if token.keyword("TRUE", "FALSE"):
            return Value({"BOOL": token.text.upper() == "TRUE"})
        if token.keyword("NULL"):
            return Value({"NULL": True})
        if token.kind == "symbol" and token.text == "{":
            members = {}
            if not self.accept("}"):
                while True:
                    key = self.take()
                    if key.kind != "string":
                        self.at -= 1
                        raise self.unexpected()
                    self.expect(":")
                    members[key.text[1:-1].replace("''", "'")] = self.value().value
                    if self.accept("}"):
                        break
                    self.expect(",")
            return Value({"M": members})
        if token.kind == "symbol" and token.text == "[":
            return Value({"L": self.values("]")})
        if token.kind == "symbol" and token.text == "<<":
            return Value(_set_of(self.values(">>")))
        self.at -= 1
        raise self.unexpected()

    def values(self, closing: str) -> list:
        members = []
        if self.accept(closing):
            return members
        while True:
            members.append(self.value().value)
            if self.accept(closing):
                return members
            self.expect(",")

    # conditions

    def condition(self) -> Condition:
        left = self.conjunction()
        while self.accept("OR"):
            left = Condition("OR", [left, self.conjunction()])
        return left

    def conjunction(self) -> Condition:
        left = self.negation()
        while self.accept("AND"):
            left = Condition("AND", [left, self.negation()])
        return left

    def negation(self) -> Condition:
        if self.accept("NOT"):
            return Condition("NOT", [self.negation()])
        return self.predicate()

    def predicate(self) -> Condition:
        if self.accept("("):
            inner = self.condition()
            self.expect(")")
            return inner
        token = self.token
        function = token.text.lower() if token.kind == "name" else ""
        if function in ("begins_with", "contains", "attribute_type") and self.tokens[self.at + 1].text == "(":
            self.take()
            self.expect("(")
            arguments = [self.operand()]
            self.expect(",")
            arguments.append(self.operand())
            self.expect(")")
            return Condition(function, arguments)
        if function in ("exists", "missing") and self.tokens[self.at + 1].text == "(":
            self.take()
            self.expect("(")
            target = self.path()
            self.expect(")")
            return Condition("attribute_exists" if function == "exists" else "attribute_not_exists", [target])
        left = self.size_or_operand()
        if self.accept("BETWEEN"):
            low = self.size_or_operand()
            self.expect("AND")
            return Condition("BETWEEN", [left, low, self.size_or_operand()])
        if self.accept("IN"):
            closing = {"[": "]", "(": ")"}[self.expect("[", "(").text]
            return Condition("IN", [left, *[Value(member) for member in self.values(closing)]])
        if self.accept("IS"):
            negated = bool(self.accept("NOT"))
            what = self.expect("MISSING", "NULL").text.upper()
            if what == "MISSING":
                return Condition("attribute_exists" if negated else "attribute_not_exists", [left])
            is_null = Condition("attribute_type", [left, Value({"S": "NULL"})])
            return Condition("NOT", [is_null]) if negated else is_null
        comparator = self.accept("=", "<>", "!=", "<", "<=", ">", ">=")
        if comparator is None:
            raise self.unexpected()
        return Condition("<>" if comparator.text == "!=" else comparator.text, [left, self.size_or_operand()])

    def size_or_operand(self):
        token = self.token
        if token.kind == "name" and token.text.lower() == "size" and self.tokens[self.at + 1].text == "(":
            self.take()
            self.expect("(")
            target = self.path()
            self.expect(")")
            return Condition("size", [target])
        return self.operand()


# Words that end a path or start a clause; a name that is one of them must be quoted.
_KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "BETWEEN",
    "IN",
    "IS",
    "MISSING",
    "NULL",
    "TRUE",
    "FALSE",
    "INSERT",
    "INTO",
    "VALUE",
    "UPDATE",
    "SET",
    "REMOVE",
    "DELETE",
    "RETURNING",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "EXISTS",
}
_VALUE_WORDS = {"TRUE", "FALSE", "NULL", "MISSING"}


def _set_of(members: list) -> dict:
    kinds = {next(iter(member)) for member in members}
    if not members or len(kinds) != 1 or next(iter(kinds)) not in ("S", "N", "B"):
        raise ValidationException("A set (<<...>>) holds one or more strings, numbers or binaries, all of one type")
    kind = next(iter(kinds))
    return {kind + "S": [member[kind] for member in members]}


def parse(statement: str, parameters: list | None = None) -> Statement:
    if not statement:
        raise ValidationException(
            "1 validation error detected: Value '' at 'statement' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1"
        )
    if parameters == []:
        raise ValidationException(
            "1 validation error detected: Value '[]' at 'parameters' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1"
        )
    return _Parser(statement, parameters or []).statement()


def written_tables(request: dict) -> set[str]:
    """The tables a PartiQL request's statements write (the journal's; those that do not parse write nothing)."""
    statements = (
        [request] if "Statement" in request else request.get("Statements") or request.get("TransactStatements") or []
    )
    names = set()
    for entry in statements:
        try:
            parsed = parse(entry.get("Statement", ""), entry.get("Parameters"))
        except CommonServiceException:
            continue
        if parsed.kind in ("INSERT", "UPDATE", "DELETE"):
            names.add(parsed.table)
    return names


# --- DynamoDB expressions -----------------------------------------------------------------------


class _Expression:
    """Names and values of the expressions one operation takes."""

    def __init__(self):
        self.names: dict[str, str] = {}
        self.values: dict[str, dict] = {}

    def path(self, path: Path) -> str:
        text = ""
        for part in path.parts:
            if isinstance(part, int):
                text += f"[{part}]"
                continue
            placeholder = next((key for key, name in self.names.items() if name == part), None)
            if placeholder is None:
                placeholder = f"#n{len(self.names)}"
                self.names[placeholder] = part
            text += ("." if text else "") + placeholder
        return text

    def paths(self, paths: list[Path]) -> str:
        return ", ".join(self.path(path) for path in paths)

    def value(self, value: Value) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value.value
        return placeholder

    def operand(self, operand) -> str:
        if isinstance(operand, Path):
            return self.path(operand)
        if isinstance(operand, Value):
            return self.value(operand)
        return f"size({self.path(operand.operands[0])})"

    def condition(self, condition: Condition) -> str:
        operator, operands = condition.operator, condition.operands
        if operator in ("AND", "OR"):
            return f"({self.condition(operands[0])} {operator} {self.condition(operands[1])})"
        if operator == "NOT":
            return f"(NOT {self.condition(operands[0])})"
        if operator == "BETWEEN":
            low, high = (self.operand(operand) for operand in operands[1:])
            return f"{self.operand(operands[0])} BETWEEN {low} AND {high}"
        if operator == "IN":
            return f"{self.operand(operands[0])} IN ({', '.join(self.operand(operand) for operand in operands[1:])})"
        if operator in ("attribute_exists", "attribute_not_exists"):
            return f"{operator}({self.path(operands[0])})"
        if operator in ("begins_with", "contains", "attribute_type"):
            return f"{operator}({self.operand(operands[0])}, {self.operand(operands[1])})"
        return f"{self.operand(operands[0])} {operator} {self.operand(operands[1])}"

    def into(self, request: dict) -> dict:
        if self.names:
            request["ExpressionAttributeNames"] = self.names
        if self.values:
            request["ExpressionAttributeValues"] = self.values
        return request


def _conjuncts(condition: Condition | None) -> list[Condition]:
    if condition is None:
        return []
    if condition.operator == "AND":
        return _conjuncts(condition.operands[0]) + _conjuncts(condition.operands[1])
    return [condition]


def _and(conditions: list[Condition]) -> Condition | None:
    joined = None
    for condition in conditions:
        joined = condition if joined is None else Condition("AND", [joined, condition])
    return joined


def _equality_on(condition: Condition, attribute: str) -> dict | None:
    """The value ``attribute`` is compared equal to, if this condition is that comparison."""
    if condition.operator != "=":
        return None
    left, right = condition.operands
    for path, value in ((left, right), (right, left)):
        if isinstance(path, Path) and path.parts == [attribute] and isinstance(value, Value):
            return value.value
    return None


def _mentions(condition, attribute: str) -> bool:
    if isinstance(condition, Path):
        return condition.top == attribute
    if isinstance(condition, Condition):
        return any(_mentions(operand, attribute) for operand in condition.operands)
    return False


# --- running statements -------------------------------------------------------------------------


def _key_attributes(table, index: str | None = None) -> tuple[str, str | None]:
    if index is None:
        return table.hash_key_attr, table.range_key_attr
    found = next((candidate for candidate in table.all_indexes() if candidate.name == index), None)
    if found is None:
        raise ValidationException("The table does not have the specified index")
    schema = {entry["KeyType"]: entry["AttributeName"] for entry in found.schema}
    return schema["HASH"], schema.get("RANGE")


def _key(table, statement: Statement) -> tuple[dict, list[Condition]]:
    """The item key the WHERE clause fixes (an equality on each key attribute, ANDed), and its other conditions."""
    conditions, key = _conjuncts(statement.where), {}
    for attribute in filter(None, _key_attributes(table)):
        for condition in conditions:
            value = _equality_on(condition, attribute)
            if value is not None and attribute not in key:
                key[attribute] = value
                break
        else:
            raise ValidationException(KEY_EQUALITY_MISSING)
    rest = [
        condition
        for condition in conditions
        if not any(_equality_on(condition, name) == value for name, value in key.items())
    ]
    return key, rest


def _encode_token(key: dict) -> str:
    plain = {
        name: {kind: base64.b64encode(value).decode() if kind == "B" else value for kind, value in typed.items()}
        for name, typed in key.items()
    }
    return base64.b64encode(json.dumps(plain).encode()).decode()


def _decode_token(token: str) -> dict:
    try:
        plain = json.loads(base64.b64decode(token.encode(), validate=True))
        return {
            name: {kind: base64.b64decode(value) if kind == "B" else value for kind, value in typed.items()}
            for name, typed in plain.items()
        }
    except (ValueError, TypeError, AttributeError):
        raise ValidationException("Invalid NextToken") from None


_KEY_CONDITION_OPERATORS = {"=", "<", "<=", ">", ">=", "BETWEEN", "begins_with"}


def _select(context: RequestContext, statement: Statement, request: dict) -> dict:
    table = table_of(context, statement.table)
    partition, sort = _key_attributes(table, statement.index)
    expression, conditions = _Expression(), _conjuncts(statement.where)
    read = {"TableName": statement.table}
    if statement.index:
        read["IndexName"] = statement.index
    fixed = next((condition for condition in conditions if _equality_on(condition, partition) is not None), None)
    rest = [condition for condition in conditions if condition is not fixed]
    on_sort = [condition for condition in rest if sort and _mentions(condition, sort)]
    query = (
        fixed is not None
        and len(on_sort) <= 1
        and all(
            condition.operator in _KEY_CONDITION_OPERATORS and isinstance(condition.operands[0], Path)
            for condition in on_sort
        )
        and not any(_mentions(condition, partition) for condition in rest)
    )
    if query:
        value = Value(_equality_on(fixed, partition))
        key_condition = f"{expression.path(Path([partition]))} = {expression.value(value)}"
        read["KeyConditionExpression"] = " AND ".join([key_condition, *map(expression.condition, on_sort)])
        rest = [condition for condition in rest if condition not in on_sort]
        if statement.order is not None:
            path, ascending = statement.order
            if path.parts != [sort]:
                raise ValidationException("ORDER BY takes the sort key of the table or index the statement reads")
            read["ScanIndexForward"] = ascending
    elif statement.order is not None:
        raise ValidationException("ORDER BY needs an equality on the partition key in the WHERE clause")
    if rest:
        read["FilterExpression"] = expression.condition(_and(rest))
    if statement.projection:
        read["ProjectionExpression"] = expression.paths(statement.projection)
    for name in ("ConsistentRead", "Limit", "ReturnConsumedCapacity"):
        if request.get(name) is not None:
            read[name] = request[name]
    if request.get("NextToken"):
        read["ExclusiveStartKey"] = _decode_token(request["NextToken"])
    answer = call(context, "Query" if query else "Scan", expression.into(read))
    output = {"Items": answer.get("Items", [])}
    if answer.get("LastEvaluatedKey"):
        output["NextToken"] = _encode_token(answer["LastEvaluatedKey"])
    if "ConsumedCapacity" in answer:
        output["ConsumedCapacity"] = answer["ConsumedCapacity"]
    return output


def _update_expression(statement: Statement, expression: _Expression) -> str:
    sets, adds, deletes = [], [], []
    for target, operator, operands in statement.set:
        path = expression.path(target)
        if operator in ("set_add", "set_delete"):
            (adds if operator == "set_add" else deletes).append(f"{path} {expression.operand(operands[1])}")
        elif operator == "list_append":
            sets.append(f"{path} = list_append({expression.operand(operands[0])}, {expression.operand(operands[1])})")
        elif operator in ("+", "-"):
            sets.append(f"{path} = {expression.operand(operands[0])} {operator} {expression.operand(operands[1])}")
        else:
            sets.append(f"{path} = {expression.operand(operands[0])}")
    clauses = []
    if sets:
        clauses.append("SET " + ", ".join(sets))
    if statement.remove:
        clauses.append("REMOVE " + expression.paths(statement.remove))
    if adds:
        clauses.append("ADD " + ", ".join(adds))
    if deletes:
        clauses.append("DELETE " + ", ".join(deletes))
    return " ".join(clauses)


def write_request(context: RequestContext, statement: Statement) -> tuple[str, dict]:
    """The write operation a statement stands for, and its request."""
    table = table_of(context, statement.table)
    expression = _Expression()
    if statement.kind == "INSERT":
        request = {
            "TableName": statement.table,
            "Item": statement.item.value["M"],
            "ConditionExpression": f"attribute_not_exists({expression.path(Path([table.hash_key_attr]))})",
        }
        return "Put", expression.into(request)
    key, rest = _key(table, statement)
    request = {"TableName": statement.table, "Key": key}
    if statement.kind == "UPDATE":
        request["UpdateExpression"] = _update_expression(statement, expression)
        # The whole WHERE clause: an item that is not there fails its key equalities.
        request["ConditionExpression"] = expression.condition(statement.where)
        return "Update", expression.into(request)
    if statement.kind == "EXISTS":
        request["ConditionExpression"] = expression.condition(statement.where)
        return "ConditionCheck", expression.into(request)
    if rest:  # DELETE: an item that is not there is no failure; one that does not match is
        missing = f"attribute_not_exists({expression.path(Path([table.hash_key_attr]))})"
        request["ConditionExpression"] = f"{missing} OR ({expression.condition(_and(rest))})"
    return "Delete", expression.into(request)


_OPERATIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}


def _write(context: RequestContext, statement: Statement, request: dict) -> dict:
    kind, write = write_request(context, statement)
    if kind == "ConditionCheck":
        raise ValidationException("EXISTS can only be used in ExecuteTransaction")
    if statement.returning:
        write["ReturnValues"] = statement.returning
    for name in ("ReturnConsumedCapacity", "ReturnValuesOnConditionCheckFailure"):
        if request.get(name) is not None:
            write[name] = request[name]
    try:
        answer = call(context, _OPERATIONS[kind], write)
    except CommonServiceException as error:
        if statement.kind == "INSERT" and error.code == "ConditionalCheckFailedException":
            raise CommonServiceException(
                "DuplicateItemException", "Duplicate primary key exists in table", 400, True
            ) from None
        raise
    output = {}
    if statement.returning:
        output["Items"] = [answer["Attributes"]] if answer.get("Attributes") else []
    if request.get("ReturnConsumedCapacity", "NONE") != "NONE" and "ConsumedCapacity" in answer:
        output["ConsumedCapacity"] = answer["ConsumedCapacity"]
    return output


def execute_statement(context: RequestContext, request: dict) -> dict:
    statement = parse(request["Statement"], request.get("Parameters"))
    if statement.kind == "SELECT":
        return _select(context, statement, request)
    return _write(context, statement, request)


_BATCH_ERROR_CODES = {
    "ConditionalCheckFailedException": "ConditionalCheckFailed",
    "DuplicateItemException": "DuplicateItem",
    "ResourceNotFoundException": "ResourceNotFound",
    "ValidationException": "ValidationError",
    "ProvisionedThroughputExceededException": "ProvisionedThroughputExceeded",
    "TransactionConflictException": "TransactionConflict",
    "ItemCollectionSizeLimitExceededException": "ItemCollectionSizeLimitExceeded",
    "RequestLimitExceeded": "RequestLimitExceeded",
}


def _counted(entries: list, member: str, maximum: int) -> list:
    if not 1 <= len(entries) <= maximum:
        bound = f"less than or equal to {maximum}" if entries else "greater than or equal to 1"
        raise ValidationException(
            f"1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have "
            f"length {bound}"
        )
    return entries


def _item_read(context: RequestContext, statement: Statement, refusal: str) -> dict:
    """The read of the one item a SELECT names (an equality on each key attribute, nothing else)."""
    key, rest = _key(table_of(context, statement.table), statement)
    if rest or statement.index:
        raise ValidationException(refusal)
    expression = _Expression()
    read = {"TableName": statement.table, "Key": key}
    if statement.projection:
        read["ProjectionExpression"] = expression.paths(statement.projection)
    return expression.into(read)


def batch_execute_statement(context: RequestContext, request: dict) -> dict:
    responses = []
    for entry in _counted(request["Statements"], "statements", MAX_BATCH_STATEMENTS):
        response = {}
        try:
            statement = parse(entry["Statement"], entry.get("Parameters"))
            response["TableName"] = statement.table
            if statement.kind == "SELECT":
                read = _item_read(
                    context,
                    statement,
                    "Select statements within BatchExecuteStatement must specify the primary key in the where clause.",
                )
                if entry.get("ConsistentRead") is not None:
                    read["ConsistentRead"] = entry["ConsistentRead"]
                found = call(context, "GetItem", read).get("Item")
                if found is not None:
                    response["Item"] = found
            else:
                options = {"ReturnValuesOnConditionCheckFailure": entry.get("ReturnValuesOnConditionCheckFailure")}
                _write(context, statement, options)
        except CommonServiceException as error:
            if error.code == "ResourceNotFoundException":
                response.pop("TableName", None)
            response["Error"] = {"Code": _BATCH_ERROR_CODES.get(error.code, error.code), "Message": error.message}
            if getattr(error, "Item", None):
                response["Error"]["Item"] = error.Item
        responses.append(response)
    return {"Responses": responses}


def execute_transaction(context: RequestContext, request: dict) -> dict:
    entries = _counted(request["TransactStatements"], "transactStatements", MAX_TRANSACTION_STATEMENTS)
    statements = [parse(entry["Statement"], entry.get("Parameters")) for entry in entries]
    reads = [statement.kind == "SELECT" for statement in statements]
    if any(reads) and not all(reads):
        raise ValidationException("Transactions can only contain either all reads (SELECT) or all writes")
    options = {name: request[name] for name in ("ClientRequestToken", "ReturnConsumedCapacity") if request.get(name)}
    if all(reads):
        gets = [{"Get": _item_read(context, statement, KEY_EQUALITY_MISSING)} for statement in statements]
        options.pop("ClientRequestToken", None)
        read = {"TransactItems": gets, **options}
        answer = transact_get_items(sent_as(context, "TransactGetItems", read), read)
        return {key: value for key, value in answer.items() if key in ("Responses", "ConsumedCapacity")}
    writes = []
    for statement, entry in zip(statements, entries):
        kind, write = write_request(context, statement)
        if entry.get("ReturnValuesOnConditionCheckFailure"):
            write["ReturnValuesOnConditionCheckFailure"] = entry["ReturnValuesOnConditionCheckFailure"]
        writes.append({kind: write})
    try:
        answer = call(context, "TransactWriteItems", {"TransactItems": writes, **options})
    except CommonServiceException as error:
        reasons = getattr(error, "CancellationReasons", None)
        if error.code == "TransactionCanceledException" and reasons:
            for statement, reason in zip(statements, reasons):  # an INSERT's condition is its key's absence
                if statement.kind == "INSERT" and reason.get("Code") == "ConditionalCheckFailed":
                    reason.update(Code="DuplicateItem", Message="Duplicate primary key exists in table")
            codes = ", ".join(reason.get("Code", "None") for reason in reasons)
            error.message = f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]"
        raise
    output = {"Responses": []}
    if "ConsumedCapacity" in answer and request.get("ReturnConsumedCapacity", "NONE") != "NONE":
        output["ConsumedCapacity"] = answer["ConsumedCapacity"]
    return output
