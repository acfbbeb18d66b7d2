"""State that survives a restart and a crash, saved and loaded through LocalStack's own state hooks.

LocalStack's community build defines the protocol: every service hands its state
containers (``AccountRegionBundle`` stores, moto ``BackendDict`` backends, ``AssetDirectory``
folders) to a ``StateVisitor`` and has ``on_before/after_state_save/load`` hooks (Lambda
restarts its functions and event source mappings in ``on_after_state_load``). What walks the
services and writes them is in LocalStack Pro only; this module is that part for the
embedded engine. Enabled with LocalStack's own ``PERSISTENCE=1``. The state is kept as
Redis keeps its own with AOF and RDB together:

- a **journal** (journal.py): every ``SNAPSHOT_FLUSH_INTERVAL`` seconds (1 by default) what
  the requests of that interval changed is appended, as values (service_state.py), in one
  frame, and fsynced. A crash (``kill -9``, power loss) loses at most that interval;
- a **snapshot**: everything, written from a forked copy of the engine while it serves on
  (as Redis's BGSAVE), when the journal has grown past the last snapshot's size (or
  ``make save``). It starts a new journal segment, and the segments it covers are deleted
  once it is in place. Services unchanged since the previous snapshot are carried over;
- **start** (``SNAPSHOT_LOAD_STRATEGY`` empty or ``ON_STARTUP``), after the gateway is up
  (Lambda fetches its code from S3 through it): the snapshot, then the journal after it,
  services in dependency order. Requests from outside are refused (503, intake.py) until
  the state is loaded and the services restored; a resource that cannot be restored (a
  mapping whose function was deleted) is reported and the rest start (restore.py);
- **stop** (``make down``, SIGTERM, SIGINT): intake stops, what was accepted is finished
  (drain.py), then what it changed is journaled: one cut, nothing acknowledged left out,
  and no snapshot to wait for. ``SNAPSHOT_SAVE_STRATEGY=ON_SHUTDOWN`` keeps no journal and
  takes a whole snapshot there instead (the way before the journal);
- a service whose state cannot be written is an error the user sees: ``make status``,
  ``make down`` and the state route name it, with the reason (and it is written again
  at the next interval);
- ``GET /_localstack/nodocker/state`` reports all of this; ``POST`` takes a snapshot now,
  ``POST .../final`` stops the engine's intake and writes the last of it (`make down` then
  stops the process).

A snapshot is written beside the previous one and swapped in by renames, so a crash while
writing it leaves the previous one (and the journal after it) whole. It records the
versions that wrote it (pickles hold LocalStack's and moto's classes): a snapshot from
another engine version is refused, nothing of it is loaded and nothing is written over it.
"""

import gc
import json
import logging
import os
import pickle
import shutil
import signal
import sys
import threading
import time
import traceback
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

from localstack import config
from localstack.http import Request, Resource, Response
from localstack.runtime import hooks
from localstack.services.plugins import SERVICE_PLUGINS

from localstack_nodocker import drain, dynamodb_requests, intake, journal, restore, service_state
from localstack_nodocker.end_with_engine import end_with
from localstack_nodocker.intake import INTAKE

LOG = logging.getLogger(__name__)

# Bump when the layout of a snapshot or of the journal changes.
SNAPSHOT_FORMAT = 2
STAMP_FILE = "engine.json"
RECORDS_SUFFIX = ".records"
ROUTE = "/_localstack/nodocker/state"
FINAL_ROUTE = ROUTE + "/final"
# How long the final write waits for what the engine accepted to finish (drain.py).
DRAIN_TIMEOUT_S = 60
LOADING = ("the engine is loading its saved state: try again in a moment", 1)
STOPPING = ("the engine is stopping (make down): it takes no new requests while it saves its state", 5)
# Services whose loading needs others already loaded: Lambda reads its code from S3 and
# restarts event source mappings on SQS; everything else loads in any order before them.
LOAD_LAST = ("lambda",)
JOURNALED = ("", "SCHEDULED")
SAVE_STRATEGIES = (*JOURNALED, "ON_SHUTDOWN")
LOAD_STRATEGIES = ("", "ON_STARTUP")
# LocalStack's own default interval is 15 s; a journal written every second loses at most a second.
DEFAULT_FLUSH_INTERVAL_S = 1.0
# Requests that only read state change nothing to write.
READ_ONLY_PREFIXES = ("Get", "List", "Describe", "Head", "Query", "Scan", "BatchGet", "Receive")
# What the engine does by itself while idle: event source mappings assume the function's
# role for every poll, SQS reports queue metrics every minute. Nothing worth writing.
INTERNAL_HOUSEKEEPING = {"AssumeRole", "PutMetricData"}
# A snapshot is taken once the journal is as large as the last snapshot (so that a start
# replays at most as much as it loads), and not below this (Redis: auto-aof-rewrite-min-size).
SNAPSHOT_MIN_JOURNAL_BYTES = 32 * 1024 * 1024
# Records per frame of a snapshot file: bounds the memory of writing and of reading one.
SNAPSHOT_FRAME_RECORDS = 10_000
# A forked snapshot that has not finished by then is stopped (and the previous one kept).
FORKED_SAVE_TIMEOUT = 600


