"""Recount every counter of the stats table from the rows and objects themselves (`make recount`).

    python -m tools.recount          print the drift per counter; exit 1 if there is any
    python -m tools.recount --fix    also write the true values (`make recount FIX=1`)

The counters (roxs_common.aggregates) are kept at write time; this is the audit of that,
and the way to seed them on a stack whose rows were written before the counters existed.
It reads everything (Scans, full listings): a tool for an operator, never a request path.

- `images` (and the month directory `images#months`), `logs`, `notifications`: the table
  owners' recount_images(client, table) -> {counter: {attribute: value}},
  recount_logs(table) and recount_notifications(table) -> {attribute: value}
  (roxs_common.image_index, .log_index, .notifications).
- `bucket#<name>` for every bucket of the stack: Objects and Bytes from ListObjectsV2.
- `minute#...` activity is not recounted: it is kept two hours (TTL) for the dashboard's
  last hour, and the rows do not all carry the minute they were counted in.

--fix sets each drifting counter to its true value on the condition that the counter still
holds what was read: a writer that commits in between makes the fix fail (run it again),
never lose that writer's increment.
"""

import argparse
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from tools import stack

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lambda_src" / "common"))

from roxs_common import aggregates
from roxs_common.aws import error_code

# Terraform output `tables` key -> (module, recount function, the counter item it returns the
# attributes of; None: it returns {counter item: attributes} itself)
TABLE_RECOUNTS = {
    "images": ("roxs_common.image_index", "recount_images", None),
    "logs": ("roxs_common.log_index", "recount_logs", aggregates.LOGS),
    "notifications": ("roxs_common.notifications", "recount_notifications", aggregates.NOTIFICATIONS),
}


class RecountError(Exception):
    pass


@dataclass(frozen=True)
class Drift:
    counter: str
    attribute: str
    stored: int
    true: int

    @property
    def difference(self) -> int:
        return self.stored - self.true


def recount_bucket(s3: Any, bucket: str) -> dict[str, int]:
    """Objects and Bytes of `bucket`, from every page of ListObjectsV2."""
    objects = size = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            objects += 1
            size += item["Size"]
    return {"Objects": objects, "Bytes": size}


def recount_table(key: str, dynamodb: Any, table: str) -> dict[str, dict[str, int]]:
    """{counter item: true attributes} of the table the outputs call `key`."""
    module_name, function_name, counter = TABLE_RECOUNTS[key]
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise RecountError(f"cannot recount the {key} table: {exc}") from exc
    if counter is None:
        return function(dynamodb, table)
    return {counter: function(table)}


def true_values(outputs: Any, dynamodb: Any, s3: Any) -> dict[str, dict[str, int]]:
    values = {}
    for key in TABLE_RECOUNTS:
        values.update(recount_table(key, dynamodb, outputs["tables"][key]))
    for bucket in sorted(outputs["buckets"].values()):
        values[aggregates.bucket_counter(bucket)] = recount_bucket(s3, bucket)
    return values


def drifts(stored: dict[str, dict[str, int]], true: dict[str, dict[str, int]]) -> list[Drift]:
    """Every attribute whose stored value (absent = 0) differs from the true one."""
    found = []
    for counter, values in sorted(true.items()):
        held = stored.get(counter, {})
        for attribute in sorted(set(values) | set(held)):
            drift = Drift(counter, attribute, held.get(attribute, 0), values.get(attribute, 0))
            if drift.difference:
                found.append(drift)
    return found


def fix(dynamodb: Any, table: str, counter: str, stored: dict[str, int], true: dict[str, int]) -> None:
    """Set `counter` to `true`, on the condition that it still holds `stored`."""
    attributes = sorted(set(stored) | set(true))
    names = {f"#a{i}": attribute for i, attribute in enumerate(attributes)}
    values, conditions = {}, []
    for i, attribute in enumerate(attributes):
        values[f":t{i}"] = {"N": str(true.get(attribute, 0))}
        if attribute in stored:
            values[f":s{i}"] = {"N": str(stored[attribute])}
            conditions.append(f"#a{i} = :s{i}")
        else:
            conditions.append(f"attribute_not_exists(#a{i})")
    try:
        dynamodb.update_item(
            TableName=table,
            Key={"Counter": {"S": counter}},
            UpdateExpression="SET " + ", ".join(f"#a{i} = :t{i}" for i in range(len(attributes))),
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            raise RecountError(f"{counter} changed while it was recounted (a writer committed): run again") from exc
        raise


def recount(outputs: Any, *, write: bool) -> list[Drift]:
    """The drift of every counter (before any fix); with `write`, the drifting ones are fixed."""
    dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    true = true_values(outputs, dynamodb, s3)
    stored = aggregates.read_counters(dynamodb, outputs["stats_table"], true)
    found = drifts(stored, true)
    if write:
        for counter in sorted({drift.counter for drift in found}):
            fix(dynamodb, outputs["stats_table"], counter, stored[counter], true[counter])
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fix", action="store_true", help="write the true values of the drifting counters")
    args = parser.parse_args(argv)
    try:
        found = recount(stack.outputs(), write=args.fix)
    except (stack.StackError, RecountError) as exc:
        print(f"[recount] {exc}", file=sys.stderr)
        return 2
    if not found:
        print("[recount] no drift: every counter matches the rows and objects")
        return 0
    print(f"{'counter':<40} {'attribute':<20} {'stored':>12} {'true':>12} {'drift':>10}")
    for drift in found:
        print(f"{drift.counter:<40} {drift.attribute:<20} {drift.stored:>12} {drift.true:>12} {drift.difference:>+10}")
    if args.fix:
        print(f"[recount] fixed {len({drift.counter for drift in found})} counter(s)")
        return 0
    print("[recount] drift found; `make recount FIX=1` writes the true values")
    return 1


if __name__ == "__main__":
    sys.exit(main())
