"""The seam: every LocalStack and moto internal the engine replaces or reads, and what needs it.

The engine uses LocalStack's extension points where they exist (runtime executor, service
providers, CloudFormation resource providers, hooks, state visitors). Where upstream lacks
what the stack needs, it replaces or reads an internal instead, and an internal can move in
any release: a replaced attribute that no longer exists is simply not called, an override
whose base method was renamed is never called, and the feature stops without a word.

So each such internal is a ``Target`` here, with the shape the engine relies on (the
parameters it binds or passes, the attributes it reads, the calls that make a replacement
take effect) and the feature that depends on it. ``check`` resolves every target and compares
its shape; the engine's first start hook (plugins.check_engine_seam) refuses to start on any
difference, naming the target, the LocalStack and moto versions and the feature. The patches
go through ``replace``, which checks the same shape once more where they are applied.
docs/engine.md says why each one exists and what would let it go.

Standard library only, importing nothing of LocalStack until asked: the tests load it alone.
"""

import ast
import functools
import importlib
import inspect
import sys
import textwrap
import types
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

# How the engine uses a target.
REPLACED = "replaced"  # the attribute is set to the engine's own
WRAPPED = "wrapped"  # replaced by the engine's, which calls the original
OVERRIDDEN = "overridden"  # a subclass of the engine's overrides it; upstream must still call it
READ = "read"  # read or called, not changed


class SeamBroken(Exception):
    """A target is missing or has another shape; the message names it, the versions and the feature."""


# --- shapes ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _module_tree(filename: str) -> tuple[list[str], ast.Module]:
    source = Path(filename).read_text(encoding="utf-8")
    return source.splitlines(keepends=True), ast.parse(source)


def _class_node(klass: type):
    """(source lines, ClassDef) of a class, from its module parsed once (inspect.getsource
    parses the module anew for every class: seconds for LocalStack's generated API classes)."""
    try:
        lines, tree = _module_tree(inspect.getsourcefile(klass))
    except (OSError, TypeError):
        return None
    scope = tree.body
    for name in klass.__qualname__.split("."):
        node = next((node for node in scope if isinstance(node, ast.ClassDef) and node.name == name), None)
        if node is None:
            return None
        scope = node.body
    return lines, node


def _source(value) -> str | None:
    if isinstance(value, type):
        found = _class_node(value)
        return None if found is None else "".join(found[0][found[1].lineno - 1 : found[1].end_lineno])
    try:
        return textwrap.dedent(inspect.getsource(value))
    except (OSError, TypeError):
        return None


class Parameters:
    """A callable whose first parameters are ``leading`` (in this order) and which also takes
    ``named`` (by name, anywhere; a ``**name`` counts)."""

    def __init__(self, *leading: str, named: tuple[str, ...] = ()):
        self.leading, self.named = leading, named

    def problem(self, value) -> str | None:
        if not callable(value):
            return f"is a {type(value).__name__}, not a callable"
        try:
            names = list(inspect.signature(value).parameters)
        except (TypeError, ValueError):
            return "has no readable signature"
        if names[: len(self.leading)] != list(self.leading):
            return f"takes ({', '.join(names)}), expected ({', '.join(self.leading)}, ...)"
        missing = [name for name in self.named if name not in names]
        if missing:
            return f"takes ({', '.join(names)}): no parameter {', '.join(missing)}"
        return None

    def __str__(self):
        return f"({', '.join([*self.leading, '...', *self.named])})"


class Property:
    def problem(self, value) -> str | None:
        return None if isinstance(value, property) else f"is a {type(value).__name__}, not a property"

    def __str__(self):
        return "a property"


class Class:
    def problem(self, value) -> str | None:
        return None if isinstance(value, type) else f"is a {type(value).__name__}, not a class"

    def __str__(self):
        return "a class"


class Module:
    def problem(self, value) -> str | None:
        return None if isinstance(value, types.ModuleType) else f"is a {type(value).__name__}, not a module"

    def __str__(self):
        return "a module"


class HasAttributes:
    def __init__(self, *names: str):
        self.names = names

    def problem(self, value) -> str | None:
        missing = [name for name in self.names if not hasattr(value, name)]
        return f"has no {', '.join(missing)}" if missing else None

    def __str__(self):
        return f"with {', '.join(self.names)}"