service_state.register_reducers()


class SnapshotRefused(Exception):
    """The saved state cannot be loaded into this engine; the message says why and what to do."""


def snapshot_dir() -> Path:
    return Path(os.environ["NODOCKER_SNAPSHOT_DIR"])


def journal_dir() -> Path:
    return snapshot_dir().with_name("journal")


def flush_interval() -> float:
    value = os.environ.get("SNAPSHOT_FLUSH_INTERVAL")
    return float(value) if value else DEFAULT_FLUSH_INTERVAL_S


def journaling() -> bool:
    return config.SNAPSHOT_SAVE_STRATEGY in JOURNALED


def engine_versions() -> dict:
    """What must match between the engine that saved a state and the one loading it: the
    releases whose classes the pickles hold (moto-ext's own version: moto's __version__ stays the
    same across several moto-ext releases)."""
    from localstack.version import __version__ as localstack_version

    return {
        "format": SNAPSHOT_FORMAT,
        "localstack": localstack_version,
        "moto-ext": metadata.version("moto-ext"),
        "python": "{}.{}".format(*sys.version_info[:2]),
    }


def _running_services() -> list[str]:
    return sorted(name for name in SERVICE_PLUGINS.list_loaded_services() if SERVICE_PLUGINS.is_running(name))


def _write_records(path: Path, records) -> None:
    """A snapshot file: the records in frames of SNAPSHOT_FRAME_RECORDS."""
    with open(path, "wb") as file:
        batch = []
        for record in records:
            batch.append(record)
            if len(batch) == SNAPSHOT_FRAME_RECORDS:
                file.write(journal.frame(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)))
                batch = []
        if batch:
            file.write(journal.frame(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)))
        file.flush()
        os.fsync(file.fileno())


# --- the state ----------------------------------------------------------------------------------


