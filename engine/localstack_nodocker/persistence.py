"""State that survives a restart, saved and loaded through LocalStack's own state hooks.

LocalStack's community build defines the protocol: every service hands its state
containers (``AccountRegionBundle`` stores, moto ``BackendDict`` backends, ``AssetDirectory``
folders) to a ``StateVisitor`` and has ``on_before/after_state_save/load`` hooks (Lambda
restarts its functions and event source mappings in ``on_after_state_load``). What walks the
services and writes the snapshot is in LocalStack Pro only; this module is that part for the
embedded engine. Enabled with LocalStack's own ``PERSISTENCE=1``:

- load on start (``SNAPSHOT_LOAD_STRATEGY`` empty or ``ON_STARTUP``), after the gateway is up
  (Lambda fetches its code from S3 through it), services in dependency order;
- requests from outside are refused (503, intake.py) until the state is loaded and the
  services restored; a resource that cannot be restored (a mapping whose function was
  deleted) is reported and the rest start (restore.py);
- save every ``SNAPSHOT_FLUSH_INTERVAL`` seconds when something changed (``SCHEDULED``, the
  default), from a forked copy while the engine serves on;
- at shutdown (``make down``, SIGTERM, SIGINT; ``SCHEDULED`` and ``ON_SHUTDOWN``) the final
  snapshot: intake stops, what was accepted is finished (drain.py), then one cut of every
  service is saved - nothing acknowledged is left out of it;
- ``GET /_localstack/nodocker/state`` reports the status and what was not restored, ``POST``
  saves now, ``POST .../final`` takes the final snapshot (`make down` then stops the process).

A snapshot is written beside the previous one and swapped in by renames, so a crash while
saving leaves the previous snapshot whole. It records the versions that wrote it (pickles
hold LocalStack's and moto's classes): a snapshot from another engine version is refused,
nothing of it is loaded and it is not overwritten.
"""

import ctypes
import gc
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

from localstack import config
from localstack.http import Request, Resource, Response
from localstack.runtime import hooks
from localstack.services.plugins import SERVICE_PLUGINS
from localstack.services.stores import AccountRegionBundle
from localstack.state import AssetDirectory, StateVisitor
from localstack.state import pickle as state_pickle
from moto.core.base_backend import BackendDict

from localstack_nodocker import drain, dynamodb, intake, restore, stream_mapping
from localstack_nodocker.intake import INTAKE

LOG = logging.getLogger(__name__)

# Bump when the layout of a snapshot changes.
SNAPSHOT_FORMAT = 1
STAMP_FILE = "engine.json"
# Where Lambda's DynamoDB stream mappings read next: held by their pollers, not in a store.
STREAM_POSITIONS_FILE = "stream-positions.json"
# Lambda's asynchronous invocations still queued (its event queues are in memory only).
QUEUED_INVOCATIONS_FILE = "queued-invocations.json"
ROUTE = "/_localstack/nodocker/state"
FINAL_ROUTE = ROUTE + "/final"
# How long the final snapshot waits for what the engine accepted to finish (drain.py).
DRAIN_TIMEOUT_S = 60
LOADING = ("the engine is loading its saved state: try again in a moment", 1)
STOPPING = ("the engine is stopping (make down): it takes no new requests while it saves its state", 5)
# Services whose loading needs others already loaded: Lambda reads its code from S3 and
# restarts event source mappings on SQS; everything else loads in any order before them.
LOAD_LAST = ("lambda",)
SAVE_STRATEGIES = ("", "SCHEDULED", "ON_SHUTDOWN")
LOAD_STRATEGIES = ("", "ON_STARTUP")
# Requests that only read state do not make a new snapshot necessary.
READ_ONLY_PREFIXES = ("Get", "List", "Describe", "Head", "Query", "Scan", "BatchGet", "Receive")
# What the engine does by itself while idle: event source mappings assume the function's
# role for every poll, SQS reports queue metrics every minute. Not worth a snapshot.
INTERNAL_HOUSEKEEPING = {"AssumeRole", "PutMetricData"}
# A save writes only the services changed since the last one (the others are carried over
# from it), so its cost follows what changed, not all the data held. Saved whenever anything
# changed: Lambda, whose stream pollers move their positions without a request that writes.
SAVED_WITH_ANY_CHANGE = {"lambda"}
# One state under two APIs: a change through either saves both.
SAVED_TOGETHER = [{"dynamodb", "dynamodbstreams"}]
EVERY_SERVICE = "*"
PR_SET_PDEATHSIG = 1  # prctl(2)
# A forked save that has not finished by then is stopped (and the previous snapshot kept).
FORKED_SAVE_TIMEOUT = 600