class Mentions:
    """The source of the target (a function, class or module) contains each text: the call that
    makes a replacement or an override take effect."""

    def __init__(self, *texts: str):
        self.texts = texts

    def problem(self, value) -> str | None:
        source = _source(value)
        if source is None:
            return "has no readable source to check"
        missing = [text for text in self.texts if text not in source]
        return f"no longer contains {', '.join(repr(text) for text in missing)}" if missing else None

    def __str__(self):
        return f"containing {', '.join(repr(text) for text in self.texts)}"


class Assigns:
    """A class whose instances have these attributes: assigned as ``self.<name>`` in a method,
    declared in a class body, or a class attribute, along the class's bases."""

    def __init__(self, *names: str):
        self.names = names

    def problem(self, value) -> str | None:
        if not isinstance(value, type):
            return f"is a {type(value).__name__}, not a class"
        missing, readable = {name for name in self.names if not hasattr(value, name)}, False
        for klass in value.__mro__[:-1]:  # not object; from the class itself, until all are found
            if not missing:
                break
            found = _class_node(klass)
            if found is not None:
                readable = True
                missing -= _assigned_names(found[1])
        if missing and not readable:
            return "has no readable source to check"
        return f"sets no attribute {', '.join(sorted(missing))} on its instances" if missing else None

    def __str__(self):
        return f"instances with {', '.join(self.names)}"


def _assigned_names(klass: ast.ClassDef) -> set[str]:
    """``self.<name> = ...`` in the class's methods, and the names annotated in its body."""
    names = {
        statement.target.id
        for statement in klass.body
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
    }
    for node in ast.walk(klass):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id == "self":
                names.add(node.attr)
    return names


# --- targets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """``path`` is ``module:attribute.attribute``; ``by`` is the engine module that uses it."""

    path: str
    use: str
    feature: str
    by: str
    shapes: tuple = ()

    def resolve(self, import_module=importlib.import_module):
        """(owner, attribute name, value); SeamBroken if any part is missing."""
        module_name, _, attributes = self.path.partition(":")
        try:
            owner = import_module(module_name)
        except Exception as exc:  # any import failure is the same refusal
            raise SeamBroken(self.broken(f"cannot be imported ({type(exc).__name__}: {exc})")) from None
        names = attributes.split(".") if attributes else []
        value = owner
        for depth, name in enumerate(names):
            owner = value
            if not hasattr(owner, name):
                where = ".".join([module_name, *names[:depth]])
                raise SeamBroken(self.broken(f"is missing ({where} has no attribute {name!r})"))
            # inspect.getattr_static: a property or a staticmethod as the class holds it
            value = inspect.getattr_static(owner, name) if isinstance(owner, type) else getattr(owner, name)
            if isinstance(value, (staticmethod, classmethod)):
                value = getattr(owner, name)
        return owner, names[-1] if names else None, value

    def problem(self, import_module=importlib.import_module) -> str | None:
        """None if the target is there with the expected shape, else the refusal line."""
        try:
            _, _, value = self.resolve(import_module)
        except SeamBroken as exc:
            return str(exc)
        for shape in self.shapes:
            problem = shape.problem(value)
            if problem:
                return self.broken(f"{problem} (expected {shape})")
        return None

    def broken(self, problem: str) -> str:
        return f"{self.path} {problem}; {self.use} by {self.by} for: {self.feature}"


TARGETS: list[Target] = []


def _target(path: str, use: str, feature: str, by: str, *shapes) -> Target:
    target = Target(path, use, feature, by, shapes)
    TARGETS.append(target)
    return target


def original(target: Target):
    """The target's value, after checking its shape (what a replacement wraps)."""
    problem = target.problem()
    if problem:
        raise SeamBroken(refusal([problem]))
    return target.resolve()[2]


def replace(target: Target, replacement) -> None:
    """Set the target to ``replacement``, after checking its shape."""
    original(target)
    owner, name, _ = target.resolve()
    setattr(owner, name, replacement)


def check(targets: list[Target] | None = None, import_module=importlib.import_module) -> list[str]:
    """The refusal lines of every target that is missing or has another shape."""
    try:
        problems = [target.problem(import_module) for target in (TARGETS if targets is None else targets)]
    finally:
        _module_tree.cache_clear()  # the parsed modules are large, and needed only here
    return [problem for problem in problems if problem]


