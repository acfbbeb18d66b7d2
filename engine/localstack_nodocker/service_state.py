"""What each service's state is written as, in the journal and in the snapshot, and how it is read back.

A record is ``(service, kind, key, value)`` and holds a *value as it is*, never the request
that made it: replaying requests would not give the same state again (ids, timestamps,
sequence numbers and receipt handles are drawn anew, Lambda functions would run again, S3
would send its notifications again). Redis's AOF can replay commands because Redis first
rewrites every non-deterministic command into a deterministic one; LocalStack's thirty
services offer no such rewriting. Values are what SQLite's WAL holds too (pages, not SQL).

- ``state``: the whole of a service's stores (LocalStack's ``AccountRegionBundle``, moto's
  ``BackendDict``), pickled with LocalStack's own pickler. The last one of a service wins.
  This is how most services are written: their state is small. A service's asset folder
  (CloudWatch's metrics database, Redshift's, Kinesis's and OpenSearch's data) is not
  copied: it lies in the engine's data folder (FILESYSTEM_ROOT), which outlives the
  process, written by the service itself (a copy loaded over it would be older); ``make
  reset`` deletes it with the rest. S3's is a temporary folder: its bytes are S3's records.
- Where the state grows with the data, the service is cut finer, so that writing what one
  second changed costs what changed, not what is held:
  - DynamoDB: its ``state`` without the items and stream records; each ``item`` by table
    and key (its attributes as DynamoDB's JSON, or None once deleted), a snapshot's
    ``items`` a thousand to a record; a table's ``stream`` records from the position
    already written.
  - S3: its ``state`` without the objects; each ``object`` key with all its versions and
    their bytes (None once gone).
  - CloudWatch Logs: its ``state`` without the log events; each stream's new ``events``.
  - SQS: its ``state`` without the messages; each ``message`` by queue and message id (the
    message as SQS holds it, or None once gone), written when it changed.
  An ``item`` or ``object`` record names its table's or bucket's *identity* (name and
  creation time): one written for a table deleted and created again under the same name
  is not applied to the new one.

Replay of a service: its last ``state``, then its other records in order (snapshot, then
journal): a later record of a key overrides an earlier one, what is appended (stream
records, log events) is appended once. A record read a moment before another request
changed the same key is followed by a later record of that key (the request marked it
again), so the last record of each key is its value at the last interval written.

What a request may have changed is noted on the request's way out (persistence.py's
response handler): from the operation and its parameters, which name the table and key,
bucket and key, log group and stream.
"""

import copy
import io
import logging
import os
import threading
import time
from collections import defaultdict

from localstack.services.stores import AccountRegionBundle
from localstack.state import AssetDirectory, StateVisitor
from localstack.state import pickle as state_pickle
from moto.core.base_backend import BackendDict

LOG = logging.getLogger(__name__)

STATE = "state"
EVERYTHING = "*"
# A service whose containers keep changing while they are pickled (a request runs meanwhile)
# is pickled again, up to this many times, before the interval's write gives up on it.
PICKLE_ATTEMPTS = 3


# --- containers --------------------------------------------------------------------------------


class _Containers(StateVisitor):
    def __init__(self):
        self.found = []

    def visit(self, state_container):
        self.found.append(state_container)


def containers(service) -> list:
    visitor = _Containers()
    service.accept_state_visitor(visitor)
    return visitor.found


def container_key(container) -> str:
    return f"{type(container).__name__}-{container.service_name}"


def _pickled_while_still(pickle_now):
    """`pickle_now()`, made again while what it pickles changes under it (a request runs
    meanwhile: "dictionary changed size during iteration"), PICKLE_ATTEMPTS times at most."""
    changing = None
    for _ in range(PICKLE_ATTEMPTS):
        try:
            return pickle_now()
        except RuntimeError as exc:
            changing = exc
    raise RuntimeError(f"its state kept changing while it was pickled ({changing})") from changing


def _pickled(container, pickler_class) -> bytes:
    buffer = io.BytesIO()
    pickler_class(buffer).dump(container)
    return buffer.getvalue()


def _fill_in_place(container, loaded) -> None:
    """The module-level container stays the object everyone imported: filled in place, with
    the lock and cross-account dict its loaded region bundles point to."""
    container.clear()
    container.update(loaded)
    container.__dict__.update(loaded.__dict__)


# --- pickling -----------------------------------------------------------------------------------


def _same_object_with(obj, **replaced):
    """Reduce `obj` to its class and a copy of its attributes with some replaced (the live
    object is not touched)."""
    import copyreg

    state = obj.__dict__.copy()
    state.update(replaced)
    return copyreg.__newobj__, (type(obj),), state


def _skeleton_pickler(strip: dict):
    """LocalStack's pickler, with the collections a service writes record by record left out:
    {class: function(obj) -> {attribute: empty value}}."""

    class SkeletonPickler(state_pickle.Pickler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            for cls, emptied in strip.items():
                self.dispatch[cls] = self._stripped(emptied)

        @staticmethod
        def _stripped(emptied):
            def save(pickler, obj):
                function, arguments, state = _same_object_with(obj, **emptied(obj))
                pickler.save_reduce(function, arguments, state=state, obj=obj)

            return save

    return SkeletonPickler


def _client_again(service_name: str, region: str, access_key: str, secret_key: str, token: str | None):
    from localstack.aws.connect import connect_to

    return connect_to(
        region_name=region, aws_access_key_id=access_key, aws_secret_access_key=secret_key, aws_session_token=token
    ).get_client(service_name)


def _save_client(pickler, client) -> None:
    """A boto client in a store (Step Functions keeps one per execution that logs to CloudWatch
    Logs) is saved as what it was made from and made again, for the engine's own gateway:
    dill cannot pickle it (its request signer holds a weak proxy)."""
    credentials = client._get_credentials().get_frozen_credentials()
    pickler.save_reduce(
        _client_again,
        (
            client.meta.service_model.service_name,
            client.meta.region_name,
            credentials.access_key,
            credentials.secret_key,
            credentials.token,
        ),
        obj=client,
    )


def _private_key_again(pem: bytes):
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, password=None)