# dill restores an unheld RLock as held by "thread 0" (it reads owner=0 from the repr), which
# deadlocks the first store access after a load; and a lock held while saving belongs to a
# thread that will not exist after the restart. Every lock is restored free.
state_pickle.reducer(type(threading.RLock()), threading.RLock)(lambda lock: ())
state_pickle.reducer(type(threading.Lock()), threading.Lock)(lambda lock: ())


class SnapshotRefused(Exception):
    """The snapshot cannot be loaded into this engine; the message says why and what to do."""


def snapshot_dir() -> Path:
    return Path(os.environ["NODOCKER_SNAPSHOT_DIR"])


def engine_versions() -> dict:
    """What must match between the engine that saved a snapshot and the one loading it: the
    releases whose classes the pickles hold (moto-ext's own version: moto's __version__ stays the
    same across several moto-ext releases)."""
    from localstack.version import __version__ as localstack_version

    return {
        "format": SNAPSHOT_FORMAT,
        "localstack": localstack_version,
        "moto-ext": metadata.version("moto-ext"),
        "python": "{}.{}".format(*sys.version_info[:2]),
    }


# --- visitors ------------------------------------------------------------------------------


def _container_file(folder: Path, container) -> Path:
    return folder / f"{type(container).__name__}-{container.service_name}.pickle"


def _s3_storage(service):
    # LocalStack's S3 keeps object bytes in its provider's storage (a seam.py target)
    return service._provider._storage_backend


class _SaveVisitor(StateVisitor):
    def __init__(self, service_name: str, folder: Path):
        self.service_name, self.folder = service_name, folder
        folder.mkdir(parents=True)

    def visit(self, state_container):
        if isinstance(state_container, (AccountRegionBundle, BackendDict)):
            with open(_container_file(self.folder, state_container), "wb") as file:
                state_pickle.dump(state_container, file)
        elif isinstance(state_container, AssetDirectory):
            if self.service_name == "s3":
                _save_s3_objects(self.folder / "objects")
            elif state_container.path.is_dir():
                shutil.copytree(state_container.path, self.folder / "assets" / state_container.path.name)
        else:
            raise TypeError(f"{self.service_name}: cannot save a state container of type {type(state_container)}")


class _LoadVisitor(StateVisitor):
    def __init__(self, service_name: str, folder: Path, report):
        self.service_name, self.folder, self.report = service_name, folder, report

    def visit(self, state_container):
        if isinstance(state_container, (AccountRegionBundle, BackendDict)):
            path = _container_file(self.folder, state_container)
            if not path.exists():
                return
            with open(path, "rb") as file:
                loaded = state_pickle.load(file)
            # The module-level container stays the object everyone imported: fill it in place,
            # with the lock and cross-account dict its loaded region bundles point to.
            state_container.clear()
            state_container.update(loaded)
            state_container.__dict__.update(loaded.__dict__)
        elif isinstance(state_container, AssetDirectory):
            if self.service_name == "s3":
                _load_s3_objects(self.folder / "objects", self.report)
            elif (saved := self.folder / "assets" / state_container.path.name).is_dir():
                shutil.copytree(saved, state_container.path, dirs_exist_ok=True)
        else:
            raise TypeError(f"{self.service_name}: cannot load a state container of type {type(state_container)}")


def _s3_buckets():
    """Every bucket once (a store lists the buckets of its account in every region)."""
    from localstack.services.s3.models import s3_stores

    seen = set()
    for _, _, store in s3_stores.iter_stores():
        for bucket in store.buckets.values():
            if bucket.name not in seen:
                seen.add(bucket.name)
                yield bucket


def _s3_objects():
    """(bucket, S3Object) of every stored object version (delete markers hold no data)."""
    from localstack.services.s3.models import S3DeleteMarker

    for bucket in _s3_buckets():
        for s3_object in bucket.objects.values(with_versions=True):
            if not isinstance(s3_object, S3DeleteMarker):
                yield bucket, s3_object