def unloadable_plugins() -> list[str]:
    """The engine's own entry points that fail to import: LocalStack's plugin manager logs such a
    failure and carries on without the plugin (a hook that never runs, a provider never found)."""
    problems = []
    for entry_point in metadata.distribution("localstack-nodocker").entry_points:
        try:
            entry_point.load()
        except Exception as exc:  # whatever the import raises is the reason
            problems.append(
                f"the engine's plugin {entry_point.name} ({entry_point.value}) cannot be loaded: "
                f"{type(exc).__name__}: {exc}"
            )
    return problems


def versions() -> str:
    """The versions a refusal names: the seam's targets belong to these releases."""
    parts = []
    for distribution in ("localstack-core", "moto-ext"):
        try:
            parts.append(f"{distribution} {metadata.version(distribution)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{distribution} not installed")
    moto = sys.modules.get("moto")
    if moto is not None:
        parts[-1] += f" (moto {getattr(moto, '__version__', '?')})"
    return ", ".join(parts) + ", Python {}.{}".format(*sys.version_info[:2])


def refusal(problems: list[str]) -> str:
    return (
        f"the engine's plugins do not fit this LocalStack ({versions()}): "
        + "; ".join(problems)
        + ". The engine was not started: install the pinned engine (make install), "
        "or see docs/engine.md for what each internal is for and how to adapt it."
    )


# --- the registry ------------------------------------------------------------------------------
# Features, as the README and docs/engine.md name them.
EXACT_NUMBERS = "DynamoDB numbers compared exactly (sort keys that differ past the 16th digit)"
ATOMIC_REQUESTS = "DynamoDB requests one at a time (atomic conditional writes and transactions)"
PARTITION_QUERY = "DynamoDB Query reading only its partition, the paged index Query"
INDEX_UPKEEP = "DynamoDB index partitions kept up with every write"
TRANSACTIONS = "DynamoDB transactions that save and restore only their own items"
STREAM_RECORDS = "DynamoDB Streams records as DynamoDB writes them (no record for a cancelled transaction)"
BISECT = "BisectBatchOnFunctionError for DynamoDB stream mappings"
STREAM_POSITIONS = "DynamoDB stream mappings resuming where they were after a restart"
ROLLBACK = "failed CloudFormation stack creations rolled back"
METRICS_NO_FSYNC = "CloudWatch metrics stored without an fsync per datapoint"
REQUEST_HOOKS = "counting requests (heap freezing) and marking changed services (persistence)"
S3_STATE = "S3 objects saved and loaded with the engine's state"
EVENTS_RESTART = "EventBridge rules routing events after a restart"
LOCKS_RESTORED = "locks in saved state restored free"
SERVICE_STATE = "the engine's state saved and loaded per service"

_DDB_TABLE = "moto.dynamodb.models.table"
_DDB_BACKEND = "moto.dynamodb.models:DynamoDBBackend"
_CONDITIONS = ("condition_expression", "expression_attribute_names", "expression_attribute_values")

