"""tools/recount.py on moto: the drift per counter, and FIX writes the true values only if
nobody wrote the counter in between. The table owners' recount functions are stood in for
here (their own tests cover them); the bucket part is the tool's."""

import sys
import types

import pytest

from roxs_common import aggregates
from tests.unit.conftest import (
    HISTORY_TABLE,
    LOG_INDEX_TABLE,
    METADATA_TABLE,
    ORIGINALS,
    PROCESSED,
    STATS_TABLE,
)
from tools import recount
from tools.stack import Outputs

TRUE = {
    aggregates.IMAGES: {"Total": 2, "Completed": 2, "OriginalBytes": 30},
    aggregates.LOGS: {"Total": 3, "INFO": 3},
    aggregates.NOTIFICATIONS: {},
}


@pytest.fixture
def outputs(aws, monkeypatch):
    for module_name, function_name, counter in recount.TABLE_RECOUNTS.values():
        module = types.ModuleType(module_name)
        if counter is None:  # images: (client, table) -> {counter: attributes}
            setattr(module, function_name, lambda client, table: {aggregates.IMAGES: dict(TRUE[aggregates.IMAGES])})
        else:
            setattr(module, function_name, lambda table, counter=counter: dict(TRUE[counter]))
        monkeypatch.setitem(sys.modules, module_name, module)
    aws.s3.put_object(Bucket=ORIGINALS, Key="a.jpg", Body=b"x" * 10)
    aws.s3.put_object(Bucket=ORIGINALS, Key="b.jpg", Body=b"x" * 20)
    return Outputs(
        {
            "tables": {"images": METADATA_TABLE, "logs": LOG_INDEX_TABLE, "notifications": HISTORY_TABLE},
            "buckets": {"original": ORIGINALS, "processed": PROCESSED},
            "stats_table": STATS_TABLE,
        }
    )


def store(aws, deltas: aggregates.Deltas) -> None:
    aws.ddb.transact_write_items(TransactItems=deltas.updates(STATS_TABLE))


def test_drift_is_reported_per_counter_and_fixed_with_fix(aws, outputs):
    store(
        aws,
        aggregates.Deltas()
        .add(aggregates.IMAGES, Total=2, Completed=1, OriginalBytes=30, Error=1)
        .add(aggregates.bucket_counter(ORIGINALS), Objects=2, Bytes=30),
    )
    found = recount.recount(outputs, write=False)
    assert [(d.counter, d.attribute, d.stored, d.true) for d in found] == [
        (aggregates.IMAGES, "Completed", 1, 2),
        (aggregates.IMAGES, "Error", 1, 0),
        (aggregates.LOGS, "INFO", 0, 3),
        (aggregates.LOGS, "Total", 0, 3),
    ]
    assert recount.recount(outputs, write=True) == found
    assert recount.recount(outputs, write=False) == []
    stored = aggregates.read_counters(aws.ddb, STATS_TABLE, [aggregates.IMAGES, aggregates.bucket_counter(PROCESSED)])
    assert stored[aggregates.IMAGES] == {"Total": 2, "Completed": 2, "Error": 0, "OriginalBytes": 30}


def test_the_bucket_part_counts_every_page(aws, outputs):
    for n in range(7):
        aws.s3.put_object(Bucket=PROCESSED, Key=f"p/{n}", Body=b"y" * n)
    assert recount.recount_bucket(aws.s3, PROCESSED) == {"Objects": 7, "Bytes": 21}
    assert recount.recount_bucket(aws.s3, ORIGINALS) == {"Objects": 2, "Bytes": 30}


def test_a_writer_committing_during_the_recount_makes_the_fix_fail_not_lose_it(aws, outputs):
    store(aws, aggregates.Deltas().add(aggregates.LOGS, Total=1, INFO=1))
    stored = aggregates.read_counters(aws.ddb, STATS_TABLE, [aggregates.LOGS])[aggregates.LOGS]
    store(aws, aggregates.Deltas().add(aggregates.LOGS, Total=1, INFO=1))  # the writer, in between
    with pytest.raises(recount.RecountError, match="changed while it was recounted"):
        recount.fix(aws.ddb, STATS_TABLE, aggregates.LOGS, stored, TRUE[aggregates.LOGS])
    assert aggregates.read_counters(aws.ddb, STATS_TABLE, [aggregates.LOGS])[aggregates.LOGS] == {"Total": 2, "INFO": 2}


def test_a_missing_recount_function_is_refused_with_the_reason(aws, outputs, monkeypatch):
    monkeypatch.setitem(sys.modules, "roxs_common.log_index", types.ModuleType("roxs_common.log_index"))
    with pytest.raises(recount.RecountError, match="cannot recount the logs table: .*recount_logs"):
        recount.recount(outputs, write=False)
