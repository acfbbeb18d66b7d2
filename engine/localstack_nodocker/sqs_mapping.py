"""SQS event source mappings deliver every message body as it was sent, whatever it holds.

LocalStack 4.8's SQS poller (``SqsPoller.handle_messages``) parses every body with
``json.loads`` before filtering and writes it back with ``json.dumps``. It catches only
``JSONDecodeError``, so a body that nests deeper than Python's recursion limit (``"[" * 3000``)
or holds an integer of more than 4,300 digits raises ``RecursionError`` / ``ValueError``
while the batch is prepared: the function never runs, nothing is deleted, and after
maxReceiveCount receives the whole batch is in the dead-letter queue. The round trip also
changes the bodies the function gets (``{"a":1}`` arrives as ``{"a": 1}``, non-ASCII as
``\\u`` escapes, ``1e400`` as ``Infinity``; MD5OfBody no longer matches). Lambda hands
the function each body byte for byte, as SQS stored it.

Here the poller parses a body only to match the mapping's ``FilterCriteria`` (as AWS does:
a body that is not JSON is matched as a plain string, so a JSON body pattern does not match
it), on a copy, with every failure confined to that one message; the function gets the body
untouched. A message whose match cannot be evaluated does not match, with a warning (the
discard upstream's ``filter_events`` TODO names). Deletion and ``ReportBatchItemFailures``
keep LocalStack's behaviour.

Size: SQS takes messages of up to 1 MiB, and JSON escapes can triple a body in the event
(``é`` is ``\\u00e9``), so ten messages can exceed Lambda's 6 MB payload, which AWS's poller
never sends (a batch stops where the next record would pass it; upstream's TODO "implement
invocation payload size quota"). The batch is cut into invocations of at most 6 MB; each
one's outcome deletes its own messages, so one invocation that fails does not hold back
another.

The replacement is installed where the mapping factory builds pollers
(``esm_worker_factory.SqsPoller``). What it replaces and reads of LocalStack's poller are
targets in seam.py: the engine refuses to start if one of them moved or changed.
"""

import json
import logging

from localstack.runtime import hooks

from localstack_nodocker import seam

LOG = logging.getLogger(__name__)
# Lambda's payload limit for a synchronous invocation (bytes of the JSON event).
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024


def _filter_view(body: str):
    """The body as the filter sees it: parsed JSON, or the string itself when it is not JSON
    Python can read (recursion limit, integer digit limit, not JSON at all)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return body


def payload_batches(events: list, size_of) -> list:
    """`events` in order, cut so that each `{"Records": [...]}` is at most MAX_PAYLOAD_BYTES
    (`size_of(event)`: the bytes of its JSON); a single larger event goes alone."""
    empty = len('{"Records": []}')
    batches, batch, size = [], [], empty
    for event in events:
        added = size_of(event) + len(", ")
        if batch and size + added > MAX_PAYLOAD_BYTES:
            batches.append(batch)
            batch, size = [], empty
        batch.append(event)
        size += added
    return [*batches, batch] if batch else batches


def _poller_delivering_bodies_as_sent(sqs_poller, matches_event, to_json_str):
    class SqsPollerDeliveringBodiesAsSent(sqs_poller.SqsPoller):
        def matches_filters(self, event: dict) -> bool:
            if not self.filter_patterns:
                return True
            view = {**event, "body": _filter_view(event["body"])}
            try:
                return any(matches_event(pattern, view) for pattern in self.filter_patterns)
            except Exception as exc:  # one message's content, never the batch's fate
                LOG.warning(
                    "SQS message %s from %s cannot be matched against the mapping's filter (%s: %s): "
                    "treated as not matching",
                    event["messageId"],
                    self.source_arn,
                    type(exc).__name__,
                    exc,
                )
                return False

        def handle_messages(self, messages):
            events = sqs_poller.transform_into_events(messages)
            matching = [event for event in events if self.matches_filters(event)]
            matching_ids = {event["messageId"] for event in matching}
            # Discarded by the filter: deleted at once, as Lambda does.
            self.delete_messages(messages, {message["MessageId"] for message in messages} - matching_ids)
            done = set()
            for batch in payload_batches(self.add_source_metadata(matching), lambda event: len(to_json_str(event))):
                ids = {event["messageId"] for event in batch}
                try:
                    self.processor.process_events_batch(batch)
                    done |= ids
                except sqs_poller.PartialBatchFailureError as failure:
                    failed = sqs_poller.parse_batch_item_failures(failure.partial_failure_payload, ids)
                    done |= ids.difference(failed)
                except Exception as exc:  # the function failed: these messages are delivered again
                    LOG.warning("SQS batch of %d from %s failed: %s", len(batch), self.source_arn, exc)
            self.delete_messages(messages, done)

    return SqsPollerDeliveringBodiesAsSent


@hooks.on_infra_start()
def deliver_sqs_bodies_as_sent() -> None:
    # Imported here, not at module level: a failed import would make LocalStack skip this
    # hook silently instead of failing the start.
    from localstack.services.lambda_.event_source_mapping.pipe_utils import to_json_str
    from localstack.services.lambda_.event_source_mapping.pollers import sqs_poller
    from localstack.utils.event_matcher import matches_event

    seam.replace(seam.ESM_SQS_POLLER, _poller_delivering_bodies_as_sent(sqs_poller, matches_event, to_json_str))