# LocalStack keeps object bytes in temporary files keyed by a per-process hash, not in a
# folder that could be copied: they are saved keyed by bucket, key and version instead.
def _save_s3_objects(folder: Path) -> None:
    storage = _s3_storage(SERVICE_PLUGINS.get_service("s3"))
    folder.mkdir()
    index = []
    for number, (bucket, s3_object) in enumerate(_s3_objects()):
        with storage.open(bucket.name, s3_object, mode="r") as stored, open(folder / str(number), "wb") as file:
            file.writelines(stored)
        index.append([bucket.name, s3_object.key, s3_object.version_id])
    (folder / "index.json").write_text(json.dumps(index))


def _load_s3_objects(folder: Path, report) -> None:
    """Each object's bytes back into S3's storage. A periodic save reads the objects a moment
    after the store (the engine serves on meanwhile): an object deleted or overwritten in
    between has no bytes, or other bytes, in the snapshot. It is left out and reported; the
    others load."""
    from localstack.services.s3.models import VersionedKeyStore

    storage = _s3_storage(SERVICE_PLUGINS.get_service("s3"))
    # each bucket's folder, which S3 writes its larger objects into (CreateBucket made it)
    for bucket in _s3_buckets():
        os.makedirs(os.path.join(storage.root_directory, bucket.name), exist_ok=True)
    saved = {tuple(entry): number for number, entry in enumerate(json.loads((folder / "index.json").read_text()))}
    for bucket, s3_object in list(_s3_objects()):
        number = saved.get((bucket.name, s3_object.key, s3_object.version_id))
        problem = None
        if number is None or not (folder / str(number)).exists():
            problem = "the snapshot has no data for this object"
        elif (size := (folder / str(number)).stat().st_size) != s3_object.size:
            problem = f"the snapshot holds {size} bytes for it, its metadata says {s3_object.size}"
        if problem:
            if isinstance(bucket.objects, VersionedKeyStore):
                bucket.objects.pop(s3_object.key, s3_object.version_id)
            else:
                bucket.objects.pop(s3_object.key)
            report(f"s3://{bucket.name}/{s3_object.key} (version {s3_object.version_id})", f"{problem}; left out")
            continue
        with storage.open(bucket.name, s3_object, mode="w") as stored, open(folder / str(number), "rb") as file:
            stored.write(file)


# --- snapshot ------------------------------------------------------------------------------


