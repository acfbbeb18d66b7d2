"""DynamoDB writes on the engine whose expressions are parsed once per text and whose items are
copied directly (dynamodb_expressions.py, dynamodb_copies.py, dynamodb_memory.py): the same text
with other values, names or items answers as DynamoDB does each time."""

import subprocess

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.engine.test_dynamodb_transactions import create_keyed_table
from tests.support.engine import ENGINE_PYTHON

NESTED = {
    "M": {
        "list": {"L": [{"S": "a"}, {"N": "1"}, {"M": {"deep": {"SS": ["x", "y"]}}}]},
        "flag": {"BOOL": True},
        "nothing": {"NULL": True},
    }
}


@pytest.fixture
def table(engine):
    client = boto3.client("dynamodb")
    name = create_keyed_table(client, stream=True)
    yield client, name
    client.delete_table(TableName=name)


def _key(pk: str, sk: int = 0) -> dict:
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}}


def _code(raised) -> str:
    return raised.value.response["Error"]["Code"]


def test_one_condition_text_with_other_values_is_checked_against_each_requests_values(table):
    client, name = table
    client.put_item(TableName=name, Item={**_key("claim"), "state": {"S": "held"}, "expires": {"N": "100"}})
    condition = "attribute_not_exists(pk) OR (#s = :state AND #e < :now)"
    names = {"#s": "state", "#e": "expires"}

    def claim(state: str, now: int, **extra):
        client.put_item(
            TableName=name,
            Item={**_key("claim"), "state": {"S": "held"}, "expires": {"N": str(now + 100)}},
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":state": {"S": state}, ":now": {"N": str(now)}},
            **extra,
        )

    for state, now in [("held", 50), ("free", 500)]:  # refused with these values, whatever came before
        with pytest.raises(ClientError) as raised:
            claim(state, now, ReturnValuesOnConditionCheckFailure="ALL_OLD")
        assert _code(raised) == "ConditionalCheckFailedException"
        assert raised.value.response["Item"] == {**_key("claim"), "state": {"S": "held"}, "expires": {"N": "100"}}
    with pytest.raises(ClientError) as raised:
        claim("held", 50)
    assert "Item" not in raised.value.response
    claim("held", 500)  # the same text, values that pass
    assert client.get_item(TableName=name, Key=_key("claim"))["Item"]["expires"] == {"N": "600"}
    claim("held", 700)
    with pytest.raises(ClientError):
        claim("held", 700)  # now 800: not expired


def test_one_update_text_applies_each_requests_values_and_answers_its_own_return_values(table):
    client, name = table
    expression = "ADD #n :delta SET #t = :tag, #doc = :doc"
    names = {"#n": "count", "#t": "tag", "#doc": "doc"}
    total = 0
    for step, delta in enumerate([5, -2, 40, 7]):
        answer = client.update_item(
            TableName=name,
            Key=_key("counter"),
            UpdateExpression=expression,
            ConditionExpression="attribute_not_exists(#n) OR #n < :limit",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                ":delta": {"N": str(delta)},
                ":tag": {"S": f"step-{step}"},
                ":doc": NESTED if step % 2 else {"S": "plain"},
                ":limit": {"N": "100"},
            },
            ReturnValues="UPDATED_NEW" if step % 2 else "ALL_OLD",
        )
        if step % 2:
            assert answer["Attributes"] == {
                "count": {"N": str(total + delta)},
                "tag": {"S": f"step-{step}"},
                "doc": NESTED,
            }
        elif step:
            assert answer["Attributes"] == {
                **_key("counter"),
                "count": {"N": str(total)},
                "tag": {"S": f"step-{step - 1}"},
                "doc": NESTED,
            }
        else:
            assert "Attributes" not in answer  # nothing was there
        total += delta
    item = client.get_item(TableName=name, Key=_key("counter"))["Item"]
    assert item == {**_key("counter"), "count": {"N": str(total)}, "tag": {"S": "step-3"}, "doc": NESTED}
    with pytest.raises(ClientError) as raised:  # the same condition text, a value that fails it
        client.update_item(
            TableName=name,
            Key=_key("counter"),
            UpdateExpression=expression,
            ConditionExpression="attribute_not_exists(#n) OR #n < :limit",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                ":delta": {"N": "1"},
                ":tag": {"S": "x"},
                ":doc": {"S": "x"},
                ":limit": {"N": "10"},
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert _code(raised) == "ConditionalCheckFailedException"
    assert raised.value.response["Item"] == item


def test_names_and_values_a_kept_expression_does_not_use_are_still_refused(table):
    client, name = table
    update = {"TableName": name, "Key": _key("names"), "UpdateExpression": "SET #a = :a"}
    for _ in range(2):  # the second time from what was kept of the first
        client.update_item(**update, ExpressionAttributeNames={"#a": "a"}, ExpressionAttributeValues={":a": {"S": "1"}})
        with pytest.raises(ClientError) as raised:
            client.update_item(
                **update, ExpressionAttributeNames={"#a": "a", "#b": "b"}, ExpressionAttributeValues={":a": {"S": "1"}}
            )
        assert _code(raised) == "ValidationException" and "#b" in raised.value.response["Error"]["Message"]
        with pytest.raises(ClientError) as raised:
            client.update_item(
                **update,
                ExpressionAttributeNames={"#a": "a"},
                ExpressionAttributeValues={":a": {"S": "1"}, ":b": {"S": "2"}},
            )
        assert _code(raised) == "ValidationException" and ":b" in raised.value.response["Error"]["Message"]
    # a transaction's Update adds its own names to those its condition uses (moto extends the
    # list the condition's parser gives): a later action with the same condition text has its own
    condition = {"ConditionExpression": "attribute_not_exists(#p)"}
    for sk in (1, 2):
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": name,
                        "Key": _key("names", sk),
                        "UpdateExpression": "SET #v = :v",
                        "ExpressionAttributeNames": {"#p": "pk", "#v": "v"},
                        "ExpressionAttributeValues": {":v": {"S": "x"}},
                        **condition,
                    }
                }
            ]
        )
        with pytest.raises(ClientError) as raised:
            client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": name,
                            "Item": _key("names", 10 + sk),
                            "ExpressionAttributeNames": {"#p": "pk", "#v": "v"},
                            **condition,
                        }
                    }
                ]
            )
        assert _code(raised) == "ValidationException" and "#v" in raised.value.response["Error"]["Message"]


