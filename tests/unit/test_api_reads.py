"""What a request reads does not grow with the tables: the same items at 10 rows as at 10,000."""

import json
import uuid
from decimal import Decimal

import api_handler
import pytest

from roxs_common import aggregates, client, cursor, image_index, to_item
from tests.support.reads import counting
from tests.unit.conftest import LOG_INDEX_TABLE, METADATA_TABLE, STATS_TABLE
from tests.unit.test_api_handler import api_event


def put_rows(ddb, table: str, rows: list[dict]) -> None:
    for start in range(0, len(rows), 25):  # BatchWriteItem's limit; moto leaves nothing unprocessed
        requests = [{"PutRequest": {"Item": to_item(row)}} for row in rows[start : start + 25]]
        assert not ddb.batch_write_item(RequestItems={table: requests}).get("UnprocessedItems")


def grow_logs_to(aws, total: int, already: int) -> None:
    """Log-index rows and their counters, as the log processor leaves them."""
    rows = [
        {"LogLevel": "INFO", "Timestamp": Decimal(f"{n}.000000000000001"), "TimestampMs": n, "Message": f"m{n}"}
        for n in range(already, total)
    ]
    put_rows(aws.ddb, LOG_INDEX_TABLE, rows)
    deltas = aggregates.Deltas().add(aggregates.LOGS, Total=len(rows), INFO=len(rows))
    aws.ddb.transact_write_items(TransactItems=deltas.updates(STATS_TABLE))


def stats_reads(context):
    with counting(client("dynamodb"), client("s3")) as reads:
        response = api_handler.lambda_handler(api_event("GET", "/stats"), context)
    assert response["statusCode"] == 200
    return reads


@pytest.mark.slow  # 10,000 rows
def test_stats_reads_the_same_items_at_10_and_at_10_000_rows(aws, context):
    grow_logs_to(aws, 10, 0)
    small = stats_reads(context)
    grow_logs_to(aws, 10_000, 10)
    large = stats_reads(context)
    assert '"total_logs": 10000' in api_handler.lambda_handler(api_event("GET", "/stats"), context)["body"]
    assert small.requests == large.requests == {"BatchGetItem": 1}
    assert small.items == large.items <= 4  # the counter items that exist, of the 4 asked for


# --- /images on the real listing (roxs_common.image_index) -----------------------------------------


def put_image_rows(aws, count: int, start: int = 0) -> list[str]:
    """Image rows as the image processor writes them (GSI keys, counters, month directory);
    their ids, oldest first. One row an hour, statuses in turn."""
    rows, deltas = [], aggregates.Deltas()
    for n in range(start, start + count):
        status = image_index.STATUSES[n % len(image_index.STATUSES)]
        timestamp = 1_700_000_000 + n * 3600
        row = {
            "ImageId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"image-{n}")),
            "UploadTimestamp": timestamp,
            "Status": status,
            "OriginalKey": f"{n}.jpg",
            "OriginalSize": 10,
            **image_index.partition_attributes(status, timestamp),
        }
        rows.append(row)
        deltas.merge(image_index.row_counters(row))
    put_rows(aws.ddb, METADATA_TABLE, rows)
    aws.ddb.transact_write_items(TransactItems=deltas.updates(STATS_TABLE))
    return [row["ImageId"] for row in rows]


def get(context, path, query=None):
    response = api_handler.lambda_handler(api_event("GET", path, query), context)
    return response["statusCode"], json.loads(response["body"])


def test_images_newest_first_by_status_over_pages(aws, context):
    ids = put_image_rows(aws, 30)
    seen, query = [], {"limit": "7", "status": "error"}
    while True:
        status, body = get(context, "/images", query)
        assert status == 200, body
        seen += [image["id"] for image in body["images"]]
        if "next_token" not in body:
            break
        query = {**query, "next_token": body["next_token"]}
    assert seen == [ids[n] for n in reversed(range(30)) if n % 3 == 1]
    status, body = get(context, "/images", {"limit": "3"})
    assert [image["id"] for image in body["images"]] == ids[:-4:-1]
    forged = cursor.encode(
        cursor.token_key(), "GET /images", {"status": None}, {"month": "2023-11", "image_id": "", "upload_timestamp": 1}
    )
    status, body = get(context, "/images", {"next_token": forged})
    assert status == 400 and body["error"] == (
        "next_token is not valid: its position is not valid: position image_id must be a lowercase UUID"
    )


def test_a_page_of_images_reads_the_same_at_10_and_at_1_000_rows(aws, context):
    put_image_rows(aws, 10)

    def page_reads():
        with counting(client("dynamodb")) as reads:
            status, body = get(context, "/images", {"limit": "5"})
        assert status == 200 and body["count"] == 5
        return reads

    small = page_reads()
    put_image_rows(aws, 990, start=10)
    large = page_reads()
    assert small.requests == large.requests and small.items == large.items <= 5 + 1