class Snapshots:
    def __init__(self):
        self.lock = threading.Lock()
        self.status = "starting"  # starting | loading | ready | refused | failed | stopped
        self.detail = ""
        self.not_restored: list[dict] = []  # {"resource", "reason"} of the last load
        self.dirty: set[str] = set()  # services changed since the last save (EVERY_SERVICE: all)
        self.dirty_lock = threading.Lock()
        self.saving_enabled = False
        self.last_save: dict = {}
        self.stop = threading.Event()
        self.final_lock = threading.Lock()
        self.final_report: dict | None = None

    # -- final snapshot --

    def final(self) -> dict:
        """Stop intake, finish what was accepted, then save one cut of every service: the
        snapshot the engine stops on. Once taken, it is not taken again."""
        with self.final_lock:
            if self.final_report is None:
                self.final_report = self._take_final()
            return self.final_report

    def _take_final(self) -> dict:
        self.stop.set()  # no periodic save after this one
        INTAKE.refuse(*STOPPING)
        started = time.monotonic()
        try:
            left = drain.settle(started + DRAIN_TIMEOUT_S)
        except Exception as exc:  # the state is saved all the same: the previous one is older still
            LOG.exception("waiting for the work under way failed; saving the state as it is")
            left = {f"unknown (the wait failed: {type(exc).__name__}: {exc})": 1}
        report = {"drain_seconds": round(time.monotonic() - started, 3), "still_under_way": left}
        if not self.saving_enabled:
            report["not_saved"] = f"saving is disabled: {self.detail or 'the engine is not ready'}"
            LOG.warning("final snapshot not taken: %s", report["not_saved"])
        else:
            self.mark_changed("lambda")  # its queued invocations and stream positions as they are now
            report["save"] = self.save()
            self.saving_enabled = False  # this is the state the engine stops with
        self.status, self.detail = "stopped", "the final snapshot is taken: the engine takes no new requests"
        LOG.info("final snapshot: %s", report)
        return report

    # -- save --

    def save(self) -> dict:
        """Write a new snapshot of every running service and swap it in."""
        if not self.saving_enabled:
            raise SnapshotRefused(f"saving is disabled: {self.detail or 'the engine is not ready'}")
        with self.lock:
            started = time.monotonic()
            with self.dirty_lock:
                changed, self.dirty = self.dirty, set()
            target = snapshot_dir()
            fresh, previous = target.with_name(target.name + ".new"), target.with_name(target.name + ".old")
            shutil.rmtree(fresh, ignore_errors=True)
            fresh.mkdir(parents=True)
            services = sorted(
                name for name in SERVICE_PLUGINS.list_loaded_services() if SERVICE_PLUGINS.is_running(name)
            )
            written = self._to_write(services, changed, target)
            try:
                for name in services:
                    if name not in written:
                        shutil.copytree(target / name, fresh / name, copy_function=os.link)
                paused_ms = self._save_services(sorted(written), fresh)
            except Exception:
                self.mark_changed(EVERY_SERVICE)
                shutil.rmtree(fresh, ignore_errors=True)
                raise
            stamp = {**engine_versions(), "services": services, "saved_at": time.time()}
            (fresh / STAMP_FILE).write_text(json.dumps(stamp, indent=1))
            if target.exists():
                shutil.rmtree(previous, ignore_errors=True)
                target.rename(previous)
            fresh.rename(target)
            shutil.rmtree(previous, ignore_errors=True)
            size = sum(path.stat().st_size for path in target.rglob("*") if path.is_file())
            self.last_save = {
                "seconds": round(time.monotonic() - started, 3),
                "bytes": size,
                "services": services,
                "written": sorted(written),
                "fork_ms": round(paused_ms, 1),
                "at": stamp["saved_at"],
            }
            LOG.info(
                "state saved: %d services (%s written), %.1f MB in %.2f s (the engine paused %.0f ms to fork)",
                len(services),
                ", ".join(sorted(written)) or "none",
                size / 1e6,
                self.last_save["seconds"],
                paused_ms,
            )
            return self.last_save

    def mark_changed(self, service_name: str) -> None:
        with self.dirty_lock:
            self.dirty.add(service_name)

    @staticmethod
    def _to_write(services: list, changed: set, previous: Path) -> set:
        """The services to pickle anew; the others are unchanged since the previous snapshot."""
        missing = {name for name in services if not (previous / name).is_dir()}  # e.g. the first save
        if not changed:
            return missing
        written = missing | (SAVED_WITH_ANY_CHANGE & set(services))
        if EVERY_SERVICE in changed or not changed <= set(services):
            LOG.info("saving every service: changed %s", ", ".join(sorted(changed - set(services))))
            return set(services)
        written |= changed
        for group in SAVED_TOGETHER:
            if group & written:
                written |= group & set(services)
        return written

    @staticmethod
    def _save_services(names: list, fresh: Path) -> float:
        services = {name: SERVICE_PLUGINS.get_service(name) for name in names}
        for service in services.values():
            service.lifecycle_hook.on_before_state_save()
        # S3's object bytes are read through the storage's thread locks: saved here. A request
        # may change its store while it is pickled; pickling again sees a consistent moment in
        # all but pathological cases.
        if "s3" in services:
            for attempt in range(3):
                try:
                    services["s3"].accept_state_visitor(_SaveVisitor("s3", fresh / "s3"))
                    break
                except RuntimeError as exc:  # "dictionary changed size during iteration"
                    shutil.rmtree(fresh / "s3", ignore_errors=True)
                    if attempt == 2:
                        raise RuntimeError(f"saving s3: its state kept changing while it was saved ({exc})") from exc
        paused_ms = _pickle_in_forked_copy({name: service for name, service in services.items() if name != "s3"}, fresh)
        if "lambda" in services:
            # the pollers are held by the Lambda provider (a seam.py target)
            workers = dict(services["lambda"].lifecycle_hook.esm_workers)
            (fresh / "lambda").mkdir(parents=True, exist_ok=True)
            (fresh / "lambda" / STREAM_POSITIONS_FILE).write_text(json.dumps(stream_mapping.positions(workers)))
            (fresh / "lambda" / QUEUED_INVOCATIONS_FILE).write_text(json.dumps(drain.queued_invocations()))
        for service in services.values():
            service.lifecycle_hook.on_after_state_save()
        return paused_ms

    def save_if_changed(self) -> None:
        if self.dirty and self.saving_enabled:
            try:
                self.save()
            except Exception:
                LOG.exception("saving the state failed; the previous snapshot is kept")

    def run_schedule(self) -> None:
        while not self.stop.wait(config.SNAPSHOT_FLUSH_INTERVAL):
            self.save_if_changed()

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
        target = snapshot_dir()
        previous = target.with_name(target.name + ".old")
        if not target.exists() and previous.exists():  # killed between the two renames of a save
            previous.rename(target)
        if not target.exists():
            self.detail = "no saved state: starting empty"
            return
        stamp = self.check_stamp(target)
        started = time.monotonic()
        names = sorted(stamp["services"], key=lambda name: (name in LOAD_LAST, name))
        # Starting a service (imports, provider set-up) takes most of a load: side by side.
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(SERVICE_PLUGINS.require, names))
        for name in names:
            LOG.info("loading the state of %s", name)
            service = SERVICE_PLUGINS.require(name)
            lifecycle = service.lifecycle_hook
            lifecycle.on_before_state_load()
            # A store that cannot be read fails the whole load (the snapshot is kept as it is).
            service.accept_state_visitor(_LoadVisitor(name, target / name, self.report))
            try:
                self._restore(name, lifecycle, target / name)
            except Exception as exc:
                LOG.exception("restoring %s after loading its state failed", name)
                self.report(f"service {name}", f"restoring it after loading failed: {type(exc).__name__}: {exc}")
        self.detail = f"loaded {len(names)} services in {time.monotonic() - started:.2f} s" + (
            f"; {len(self.not_restored)} resource(s) not restored" if self.not_restored else ""
        )
        LOG.info("state %s", self.detail)

    def _restore(self, name: str, lifecycle, folder: Path) -> None:
        """What the service rebuilds from its loaded store, each resource on its own (restore.py)."""
        if name != "lambda":
            lifecycle.on_after_state_load()
            if name == "events":
                restore.rebuild_event_routing(lifecycle, self.report)
            return
        if (folder / STREAM_POSITIONS_FILE).exists():  # before Lambda restarts the mappings
            stream_mapping.resume_at(json.loads((folder / STREAM_POSITIONS_FILE).read_text()))
        restore.restore_lambda(lifecycle, self.report)
        if (folder / QUEUED_INVOCATIONS_FILE).exists():
            drain.requeue(json.loads((folder / QUEUED_INVOCATIONS_FILE).read_text()), self.report)

    def report(self, resource: str, reason: str) -> None:
        """A resource of the snapshot that could not be restored, and why."""
        LOG.warning("not restored: %s: %s", resource, reason)
        self.not_restored.append({"resource": resource, "reason": reason})

    def document(self) -> dict:
        return {
            "status": self.status,
            "detail": self.detail,
            "not_restored": self.not_restored,
            "dirty": sorted(self.dirty),
            "last_save": self.last_save,
            "directory": str(snapshot_dir()),
        }


