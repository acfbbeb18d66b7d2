"""``BisectBatchOnFunctionError`` for DynamoDB stream event source mappings.

LocalStack's stream poller (4.8 and 2026.3.0) accepts the setting but retries the whole batch (its
AUTOMATIC_BISECT is a TODO). AWS: when the function fails, the batch is split in two and
each half retried; splitting does not count towards ``MaximumRetryAttempts``. Batches of
one record then follow LocalStack's own retry loop, which ends at the on-failure
destination. ``ReportBatchItemFailures`` keeps its AWS meaning: records before the
lowest reported failure are done; the rest is tried again.

Positions across a restart: LocalStack's poller keeps where it is in memory only and
starts again from the mapping's ``StartingPosition``, so after ``down``/``up`` a
``TRIM_HORIZON`` mapping delivered the whole stream again. AWS keeps each mapping's
position; here the state snapshot does (``positions``/``resume_at``, called by
persistence.py) and the restarted poller continues from it. The poller moves its iterator
past a batch before delivering it: a batch still being delivered when a snapshot is taken
(a failing function retried past a periodic save, or past `down`'s wait) is saved at its
first record, so it is delivered again after loading rather than skipped.

Polling. LocalStack's stream poller reads one shard per poll and then sleeps
``LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC`` (1 s) whether or not it read anything: one
batch a second per mapping at most, and a record waited up to a second. The engine runs with
that interval at 0 (engine/ctl.py): while reads return records the next read follows at once;
once a whole round over the shards read nothing, the poller waits until the table's stream
gets a record (streams.py wakes it) or, with a batching window, until the window ends, at
most ``IDLE_WAIT_S`` at a time. A poll holds a slot of the engine's bound and the function's
reserved concurrency (event_concurrency.py); batches of one shard run one after another, in
order, as with ``ParallelizationFactor`` 1 (a larger factor is accepted and runs as 1).

Kinesis mappings keep LocalStack's poller with that interval at 0 too, so an idle one read its
shards without a pause: a fifth of a core for a mapping on an empty stream, and as much again
in kinesis-mock. Here, once a whole round over the shards read nothing, the poller waits a
second from that round's start (or until the mapping stops) before it reads again: AWS's
base rate, one read per shard a second; while reads return records they follow at once. (The
writes go to kinesis-mock, out of the engine's sight, so there is no wake on write as above.)
"""

import copy
import logging
import threading
import time

from localstack.runtime import hooks
from localstack.services.lambda_.event_source_mapping.event_processor import (
    BatchFailureError,
    PartialBatchFailureError,
)
from localstack.services.lambda_.event_source_mapping.pollers.dynamodb_poller import DynamoDBPoller
from localstack.services.lambda_.event_source_mapping.pollers.kinesis_poller import KinesisPoller
from localstack.services.lambda_.event_source_mapping.pollers.poller import get_batch_item_failures

from localstack_nodocker import event_concurrency, seam, streams

LOG = logging.getLogger(__name__)
# The longest an idle poller waits for a record before it reads again: a stopped mapping's
# poller ends within this.
IDLE_WAIT_S = 2
# AWS reads each shard of a Kinesis stream once a second while it returns nothing.
KINESIS_IDLE_READ_INTERVAL_S = 1.0
# mapping UUID -> {shard id: next sequence number}, from a loaded snapshot, taken by the
# mapping's poller when it first asks for its shards
_RESUME_AT: dict[str, dict[str, int]] = {}


class _EmptyReadsCounted:
    """A stream poller counting its reads in a row that returned no record."""

    empty_reads = 0

    def get_records(self, shard_iterator: str) -> dict:
        try:
            response = super().get_records(shard_iterator)
        except Exception:  # a failed read counts as empty: the next round waits instead of spinning
            self.empty_reads += 1
            raise
        self.empty_reads = 0 if response.get("Records") else self.empty_reads + 1
        return response


