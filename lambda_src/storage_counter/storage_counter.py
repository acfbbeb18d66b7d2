"""Storage counter: keeps `bucket#<name>` {Objects, Bytes} exact for every bucket of the
stack, from S3's `Object Created` / `Object Deleted` events delivered by EventBridge (or S3
notification records). Each event only names a key; roxs_common.storage reconciles that key
with what S3 holds now, so replays and out-of-order deliveries change nothing."""

from typing import Any

from roxs_common import get_logger, inject_lambda_context, require_env
from roxs_common.storage import reconcile_object, s3_event_objects

logger = get_logger(__name__)


def objects_from_event(event: Any) -> list[tuple[str, str]]:
    objects = s3_event_objects(event) if isinstance(event, dict) else None
    if objects is None:
        raise ValueError("event is neither an EventBridge S3 event (source aws.s3) nor S3 notification Records")
    return objects


@inject_lambda_context
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    counted = set(require_env("COUNTED_BUCKETS").split(","))
    changes = []
    for bucket, key in objects_from_event(event):
        if bucket not in counted:
            raise ValueError(f"bucket {bucket!r} is not one of the counted buckets")
        deltas = reconcile_object(bucket, key)
        logger.info("object reconciled", extra={"bucket": bucket, "key": key, "deltas": deltas})
        changes.append({"bucket": bucket, "key": key, "deltas": deltas})
    return {"reconciled": changes}