CAST_VALUE = _target(
    "moto.dynamodb.models.dynamo_type:DynamoType.cast_value", REPLACED, EXACT_NUMBERS, "dynamodb.py", Property()
)
CALL_ACTION = _target(
    "moto.dynamodb.responses:DynamoHandler.call_action", WRAPPED, ATOMIC_REQUESTS, "dynamodb.py", Parameters("self")
)
_target(
    "moto.dynamodb.responses:DynamoHandler.get_endpoint_name",
    READ,
    INDEX_UPKEEP,
    "dynamodb.py",
    Parameters("self", "headers"),
)
TABLE_QUERY = _target(
    f"{_DDB_TABLE}:Table.query",
    WRAPPED,
    PARTITION_QUERY,
    "dynamodb.py",
    Parameters(
        "self",
        "hash_key",
        named=(
            "range_comparison",
            "limit",
            "exclusive_start_key",
            "scan_index_forward",
            "index_name",
            "filter_expression",
            "filter_kwargs",
        ),
    ),
    # the candidates are handed to moto through all_items: its Query must still read them there
    Mentions("self.all_items()"),
)
TABLE_ALL_ITEMS = _target(f"{_DDB_TABLE}:Table.all_items", WRAPPED, PARTITION_QUERY, "dynamodb.py", Parameters("self"))
_target(
    f"{_DDB_TABLE}:Table.sorted_items",
    READ,
    PARTITION_QUERY,
    "dynamodb.py",
    # the sorted partitions keep moto's order: the attributes this method sorts by
    Mentions("self._generate_attr_to_sort_by("),
)
_target(
    f"{_DDB_TABLE}:Table._generate_attr_to_sort_by",
    READ,
    PARTITION_QUERY,
    "dynamodb.py",
    Parameters("self", "hash_key_attrs", "range_key_attrs"),
)
_target(f"{_DDB_TABLE}:Table.all_indexes", READ, PARTITION_QUERY, "dynamodb.py", Parameters("self"))
_target(
    f"{_DDB_TABLE}:Table",
    READ,
    f"{PARTITION_QUERY}; {STREAM_RECORDS}",
    "dynamodb.py, streams.py",
    Assigns(
        "items",
        "hash_key_attr",
        "range_key_attr",
        "name",
        "region_name",
        "schema",
        "table_arn",
        "stream_shard",
        "stream_specification",
        "latest_stream_label",
    ),
)
_target(f"{_DDB_TABLE}:Table.get_item", READ, TRANSACTIONS, "dynamodb.py", Parameters("self", "hash_key", "range_key"))
TABLE_PUT_ITEM = _target(
    f"{_DDB_TABLE}:Table.put_item", WRAPPED, INDEX_UPKEEP, "dynamodb.py", Parameters("self", "item_attrs")
)
TABLE_DELETE_ITEM = _target(
    f"{_DDB_TABLE}:Table.delete_item", WRAPPED, INDEX_UPKEEP, "dynamodb.py", Parameters("self", "hash_key", "range_key")
)
BACKEND_UPDATE_ITEM = _target(
    f"{_DDB_BACKEND}.update_item",
    WRAPPED,
    f"{INDEX_UPKEEP}; {TRANSACTIONS}",
    "dynamodb.py",
    Parameters("self", "table_name", "key", named=("update_expression", *_CONDITIONS)),
)
TRANSACT_WRITE_ITEMS = _target(
    f"{_DDB_BACKEND}.transact_write_items", REPLACED, TRANSACTIONS, "dynamodb.py", Parameters("self", "transact_items")
)
_target(f"{_DDB_BACKEND}.get_table", READ, TRANSACTIONS, "dynamodb.py", Parameters("self", "table_name"))
_target(f"{_DDB_BACKEND}.get_item", READ, TRANSACTIONS, "dynamodb.py", Parameters("self", "table_name", "keys"))
_target(
    f"{_DDB_BACKEND}.put_item",
    READ,
    TRANSACTIONS,
    "dynamodb.py",
    Parameters("self", "table_name", "item_attrs", named=_CONDITIONS),
)
_target(
    f"{_DDB_BACKEND}.delete_item",
    READ,
    TRANSACTIONS,
    "dynamodb.py",
    Parameters("self", "table_name", "key", named=_CONDITIONS),
)
_target(f"{_DDB_BACKEND}.get_keys_value", READ, TRANSACTIONS, "dynamodb.py", Parameters("self", "table", "keys"))
_target(_DDB_BACKEND, READ, f"{TRANSACTIONS}; {STREAM_RECORDS}", "dynamodb.py, streams.py", Assigns("tables"))
_target(
    "moto.dynamodb.comparisons:get_filter_expression",
    READ,
    TRANSACTIONS,
    "dynamodb.py",
    Parameters("expr", "names", "values"),
)
_target("moto.dynamodb.comparisons:OpDefault", READ, PARTITION_QUERY, "dynamodb.py", Class())
STREAM_SHARD_ADD = _target(
    f"{_DDB_TABLE}:StreamShard.add",
    REPLACED,
    STREAM_RECORDS,
    "streams.py, dynamodb.py",
    Parameters("self", "old", "new"),
)
_target(
    f"{_DDB_TABLE}:StreamShard",
    READ,
    STREAM_RECORDS,
    "streams.py",
    Assigns("table", "items", "starting_sequence_number", "id", "created_on"),
    HasAttributes("to_json"),
)
_target(
    f"{_DDB_TABLE}:StreamRecord",
    READ,
    STREAM_RECORDS,
    "streams.py",
    Parameters("table", "stream_type", "event_name", "old", "new", "seq"),
    Assigns("record"),
    HasAttributes("to_json"),
)
_target(
    "localstack.services.moto:MotoFallbackDispatcher",
    READ,
    "DynamoDB served by moto (the dynamodb:moto provider)",
    "dynamodb.py",
    Parameters("provider"),
)