class Persistence:
    def __init__(self):
        self.status = "starting"  # starting | loading | ready | refused | failed | stopped
        self.detail = ""
        self.not_restored: list[dict] = []  # {"resource", "reason"} of the last load
        self.states: dict[str, service_state.ServiceState] = {}
        self.states_lock = threading.Lock()
        self.loaded: list[str] = []  # the services the last load restored
        self.enabled = False  # writing: once the saved state is loaded, until the final write
        self.write_lock = threading.Lock()  # one journal write (or snapshot cut) at a time
        self.snapshot_lock = threading.Lock()  # one snapshot at a time
        self.journal: journal.Journal | None = None
        self.replay_from: int | None = None  # the journal segment the snapshot in place continues with
        self.journal_bytes = 0  # written since the last snapshot
        self.snapshot_bytes = 0  # of the snapshot in place
        self.journal_written_through = 0.0  # every change noted before this time is on disk
        self.changed_since_snapshot: set[str] = set()
        self.failures: dict[str, str] = {}  # service -> why its state could not be written
        self.last_save: dict = {}
        self.stop = threading.Event()
        self.final_lock = threading.Lock()
        self.final_report: dict | None = None

    def state_of(self, name: str) -> service_state.ServiceState:
        with self.states_lock:
            if name not in self.states:
                self.states[name] = service_state.state_of(name)
            return self.states[name]

    # -- noting changes (the request path) --

    def note(self, context) -> None:
        name = context.service.service_name.removesuffix("-query")  # sqs-query is SQS's query protocol
        self.state_of(name).note(context)

    # -- the journal --

    def write_changes(self) -> dict:
        """Append what changed since the last write to the journal, as one frame, and wait
        until it is on disk. Returns {"records", "bytes", "seconds", "failed"}."""
        if not self.enabled:
            raise SnapshotRefused(f"saving is disabled: {self.detail or 'the engine is not ready'}")
        with self.write_lock:
            return self._write_changes()

    def _write_changes(self) -> dict:
        started, taken_at = time.monotonic(), time.time()
        chunks, count, failed, written_services, taken_from = [], 0, {}, [], []
        for name in _running_services():
            state = self.state_of(name)
            taken, marks = state.take(), state.saved_marks()
            try:
                records = state.records(SERVICE_PLUGINS.get_service(name), taken)
                if records:
                    chunks.append(pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL))
            except Exception as exc:
                state.give_back(taken)
                state.restore_marks(marks)
                failed[name] = f"{type(exc).__name__}: {exc}"
                continue
            taken_from.append((state, taken, marks))
            count += len(records)
            if records:
                written_services.append(name)
        try:
            written = self.journal.append(pickle.dumps(chunks, protocol=pickle.HIGHEST_PROTOCOL)) if chunks else 0
        except BaseException:
            # nothing of it is on disk: every service's changes are pending again, and what it
            # counts as written is what it was (a disk full, a read-only folder)
            for state, taken, marks in taken_from:
                state.give_back(taken)
                state.restore_marks(marks)
            raise
        self.changed_since_snapshot.update(written_services)
        self.journal_bytes += written
        self.journal_written_through = taken_at
        self._note_written(written_services, failed, "journal")
        return {"records": count, "bytes": written, "seconds": round(time.monotonic() - started, 3), "failed": failed}

    def _note_written(self, written, failed: dict, where: str) -> None:
        """A service stays named as not persisted from a write that failed for it until one
        that writes it."""
        for name, reason in failed.items():
            if self.failures.get(name) != reason:
                LOG.error("the state of %s could not be written to the %s: %s", name, where, reason)
            self.failures[name] = reason
        for name in written:
            if self.failures.pop(name, None) is not None:
                LOG.info("the state of %s is written again", name)

    def run_journal(self) -> None:
        interval = flush_interval()
        while not self.stop.wait(interval):
            try:
                self.write_changes()
            except Exception:
                LOG.exception("writing the journal failed; the changes stay pending for the next interval")
                continue
            if self.journal_bytes >= max(SNAPSHOT_MIN_JOURNAL_BYTES, self.snapshot_bytes):
                threading.Thread(target=self._snapshot_in_background, name="state-snapshot", daemon=True).start()

    def _snapshot_in_background(self) -> None:
        if self.snapshot_lock.locked():
            return
        try:
            self.snapshot()
        except Exception:
            LOG.exception("taking a snapshot failed; the previous one and the journal after it are kept")

    # -- snapshots --

    def snapshot(self) -> dict:
        """Write a new snapshot of every running service and swap it in; the journal then
        continues from it."""
        if not self.enabled:
            raise SnapshotRefused(f"saving is disabled: {self.detail or 'the engine is not ready'}")
        with self.snapshot_lock:
            started = time.monotonic()
            with self.write_lock:
                if not self.enabled:  # the final write came first
                    raise SnapshotRefused(f"saving is disabled: {self.detail}")
                # Everything the journal holds is older than what the snapshot reads from here
                # on; what is written after this point is replayed on top of it.
                if self.journal is not None:
                    self._write_changes()
                    replay_from = self.journal.start_segment()
                else:
                    replay_from = None
                changed, self.changed_since_snapshot = self.changed_since_snapshot, set()
                self.journal_bytes = 0
            try:
                report = self._write_snapshot(changed, replay_from)
            except Exception:
                self.changed_since_snapshot |= set(_running_services())
                raise
            self.replay_from, self.snapshot_bytes = replay_from, report["bytes"]
            if self.journal is not None:
                self.journal.drop_before(replay_from)
            self.last_save = {**report, "seconds": round(time.monotonic() - started, 3)}
            LOG.info(
                "snapshot taken: %d services (%s written), %.1f MB in %.2f s (the engine paused %.0f ms to fork)",
                len(report["services"]),
                ", ".join(report["written"]) or "none",
                report["bytes"] / 1e6,
                self.last_save["seconds"],
                report["fork_ms"],
            )
            return self.last_save

    def _write_snapshot(self, changed: set, replay_from: int | None) -> dict:
        target = snapshot_dir()
        fresh, previous = target.with_name(target.name + ".new"), target.with_name(target.name + ".old")
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir(parents=True)
        services = _running_services()
        # Without a journal nothing says what changed: every service is written.
        written = {
            name
            for name in services
            if self.journal is None or name in changed or not (target / f"{name}{RECORDS_SUFFIX}").exists()
        }
        try:
            for name in set(services) - written:
                os.link(target / f"{name}{RECORDS_SUFFIX}", fresh / f"{name}{RECORDS_SUFFIX}")
            paused_ms, failed = self._write_services(sorted(written), fresh)
        except Exception:
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        # A service that cannot be pickled is left out (and named as not persisted): the
        # others are not held back by it.
        self._note_written(written - set(failed), failed, "snapshot")
        services = [name for name in services if name not in failed]
        stamp = {**engine_versions(), "services": services, "journal_from": replay_from, "saved_at": time.time()}
        (fresh / STAMP_FILE).write_text(json.dumps(stamp, indent=1))
        if target.exists():
            shutil.rmtree(previous, ignore_errors=True)
            target.rename(previous)
        fresh.rename(target)
        shutil.rmtree(previous, ignore_errors=True)
        size = sum(path.stat().st_size for path in target.iterdir() if path.is_file())
        return {
            "bytes": size,
            "services": services,
            "written": sorted(written - set(failed)),
            "failed": failed,
            "fork_ms": round(paused_ms, 1),
            "at": stamp["saved_at"],
        }

    def _write_services(self, names: list, fresh: Path) -> tuple[float, dict[str, str]]:
        """Write the services' snapshot files; (the fork's pause in ms, why each service that
        could not be written was not)."""
        services = {name: SERVICE_PLUGINS.get_service(name) for name in names}
        for service in services.values():
            service.lifecycle_hook.on_before_state_save()
        try:
            # S3's object bytes are read through the storage's thread locks, which a forked
            # copy could find held for ever: written here, a moment before the others (a
            # change in between is in the journal after the cut). Read while requests run,
            # it may fail where the copy would not: then no snapshot is taken this time.
            if "s3" in services:
                _write_records(fresh / f"s3{RECORDS_SUFFIX}", self.state_of("s3").all_records(services["s3"]))
            others = {name: (self.state_of(name), service) for name, service in services.items() if name != "s3"}
            return _write_in_forked_copy(others, fresh)
        finally:
            for service in services.values():
                service.lifecycle_hook.on_after_state_save()

    # -- the final write --

    def final(self) -> dict:
        """Stop intake, finish what was accepted, then write one cut of every service: the
        state the engine stops with. Once written, it is not written again."""
        with self.final_lock:
            if self.final_report is None:
                self.final_report = self._take_final()
            return self.final_report

    def _take_final(self) -> dict:
        self.stop.set()  # no periodic write after this one
        INTAKE.refuse(*STOPPING)
        started = time.monotonic()
        try:
            left = drain.settle(started + DRAIN_TIMEOUT_S)
        except Exception as exc:  # the state is written all the same: what was there before is older still
            LOG.exception("waiting for the work under way failed; writing the state as it is")
            left = {f"unknown (the wait failed: {type(exc).__name__}: {exc})": 1}
        report = {"drain_seconds": round(time.monotonic() - started, 3), "still_under_way": left}
        if not self.enabled:
            report["not_saved"] = f"saving is disabled: {self.detail or 'the engine is not ready'}"
            LOG.warning("final state not written: %s", report["not_saved"])
        else:
            try:
                report["journal" if journaling() else "save"] = (
                    self.write_changes() if journaling() else self.snapshot()
                )
            except Exception as exc:
                LOG.exception("writing the final state failed")
                report["not_saved"] = f"{type(exc).__name__}: {exc}"
            report["failed"] = dict(self.failures)
            self.enabled = False  # this is the state the engine stops with
        self.status, self.detail = "stopped", "the final state is written: the engine takes no new requests"
        if self.journal is not None:
            self.journal.close()
        LOG.info("final state: %s", report)
        return report

    # -- load --

    def check_stamp(self, folder: Path) -> dict:
        stamp_file = folder / STAMP_FILE
        if not stamp_file.exists():
            raise SnapshotRefused(f"{folder} has no {STAMP_FILE}: it is not a snapshot of this engine")
        try:
            stamp = json.loads(stamp_file.read_text())
        except ValueError as exc:
            raise SnapshotRefused(f"{stamp_file} is unreadable ({exc})") from None
        wanted = engine_versions()
        differences = [
            f"{key} {stamp.get(key)} (this engine: {value})" for key, value in wanted.items() if stamp.get(key) != value
        ]
        if differences:
            raise SnapshotRefused(
                f"the saved state in {folder} was written by another engine version: "
                + ", ".join(differences)
                + ". It was not loaded; start empty with `make reset` (this deletes it), or use the engine that wrote it."
            )
        return stamp

    def load(self) -> None:
        # A load makes a million objects in a row (100,000 DynamoDB items): collections in
        # between would walk them again and again (half the load's time). Frozen after:
        # they live as long as the engine.
        gc.disable()
        try:
            self._load()
        finally:
            gc.enable()
            gc.freeze()

    def _load(self) -> None:
        target = snapshot_dir()
        previous = target.with_name(target.name + ".old")
        if not target.exists() and previous.exists():  # killed between the two renames of a snapshot
            previous.rename(target)
        if not target.exists():
            if journal.segments(journal_dir()):
                raise SnapshotRefused(
                    f"{journal_dir()} holds a journal but {target} no snapshot to replay it on. It was not "
                    "loaded; start empty with `make reset` (this deletes it)."
                )
            self.detail = "no saved state: starting empty"
            return
        stamp = self.check_stamp(target)
        self.snapshot_bytes = sum(path.stat().st_size for path in target.iterdir() if path.is_file())
        started, cpu_started = time.monotonic(), time.process_time()
        records = defaultdict(list)
        for name in stamp["services"]:
            payloads, damage = journal.read_frames(target / f"{name}{RECORDS_SUFFIX}")
            if damage is not None:  # written whole before it was renamed into place: the disk lost it
                raise RuntimeError(f"the snapshot file of {name} is damaged: {damage}")
            for payload in payloads:
                records[name] += pickle.loads(payload)
        frames, self.replay_from = 0, stamp.get("journal_from")
        if self.replay_from is not None:
            for payloads, damage in journal.frames_from(journal_dir(), self.replay_from):
                for payload in payloads:
                    for chunk in pickle.loads(payload):
                        for record in pickle.loads(chunk):
                            records[record[0]].append(record)
                frames += len(payloads)
                if damage is not None:
                    self.report(f"journal {damage.segment}", str(damage))
        names = self.loaded = sorted(records, key=lambda name: (name in LOAD_LAST, name))
        # Starting a service (imports, provider set-up) takes most of a load: side by side.
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(SERVICE_PLUGINS.require, names))
        for name in names:
            LOG.info("loading the state of %s", name)
            service = SERVICE_PLUGINS.require(name)
            lifecycle, state = service.lifecycle_hook, self.state_of(name)
            lifecycle.on_before_state_load()
            # A record that cannot be read fails the whole load (the files are kept as they are).
            try:
                state.apply(service, records.pop(name), self.report)
            except Exception as exc:
                raise RuntimeError(f"the saved state of {name} cannot be read: {type(exc).__name__}: {exc}") from exc
            try:
                restore.after_load(name, lifecycle, state, self.report)
            except Exception as exc:
                LOG.exception("restoring %s after loading its state failed", name)
                self.report(f"service {name}", f"restoring it after loading failed: {type(exc).__name__}: {exc}")
        self.detail = (
            f"loaded {len(names)} services (snapshot and {frames} journal writes) in {time.monotonic() - started:.2f} s"
            # on a shared machine the wall time is mostly waiting: what the load itself cost
            + f" ({time.process_time() - cpu_started:.2f} s of CPU)"
            + (f"; {len(self.not_restored)} resource(s) not restored" if self.not_restored else "")
        )
        LOG.info("state %s", self.detail)

    def start_writing(self) -> None:
        """From the state just loaded on: note what changes, and journal it (or snapshot it at
        the end only, ON_SHUTDOWN)."""
        for name in _running_services():
            state = self.state_of(name)
            state.after_load(SERVICE_PLUGINS.get_service(name))
            # what a service changed while it was restored (a mapping that could not start is
            # dropped) is written once more, as it is now
            state.changed = name in self.loaded
        self.enabled = True
        if journaling():
            first = max((journal.segment_number(path) for path in journal.segments(journal_dir())), default=0) + 1
            self.journal = journal.Journal(journal_dir(), first)
            if self.replay_from is None:
                self.snapshot()  # the journal is replayed on a snapshot: an empty one to begin with
            else:
                self.journal.drop_before(self.replay_from)  # left by a crash before a snapshot's clean-up
                self.journal_bytes = self.journal.size()
            threading.Thread(target=self.run_journal, name="state-journal", daemon=True).start()

    def report(self, resource: str, reason: str) -> None:
        """A resource of the saved state that could not be restored, and why."""
        LOG.warning("not restored: %s: %s", resource, reason)
        self.not_restored.append({"resource": resource, "reason": reason})

    def document(self) -> dict:
        return {
            "status": self.status,
            "detail": self.detail,
            "not_restored": self.not_restored,
            "not_persisted": self.not_persisted(),
            "failed": dict(self.failures),
            "journal": {
                "enabled": self.journal is not None,
                "interval_s": flush_interval(),
                "bytes_since_snapshot": self.journal_bytes,
                "written_through": self.journal_written_through,
            },
            "last_save": self.last_save,
            "directory": str(snapshot_dir()),
        }

    def not_persisted(self) -> dict[str, str]:
        """Services whose state does not survive a restart (its last write failed), and why."""
        return dict(self.failures)


