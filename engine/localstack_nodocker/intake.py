"""Which requests the engine takes in: none from outside while it loads its saved state, nor
once `down` has begun its final snapshot.

LocalStack answers as soon as its gateway is up, before the saved state is loaded (a PUT
then kept its object but never got its row: its event reached functions not restored yet),
and refuses outside requests only once its services stop, after the last snapshot (what it
acknowledged in between was lost). The gate is LocalStack's own extension point for request
handlers (``preprocess_request``), ahead of the edge routes that serve API Gateway and function
URLs: while it refuses, every outside request is answered 503 with ``Retry-After`` and the
reason.

Let through at all times, because they belong to work the engine already accepted:
- ``/_localstack`` routes (health, the state route, Lambda's runtime API);
- LocalStack's calls to itself (``is_internal_call``): pollers, EventBridge targets, S3
  notifications, API Gateway invoking its function;
- requests signed with the credentials of a live Lambda execution environment (the executor
  registers them): a function's own calls, without which its invocation cannot finish.

The gate also counts the requests it lets in that are still being answered, so that the final
snapshot waits for them (drain.py).
"""

import json
import re
import threading
from collections import Counter

from localstack.http import Response

# The access key of a SigV4 request (header or presigned query string).
_CREDENTIAL = re.compile(r"Credential=([A-Za-z0-9]+)/")
_PRESIGNED_CREDENTIAL = re.compile(r"^([A-Za-z0-9]+)/")


class Intake:
    def __init__(self):
        self._lock = threading.Lock()
        self._refusal: tuple[str, int] | None = None  # (reason, seconds to retry after); None: open
        self._in_flight = 0
        self._function_keys: Counter = Counter()  # access key id -> live environments holding it

    # -- what the engine says --

    def refuse(self, reason: str, retry_after_s: int) -> None:
        with self._lock:
            self._refusal = (reason, retry_after_s)

    def open(self) -> None:
        with self._lock:
            self._refusal = None

    @property
    def refusing(self) -> bool:
        return self._refusal is not None

    def in_flight(self) -> int:
        """Requests let in that are not answered yet."""
        return self._in_flight

    # -- Lambda execution environments --

    def function_started(self, access_key_id: str) -> None:
        with self._lock:
            self._function_keys[access_key_id] += 1

    def function_stopped(self, access_key_id: str) -> None:
        with self._lock:
            self._function_keys[access_key_id] -= 1
            if self._function_keys[access_key_id] <= 0:
                del self._function_keys[access_key_id]

    def _from_function(self, request) -> bool:
        if not self._function_keys:
            return False
        found = _CREDENTIAL.search(request.headers.get("Authorization", "")) or _PRESIGNED_CREDENTIAL.match(
            request.args.get("X-Amz-Credential", "")
        )
        return bool(found) and found.group(1) in self._function_keys

    # -- handler chain --

    def admit(self, chain, context, response) -> None:
        """Request handler: let the request in (and count it), or answer 503."""
        request = context.request
        if request.path.startswith("/_localstack"):
            return
        with self._lock:
            refusal = self._refusal
            if refusal is None or context.is_internal_call or self._from_function(request):
                self._in_flight += 1
                context.answered_by_intake = False  # counted until the finalizer below
                return
        reason, retry_after_s = refusal
        # The body in the JSON error shape (botocore reads __type and message; API Gateway's
        # clients read message); botocore retries a 503 by itself.
        body = {"__type": "ServiceUnavailable", "message": reason}
        chain.respond(
            503,
            json.dumps(body),
            {
                "Content-Type": "application/json",
                "Retry-After": str(retry_after_s),
                "x-amzn-ErrorType": "ServiceUnavailable",
            },
        )

    def answered(self, chain, context, response: Response) -> None:
        """Finalizer: a request let in is answered."""
        if context.get("answered_by_intake") is False:
            context.answered_by_intake = True
            with self._lock:
                self._in_flight -= 1


INTAKE = Intake()


def install() -> None:
    """Put the gate in LocalStack's handler chain (once, at start)."""
    from localstack.aws.handlers import preprocess_request, run_custom_finalizers

    preprocess_request.handlers.insert(0, INTAKE.admit)
    run_custom_finalizers.append(INTAKE.answered)