_ESM = "localstack.services.lambda_.event_source_mapping"
ESM_DYNAMODB_POLLER = _target(
    f"{_ESM}.esm_worker_factory:DynamoDBPoller", REPLACED, f"{BISECT}; {STREAM_POSITIONS}", "stream_mapping.py", Class()
)
GET_ESM_WORKER = _target(
    f"{_ESM}.esm_worker_factory:EsmWorkerFactory.get_esm_worker",
    WRAPPED,
    BISECT,
    "stream_mapping.py",
    Parameters("self"),
    # the factory builds stream pollers from its module's name, which is replaced
    Mentions("DynamoDBPoller("),
)
_target(f"{_ESM}.esm_worker_factory:EsmWorkerFactory", READ, BISECT, "stream_mapping.py", Assigns("esm_config"))
_target(
    f"{_ESM}.pollers.stream_poller:StreamPoller",
    READ,
    f"{BISECT}; {STREAM_POSITIONS}",
    "stream_mapping.py",
    # the overrides below take effect only while the poller loop calls them
    Mentions("self.initialize_shards()", "self.forward_events_to_target("),
)
_target(
    f"{_ESM}.pollers.dynamodb_poller:DynamoDBPoller.initialize_shards",
    OVERRIDDEN,
    STREAM_POSITIONS,
    "stream_mapping.py",
    Parameters("self"),
)
_target(
    f"{_ESM}.pollers.dynamodb_poller:DynamoDBPoller.forward_events_to_target",
    OVERRIDDEN,
    BISECT,
    "stream_mapping.py",
    Parameters("self", "shard_id", "records"),
)
_target(
    f"{_ESM}.pollers.dynamodb_poller:DynamoDBPoller.transform_into_events",
    READ,
    BISECT,
    "stream_mapping.py",
    Parameters("self", "records", "shard_id"),
)
for _step in ("pre_filter", "filter_events", "post_filter", "add_source_metadata"):
    _target(
        f"{_ESM}.pollers.dynamodb_poller:DynamoDBPoller.{_step}", READ, BISECT, "stream_mapping.py", Parameters("self")
    )
_target(
    f"{_ESM}.pollers.dynamodb_poller:DynamoDBPoller.get_sequence_number",
    READ,
    BISECT,
    "stream_mapping.py",
    Parameters("self", "record"),
)
_target(
    f"{_ESM}.pollers.dynamodb_poller:DynamoDBPoller",
    READ,
    f"{BISECT}; {STREAM_POSITIONS}",
    "stream_mapping.py",
    Assigns("processor", "shards", "esm_uuid", "source_arn"),
)
_target(
    f"{_ESM}.pollers.poller:get_batch_item_failures",
    READ,
    BISECT,
    "stream_mapping.py",
    Parameters("result", "valid_item_ids"),
)
_target(
    f"{_ESM}.event_processor:PartialBatchFailureError",
    READ,
    BISECT,
    "stream_mapping.py",
    Assigns("partial_failure_payload"),
)
_target(
    "localstack.services.lambda_.provider:LambdaProvider",
    READ,
    STREAM_POSITIONS,
    "persistence.py",
    Assigns("esm_workers"),
)
_target(
    f"{_ESM}.esm_worker:EsmWorker",
    READ,
    f"{BISECT}; {STREAM_POSITIONS}",
    "stream_mapping.py",
    Assigns("poller"),
)