def _certificate_again(pem: bytes):
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem)


def _cryptography_classes() -> tuple[list, type]:
    """The classes of cryptography's private keys and certificates (its Rust bindings, which
    pickle cannot save: moto's ACM keeps each certificate's key and certificate as such)."""
    from datetime import datetime, timedelta, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    ec_key = ec.generate_private_key(ec.SECP256R1())
    keys = [
        ec_key,
        rsa.generate_private_key(public_exponent=65537, key_size=1024),
        ed25519.Ed25519PrivateKey.generate(),
    ]
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "probe")])
    now = datetime.now(timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ec_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(ec_key, hashes.SHA256())
    )
    return [type(key) for key in keys], type(certificate)


def _defaultdict_again(cls, default_factory, attributes: dict):
    made = cls.__new__(cls)
    defaultdict.__init__(made, default_factory)
    if attributes:
        made.__dict__.update(attributes)
    return made


def _save_defaultdict(pickler, mapping) -> None:
    """A defaultdict is pickled as ``cls(default_factory)`` and its items: a subclass whose
    constructor takes other arguments (moto's SSM ``ParameterDict(account_id, region_name)``)
    could not be loaded. Made again without its constructor, with its attributes."""
    pickler.save_reduce(
        _defaultdict_again,
        (type(mapping), mapping.default_factory, getattr(mapping, "__dict__", {})),
        obj=mapping,
        dictitems=iter(mapping.items()),
    )


def register_reducers() -> None:
    from botocore.client import BaseClient
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
    from localstack.aws.connect import MetadataRequestInjector

    # dill restores an unheld RLock as held by "thread 0" (it reads owner=0 from the repr), which
    # deadlocks the first store access after a load; and a lock held while saving belongs to a
    # thread that will not exist after the restart. Every lock is restored free.
    state_pickle.reducer(type(threading.RLock()), threading.RLock)(lambda lock: ())
    state_pickle.reducer(type(threading.Lock()), threading.Lock)(lambda lock: ())
    state_pickle.register(defaultdict, subclasses=True)(_save_defaultdict)
    key_classes, certificate_class = _cryptography_classes()
    for key_class in key_classes:
        state_pickle.reducer(key_class, _private_key_again)(
            lambda key: (key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),)
        )
    state_pickle.reducer(certificate_class, _certificate_again)(
        lambda certificate: (certificate.public_bytes(Encoding.PEM),)
    )

    state_pickle.register(BaseClient, subclasses=True)(_save_client)
    # LocalStack's wrapper of such a client answers every attribute from the client it wraps,
    # so unpickling it field by field recurses for ever: made again from what it wraps.
    state_pickle.reducer(MetadataRequestInjector)(
        lambda injector: (injector._client, injector._params, injector._custom_headers)
    )


# --- the default: a service written whole -----------------------------------------------------


class ServiceState:
    """A service written whole whenever a request changed it (or it changed by itself)."""

    # classes whose collections this service writes record by record: {class: emptied attributes}
    strip: dict = {}
    # attributes saying what was written, which `records` moves on: put back with `restore_marks`
    # when its records did not reach the journal
    marks: tuple[str, ...] = ()

    def __init__(self, name: str):
        self.name = name
        self.lock = threading.Lock()
        self.changed = False
        self.generation = 0  # counts note_everything: marks saved before one are not put back

    # -- noting changes (on the request path: cheap) --

    def note(self, context) -> None:
        self.changed = True

    def note_everything(self) -> None:
        with self.lock:
            self.changed = True
            self.generation += 1
            self.forget_written()

    def forget_written(self) -> None:
        """Under the lock: what was written, forgotten, so that the next write has all of it.
        Nothing here: a state written whole, or compared with what was written at every write."""

    # -- writing --

    def take(self):
        """What changed since the last write, handed to `records`; nothing is pending after."""
        with self.lock:
            changed, self.changed = self.changed, False
        return changed

    def give_back(self, taken) -> None:
        """A write that failed: what it took is pending again."""
        with self.lock:
            self.changed = self.changed or bool(taken)

    def saved_marks(self) -> tuple:
        with self.lock:
            return self.generation, {name: copy.copy(getattr(self, name)) for name in self.marks}

    def restore_marks(self, saved: tuple) -> None:
        generation, marks = saved
        with self.lock:
            if generation == self.generation:  # else everything is written again anyway
                for name, value in marks.items():
                    setattr(self, name, value)

    def records(self, service, taken) -> list:
        """The records of what changed (`taken`), read now from the running service."""
        return [self.state_record(service)] if taken else []

    def all_records(self, service) -> list:
        """Everything the service holds (a snapshot)."""
        return [self.state_record(service)]

    def state_record(self, service) -> tuple:
        pickler = _skeleton_pickler(self.strip) if self.strip else state_pickle.Pickler

        def pickled() -> dict:
            value = {}
            for container in containers(service):
                if isinstance(container, (AccountRegionBundle, BackendDict)):
                    value[container_key(container)] = _pickled(container, pickler)
                elif not isinstance(container, AssetDirectory):
                    raise TypeError(f"cannot save a state container of type {type(container).__name__}")
            return value

        return (self.name, STATE, None, _pickled_while_still(pickled))

    # -- reading back --

    def apply(self, service, records: list, report) -> None:
        """Records of this service, oldest first (snapshot, then journal)."""
        state = None
        for record in records:
            if record[1] == STATE:
                state = record
        if state is not None:
            self.apply_state(service, state[3])
        self.apply_entities(service, [record for record in records if record[1] != STATE], report)

    def apply_state(self, service, value: dict) -> None:
        for container in containers(service):
            saved = value.get(container_key(container))
            if saved is not None:
                _fill_in_place(container, state_pickle.loads(saved))

    def apply_entities(self, service, records: list, report) -> None:
        if records:
            raise ValueError(f"{self.name}: records of kinds {sorted({r[1] for r in records})} it does not write")

    def after_load(self, service) -> None:
        """Start noting changes from the state just loaded."""