class BisectingDynamoDBPoller(_EmptyReadsCounted, DynamoDBPoller):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.delivering: dict[str, int] = {}  # shard id -> first sequence number of the batch under way
        self.bisect_on_function_error = False
        self.limits: dict = {}  # what a poll takes its slot under
        self.stopping = threading.Event()  # the worker's stop

    def configure(self, mapping: dict, stopping: threading.Event) -> None:
        """The mapping's settings and its worker's stop (event_concurrency.py)."""
        self.bisect_on_function_error = bool(mapping.get("BisectBatchOnFunctionError"))
        self.limits = event_concurrency.delivery_limits(mapping["FunctionArn"])
        self.stopping = stopping

    def poll_events(self):
        written = streams.records_written(self.source_arn)  # before reading: no write is missed
        slot = event_concurrency.SLOTS.take(self.limits, timeout=IDLE_WAIT_S)
        if slot is None:
            return
        if self.stopping.is_set():  # stopped while waiting for the slot: read nothing more
            slot.give_back()
            return
        try:
            super().poll_events()
        finally:
            slot.give_back()
        if self.shards and self.empty_reads >= len(self.shards):
            streams.wait_for_records(self.source_arn, written, self.idle_wait_s())

    def idle_wait_s(self) -> float:
        """Until a shard's batching window ends, if one holds records; else IDLE_WAIT_S."""
        window_ends = [
            max(0.0, batcher.duration_until_next_batch())
            for batcher in self.shard_batcher.values()
            if batcher.get_current_size()
        ]
        return min([IDLE_WAIT_S, *window_ends])

    def initialize_shards(self):
        shards = super().initialize_shards()
        for shard_id, position in _RESUME_AT.pop(self.esm_uuid, {}).items():
            if shard_id in shards:  # the same stream and shard as when the snapshot was saved
                shards[shard_id] = streams.iterator_at(self.source_arn, shard_id, position)
        return shards

    def forward_events_to_target(self, shard_id, records):
        if shard_id in self.delivering or not records:  # a half of a bisected batch
            return self._forward(shard_id, records)
        self.delivering[shard_id] = int(self.get_sequence_number(records[0]))
        try:
            return self._forward(shard_id, records)
        finally:
            del self.delivering[shard_id]

    def _forward(self, shard_id, records):
        if not self.bisect_on_function_error or len(records) <= 1:
            return super().forward_events_to_target(shard_id, records)
        remaining = self._attempt_once(records)
        if not remaining:
            return
        if len(remaining) < len(records):  # ReportBatchItemFailures: resume at the first failure
            return self.forward_events_to_target(shard_id, remaining)
        half = len(records) // 2
        LOG.debug("Batch of %d records from %s failed: bisecting", len(records), self.source_arn)
        self.forward_events_to_target(shard_id, records[:half])
        self.forward_events_to_target(shard_id, records[half:])

    def _attempt_once(self, records: list[dict]) -> list[dict]:
        """One invocation with the batch; the records still to process (none on success)."""
        events = self.transform_into_events(copy.deepcopy(records), None)
        events = self.post_filter(self.filter_events(self.pre_filter(events)))
        if not events:
            return []
        try:
            self.processor.process_events_batch(self.add_source_metadata(events))
            return []
        except PartialBatchFailureError as failure:
            numbers = {self.get_sequence_number(record) for record in records}
            failed = get_batch_item_failures(failure.partial_failure_payload, numbers)
            if not failed:
                return records
            lowest = min(failed, key=int)
            return [record for record in records if int(self.get_sequence_number(record)) >= int(lowest)]
        except BatchFailureError:
            return records


class PacedKinesisPoller(_EmptyReadsCounted, KinesisPoller):
    """LocalStack's Kinesis poller, pausing once a round over the shards read nothing."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.round_started = time.monotonic()

    def poll_events(self):
        if self.shards and self.empty_reads >= len(self.shards):
            self._is_shutdown.wait(self.round_started + KINESIS_IDLE_READ_INTERVAL_S - time.monotonic())
            self.empty_reads = 0
        if self.empty_reads == 0:
            self.round_started = time.monotonic()
        super().poll_events()


@hooks.on_infra_start()
def bisect_stream_batches_on_function_error() -> None:
    """Stream mappings are built by EsmWorkerFactory; it gets the bisecting poller
    (event_concurrency.py hands it its mapping) and the paced Kinesis poller."""
    seam.replace(seam.ESM_DYNAMODB_POLLER, BisectingDynamoDBPoller)
    seam.replace(seam.ESM_KINESIS_POLLER, PacedKinesisPoller)


def positions(esm_workers: dict) -> dict[str, dict[str, int]]:
    """Where each DynamoDB stream mapping will read next, per shard (for the snapshot)."""
    saved = {}
    for uuid, worker in esm_workers.items():
        if isinstance(worker.poller, DynamoDBPoller):
            shards = {
                shard_id: streams.iterator_position(iterator) for shard_id, iterator in worker.poller.shards.items()
            }
            shards.update(worker.poller.delivering if isinstance(worker.poller, BisectingDynamoDBPoller) else {})
            saved[uuid] = {shard_id: position for shard_id, position in shards.items() if position is not None}
    return saved


def resume_at(saved: dict[str, dict[str, int]]) -> None:
    """Positions from a snapshot, for the mappings that Lambda restarts after loading it."""
    _RESUME_AT.clear()
    _RESUME_AT.update(saved)
