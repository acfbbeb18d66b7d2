"""What a request reads does not grow with the tables: the same items at 10 rows as at 10,000."""

from decimal import Decimal

import api_handler
from roxs_common import aggregates, batch_write, client

from tests.support.reads import counting
from tests.unit.conftest import LOG_INDEX_TABLE, STATS_TABLE
from tests.unit.test_api_handler import api_event


def grow_logs_to(aws, total: int, already: int) -> None:
    """Log-index rows and their counters, as the log processor leaves them."""
    rows = [
        {"LogLevel": "INFO", "Timestamp": Decimal(f"{n}.000000000000001"), "TimestampMs": n, "Message": f"m{n}"}
        for n in range(already, total)
    ]
    batch_write(aws.ddb, LOG_INDEX_TABLE, rows, concurrency=8)
    deltas = aggregates.Deltas().add(aggregates.LOGS, Total=len(rows), INFO=len(rows))
    aws.ddb.transact_write_items(TransactItems=deltas.updates(STATS_TABLE))


def stats_reads(context):
    with counting(client("dynamodb"), client("s3")) as reads:
        response = api_handler.lambda_handler(api_event("GET", "/stats"), context)
    assert response["statusCode"] == 200
    return reads


def test_stats_reads_the_same_items_at_10_and_at_10_000_rows(aws, context):
    grow_logs_to(aws, 10, 0)
    small = stats_reads(context)
    grow_logs_to(aws, 10_000, 10)
    large = stats_reads(context)
    assert '"total_logs": 10000' in api_handler.lambda_handler(api_event("GET", "/stats"), context)["body"]
    assert small.requests == large.requests == {"BatchGetItem": 1}
    assert small.items == large.items <= 4  # the counter items that exist, of the 4 asked for