def _write_in_forked_copy(services: dict, fresh: Path) -> tuple[float, dict[str, str]]:
    """Write the services' snapshot files from a forked copy of the engine (as Redis's BGSAVE does).

    Pickling holds the interpreter lock for as long as it takes, which grows with the data
    (seconds at 100,000 DynamoDB items): in this process every request would wait for it.
    The copy is one moment of all the services, taken while no DynamoDB request is half
    done; the engine serves on while the copy writes. The child touches nothing another
    thread may hold a lock on (no logging, no plugin manager). `services`: name -> (its
    ServiceState, the service). Returns the milliseconds the engine stood still to fork,
    and why each service that could not be written was not."""
    if not services:
        return 0.0, {}
    failures_file, error_file = fresh / "failed.json", fresh / "save-error.txt"
    forking, engine = time.perf_counter(), os.getpid()
    with dynamodb_requests.REQUEST_LOCK:
        child = os.fork()
    if child == 0:
        code = 1
        try:
            end_with(engine)
            gc.disable()  # a collection would write to every page the child shares with the engine
            os.nice(19)  # the engine's requests and its functions first: a snapshot can wait
            failed = {}
            for name, (state, service) in services.items():
                try:
                    _write_records(fresh / f"{name}{RECORDS_SUFFIX}", state.all_records(service))
                except Exception as exc:
                    (fresh / f"{name}{RECORDS_SUFFIX}").unlink(missing_ok=True)
                    failed[name] = f"{type(exc).__name__}: {exc}"
            failures_file.write_text(json.dumps(failed))
            code = 0
        except BaseException:
            error_file.write_text(traceback.format_exc())
        finally:
            os._exit(code)
    paused_ms = (time.perf_counter() - forking) * 1000
    deadline = time.monotonic() + FORKED_SAVE_TIMEOUT
    while not (status := os.waitpid(child, os.WNOHANG))[0]:
        if time.monotonic() > deadline:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            raise RuntimeError(f"saving {', '.join(services)} took over {FORKED_SAVE_TIMEOUT} s: stopped")
        time.sleep(0.02)
    if os.waitstatus_to_exitcode(status[1]) != 0:
        detail = error_file.read_text() if error_file.exists() else f"exit status {status[1]}"
        raise RuntimeError(f"saving {', '.join(services)} failed: {detail}")
    failed = json.loads(failures_file.read_text())
    failures_file.unlink()
    return paused_ms, failed


