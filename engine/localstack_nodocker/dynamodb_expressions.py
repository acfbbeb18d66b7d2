"""DynamoDB expressions parsed once per text, not once per use.

moto parses a write's expressions again at every step: an UpdateItem's UpdateExpression in the
handler (to list the names it uses) and again in the backend, its ConditionExpression in the
handler and in the backend; a TransactWriteItems parses each action's condition to check its
names, then again to evaluate it. A log chunk's transaction holds 92 Puts with the same
``attribute_not_exists(LogLevel)``, and the counters' Updates repeat a few expressions: parsing
was a fifth of a transaction's time in moto (py-spy). Here both parses are kept per text:

- an UpdateExpression's tree per expression string (``UpdateExpressionParser.make``). Every
  user of the tree only reads it (``find_clauses``) or deep-copies it first: moto's
  ``Validator`` resolves names and values on its own copy (a seam.py shape checks that copy).
- a condition's operator tree per (expression, names, values), as JSON, the names and values
  it parses from being a copy of the request's (``create_condition_expression_parser`` and
  ``get_filter_expression`` where moto's DynamoDB modules call them). The operators only read
  the item they are given. A parser handed out still lists the names and values its
  expression uses in lists of its own, which moto's handlers extend.

A text that does not parse raises as before, at each use (nothing is kept of it).

moto then validates an UpdateExpression against the item: ten traversals of the tree, each
asking of every node whether it is a ``Node`` (an ABC's isinstance) and whether this traversal
processes it (a tuple built from a new dict each time): a third of the validation. Here both
answers are kept per node type (and per traversal class): the traversal is moto's otherwise.
The copy its ``Validator`` makes of the tree (``deepcopy``, through the reduce protocol node by
node, another sixth of an Update's time) is made node by node directly, the same copy.
seam.py targets (EXPRESSIONS).
"""

import copy
import functools
import json

from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.parsing.ast_nodes import Node

from localstack_nodocker import seam
from localstack_nodocker.dynamodb_copies import IMMUTABLE

PARSED_KEPT = 512


def parse_expressions_once() -> None:
    make = seam.original(seam.UPDATE_EXPRESSION_PARSE).__func__
    parse_text = functools.lru_cache(maxsize=PARSED_KEPT)(make)

    def parse_update(cls, expression_str):
        if type(expression_str) is not str:  # what moto makes of another value, uncached
            return make(cls, expression_str)
        return parse_text(cls, expression_str)

    seam.replace(seam.UPDATE_EXPRESSION_PARSE, classmethod(parse_update))
    for target in seam.CONDITION_PARSERS:
        seam.replace(target, ParsedCondition)
    for target in seam.FILTER_EXPRESSIONS:
        seam.replace(target, parsed_condition)
    seam.replace(seam.TRAVERSE_NODE, traverse_node_recursively)
    seam.replace(seam.VALIDATION_COPY, tree_copy)


class ParsedCondition:
    """moto's ConditionExpressionParser as its callers use it: ``parse()`` once, then the
    placeholders found (the parse kept per text, the lists this parser's own)."""

    def __init__(self, condition_expression, expression_attribute_names, expression_attribute_values):
        self.condition = (condition_expression, expression_attribute_names, expression_attribute_values)
        self.expr_attr_names_found: list[str] = []
        self.expr_attr_values_found: list[str] = []

    def parse(self):
        op, names_found, values_found = _parsed(*self.condition)
        self.expr_attr_names_found.extend(names_found)
        self.expr_attr_values_found.extend(values_found)
        return op


def parsed_condition(expr, names, values):
    """moto's ``get_filter_expression``: the operator tree of a condition or filter."""
    return _parsed(expr, names, values)[0]


def _parsed(expression, names, values) -> tuple:
    if expression is not None and type(expression) is not str:  # what moto makes of it, uncached
        return _parse(expression, names, values)
    try:
        key = (expression, json.dumps(names, sort_keys=True), json.dumps(values, sort_keys=True))
    except (TypeError, ValueError):  # not JSON (bytes from a caller of the backend): parsed as it is
        return _parse(expression, names, values)
    return _parse_text(*key)


@functools.lru_cache(maxsize=PARSED_KEPT)
def _parse_text(expression, names: str, values: str) -> tuple:
    return _parse(expression, json.loads(names), json.loads(values))


def _parse(expression, names, values) -> tuple:
    parser = ConditionExpressionParser(expression, names, values)
    op = parser.parse()
    return op, tuple(parser.expr_attr_names_found), tuple(parser.expr_attr_values_found)


@functools.cache
def _is_node(kind: type) -> bool:
    return issubclass(kind, Node)


# (traversal class, node class): whether the traversal processes such nodes. Every traversal's
# _processing_map is keyed by classes alone, whatever the instance.
_PROCESSES: dict[tuple[type, type], bool] = {}


def traverse_node_recursively(self, node, child_id=-1):
    """moto's DepthFirstTraverser.traverse_node_recursively, the type checks made once per type."""
    if _is_node(type(node)):
        parent_node = node.parent
        if node.children is not None:
            for i, child_node in enumerate(node.children):
                self.pre_processing_of_child(node, i)
                self.traverse_node_recursively(child_node, i)
        kinds = (type(self), type(node))
        processes = _PROCESSES.get(kinds)
        if processes is None:
            processes = _PROCESSES[kinds] = isinstance(node, self.nodes_to_be_processed())
        if processes:
            node = self.process(node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
    return node


def tree_copy(x, memo=None, _nil=[]):  # noqa: B006 (copy.deepcopy's own signature)
    """``copy.deepcopy`` as moto's validators module calls it: a tree of nodes copied directly."""
    if _is_node(type(x)):
        return _copy_node(x, {} if memo is None else memo)
    return copy.deepcopy(x, memo, _nil)


def _copy_node(node, memo: dict):
    """What deepcopy makes of a node (its type name, children and parent, and whatever else it
    holds), sharing what the original shares through ``memo``."""
    found = memo.get(id(node))
    if found is not None:
        return found
    copied = memo[id(node)] = type(node).__new__(type(node))
    attributes = copied.__dict__
    for name, value in vars(node).items():
        kind = type(value)
        if kind in IMMUTABLE:
            pass
        elif kind is list:
            elements, value = value, memo.get(id(value))
            if value is None:
                value = memo[id(elements)] = []
                for element in elements:
                    kind = type(element)
                    if kind in IMMUTABLE:
                        value.append(element)
                    elif _is_node(kind):
                        value.append(_copy_node(element, memo))
                    else:
                        value.append(copy.deepcopy(element, memo))
        elif _is_node(kind):
            value = _copy_node(value, memo)
        else:
            value = copy.deepcopy(value, memo)
        attributes[name] = value
    return copied
