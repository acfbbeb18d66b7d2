"""PartiQL on the engine (ExecuteStatement, BatchExecuteStatement, ExecuteTransaction): statements
run as the DynamoDB operations they stand for, and every bad one is a 400 in DynamoDB's words."""

import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

NOT_WELL_FORMED = "Statement wasn't well formed, can't be processed: "


@pytest.fixture
def music(engine):
    """A client that sends what it is given (no client-side checks, no retries), and a table
    keyed by Artist and SongTitle with an index on Genre and a stream, deleted afterwards."""
    client = boto3.client("dynamodb", config=Config(parameter_validation=False, retries={"total_max_attempts": 1}))
    name = f"music-{uuid.uuid4().hex[:8]}"
    table = client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "Artist", "KeyType": "HASH"}, {"AttributeName": "SongTitle", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("Artist", "SongTitle", "Genre")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-genre",
                "KeySchema": [{"AttributeName": "Genre", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    yield client, name, table["LatestStreamArn"]
    client.delete_table(TableName=name)


def _run(client, statement: str, *parameters) -> dict:
    options = {"Parameters": list(parameters)} if parameters else {}
    answer = client.execute_statement(Statement=statement, **options)
    answer.pop("ResponseMetadata")
    return answer


def _refusal(client, statement: str, **options) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        client.execute_statement(Statement=statement, **options)
    error = raised.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"]["Message"]


def test_statements_run_as_the_writes_and_reads_they_stand_for(music):
    client, name, stream_arn = music
    assert _run(client, f"INSERT INTO \"{name}\" VALUE {{'Artist': 'Acme', 'SongTitle': 'One', 'Plays': 1}}") == {}
    _run(client, f'INSERT INTO "{name}" VALUE ?', {"M": {"Artist": {"S": "Acme"}, "SongTitle": {"S": "Two"}}})
    _run(
        client,
        f"UPDATE \"{name}\" SET Plays = Plays + 41 SET Genre = 'rock' SET Tags = <<'a', 'b'>> WHERE Artist = ? AND SongTitle = 'One'",
        {"S": "Acme"},
    )
    assert _run(
        client, f"UPDATE \"{name}\" REMOVE Genre WHERE Artist = 'Acme' AND SongTitle = 'One' RETURNING MODIFIED OLD *"
    ) == {"Items": [{"Genre": {"S": "rock"}}]}
    _run(
        client,
        f"UPDATE \"{name}\" SET Genre = 'jazz', Nested = {{'list': [1, 'x', true, null]}} WHERE Artist = 'Acme' AND SongTitle = 'Two'",
    )

    item = client.get_item(TableName=name, Key={"Artist": {"S": "Acme"}, "SongTitle": {"S": "One"}})["Item"]
    assert item["Plays"] == {"N": "42"} and sorted(item["Tags"]["SS"]) == ["a", "b"] and "Genre" not in item
    assert _run(client, f"SELECT SongTitle, Plays FROM \"{name}\" WHERE Artist = 'Acme' AND Plays > 40") == {
        "Items": [{"SongTitle": {"S": "One"}, "Plays": {"N": "42"}}]
    }
    ordered = _run(client, f"SELECT SongTitle FROM \"{name}\" WHERE Artist = 'Acme' ORDER BY SongTitle DESC")
    assert ordered["Items"] == [{"SongTitle": {"S": "Two"}}, {"SongTitle": {"S": "One"}}]
    assert _run(client, f'SELECT Nested FROM "{name}"."by-genre" WHERE Genre = \'jazz\'')["Items"] == [
        {"Nested": {"M": {"list": {"L": [{"N": "1"}, {"S": "x"}, {"BOOL": True}, {"NULL": True}]}}}}
    ]
    scanned = _run(client, f"SELECT SongTitle FROM \"{name}\" WHERE begins_with(SongTitle, 'T') OR Plays IN [42, 43]")
    assert sorted(item["SongTitle"]["S"] for item in scanned["Items"]) == ["One", "Two"]
    missing = _run(client, f"SELECT SongTitle FROM \"{name}\" WHERE Artist = 'Acme' AND Genre IS MISSING")
    assert missing == {"Items": [{"SongTitle": {"S": "One"}}]}

    two = f"DELETE FROM \"{name}\" WHERE Artist = 'Acme' AND SongTitle = 'Two'"
    assert _run(client, f"{two} RETURNING ALL OLD *")["Items"][0]["Genre"] == {"S": "jazz"}
    assert _run(client, two) == {}  # no longer there: no failure either

    streams = boto3.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    events = [record["eventName"] for record in streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]]
    assert events == ["INSERT", "INSERT", "MODIFY", "MODIFY", "MODIFY", "REMOVE"]


def test_a_select_is_paged_by_limit_and_next_token(music):
    client, name, _ = music
    for number in range(5):
        _run(client, f"INSERT INTO \"{name}\" VALUE {{'Artist': 'Pager', 'SongTitle': 'song-{number}'}}")
    titles, token = [], {}
    for _ in range(5):
        page = client.execute_statement(
            Statement=f"SELECT SongTitle FROM \"{name}\" WHERE Artist = 'Pager'", Limit=2, **token
        )
        titles += [item["SongTitle"]["S"] for item in page["Items"]]
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    assert titles == [f"song-{number}" for number in range(5)]


def test_writes_that_conflict_with_the_item_are_refused_as_dynamodb_refuses_them(music):
    client, name, _ = music
    insert = f"INSERT INTO \"{name}\" VALUE {{'Artist': 'Acme', 'SongTitle': 'One'}}"
    _run(client, insert)
    assert _refusal(client, insert) == (400, "DuplicateItemException", "Duplicate primary key exists in table")
    conditional = (400, "ConditionalCheckFailedException", "The conditional request failed")
    assert _refusal(client, f"UPDATE \"{name}\" SET x = 1 WHERE Artist = 'Acme' AND SongTitle = 'None'") == conditional
    assert (
        _refusal(client, f"UPDATE \"{name}\" SET x = 1 WHERE Artist = 'Acme' AND SongTitle = 'One' AND x = 2")
        == conditional
    )
    assert (
        _refusal(client, f"DELETE FROM \"{name}\" WHERE Artist = 'Acme' AND SongTitle = 'One' AND x = 2") == conditional
    )


@pytest.mark.parametrize(
    ("statement", "code", "message"),
    [
        ("SELEC * FROM {t}", "ValidationException", NOT_WELL_FORMED + "Expected data manipulation"),
        ("   ", "ValidationException", NOT_WELL_FORMED + "Expected data manipulation"),
        ("SELECT * FROM {t} WHERE", "ValidationException", NOT_WELL_FORMED + "Unexpected end of statement"),
        ("DELETE FROM {t}", "ValidationException", NOT_WELL_FORMED + "Unexpected end of statement"),
        ("SELECT * FROM {t} WHERE Artist = 'a' 'b'", "ValidationException", NOT_WELL_FORMED + "Unexpected token"),
        ("SELECT * FROM {t} WHERE Artist = 'a' FROM", "ValidationException", NOT_WELL_FORMED + "Unexpected keyword"),
        ("SELECT * FROM {t} WHERE Artist = #x", "ValidationException", NOT_WELL_FORMED + "Unexpected character"),
        ("INSERT INTO {t} VALUE 'x'", "ValidationException", NOT_WELL_FORMED),
        ("SELECT * FROM {t} WHERE Artist = ?", "ValidationException", "Number of parameters in request and statement"),
        ("INSERT INTO {t} VALUE {{'Other': 'x'}}", "ValidationException", "One or more parameter values were invalid"),
        ("UPDATE {t} SET x = 1 WHERE Artist = 'a'", "ValidationException", "Where clause does not contain a mandatory"),
        ("UPDATE {t} SET x = 1 WHERE Artist = 'a' OR SongTitle = 'b'", "ValidationException", "Where clause does not"),
        ("DELETE FROM {t} WHERE Artist = 'a' AND SongTitle = 'b' RETURNING ALL NEW *", "ValidationException", "Only"),
        ('SELECT * FROM {t}."no-such-index"', "ValidationException", "The table does not have the specified index"),
        ('SELECT * FROM "no-such-table"', "ResourceNotFoundException", "Requested resource not found"),
        ("SELECT * FROM {t} WHERE size(Tags) > 'x'", None, None),  # a type mismatch matches nothing
    ],
)
def test_a_bad_statement_is_a_400_in_dynamodbs_words(music, statement, code, message):
    client, name, _ = music
    statement = statement.format(t=f'"{name}"')
    if code is None:
        assert _run(client, statement) == {"Items": []}
        return
    status, got_code, got_message = _refusal(client, statement)
    assert (status, got_code) == (400, code) and got_message.startswith(message), got_message


def test_an_empty_parameter_list_is_refused(music):
    client, name, _ = music
    assert _refusal(client, f'SELECT * FROM "{name}"', Parameters=[]) == (
        400,
        "ValidationException",
        "1 validation error detected: Value '[]' at 'parameters' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
    )


def test_a_batch_answers_each_statement_on_its_own(music):
    client, name, _ = music
    _run(client, f"INSERT INTO \"{name}\" VALUE {{'Artist': 'Acme', 'SongTitle': 'One'}}")
    answer = client.batch_execute_statement(
        Statements=[
            {"Statement": f"INSERT INTO \"{name}\" VALUE {{'Artist': 'Acme', 'SongTitle': 'Two'}}"},
            {
                "Statement": f"UPDATE \"{name}\" SET Age = 20 WHERE Artist = 'Acme' AND SongTitle = ?",
                "Parameters": [{"S": "One"}],
            },
            {"Statement": f"INSERT INTO \"{name}\" VALUE {{'Artist': 'Acme', 'SongTitle': 'One'}}"},
            {"Statement": "SELECT * FROM \"no-such-table\" WHERE Artist = 'a'"},
            {"Statement": "SELEC"},
        ]
    )["Responses"]
    assert answer[:2] == [{"TableName": name}, {"TableName": name}]
    assert answer[2]["Error"] == {"Code": "DuplicateItem", "Message": "Duplicate primary key exists in table"}
    assert answer[3] == {"Error": {"Code": "ResourceNotFound", "Message": "Requested resource not found"}}
    assert answer[4]["Error"] == {"Code": "ValidationError", "Message": NOT_WELL_FORMED + "Expected data manipulation"}

    read = client.batch_execute_statement(
        Statements=[{"Statement": f"SELECT Age FROM \"{name}\" WHERE Artist = 'Acme' AND SongTitle = 'One'"}]
    )["Responses"]
    assert read == [{"TableName": name, "Item": {"Age": {"N": "20"}}}]


def test_a_transaction_writes_all_or_nothing_and_names_why_it_was_cancelled(music):
    client, name, _ = music
    one = f"INSERT INTO \"{name}\" VALUE {{'Artist': 'Acme', 'SongTitle': 'One'}}"
    assert client.execute_transaction(TransactStatements=[{"Statement": one}])["Responses"] == []
    with pytest.raises(ClientError) as raised:
        client.execute_transaction(
            TransactStatements=[
                {"Statement": f"INSERT INTO \"{name}\" VALUE {{'Artist': 'Acme', 'SongTitle': 'Two'}}"},
                {"Statement": one},
            ]
        )
    error = raised.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert [reason["Code"] for reason in error["CancellationReasons"]] == ["None", "DuplicateItem"]
    assert _run(client, f"SELECT * FROM \"{name}\" WHERE Artist = 'Acme' AND SongTitle = 'Two'") == {"Items": []}

    checked = f"EXISTS(SELECT * FROM \"{name}\" WHERE Artist = 'Acme' AND SongTitle = 'One' AND Plays = 1)"
    with pytest.raises(ClientError) as raised:
        client.execute_transaction(
            TransactStatements=[
                {"Statement": checked},
                {"Statement": f"INSERT INTO \"{name}\" VALUE {{'Artist': 'Acme', 'SongTitle': 'Three'}}"},
            ]
        )
    assert [reason["Code"] for reason in raised.value.response["CancellationReasons"]] == [
        "ConditionalCheckFailed",
        "None",
    ]
    assert _run(client, f"SELECT * FROM \"{name}\" WHERE Artist = 'Acme' AND SongTitle = 'Three'") == {"Items": []}

    read = client.execute_transaction(
        TransactStatements=[
            {"Statement": f"SELECT SongTitle FROM \"{name}\" WHERE Artist = 'Acme' AND SongTitle = 'One'"}
        ]
    )
    assert read["Responses"] == [{"Item": {"SongTitle": {"S": "One"}}}]