def _pickle_in_forked_copy(services: dict, fresh: Path) -> float:
    """Write the services' state from a forked copy of the engine (as Redis's BGSAVE does).

    Pickling holds the interpreter lock for as long as it takes, which grows with the data
    (seconds for a few thousand Lambda invocations' logs): in this process every request
    would wait for it. The copy is one moment of all the services, taken while no DynamoDB
    request is half done; the engine serves on while the copy writes. The child touches
    nothing another thread may hold a lock on (no logging, no plugin manager). Returns the
    milliseconds the engine stood still to fork."""
    if not services:
        return 0.0
    error_file = fresh / "save-error.txt"
    forking, engine = time.perf_counter(), os.getpid()
    with dynamodb.REQUEST_LOCK:
        child = os.fork()
    if child == 0:
        code = 1
        try:
            _end_with(engine)
            gc.disable()  # a collection would write to every page the child shares with the engine
            os.nice(19)  # the engine's requests and its functions first: a save can wait
            for name, service in services.items():
                service.accept_state_visitor(_SaveVisitor(name, fresh / name))
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
    return paused_ms


def _end_with(engine: int) -> None:
    """Make this (forked) process die with the engine: it holds copies of the engine's
    sockets, and an orphan would keep the engine's port from a new ``up`` while it writes.
    (The signal follows the forking thread, which waits for this process to end.)"""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the orphan finishes its save and exits
        pass
    if os.getppid() != engine:  # the engine died before the line above
        os._exit(1)


SNAPSHOTS = Snapshots()


def _enabled() -> bool:
    return config.PERSISTENCE and "NODOCKER_SNAPSHOT_DIR" in os.environ


