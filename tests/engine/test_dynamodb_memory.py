"""DynamoDB items in less memory (engine/localstack_nodocker/dynamodb_memory.py): items share the
strings they repeat and hold their key once, and read, update and delete as before."""

import subprocess

from tests.support.engine import ENGINE_PYTHON

# Runs in the engine's interpreter, on moto's own DynamoDB backend with the engine's items.
IN_ENGINE = r"""
import json
from moto.dynamodb.models import DynamoDBBackend
from localstack_nodocker import dynamodb_memory

dynamodb_memory.share_item_strings()
backend = DynamoDBBackend("us-east-1", "000000000000")
backend.create_table(
    "logs",
    schema=[{"AttributeName": "Level", "KeyType": "HASH"}, {"AttributeName": "At", "KeyType": "RANGE"}],
    throughput=None,
    attr=[{"AttributeName": "Level", "AttributeType": "S"}, {"AttributeName": "At", "AttributeType": "N"}],
    global_indexes=[], indexes=[], streams=None, billing_mode="PAY_PER_REQUEST", sse_specification=None,
    tags=[], deletion_protection_enabled=False, warm_throughput=None,
)
long = "x" * 100


def request(n, level):  # as a request's JSON parser makes them: strings of their own
    return json.loads(json.dumps({
        "Level": {"S": level}, "At": {"N": str(n)}, "Service": {"S": "billing"}, "Note": {"S": long},
        "Tags": {"L": [{"S": "a"}]}, "Seen": {"N": "1"},
    }))


first, second = (backend.put_item("logs", request(n, "INFO")) for n in (1, 2))
names = lambda item: {name: name for name in item.attrs}  # noqa: E731
assert all(a is b for a, b in zip(sorted(names(first).values()), sorted(names(second).values())))
assert first.attrs["Service"].value is second.attrs["Service"].value
assert first.attrs["Level"].value is second.attrs["Level"].value
assert first.attrs["Note"].value == second.attrs["Note"].value and first.attrs["Note"].value is not second.attrs["Note"].value
assert first.attrs["Level"] is first.hash_key and first.attrs["At"] is first.range_key
# reads, updates and deletes as moto does them
key = {"Level": {"S": "INFO"}, "At": {"N": "1"}}
backend.update_item("logs", key, update_expression="SET Seen = Seen + :one, Service = :s",
                    expression_attribute_names=None, expression_attribute_values={":one": {"N": "1"}, ":s": {"S": "audit"}},
                    attribute_updates=None, expected=None, condition_expression=None, return_values_on_condition_check_failure=None)
updated = backend.get_item("logs", key)
assert updated.attrs["Seen"].value == "2" and updated.attrs["Service"].value == "audit"
assert backend.get_item("logs", {"Level": {"S": "INFO"}, "At": {"N": "2"}}).attrs["Service"].value == "billing"
assert updated.hash_key.value == "INFO" and updated.range_key.value == "1"
backend.delete_item("logs", key)
assert backend.get_item("logs", key) is None
print("ok")
"""


def test_items_share_repeated_strings_and_read_update_delete_as_before():
    result = subprocess.run([str(ENGINE_PYTHON), "-c", IN_ENGINE], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "ok"