class KeyedState(ServiceState):
    """A service journaled key by key: the keys requests changed (a set: each written once
    per write), and whether the rest of its state changed."""

    def __init__(self, name: str):
        super().__init__(name)
        self.keys: set = set()

    def forget_written(self) -> None:
        """Write every key again at the next write."""
        raise NotImplementedError

    def take(self):
        with self.lock:
            taken = (self.changed, self.keys)
            self.changed, self.keys = False, set()
        return taken

    def give_back(self, taken) -> None:
        changed, keys = taken
        with self.lock:
            self.changed = self.changed or changed
            self.keys |= keys


# --- DynamoDB -----------------------------------------------------------------------------------

PARTIQL_OPERATIONS = {"ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"}
ITEMS_PER_RECORD = 1000


def _table_name(name: str) -> str:
    """A table's name from its name or ARN (``arn:aws:dynamodb:<region>:<account>:table/<name>``)."""
    return name.split(":table/", 1)[1] if name.startswith("arn:") and ":table/" in name else name


def _key_of(type_and_value) -> tuple:
    """A key attribute's DynamoType as a hashable (type, value)."""
    return (type_and_value.type, type_and_value.value)


def _item_builder():
    """(item(table, attributes), key((type, value))): moto's Item from DynamoDB's JSON, and a
    key attribute from its (type, value), made as moto's constructor
    makes it, without its per-attribute checks (the values were checked when first written)
    and without moto's record of every model instance ever made: a tenth of the time, at
    100,000 items."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    new = object.__new__

    def dynamo_type(attribute: dict):
        ((kind, value),) = attribute.items()
        if kind == "L":
            value = [dynamo_type(element) for element in value]
        elif kind == "M":
            value = {name: dynamo_type(element) for name, element in value.items()}
        made = new(DynamoType)
        made.__dict__ = {"type": kind, "value": value}
        return made

    def item(table, attributes: dict):
        values = LimitedSizeDict()
        dict.update(values, {name: dynamo_type(value) for name, value in attributes.items()})
        made = new(Item)
        range_key = values[table.range_key_attr] if table.range_key_attr else None
        made.__dict__ = {"hash_key": values[table.hash_key_attr], "range_key": range_key, "attrs": values}
        return made

    def key(type_and_value: tuple):
        return dynamo_type(dict([type_and_value]))

    return item, key


def _put(table, item) -> None:
    if table.range_key_attr:
        table.items[item.hash_key][item.range_key] = item
    else:
        table.items[item.hash_key] = item


def _delete(table, hash_key, range_key) -> None:
    if range_key is None:
        table.items.pop(hash_key, None)
    elif (partition := table.items.get(hash_key)) is not None:
        partition.pop(range_key, None)
        if not partition:
            del table.items[hash_key]


def _stored_items(table):
    """Every item of a moto table as it stores them (by hash key, then range key), unsorted:
    moto's ``all_items`` sorts them, seconds at 100,000 items."""
    for stored in list(table.items.values()):
        if table.range_key_attr:
            yield from list(stored.values())
        else:
            yield stored


def _table_identity(table) -> str:
    return table.created_at.isoformat()


