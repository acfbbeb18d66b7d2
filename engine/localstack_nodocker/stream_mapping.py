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
"""

import copy
import logging

from localstack.runtime import hooks
from localstack.services.lambda_.event_source_mapping.event_processor import (
    BatchFailureError,
    PartialBatchFailureError,
)
from localstack.services.lambda_.event_source_mapping.pollers.dynamodb_poller import DynamoDBPoller
from localstack.services.lambda_.event_source_mapping.pollers.poller import get_batch_item_failures

from localstack_nodocker import seam, streams

LOG = logging.getLogger(__name__)
# mapping UUID -> {shard id: next sequence number}, from a loaded snapshot, taken by the
# mapping's poller when it first asks for its shards
_RESUME_AT: dict[str, dict[str, int]] = {}


class BisectingDynamoDBPoller(DynamoDBPoller):
    bisect_on_function_error = False  # set from the mapping's configuration by the factory

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.delivering: dict[str, int] = {}  # shard id -> first sequence number of the batch under way

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


@hooks.on_infra_start()
def bisect_stream_batches_on_function_error() -> None:
    """Stream mappings are built by EsmWorkerFactory; it gets the bisecting poller and
    hands it the mapping's setting (also after UpdateEventSourceMapping, which rebuilds)."""
    seam.replace(seam.ESM_DYNAMODB_POLLER, BisectingDynamoDBPoller)
    get_esm_worker = seam.original(seam.GET_ESM_WORKER)

    def get_esm_worker_with_bisect(self):
        worker = get_esm_worker(self)
        if isinstance(worker.poller, BisectingDynamoDBPoller):
            worker.poller.bisect_on_function_error = bool(self.esm_config.get("BisectBatchOnFunctionError"))
        return worker

    seam.replace(seam.GET_ESM_WORKER, get_esm_worker_with_bisect)


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