class StateResource:
    def on_get(self, request: Request):
        return SNAPSHOTS.document()

    def on_post(self, request: Request):
        try:
            return SNAPSHOTS.save()
        except SnapshotRefused as exc:
            return Response(json.dumps({"error": str(exc)}), mimetype="application/json", status=409)
        except Exception as exc:
            LOG.exception("saving the state failed")
            return Response(json.dumps({"error": f"saving failed: {exc}"}), mimetype="application/json", status=500)


class FinalSnapshotResource:
    """`make down`: the final snapshot, then the process may be stopped."""

    def on_post(self, request: Request):
        try:
            return SNAPSHOTS.final()
        except Exception as exc:
            LOG.exception("the final snapshot failed")
            error = f"the final snapshot failed: {type(exc).__name__}: {exc}"
            return Response(json.dumps({"error": error}), mimetype="application/json", status=500)


def _mark_dirty(chain, context, response) -> None:
    operation = context.operation
    if operation is None or operation.name.startswith(READ_ONLY_PREFIXES):
        return
    if context.is_internal_call and operation.name in INTERNAL_HOUSEKEEPING:
        return
    # the API's name (sqs-query is SQS's query protocol) is the service's
    name = context.service.service_name.removesuffix("-query") if context.service else EVERY_SERVICE
    SNAPSHOTS.mark_changed(name)


@hooks.on_infra_start()
def register_state_routes():
    if not _enabled():
        return
    from localstack.aws.handlers import run_custom_response_handlers
    from localstack.services.internal import get_internal_apis

    get_internal_apis().add(Resource(ROUTE, StateResource()))
    get_internal_apis().add(Resource(FINAL_ROUTE, FinalSnapshotResource()))
    run_custom_response_handlers.append(_mark_dirty)
    INTAKE.refuse(*LOADING)  # until load_state is done
    intake.install()
    drain.count_s3_notifications()
    _final_snapshot_on_signals()


def _final_snapshot_on_signals() -> None:
    """`kill` (SIGTERM) and Ctrl-C (SIGINT) stop the engine as `make down` does: the final
    snapshot first, then LocalStack's own handler, which stops the runtime. (Once that has
    begun, LocalStack refuses the functions' own calls, so the drain could not finish them.)
    Hooks at start run on the main thread, the only one that may set signal handlers; LocalStack
    sets its own before (a seam.py target)."""
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        stop_runtime = signal.getsignal(signal_number)

        def final_snapshot_then_stop(number, frame, stop_runtime=stop_runtime):
            def run():
                try:
                    SNAPSHOTS.final()
                except Exception:
                    LOG.exception("the final snapshot failed; the previous snapshot is kept")
                stop_runtime(number, frame)

            threading.Thread(target=run, name="state-final-snapshot").start()

        signal.signal(signal_number, final_snapshot_then_stop)


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
        SNAPSHOTS.status, SNAPSHOTS.detail = (
            "refused",
            (
                f"{', '.join(unsupported)} is not supported by this engine's persistence "
                f"(save: {'/'.join(SAVE_STRATEGIES[1:])}, load: {'/'.join(LOAD_STRATEGIES[1:])})"
            ),
        )
    else:
        SNAPSHOTS.status = "loading"
        try:
            SNAPSHOTS.load()
        except SnapshotRefused as exc:
            SNAPSHOTS.status, SNAPSHOTS.detail = "refused", str(exc)
            LOG.error("state not loaded: %s", exc)
        except Exception as exc:
            SNAPSHOTS.status = "failed"
            SNAPSHOTS.detail = f"loading the saved state failed: {type(exc).__name__}: {exc}"
            LOG.exception("loading the saved state failed")
    if SNAPSHOTS.status != "loading":
        # refused or failed: nothing is served on a state that is not the saved one (ctl.py
        # stops the engine and keeps the snapshot)
        INTAKE.refuse(f"the engine did not load its saved state: {SNAPSHOTS.detail}", 60)
        return
    SNAPSHOTS.saving_enabled = True
    SNAPSHOTS.status = "ready"
    INTAKE.open()
    if config.SNAPSHOT_SAVE_STRATEGY in ("", "SCHEDULED"):
        threading.Thread(target=SNAPSHOTS.run_schedule, name="state-snapshots", daemon=True).start()


@hooks.on_infra_shutdown(priority=10)  # before the services stop (they shut down at -10)
def save_state_on_shutdown():
    """The final snapshot, if the shutdown came another way than `make down` or a signal."""
    if not _enabled():
        return
    SNAPSHOTS.final()