class DynamoDBState(ServiceState):
    """DynamoDB (moto's tables): items and stream records written record by record."""

    marks = ("written_tables", "written_stream_records")

    def __init__(self, name: str):
        super().__init__(name)
        self.keys: list[tuple] = []  # (account, region, table name, attributes naming the key)
        self.tables: set[tuple] = set()  # (account, region, table name): every item of it
        # What the journal holds already: table identities, and stream records per stream.
        self.written_tables: set[tuple] = set()
        self.written_stream_records: dict[tuple, int] = {}

    @property
    def strip(self):
        from moto.dynamodb.models.table import StreamShard, Table

        return {
            Table: lambda table: {"items": defaultdict(dict)},
            StreamShard: lambda shard: {"items": []},
        }

    def note(self, context) -> None:
        operation, request = context.operation.name, context.service_request or {}
        where = (context.account_id, context.region)
        with self.lock:
            if operation in ("PutItem", "UpdateItem", "DeleteItem"):
                self.keys.append(
                    (*where, request.get("TableName", ""), request.get("Item") or request.get("Key") or {})
                )
            elif operation == "BatchWriteItem":
                for table, writes in (request.get("RequestItems") or {}).items():
                    for write in writes:
                        put, delete = write.get("PutRequest") or {}, write.get("DeleteRequest") or {}
                        self.keys.append((*where, table, put.get("Item") or delete.get("Key") or {}))
            elif operation == "TransactWriteItems":
                for action in request.get("TransactItems") or []:
                    for kind in ("Put", "Update", "Delete"):
                        if kind in action:
                            entry = action[kind]
                            self.keys.append(
                                (*where, entry.get("TableName", ""), entry.get("Item") or entry.get("Key") or {})
                            )
            elif operation in PARTIQL_OPERATIONS:
                from localstack_nodocker.dynamodb_partiql import written_tables

                self.tables.update((*where, table) for table in written_tables(request))
            else:
                self.changed = True  # the tables themselves (create, update, delete, TTL, tags, ...)

    def forget_written(self) -> None:
        self.written_tables.clear()  # every table's items again

    def take(self):
        with self.lock:
            taken = (self.changed, self.keys, self.tables)
            self.changed, self.keys, self.tables = False, [], set()
        return taken

    def give_back(self, taken) -> None:
        changed, keys, tables = taken
        with self.lock:
            self.changed = self.changed or changed
            self.keys = keys + self.keys
            self.tables |= tables

    def records(self, service, taken) -> list:
        from localstack_nodocker.dynamodb_requests import REQUEST_LOCK

        changed, keys, tables = taken
        records, streams = [], set()
        if not (changed or keys or tables):
            return records
        with REQUEST_LOCK:  # every request's writes whole (transactions: all their items)
            if changed:
                records.append(self.state_record(service))
                for account, region, table in self._tables():
                    identity = (account, region, table.name, _table_identity(table))
                    if identity not in self.written_tables:
                        tables.add((account, region, table.name))
                self.written_tables = {
                    (account, region, table.name, _table_identity(table)) for account, region, table in self._tables()
                }
            for account, region, name in tables:
                table = self._table(account, region, name)
                if table is not None:
                    records += self._whole_table(account, region, table)
                    streams.add((account, region, table))
            by_key = {}  # a key written several times since the last write: its value once
            for account, region, name, attributes in keys:
                table = self._table(account, region, _table_name(name))
                record = self._key_record(account, region, table, attributes) if table is not None else None
                if record is not None:
                    by_key[record[2]] = record
                    streams.add((account, region, table))
            records += by_key.values()
            for account, region, table in streams:
                records += self._stream_records(account, region, table)
        return records

    def all_records(self, service) -> list:
        records = [self.state_record(service)]
        for account, region, table in self._tables():
            records += self._items_records(account, region, table)
            records += self._stream_records(account, region, table, everything=True)
        return records

    # -- reading the tables --

    @staticmethod
    def _tables():
        from moto.dynamodb.models import dynamodb_backends

        for account, regions in list(dynamodb_backends.items()):
            for region, backend in list(regions.items()):
                for table in list(backend.tables.values()):
                    yield account, region, table

    @staticmethod
    def _table(account: str, region: str, name: str):
        from moto.dynamodb.models import dynamodb_backends

        regions = dynamodb_backends.get(account)
        backend = regions.get(region) if regions is not None else None
        return backend.tables.get(name) if backend is not None else None

    def _item_record(self, account, region, table, item) -> tuple:
        key = (account, region, table.name, _table_identity(table), _key_of(item.hash_key))
        key += (_key_of(item.range_key) if item.range_key is not None else None,)
        return (self.name, "item", key, item.to_json()["Attributes"])

    def _key_record(self, account, region, table, attributes: dict) -> tuple | None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        try:
            hash_key = DynamoType(attributes[table.hash_key_attr])
            range_key = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
            item = table.get_item(hash_key, range_key)
        except Exception:  # a key moto refused: the request failed, nothing changed
            return None
        key = (account, region, table.name, _table_identity(table), _key_of(hash_key))
        key += (_key_of(range_key) if range_key is not None else None,)
        return (self.name, "item", key, item.to_json()["Attributes"] if item is not None else None)

    def _items_records(self, account, region, table) -> list:
        """A table's items, ITEMS_PER_RECORD to an ``items`` record (their keys are in their
        attributes: a snapshot holds no key per item)."""
        identity = (account, region, table.name, _table_identity(table))
        attributes = [item.to_json()["Attributes"] for item in _stored_items(table)]
        return [
            (self.name, "items", identity, attributes[start : start + ITEMS_PER_RECORD])
            for start in range(0, len(attributes), ITEMS_PER_RECORD)
        ]

    def _whole_table(self, account, region, table) -> list:
        """Every item of a table, after a ``table-items`` record that empties it at load (a
        PartiQL statement may have deleted any of its items)."""
        identity = (account, region, table.name, _table_identity(table))
        return [(self.name, "table-items", identity, None), *self._items_records(account, region, table)]

    def _stream_records(self, account, region, table, everything: bool = False) -> list:
        """The stream's records after those written already (`everything`: all of them, for a
        snapshot, which leaves the journal's count alone)."""
        shard = table.stream_shard
        if shard is None:
            return []
        stream = (account, region, table.name, _table_identity(table), table.latest_stream_label)
        start = 0 if everything else self.written_stream_records.get(stream, 0)
        added = [record.record for record in shard.items[start:]]
        if not everything:
            self.written_stream_records[stream] = start + len(added)
        return [(self.name, "stream", stream, (start, added))] if added else []

    # -- reading back --

    def apply_entities(self, service, records: list, report) -> None:
        from moto.dynamodb.models.table import StreamRecord

        tables = {
            (account, region, table.name, _table_identity(table)): table for account, region, table in self._tables()
        }
        make_item, make_key = _item_builder()
        # In order: what a later record says of a key wins. A record of a table deleted, or
        # created again, after it names another identity and is passed over.
        for _, kind, key, value in records:
            table = tables.get(key[:4])
            if table is None:
                continue
            if kind == "items":
                for attributes in value:
                    _put(table, make_item(table, attributes))
            elif kind == "table-items":
                table.items.clear()
            elif kind == "item" and value is not None:
                _put(table, make_item(table, value))
            elif kind == "item":
                _delete(table, make_key(key[4]), make_key(key[5]) if key[5] is not None else None)
        for record in records:
            if record[1] != "stream":
                continue
            account, region, name, identity, label = record[2]
            table = tables.get((account, region, name, identity))
            if table is None or table.stream_shard is None or table.latest_stream_label != label:
                continue
            start, added = record[3]
            shard = table.stream_shard
            if start > len(shard.items):
                report(
                    f"stream of table {name}", f"records {len(shard.items)} to {start} are missing; later ones left out"
                )
                continue
            restored = []
            for saved in added:
                stream_record = StreamRecord.__new__(StreamRecord)
                stream_record.record = saved
                restored.append(stream_record)
            shard.items[start : start + len(restored)] = restored

    def after_load(self, service) -> None:
        self.written_tables = {
            (account, region, table.name, _table_identity(table)) for account, region, table in self._tables()
        }
        self.written_stream_records = {
            (account, region, table.name, _table_identity(table), table.latest_stream_label): len(
                table.stream_shard.items
            )
            for account, region, table in self._tables()
            if table.stream_shard is not None
        }


