"""Writers that keep a running engine busy (while it is stopped, say), and what it made of
each write: acknowledged, or refused and how."""

import threading
import time
import urllib.error

from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from tests.support.waiting import wait_for

# Failures that say the engine did not take the write: its 503, or no engine any more.
NO_ENGINE = (EndpointConnectionError, ConnectionClosedError, urllib.error.URLError, ConnectionError)


class Refused(Exception):
    """A write answered without being acknowledged; `kind` is how (e.g. the HTTP status)."""

    def __init__(self, kind):
        super().__init__(kind)
        self.kind = kind


class Traffic:
    """One thread per writer, each writing token after token until stopped.

    `writers` maps a name to a factory that returns the write: a callable taking the token
    that returns once the engine acknowledged it, or raises (ClientError, Refused, or a
    connection error once the engine is gone)."""

    def __init__(self, writers: dict):
        self.writers = writers
        self.acknowledged: dict[str, list[str]] = {name: [] for name in writers}
        self.refused: dict = {}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(name,)) for name in writers]

    def _run(self, name: str) -> None:
        write = self.writers[name]()
        number = 0
        while not self._stop.is_set():
            token, number = f"{name}-{number}", number + 1
            try:
                write(token)
            except ClientError as exc:
                self._refused(exc.response["ResponseMetadata"]["HTTPStatusCode"])
            except Refused as exc:
                self._refused(exc.kind)
            except NO_ENGINE as exc:
                self._refused(type(exc).__name__)
            else:
                self.acknowledged[name].append(token)

    def wait_for_each(self, count: int, timeout: float = 120) -> None:
        """Until every writer has had `count` writes acknowledged."""
        wait_for(
            lambda: all(len(done) >= count for done in self.acknowledged.values()),
            timeout=timeout,
            interval=0.1,
            what=f"{count} acknowledged writes of each writer",
        )

    def _refused(self, kind) -> None:
        self.refused[kind] = self.refused.get(kind, 0) + 1
        time.sleep(0.05)  # refused, or no engine any more: no busy loop

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        for thread in self._threads:
            thread.join()