_CFN = "localstack.services.cloudformation"
CHANGE_SET_PROCESS = _target(
    f"{_CFN}.engine.v2.change_set_model_executor:ChangeSetModelExecutor.process",
    WRAPPED,
    ROLLBACK,
    "cloudformation_rollback.py",
    Parameters("self"),
)
_target(
    f"{_CFN}.engine.v2.change_set_model_executor:ChangeSetModelExecutor.execute",
    READ,
    ROLLBACK,
    "cloudformation_rollback.py",
    # the wrapped process sees the failure only while execute calls it
    Mentions("self.process()"),
)
_target(
    f"{_CFN}.engine.v2.change_set_model_executor:ChangeSetModelExecutor._execute_resource_action",
    READ,
    ROLLBACK,
    "cloudformation_rollback.py",
    Parameters(
        "self",
        named=("action", "logical_resource_id", "resource_type", "before_properties", "after_properties"),
    ),
)
_target(
    f"{_CFN}.engine.v2.change_set_model_executor:ChangeSetModelExecutor",
    READ,
    ROLLBACK,
    "cloudformation_rollback.py",
    Assigns("resources", "_change_set"),
)
_target(
    f"{_CFN}.engine.v2.change_set_model_preproc:PreprocProperties",
    READ,
    ROLLBACK,
    "cloudformation_rollback.py",
    Parameters("properties"),
)
STACK_SET_STATUS = _target(
    f"{_CFN}.v2.entities:Stack.set_stack_status",
    WRAPPED,
    ROLLBACK,
    "cloudformation_rollback.py",
    Parameters("self", "status", "reason"),
)
_target(
    f"{_CFN}.v2.entities:Stack.set_resource_status",
    READ,
    ROLLBACK,
    "cloudformation_rollback.py",
    Parameters(
        "self",
        named=("logical_resource_id", "physical_resource_id", "resource_type", "status", "resource_status_reason"),
    ),
)
_target(
    f"{_CFN}.v2.entities:Stack",
    READ,
    ROLLBACK,
    "cloudformation_rollback.py",
    Assigns("request_payload", "status", "stack_id"),
)

METRICS_SQLITE = _target(
    "localstack.services.cloudwatch.cloudwatch_database_helper:sqlite3",
    REPLACED,
    METRICS_NO_FSYNC,
    "serving.py",
    Module(),
)
_target(
    "localstack.services.cloudwatch.cloudwatch_database_helper",
    READ,
    METRICS_NO_FSYNC,
    "serving.py",
    # connections are opened through the module's name, which is replaced
    Mentions("sqlite3.connect("),
)
_target(
    "localstack.aws.handlers:run_custom_response_handlers",
    READ,
    REQUEST_HOOKS,
    "serving.py, persistence.py",
    HasAttributes("append"),
)
_target(
    "localstack.aws.api.core:RequestContext",
    READ,
    REQUEST_HOOKS,
    "persistence.py",
    # a response handler that fails is only logged: the change marks would stop without a word
    Assigns("operation", "service", "is_internal_call"),
)

_target(
    "localstack.services.plugins:Service",
    READ,
    f"{SERVICE_STATE}; {S3_STATE}",
    "persistence.py",
    Assigns("_provider", "lifecycle_hook"),
    HasAttributes("accept_state_visitor"),
)
_target("localstack.services.s3.provider:S3Provider", READ, S3_STATE, "persistence.py", Assigns("_storage_backend"))
_target(
    "localstack.services.s3.storage.ephemeral:EphemeralS3ObjectStore.open",
    READ,
    S3_STATE,
    "persistence.py",
    Parameters("self", "bucket", "s3_object", "mode"),
)
_target(
    "localstack.services.s3.storage.ephemeral:EphemeralS3ObjectStore",
    READ,
    S3_STATE,
    "persistence.py",
    Assigns("root_directory"),
)
_target(
    "localstack.services.s3.models:VersionedKeyStore.values",
    READ,
    S3_STATE,
    "persistence.py",
    Parameters("self", "with_versions"),
)
_target("localstack.services.s3.models:S3DeleteMarker", READ, S3_STATE, "persistence.py", Class())
_target(
    "localstack.services.events.provider:EventsProvider",
    READ,
    EVENTS_RESTART,
    "restore.py",
    Assigns("_event_bus_services_store", "_rule_services_store"),
)
_target(
    "localstack.services.events.provider:EventsProvider.create_target_sender",
    READ,
    EVENTS_RESTART,
    "restore.py",
    Parameters("self", "target", "rule_arn", "rule_name", "region", "account_id"),
)
_target(
    "localstack.services.events.event_bus:EventBusService",
    READ,
    EVENTS_RESTART,
    "restore.py",
    Parameters("event_bus"),
)
_target("localstack.services.events.rule:RuleService", READ, EVENTS_RESTART, "persistence.py", Parameters("rule"))
_target("localstack.services.events.models:EventBus", READ, EVENTS_RESTART, "persistence.py", Assigns("arn", "rules"))
_target(
    "localstack.services.events.models:Rule", READ, EVENTS_RESTART, "persistence.py", Assigns("arn", "name", "targets")
)
_target("localstack.state.pickle:reducer", READ, LOCKS_RESTORED, "persistence.py", Parameters("cls", "restore"))