# --- S3 -----------------------------------------------------------------------------------------

# Object operations that change only the objects they name; every other operation naming a
# bucket (its configuration, multipart uploads, the bucket itself) changes the bucket too.
OBJECT_OPERATIONS = {
    "PutObject",
    "PostObject",
    "CopyObject",
    "DeleteObject",
    "DeleteObjects",
    "PutObjectAcl",
    "PutObjectTagging",
    "DeleteObjectTagging",
    "PutObjectRetention",
    "PutObjectLegalHold",
    "RestoreObject",
}


def _s3_storage():
    from localstack.services.plugins import SERVICE_PLUGINS

    # LocalStack's S3 keeps object bytes in its provider's storage (a seam.py target)
    return SERVICE_PLUGINS.get_service("s3")._provider._storage_backend


def _bucket_identity(bucket) -> tuple:
    """A bucket's creation, and whether it is versioned: turning versioning on rewrites every
    object's version id, so its objects are all written again."""
    return (bucket.creation_date.isoformat(), type(bucket.objects).__name__)


def _versions(bucket, key: str) -> list:
    """Every stored version of a key, oldest first (one for a bucket never versioned)."""
    from localstack.services.s3.models import VersionedKeyStore

    if isinstance(bucket.objects, VersionedKeyStore):
        return list(dict(bucket.objects._store.get(key) or {}).values())
    current = bucket.objects.get(key)
    return [current] if current is not None else []


class S3State(KeyedState):
    """S3: each object key, (account, region, bucket, key), written with its versions and
    their bytes."""

    marks = ("written_buckets",)

    def __init__(self, name: str):
        super().__init__(name)
        self.written_buckets: set[tuple] = set()  # (account, bucket, identity)

    @property
    def strip(self):
        from localstack.services.s3.models import S3Bucket

        return {S3Bucket: lambda bucket: {"objects": type(bucket.objects)()}}

    def note(self, context) -> None:
        operation, request = context.operation.name, context.service_request or {}
        bucket, where = request.get("Bucket"), (context.account_id, context.region)
        # a browser form upload (PostObject) names its key in the form: the answer names it too
        key = request.get("Key", (context.service_response or {}).get("Key"))
        with self.lock:
            if operation == "DeleteObjects":
                for entry in (request.get("Delete") or {}).get("Objects") or []:
                    self.keys.add((*where, bucket, entry.get("Key")))
            elif bucket and key is not None:
                self.keys.add((*where, bucket, key))
            if operation not in OBJECT_OPERATIONS:
                self.changed = True

    def forget_written(self) -> None:
        self.written_buckets.clear()

    def records(self, service, taken) -> list:
        changed, keys = taken
        records = []
        if changed:
            records.append(self.state_record(service))
            buckets = {(account, bucket.name, _bucket_identity(bucket)): bucket for account, bucket in self._buckets()}
            for identity, bucket in buckets.items():
                if identity not in self.written_buckets:
                    records += [self._object_record(identity[0], bucket, key) for key in self._keys(bucket)]
            self.written_buckets = set(buckets)
        for account, region, name, key in keys:
            bucket = self._bucket(account, region, name)
            if bucket is not None:
                records.append(self._object_record(account, bucket, key))
        return records

    def all_records(self, service) -> list:
        records = [self.state_record(service)]
        for account, bucket in self._buckets():
            records += [self._object_record(account, bucket, key) for key in self._keys(bucket)]
        return records

    @staticmethod
    def _buckets():
        from localstack.services.s3.models import s3_stores

        seen = set()
        for account, _, store in s3_stores.iter_stores():
            for bucket in list(store.buckets.values()):
                if (account, bucket.name) not in seen:  # the buckets are shared by an account's regions
                    seen.add((account, bucket.name))
                    yield account, bucket

    @staticmethod
    def _bucket(account: str, region: str, name: str):
        from localstack.services.s3.models import s3_stores

        return s3_stores[account][region].buckets.get(name)

    @staticmethod
    def _keys(bucket) -> list:
        from localstack.services.s3.models import VersionedKeyStore

        if isinstance(bucket.objects, VersionedKeyStore):
            return list(dict(bucket.objects._store))
        return [s3_object.key for s3_object in bucket.objects.values()]

    def _object_record(self, account: str, bucket, key: str) -> tuple:
        """The key's versions as they are, each with its bytes, read as S3's GetObject reads
        them: under the object's read lock, with the metadata read again if a write came
        between (LocalStack's own check, by the time of the last write)."""
        from localstack.services.s3.models import S3DeleteMarker

        storage, versions = _s3_storage(), []
        for version in _versions(bucket, key):
            data = None
            if not isinstance(version, S3DeleteMarker):
                with storage.open(bucket.name, version, mode="r") as stored:
                    if stored.last_modified != version.internal_last_modified:
                        version = next(
                            (again for again in _versions(bucket, key) if again.version_id == version.version_id),
                            version,
                        )
                    data = stored.read()
            versions.append((state_pickle.dumps(version), data))
        record_key = (account, bucket.name, _bucket_identity(bucket), key)
        return (self.name, "object", record_key, versions or None)

    def apply_entities(self, service, records: list, report) -> None:
        from localstack.services.s3.models import S3DeleteMarker, VersionedKeyStore

        storage = _s3_storage()
        latest = {record[2]: record[3] for record in records if record[1] == "object"}
        buckets = {(account, bucket.name, _bucket_identity(bucket)): bucket for account, bucket in self._buckets()}
        for bucket in buckets.values():  # each bucket's folder, which S3 writes its larger objects into
            os.makedirs(os.path.join(storage.root_directory, bucket.name), exist_ok=True)
        for (account, name, identity, key), versions in latest.items():
            bucket = buckets.get((account, name, identity))
            if bucket is None or versions is None:
                continue  # the bucket was deleted, created again or made versioned after it; or the key deleted
            loaded = []
            for pickled, data in versions:
                version = state_pickle.loads(pickled)
                if not isinstance(version, S3DeleteMarker):
                    if len(data) != version.size:
                        report(
                            f"s3://{name}/{key} (version {version.version_id})",
                            f"{len(data)} bytes saved, its metadata says {version.size}; left out",
                        )
                        continue
                    with storage.open(bucket.name, version, mode="w") as stored:
                        stored.write(io.BytesIO(data))
                loaded.append(version)
            if isinstance(bucket.objects, VersionedKeyStore):
                for version in loaded:
                    bucket.objects.set(key, version)
            elif loaded:
                bucket.objects.set(key, loaded[-1])

    def after_load(self, service) -> None:
        self.written_buckets = {(account, bucket.name, _bucket_identity(bucket)) for account, bucket in self._buckets()}