PERSISTENCE = Persistence()


def _enabled() -> bool:
    return config.PERSISTENCE and "NODOCKER_SNAPSHOT_DIR" in os.environ


class StateResource:
    def on_get(self, request: Request):
        return PERSISTENCE.document()

    def on_post(self, request: Request):
        try:
            return PERSISTENCE.snapshot()
        except SnapshotRefused as exc:
            return Response(json.dumps({"error": str(exc)}), mimetype="application/json", status=409)
        except Exception as exc:
            LOG.exception("taking a snapshot failed")
            return Response(json.dumps({"error": f"saving failed: {exc}"}), mimetype="application/json", status=500)


class FinalSnapshotResource:
    """`make down`: the final write, then the process may be stopped."""

    def on_post(self, request: Request):
        try:
            return PERSISTENCE.final()
        except Exception as exc:
            LOG.exception("the final write failed")
            error = f"the final write failed: {type(exc).__name__}: {exc}"
            return Response(json.dumps({"error": error}), mimetype="application/json", status=500)


def _note_change(chain, context, response) -> None:
    if PERSISTENCE.journal is None:  # nothing journaled (ON_SHUTDOWN, or not loaded yet): snapshots write all
        return
    operation = context.operation
    if operation is None or operation.name.startswith(READ_ONLY_PREFIXES):
        return
    if context.is_internal_call and operation.name in INTERNAL_HOUSEKEEPING:
        return
    if context.service is None:
        for name in _running_services():
            PERSISTENCE.state_of(name).note_everything()
        return
    PERSISTENCE.note(context)