def test_an_updated_item_keeps_its_old_image_and_a_cancelled_update_restores_it_whole(table):
    client, name = table
    before = {**_key("doc"), "doc": NESTED, "count": {"N": "1"}, "tags": {"SS": ["a", "b"]}}
    client.put_item(TableName=name, Item=before)
    client.update_item(
        TableName=name,
        Key=_key("doc"),
        UpdateExpression="SET #doc.#list[2].#deep = :deep, #doc.#flag = :no ADD #count :one, #tags :more",
        ExpressionAttributeNames={
            "#doc": "doc",
            "#list": "list",
            "#deep": "deep",
            "#flag": "flag",
            "#count": "count",
            "#tags": "tags",
        },
        ExpressionAttributeValues={
            ":deep": {"S": "changed"},
            ":no": {"BOOL": False},
            ":one": {"N": "1"},
            ":more": {"SS": ["c"]},
        },
    )
    after = client.get_item(TableName=name, Key=_key("doc"))["Item"]
    assert after["doc"]["M"]["list"]["L"][2] == {"M": {"deep": {"S": "changed"}}}
    assert after["count"] == {"N": "2"} and sorted(after["tags"]["SS"]) == ["a", "b", "c"]
    with pytest.raises(ClientError) as raised:
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": name,
                        "Key": _key("doc"),
                        "UpdateExpression": "SET #doc.#list[0] = :x REMOVE #tags ADD #count :one",
                        "ExpressionAttributeNames": {
                            "#doc": "doc",
                            "#list": "list",
                            "#count": "count",
                            "#tags": "tags",
                        },
                        "ExpressionAttributeValues": {":x": {"S": "gone"}, ":one": {"N": "1"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": name,
                        "Key": _key("absent"),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    reasons = [reason["Code"] for reason in raised.value.response["CancellationReasons"]]
    assert _code(raised) == "TransactionCanceledException" and reasons == ["None", "ConditionalCheckFailed"]
    assert client.get_item(TableName=name, Key=_key("doc"))["Item"] == after

    streams = boto3.client("dynamodbstreams")
    arn = client.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert [record["eventName"] for record in records] == ["INSERT", "MODIFY"]  # none for the cancelled one
    images = records[1]["dynamodb"]
    assert images["OldImage"] == before
    assert images["NewImage"] == after


# Runs in the engine's interpreter: the engine's copies and items against what moto makes.
IN_ENGINE = r"""
import copy
from decimal import Decimal
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.parsing.ast_nodes import Node
from moto.dynamodb.parsing.expressions import UpdateExpressionParser
from localstack_nodocker import dynamodb_copies, dynamodb_expressions, dynamodb_memory, dynamodb_numbers


def shape(value, seen):
    # the object graph: types, values, and which objects it shares
    if isinstance(value, (Item, DynamoType, Node)):
        if id(value) in seen:
            return ("shared", seen[id(value)])
        seen[id(value)] = len(seen)
        return (type(value).__name__, {name: shape(inner, seen) for name, inner in vars(value).items()})
    if isinstance(value, dict):
        return (type(value).__name__, {name: shape(inner, seen) for name, inner in value.items()})
    if isinstance(value, list):
        return [shape(inner, seen) for inner in value]
    return (type(value).__name__, value)


def objects(value, found):
    if isinstance(value, (Item, DynamoType, Node, dict, list)) and id(value) not in found:
        found[id(value)] = value
        inner = value.values() if isinstance(value, dict) else value if isinstance(value, list) else vars(value).values()
        for element in inner:
            objects(element, found)
    return found


dynamodb_memory.share_item_strings()
attributes = {
    "pk": {"S": "a"}, "sk": {"N": "12.5"}, "doc": {"M": {"list": {"L": [{"S": "x"}, {"M": {"q": {"NS": ["1", "2"]}}}]}}},
    "tags": {"SS": ["a", "b"]}, "raw": {"B": "eHg="}, "yes": {"BOOL": True}, "none": {"NULL": True},
    **{f"a{n}": {"S": "v" * n} for n in range(12)},
}
item = Item(DynamoType(attributes["pk"]), DynamoType(attributes["sk"]), attributes)
assert item.attrs["pk"] is item.hash_key and type(item.attrs) is LimitedSizeDict
copied = dynamodb_copies.ITEM_COPYING.deepcopy(item)
assert shape(copied, {}) == shape(copy.deepcopy(item), {}) == shape(item, {})
assert not set(objects(copied, {})) & set(objects(item, {}))  # nothing of the original in the copy
assert dynamodb_copies.ITEM_COPYING.deepcopy(None) is None and dynamodb_copies.copy_of(None) is None

# an item passes moto's size limit at the same attribute as moto's LimitedSizeDict says
refusals = []
for filler in (404_970, 404_975, 404_976, 404_995, 405_000):  # 405,000 bytes taken, one more refused
    too_large = {"pk": {"S": "a"}, "x": {"S": "y" * filler}, "z": {"S": "w" * 20}}
    moto_says = LimitedSizeDict()
    try:
        for name, value in too_large.items():
            moto_says[name] = DynamoType(value)
        expected = None
    except ItemSizeTooLarge:
        expected = name
    try:
        Item(DynamoType({"S": "a"}), None, too_large)
        made = None
    except ItemSizeTooLarge:
        made = "refused"
    assert (made is None) == (expected is None), (filler, made, expected)
    refusals.append(expected)
assert refusals == [None, None, "z", "z", "x"], refusals

tree = UpdateExpressionParser.make(
    "SET #a = :a, #b = if_not_exists(#b, :z) + :one, #l = list_append(#l, :l), m.n[2].o = :x REMOVE #c ADD #n :one"
)
copied = dynamodb_expressions.tree_copy(tree)
assert shape(copied, {}) == shape(copy.deepcopy(tree), {}) == shape(tree, {})
assert not {id(node) for node in objects(copied, {}).values() if isinstance(node, Node)} & set(objects(tree, {}))
subtree = tree.children[0].children[0]
assert isinstance(subtree, Node) and subtree.parent is tree.children[0]
assert shape(dynamodb_expressions.tree_copy(subtree), {}) == shape(copy.deepcopy(subtree), {})

def moto_number(text):  # what the engine's numbers were before: int, else Decimal
    try:
        return int(text)
    except ValueError:
        return Decimal(text)

dynamodb_numbers.compare_numbers_exactly()
for text in ["1", "-0", "1.5", "1e5", "1E-3", "-12.000", "Infinity", "NaN", " 12 ", "1_000", "1764706000123.000000400000001"]:
    cast, before = DynamoType({"N": text}).cast_value, moto_number(text)
    assert type(cast) is type(before) and str(cast) == str(before), (text, cast, before)
print("ok")
"""


def test_the_engines_copies_items_and_numbers_are_what_moto_makes():
    result = subprocess.run([str(ENGINE_PYTHON), "-c", IN_ENGINE], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr
