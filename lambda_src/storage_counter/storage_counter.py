"""Storage counter: keeps `bucket#<name>` {Objects, Bytes} exact for every bucket of the
stack, from S3's `Object Created` / `Object Deleted` events delivered by EventBridge (or S3
notification records). Each event only names a key; roxs_common.storage reconciles that key
with what S3 holds now, so replays and out-of-order deliveries change nothing."""

from typing import Any
from urllib.parse import unquote_plus

from roxs_common import get_logger, inject_lambda_context, require_env
from roxs_common.storage import reconcile_object

logger = get_logger(__name__)


def objects_from_event(event: Any) -> list[tuple[str, str]]:
    """[(bucket, key), ...] of an EventBridge S3 event or an S3 notification (keys URL-encoded)."""
    if not isinstance(event, dict):
        raise ValueError(f"event must be an S3 event, got {type(event).__name__}")
    try:
        if event.get("source") == "aws.s3":
            return [(event["detail"]["bucket"]["name"], unquote_plus(event["detail"]["object"]["key"]))]
        if isinstance(event.get("Records"), list):
            return [(r["s3"]["bucket"]["name"], unquote_plus(r["s3"]["object"]["key"])) for r in event["Records"]]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"S3 event without bucket name or object key (missing {exc})") from exc
    raise ValueError("event is neither an EventBridge S3 event (source aws.s3) nor S3 notification Records")


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