# --- CloudWatch Logs ----------------------------------------------------------------------------


def _stream_identity(stream) -> int:
    return stream.creation_time


def _stream_fields(stream) -> dict:
    """What PutLogEvents changes on a stream besides its events (timestamps, sizes, token)."""
    return {name: value for name, value in vars(stream).items() if name not in ("events", "log_group")}


class LogsState(KeyedState):
    """CloudWatch Logs (moto's log groups): each stream's new events written as they come;
    the keys are streams, (account, region, group, stream)."""

    marks = ("written_events",)

    def __init__(self, name: str):
        super().__init__(name)
        self.written_events: dict[tuple, int] = {}  # stream identity -> last event id written

    @property
    def strip(self):
        from moto.logs.models import LogStream

        return {LogStream: lambda stream: {"events": []}}

    def note(self, context) -> None:
        request = context.service_request or {}
        with self.lock:
            if context.operation.name == "PutLogEvents":
                self.keys.add(
                    (context.account_id, context.region, request.get("logGroupName"), request.get("logStreamName"))
                )
            else:
                self.changed = True

    def forget_written(self) -> None:
        self.written_events.clear()

    def records(self, service, taken) -> list:
        changed, streams = taken
        records = []
        if changed:
            records.append(self.state_record(service))
            current = {self._identity(account, region, stream): stream for account, region, stream in self._streams()}
            for identity, stream in current.items():
                if identity not in self.written_events:
                    records += self._events_record(identity, stream)
            self.written_events = {identity: self.written_events.get(identity, -1) for identity in current}
        for account, region, group_name, stream_name in streams:
            stream = self._stream(account, region, group_name, stream_name)
            if stream is not None:
                records += self._events_record(self._identity(account, region, stream), stream)
        return records

    def all_records(self, service) -> list:
        records = [self.state_record(service)]
        for account, region, stream in self._streams():
            records += self._events_record(self._identity(account, region, stream), stream, everything=True)
        return records

    @staticmethod
    def _identity(account, region, stream) -> tuple:
        return (account, region, stream.log_group.name, stream.log_stream_name, _stream_identity(stream))

    @staticmethod
    def _streams():
        from moto.logs.models import logs_backends

        for account, regions in list(logs_backends.items()):
            for region, backend in list(regions.items()):
                for group in list(backend.groups.values()):
                    for stream in list(group.streams.values()):
                        yield account, region, stream

    @staticmethod
    def _stream(account, region, group_name, stream_name):
        from moto.logs.models import logs_backends

        regions = logs_backends.get(account)
        backend = regions.get(region) if regions is not None else None
        group = backend.groups.get(group_name) if backend is not None else None
        return group.streams.get(stream_name) if group is not None else None

    def _events_record(self, identity: tuple, stream, everything: bool = False) -> list:
        """The stream's events after the last one written (events only ever come after;
        `everything`: all of them, for a snapshot, which leaves the journal's mark alone)."""
        last = -1 if everything else self.written_events.get(identity, -1)
        events, added = list(stream.events), []
        for event in reversed(events):
            if event.event_id <= last:
                break
            added.append((event.event_id, event.ingestion_time, event.timestamp, event.message))
        added.reverse()
        if added and not everything:
            self.written_events[identity] = added[-1][0]
        return [(self.name, "events", identity, (added, _stream_fields(stream)))]

    def apply_entities(self, service, records: list, report) -> None:
        from moto.logs.models import LogEvent

        streams = {self._identity(account, region, stream): stream for account, region, stream in self._streams()}
        highest = -1
        for record in records:
            stream = streams.get(record[2])
            if record[1] != "events" or stream is None:
                continue  # the stream was deleted, or created again, after this record
            added, fields = record[3]
            last = stream.events[-1].event_id if stream.events else -1
            for event_id, ingestion_time, timestamp, message in added:
                if event_id > last:
                    event = LogEvent.__new__(LogEvent)
                    event.event_id, event.ingestion_time, event.timestamp, event.message = (
                        event_id,
                        ingestion_time,
                        timestamp,
                        message,
                    )
                    stream.events.append(event)
            vars(stream).update(fields)
            highest = max(highest, stream.events[-1].event_id if stream.events else -1)
        # moto numbers events from a class-wide counter, which starts at 0 in a new process
        LogEvent._event_id = max(LogEvent._event_id, highest + 1)

    def after_load(self, service) -> None:
        self.written_events = {
            self._identity(account, region, stream): (stream.events[-1].event_id if stream.events else -1)
            for account, region, stream in self._streams()
        }