@hooks.on_infra_start()
def register_state_routes():
    if not _enabled():
        return
    from localstack.aws.handlers import run_custom_response_handlers
    from localstack.services.internal import get_internal_apis

    get_internal_apis().add(Resource(ROUTE, StateResource()))
    get_internal_apis().add(Resource(FINAL_ROUTE, FinalSnapshotResource()))
    run_custom_response_handlers.append(_note_change)
    INTAKE.refuse(*LOADING)  # until load_state is done
    intake.install()
    drain.count_s3_notifications()
    _final_write_on_signals()


def _final_write_on_signals() -> None:
    """`kill` (SIGTERM) and Ctrl-C (SIGINT) stop the engine as `make down` does: the final
    write first, then LocalStack's own handler, which stops the runtime. (Once that has
    begun, LocalStack refuses the functions' own calls, so the drain could not finish them.)
    Hooks at start run on the main thread, the only one that may set signal handlers; LocalStack
    sets its own before (a seam.py target)."""
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        stop_runtime = signal.getsignal(signal_number)

        def final_write_then_stop(number, frame, stop_runtime=stop_runtime):
            def run():
                try:
                    PERSISTENCE.final()
                except Exception:
                    LOG.exception("the final write failed; what was written before is kept")
                stop_runtime(number, frame)

            threading.Thread(target=run, name="state-final-write").start()

        signal.signal(signal_number, final_write_then_stop)


