"""CloudWatch's metrics store without an fsync per datapoint.

Changes the ``sqlite3`` module LocalStack's CloudWatch metrics store
(``cloudwatch_database_helper``) opens its connections through. LocalStack keeps metric data
in SQLite and commits every PutMetricData (Lambda's own Invocations and Duration datapoints
among them: one per invocation) with an fsync, one at a time under one lock. At a hundred
invocations a second that queue is the bottleneck (a function's own PutMetricData waited
1-2 s). Its connections commit without fsync (``PRAGMA synchronous = OFF``): a crash of the
host may lose the last metric datapoints, which the saved state (written apart) does not
depend on. A seam.py target (METRICS_NO_FSYNC).
"""

import sqlite3

from localstack.runtime import hooks

from localstack_nodocker import seam


class _MetricsStoreSqlite:
    """The sqlite3 module as LocalStack's CloudWatch metrics store sees it: its connections
    commit without waiting for the disk."""

    def __getattr__(self, name):
        return getattr(sqlite3, name)

    @staticmethod
    def connect(database, *args, **kwargs):
        connection = sqlite3.connect(database, *args, **kwargs)
        connection.execute("PRAGMA synchronous = OFF")
        return connection


@hooks.on_infra_start()
def commit_metrics_without_fsync():
    seam.replace(seam.METRICS_SQLITE, _MetricsStoreSqlite())