# --- SQS ----------------------------------------------------------------------------------------


def _sqs_queues():
    from localstack.services.sqs.models import sqs_stores

    for account, region, store in sqs_stores.iter_stores():
        for name, queue in list(store.queues.items()):
            yield (account, region, name), queue


def _held_messages(queue) -> dict:
    """{message id: message} of every message the queue holds: waiting, in flight or delayed.
    Each container is copied in one step (atomic under the GIL); a message a receive has
    taken off the heap and not yet put in flight is in none for that moment."""
    from localstack.services.sqs.models import FifoQueue

    held = [*list(queue.inflight), *list(queue.delayed)]
    if isinstance(queue, FifoQueue):
        for group in list(queue.message_groups.values()):
            held += list(group.messages)
    else:
        held += list(queue.visible.queue)
    return {message.message_id: message for message in held}


def _pickled_message(message) -> bytes:
    """A message pickled as it is now (a receive adds its receipt handle without the queue's
    lock: pickled again if that happened meanwhile). The queue's lock is not taken: a forked
    snapshot's copy would wait forever on one held by a thread that is not in the copy."""
    return _pickled_while_still(lambda: state_pickle.dumps(message))


def _message_version(message) -> tuple:
    """What SQS changes on a message after it is sent (receipt, visibility, deletion)."""
    return (
        message.receive_count,
        message.visibility_deadline,
        message.visibility_timeout,
        message.delay_seconds,
        message.deleted,
        message.first_received,
        len(message.receipt_handles),
    )


def _put_back(queue, messages: list) -> None:
    """Messages into the containers their own fields place them in, each container in sending
    order. A FIFO queue's messages that were received are put in flight, in the order they
    were received, whether their visibility ended or not (but for those given a visibility of
    0, which SQS put back in their group at once): SQS's worker makes them visible again in
    that order and stops at one still hidden, so a group stays blocked while a message of it
    is in flight, as before."""
    from localstack.services.sqs.models import FifoQueue

    fifo = isinstance(queue, FifoQueue)
    in_flight, rest = [], []
    for message in sorted(messages, key=lambda m: m.priority):
        if fifo:  # a visibility of 0 (a receive's, or changed to 0) put it back in its group
            waiting = message.visibility_deadline is None or message.visibility_timeout == 0 or message.is_delayed
        else:
            waiting = message.visibility_deadline is None or message.is_visible or message.is_delayed
        (rest if waiting else in_flight).append(message)
    for message in sorted(in_flight, key=lambda m: m.last_received or 0):
        queue.add_inflight_message(message)
        if fifo:
            queue.inflight_groups.add(queue.get_message_group(message.message_group_id))
    for message in rest:
        if message.is_delayed:
            queue.delayed.add(message)
        else:
            queue._put_message(message)
    for message in messages:
        for handle in message.receipt_handles:
            queue.receipts[handle] = message


class SqsState(ServiceState):
    """SQS: the queues (``state``, without their messages) and each ``message``, (account,
    region, queue, message id), written when it was sent or SQS changed it (received,
    visibility changed) and as None once gone. A write compares a few fields of every held
    message with what was written (about a microsecond each), and pickles only the messages
    that changed: a queue holding thousands costs a second's journal what that second
    changed, not what the queues hold. A message missing from its queue is written as gone
    when it was deleted, or when it is still missing at the next write (a receive moves it
    between containers; a move to the dead-letter queue or a purge is then written a second
    later, and a crash in between keeps a copy). A queue deleted, or deleted and made again,
    has its messages written as gone at once. FIFO queues keep the messages of their
    deduplication window (five minutes of sends) in ``state``. A message a receive has taken
    off the heap and not yet put in flight at the moment of a write is in no container: every
    write a change prompted is followed by one more, which finds it."""

    marks = ("written", "missing")

    def __init__(self, name: str):
        super().__init__(name)
        self.written: dict[tuple, tuple] = {}  # queue -> (the queue, {message id: (version, message)})
        self.missing: set[tuple] = set()  # (queue, message id) missing at the last write
        self.again = False  # the next write looks at the messages again, change or not

    @property
    def strip(self):
        from localstack.services.sqs.constants import DEDUPLICATION_INTERVAL_IN_SEC
        from localstack.services.sqs.models import FifoQueue, StandardQueue
        from localstack.services.sqs.queue import InterruptiblePriorityQueue, InterruptibleQueue

        def held() -> dict:  # new containers for each queue: pickled shared, they would load shared
            return {"inflight": {}, "delayed": set(), "receipts": {}}

        def deduplicating(queue) -> dict:
            # SQS never forgets a deduplication id; one older than its window decides nothing
            since = time.time() - DEDUPLICATION_INTERVAL_IN_SEC
            return {key: sent for key, sent in list(queue.deduplication.items()) if sent.priority > since}

        return {
            StandardQueue: lambda queue: {**held(), "visible": InterruptiblePriorityQueue()},
            FifoQueue: lambda queue: {
                **held(),
                "message_groups": {},
                "inflight_groups": set(),
                "message_group_queue": InterruptibleQueue(),
                "deduplication": deduplicating(queue),
            },
        }

    def take(self):
        # a write a change prompted is followed by one more, change or not: for the messages
        # missing from their queue then, and one a receive was moving between containers
        with self.lock:
            changed, again = self.changed, self.again
            self.changed, self.again = False, self.changed
        return changed or again

    def records(self, service, taken) -> list:
        if not taken:
            return []
        records, written, missing = [self.state_record(service)], {}, set()
        queues = dict(_sqs_queues())
        for key, queue in queues.items():
            was, before = self.written.get(key, (queue, {}))
            if was is not queue:  # deleted and made again: none of the old queue's messages is left
                records += self._gone(key, before)
                before = {}
            now = {}
            for message_id, message in _held_messages(queue).items():
                version = _message_version(message)
                now[message_id] = (version, message)
                if before.get(message_id, (None,))[0] != version:
                    records.append((self.name, "message", (*key, message_id), _pickled_message(message)))
            for message_id, (version, message) in before.items():
                if message_id in now:
                    continue
                if message.deleted or (key, message_id) in self.missing:
                    records.append((self.name, "message", (*key, message_id), None))
                else:
                    missing.add((key, message_id))
                    now[message_id] = (version, message)
            written[key] = (queue, now)
        for key, (_, before) in self.written.items():
            if key not in queues:  # the queue was deleted: its messages with it
                records += self._gone(key, before)
        self.written, self.missing = written, missing
        self.again = self.again or bool(missing)
        return records

    def _gone(self, key: tuple, messages: dict) -> list:
        return [(self.name, "message", (*key, message_id), None) for message_id in messages]

    def all_records(self, service) -> list:
        records = [self.state_record(service)]
        for key, queue in _sqs_queues():
            for message_id, message in _held_messages(queue).items():
                records.append((self.name, "message", (*key, message_id), _pickled_message(message)))
        return records

    def apply_entities(self, service, records: list, report) -> None:
        latest = {record[2]: record[3] for record in records if record[1] == "message"}
        by_queue: dict[tuple, list] = defaultdict(list)
        for (account, region, name, _), pickled in latest.items():
            message = state_pickle.loads(pickled) if pickled is not None else None
            if message is not None and not message.deleted:
                by_queue[(account, region, name)].append(message)
        queues = dict(_sqs_queues())
        for key, messages in by_queue.items():
            if key in queues:  # else the queue was deleted after them
                _put_back(queues[key], messages)

    def after_load(self, service) -> None:
        # nothing counts as written: the first write after a start writes every message once
        # (a state loaded from a snapshot that held the messages in its ``state``)
        self.written, self.missing = {}, set()