@hooks.on_infra_ready()
def load_state():
    if not _enabled():
        return
    unsupported = [
        f"{name}={value}"
        for name, value, allowed in (
            ("SNAPSHOT_SAVE_STRATEGY", config.SNAPSHOT_SAVE_STRATEGY, SAVE_STRATEGIES),
            ("SNAPSHOT_LOAD_STRATEGY", config.SNAPSHOT_LOAD_STRATEGY, LOAD_STRATEGIES),
        )
        if value not in allowed
    ]
    if unsupported:
        PERSISTENCE.status, PERSISTENCE.detail = (
            "refused",
            (
                f"{', '.join(unsupported)} is not supported by this engine's persistence "
                f"(save: {'/'.join(SAVE_STRATEGIES[1:])}, load: {'/'.join(LOAD_STRATEGIES[1:])})"
            ),
        )
    else:
        PERSISTENCE.status = "loading"
        try:
            PERSISTENCE.load()
        except SnapshotRefused as exc:
            PERSISTENCE.status, PERSISTENCE.detail = "refused", str(exc)
            LOG.error("state not loaded: %s", exc)
        except Exception as exc:
            PERSISTENCE.status = "failed"
            PERSISTENCE.detail = f"loading the saved state failed: {type(exc).__name__}: {exc}"
            LOG.exception("loading the saved state failed")
    if PERSISTENCE.status != "loading":
        # refused or failed: nothing is served on a state that is not the saved one (ctl.py
        # stops the engine and keeps the snapshot)
        INTAKE.refuse(f"the engine did not load its saved state: {PERSISTENCE.detail}", 60)
        return
    PERSISTENCE.start_writing()
    PERSISTENCE.status = "ready"
    INTAKE.open()


@hooks.on_infra_shutdown(priority=10)  # before the services stop (they shut down at -10)
def save_state_on_shutdown():
    """The final write, if the shutdown came another way than `make down` or a signal."""
    if not _enabled():
        return
    PERSISTENCE.final()
