"""Identity-based IAM policies evaluated for one action on one resource (standard library only).

What is evaluated: ``Effect`` Allow/Deny (an explicit Deny wins over every Allow, no Allow
is an implicit deny), ``Action``/``NotAction`` (case-insensitive, ``*`` and ``?``
wildcards), ``Resource``/``NotResource`` (case-sensitive, the same wildcards), a statement
given alone or as a list, values given alone or as lists. Several policy sets must each
allow (identity policies, then a permissions boundary or a session policy).

What is not: ``Condition`` blocks and policy variables (``${aws:username}``). A statement
that needs them and matches the request decides nothing by itself: the decision is
UNDECIDED, naming the condition keys or variables, unless an unconditional Deny already
refuses (a Deny that may apply, or an Allow that may be the only one, is never guessed).
"""

import functools
import json
import re
import urllib.parse
from dataclasses import dataclass
from enum import Enum

VARIABLE = re.compile(r"\$\{[^}]*\}")


class Decision(Enum):
    ALLOWED = "allowed"
    IMPLICIT_DENY = "implicit deny"
    EXPLICIT_DENY = "explicit deny"
    UNDECIDED = "undecided"


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" or "Deny"
    actions: tuple[str, ...]
    negated_actions: bool  # NotAction
    resources: tuple[str, ...]
    negated_resources: bool  # NotResource
    unevaluated: str  # what this engine cannot evaluate in the statement ("" when nothing)
    where: str  # the statement's Sid and policy, for messages

    def matches(self, action: str, resource: str) -> bool:
        action_listed = any(_pattern(p, True).fullmatch(action) for p in self.actions)
        # a policy variable may stand for anything: such a statement may match, and then
        # decides nothing (it is unevaluated)
        resource_listed = any(_pattern(VARIABLE.sub("*", p), False).fullmatch(resource) for p in self.resources)
        return action_listed != self.negated_actions and resource_listed != self.negated_resources


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    reason: str = ""  # for UNDECIDED: what was not evaluated, and where


@functools.lru_cache(maxsize=4096)
def _pattern(glob: str, ignore_case: bool) -> re.Pattern:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(body, (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL)


def _listed(value, what: str) -> tuple[str, ...]:
    values = tuple(value) if isinstance(value, list) else (value,)
    if not values or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{what} must be a string or a list of strings, not {value!r}")
    return values


def parse(document, name: str) -> list[Statement]:
    """The statements of one policy document (a JSON string, URL-encoded or not, or a dict).
    Raises ValueError for a document that is not a policy."""
    if isinstance(document, str):
        text = document.strip()
        document = json.loads(text if text.startswith("{") else urllib.parse.unquote(text))
    if not isinstance(document, dict) or "Statement" not in document:
        raise ValueError(f"policy {name} has no Statement")
    statements = []
    listed = document["Statement"]
    for number, raw in enumerate(listed if isinstance(listed, list) else [listed], 1):
        if not isinstance(raw, dict):
            raise ValueError(f"statement {number} of policy {name} is not an object")
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise ValueError(f"statement {number} of policy {name} has Effect {effect!r}, not Allow or Deny")
        where = f"statement {raw.get('Sid') or number} of policy {name}"
        if ("Action" in raw) == ("NotAction" in raw) or ("Resource" in raw) == ("NotResource" in raw):
            raise ValueError(f"{where} needs exactly one of Action/NotAction and one of Resource/NotResource")
        resources = _listed(raw.get("Resource", raw.get("NotResource")), f"Resource of {where}")
        unevaluated = []
        if condition := raw.get("Condition"):
            operators = condition.values() if isinstance(condition, dict) else [None]
            if not all(isinstance(operator, dict) for operator in operators):
                raise ValueError(f"the Condition of {where} is not an object of operators")
            keys = sorted({key for operator in operators for key in operator})
            unevaluated.append(f"condition keys {', '.join(keys)}")
        if variables := sorted({v for r in resources for v in VARIABLE.findall(r)}):
            unevaluated.append(f"policy variables {', '.join(variables)}")
        statements.append(
            Statement(
                effect=effect,
                actions=_listed(raw.get("Action", raw.get("NotAction")), f"Action of {where}"),
                negated_actions="NotAction" in raw,
                resources=resources,
                negated_resources="NotResource" in raw,
                unevaluated=" and ".join(unevaluated),
                where=where,
            )
        )
    return statements


def _evaluate_set(statements: list[Statement], action: str, resource: str) -> Outcome:
    matching = [s for s in statements if s.matches(action, resource)]
    if any(s.effect == "Deny" and not s.unevaluated for s in matching):
        return Outcome(Decision.EXPLICIT_DENY)
    for s in matching:
        if s.effect == "Deny":
            return Outcome(Decision.UNDECIDED, f"the Deny in {s.where} depends on {s.unevaluated}")
    if any(not s.unevaluated for s in matching):
        return Outcome(Decision.ALLOWED)
    if matching:  # only Allows that depend on what is not evaluated
        return Outcome(Decision.UNDECIDED, f"the Allow in {matching[0].where} depends on {matching[0].unevaluated}")
    return Outcome(Decision.IMPLICIT_DENY)


def evaluate(policy_sets: list[list[Statement]], action: str, resource: str) -> Outcome:
    """Every set must allow: the identity's policies and each limit on them (a permissions
    boundary, a session policy). An explicit deny anywhere wins, then an undecided set."""
    outcomes = [_evaluate_set(statements, action, resource) for statements in policy_sets]
    for decision in (Decision.EXPLICIT_DENY, Decision.UNDECIDED, Decision.IMPLICIT_DENY):
        for outcome in outcomes:
            if outcome.decision == decision:
                return outcome
    return Outcome(Decision.ALLOWED if outcomes else Decision.IMPLICIT_DENY)