# --- services that change by themselves -------------------------------------------------------


class ChangingByItself(ServiceState):
    """A service whose resources move on after the request that started them (a function
    becomes Active, an execution ends, a stack's creation completes): written again whenever
    what `signature` reads of them has changed."""

    def __init__(self, name: str):
        super().__init__(name)
        self.written_signature = None

    def signature(self):
        raise NotImplementedError

    def take(self):
        signature = self.signature()
        with self.lock:
            changed, self.changed = self.changed or signature != self.written_signature, False
        self.written_signature = signature
        return changed

    def give_back(self, taken) -> None:
        super().give_back(taken)
        self.written_signature = None

    def after_load(self, service) -> None:
        self.written_signature = self.signature()


def _lambda_versions():
    from localstack.services.lambda_.invocation.models import lambda_stores

    for _, _, store in lambda_stores.iter_stores():
        for function in list(store.functions.values()):
            yield from list(function.versions.values())


class LambdaState(ChangingByItself):
    """Lambda: its store whole, and what it holds outside the store (where each DynamoDB stream
    mapping reads next, the asynchronous invocations queued) as a ``runtime`` record whenever
    that changed. Invoking a function changes neither."""

    INVOCATIONS = {"Invoke", "InvokeAsync", "InvokeWithResponseStream"}
    marks = ("written_runtime",)

    def __init__(self, name: str):
        super().__init__(name)
        self.written_runtime = None
        self.loaded_runtime: dict = {}

    def note(self, context) -> None:
        if context.operation.name not in self.INVOCATIONS:
            self.changed = True

    def signature(self):
        return tuple(
            (
                version.id.qualified_arn(),
                version.config.state.state,
                getattr(version.config.last_update, "status", None),
            )
            for version in _lambda_versions()
        )

    def runtime(self, service) -> dict:
        from localstack_nodocker import drain, stream_mapping

        # the pollers are held by the Lambda provider (a seam.py target)
        workers = dict(service.lifecycle_hook.esm_workers)
        return {"stream_positions": stream_mapping.positions(workers), "queued_invocations": drain.queued_invocations()}

    def records(self, service, taken) -> list:
        records = super().records(service, taken)
        runtime = self.runtime(service)
        if runtime != self.written_runtime:
            records.append((self.name, "runtime", None, runtime))
            self.written_runtime = runtime
        return records

    def all_records(self, service) -> list:
        return [*super().all_records(service), (self.name, "runtime", None, self.runtime(service))]

    def apply_entities(self, service, records: list, report) -> None:
        runtime = [record for record in records if record[1] == "runtime"]
        super().apply_entities(service, [record for record in records if record[1] != "runtime"], report)
        self.loaded_runtime = runtime[-1][3] if runtime else {}

    def after_load(self, service) -> None:
        super().after_load(service)
        self.written_runtime = self.runtime(service)


class StepFunctionsState(ChangingByItself):
    def signature(self):
        from localstack.services.stepfunctions.backend.models import sfn_stores

        return tuple(
            (arn, execution.exec_status)
            for _, _, store in sfn_stores.iter_stores()
            for arn, execution in list(store.executions.items())
        )


class CloudFormationState(ChangingByItself):
    def signature(self):
        from localstack.services.cloudformation.models import cloudformation_stores

        return tuple(
            (identifier, resource.status)
            for _, _, store in cloudformation_stores.iter_stores()
            for resources in (store.stacks_v2, store.change_sets)
            for identifier, resource in list(resources.items())
        )


ADAPTED = {
    "dynamodb": DynamoDBState,
    "s3": S3State,
    "sqs": SqsState,
    "logs": LogsState,
    "lambda": LambdaState,
    "stepfunctions": StepFunctionsState,
    "cloudformation": CloudFormationState,
}


def state_of(name: str) -> ServiceState:
    return ADAPTED.get(name, ServiceState)(name)
