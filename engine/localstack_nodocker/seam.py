"""The seam: every LocalStack, moto and Twisted internal the engine replaces or reads, and what needs it.

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
import json
import os
import sys
import textwrap
import threading
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


class TakesAttributes:
    """A class whose instances take attributes it does not declare (no ``__slots__``)."""

    def problem(self, value) -> str | None:
        if not isinstance(value, type):
            return f"is a {type(value).__name__}, not a class"
        slotted = [klass.__name__ for klass in value.__mro__[:-1] if "__slots__" in vars(klass)]
        return f"has __slots__ ({', '.join(slotted)}): its instances take no other attribute" if slotted else None

    def __str__(self):
        return "instances that take other attributes"


class Mentions:
    """The source of the target (a function, class or module) contains each text: the call that
    makes a replacement or an override take effect. ``in_order``: the texts follow one another
    in this order (handlers of a chain, a signal handler set before the runtime runs)."""

    def __init__(self, *texts: str, in_order: bool = False):
        self.texts, self.in_order = texts, in_order

    def problem(self, value) -> str | None:
        source = _source(value)
        if source is None:
            return "has no readable source to check"
        missing = [text for text in self.texts if text not in source]
        if missing:
            return f"no longer contains {', '.join(repr(text) for text in missing)}"
        if self.in_order:
            position = 0
            for text in self.texts:
                found = source.find(text, position)
                if found < 0:
                    return f"no longer has {', '.join(repr(text) for text in self.texts)} in this order"
                position = found + len(text)
        return None

    def __str__(self):
        return f"containing {', '.join(repr(text) for text in self.texts)}" + (
            " in this order" if self.in_order else ""
        )


class SameAs:
    """The same object as another ``module:attribute``: a name the engine replaces still holds
    the upstream class its replacement extends."""

    def __init__(self, path: str):
        self.path = path

    def problem(self, value) -> str | None:
        try:
            _, _, other = Target(self.path, READ, "", "").resolve()
        except SeamBroken:
            return f"cannot be compared with {self.path}, which is missing"
        return None if value is other else f"is {value!r}, not {self.path}"

    def __str__(self):
        return f"the same as {self.path}"


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


class Reads:
    """A class, or a function, whose code reads no attribute of ``name`` but these (and, of a
    class, its own methods): what the engine sets on an instance it makes is all its code uses."""

    def __init__(self, name: str, *attributes: str):
        self.name, self.attributes = name, set(attributes)

    def problem(self, value) -> str | None:
        found = _class_node(value) if isinstance(value, type) else None
        source = _source(value)
        if source is None:
            return "has no readable source to check"
        node = found[1] if found else ast.parse(source)
        own = {item.name for item in getattr(node, "body", []) if isinstance(item, ast.FunctionDef)} if found else set()
        read = {
            item.attr
            for item in ast.walk(node)
            if isinstance(item, ast.Attribute) and isinstance(item.value, ast.Name) and item.value.id == self.name
        }
        other = sorted(read - own - self.attributes)
        return f"reads {', '.join(f'{self.name}.{attribute}' for attribute in other)}" if other else None

    def __str__(self):
        return f"reading only {', '.join(f'{self.name}.{attribute}' for attribute in sorted(self.attributes))}"


class Maps:
    """A dict mapping each key to the value at a ``module:attribute`` path (compared with ``==``:
    a classmethod is bound anew at each lookup); ``only``: and no other key."""

    def __init__(self, entries: dict[str, str], only: bool = False):
        self.entries, self.only = entries, only

    def problem(self, value) -> str | None:
        if not isinstance(value, dict):
            return f"is a {type(value).__name__}, not a dict"
        if self.only and set(value) != set(self.entries):
            return f"has the keys {', '.join(repr(key) for key in value)}"
        for key, path in self.entries.items():
            try:
                _, _, expected = Target(path, READ, "", "").resolve()
            except SeamBroken:
                return f"cannot be compared with {path}, which is missing"
            if key not in value or value[key] != expected:
                return f"maps {key!r} to {value.get(key)!r}, not {path}"
        return None

    def __str__(self):
        entries = ", ".join(f"{key!r} to {path}" for key, path in self.entries.items())
        return f"mapping {entries}" + (" and nothing else" if self.only else "")


class Decorated:
    """A function whose layers are code of these qualified names, outermost first: each
    decorator's wrapper (``functools.wraps`` sets ``__wrapped__``), then the function itself. A
    decorator added, removed or written without ``wraps`` changes them."""

    def __init__(self, *layers: str):
        self.layers = layers

    def problem(self, value) -> str | None:
        layers, seen = [], value
        while seen is not None and len(layers) <= len(self.layers):
            code = getattr(seen, "__code__", None)
            if code is None:
                return f"has a layer {seen!r} that is not a Python function"
            layers.append(code.co_qualname)
            seen = getattr(seen, "__wrapped__", None)
        return None if tuple(layers) == self.layers else f"has the layers {', '.join(layers)}"

    def __str__(self):
        return f"the layers {', '.join(self.layers)}"


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


# --- patches applied when their module is imported ---------------------------------------------
# A start hook that patches a module LocalStack imports late or never would import it at every
# start only to patch it (CloudFormation's v2 engine and the EC2 API it loads: 0.3 to 0.5 s of CPU
# of a 3 s start; API Gateway's REST API chain, 0.2 to 0.3 s). ``on_import`` runs what a hook
# registers when the module is first imported instead, right after its code ran and before any
# importer gets it, or at once if it already is; ``replace_on_import`` patches a target that way.
# The start check still covers the targets (check_engine_seam, before the hooks), and ``replace``
# checks a target once more where it is applied.
_WAITING: dict[str, list] = {}  # module name -> what runs when it is imported, each given the module
_WAITING_LOCK = threading.Lock()


def on_import(module_name: str, run) -> None:
    """``run(module)`` once the module is imported, before any importer gets it (at once if it
    already is). What ``run`` raises fails that import."""
    with _WAITING_LOCK:
        _WAITING.setdefault(module_name, []).append(run)
        if _IMPORT_HOOK not in sys.meta_path:
            sys.meta_path.insert(0, _IMPORT_HOOK)  # only ever added: another thread may be iterating it
    if module_name in sys.modules:
        _imported(importlib.import_module(module_name))  # waits for an import under way in another thread


def replace_on_import(target: Target, replacement_for) -> None:
    """``replace(target, replacement_for(original))`` once the target's module is imported (at once
    if it already is)."""
    on_import(target.path.partition(":")[0], lambda _module: replace(target, replacement_for(original(target))))


def _imported(module) -> None:
    with _WAITING_LOCK:  # each once, by whichever thread gets it first
        waiting = _WAITING.pop(module.__name__, [])
    try:
        for run in waiting:
            run(module)  # a SeamBroken here fails the module's import: loud, not a feature quietly gone
    except BaseException:
        # A failed import leaves no module: every one waits for the next attempt, which fails the
        # same way (not the module served without them).
        with _WAITING_LOCK:
            _WAITING[module.__name__] = waiting + _WAITING.get(module.__name__, [])
        raise


class _ImportHook:
    """First on sys.meta_path: for a module something waits for, the spec the other finders find,
    its loader wrapped."""

    def find_spec(self, name, path=None, target=None):
        if name not in _WAITING:
            return None
        for finder in sys.meta_path[sys.meta_path.index(self) + 1 :]:
            spec = finder.find_spec(name, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                if hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader)
                return spec
        return None


class _PatchingLoader:
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader  # the module keeps its own loader
        self.loader.exec_module(module)
        _imported(module)


_IMPORT_HOOK = _ImportHook()


def check(targets: list[Target] | None = None, import_module=importlib.import_module) -> list[str]:
    """The refusal lines of every target that is missing or has another shape."""
    try:
        problems = [target.problem(import_module) for target in (TARGETS if targets is None else targets)]
    finally:
        _module_tree.cache_clear()  # the parsed modules are large, and needed only here
    return [problem for problem in problems if problem]


# --- the checked installation ----------------------------------------------------------------
# The check's answer depends only on the files it imports and reads. Once an installation passed,
# the start hook (plugins.check_engine_seam) compares every file the check had loaded with what
# it finds now (inode, size, modification time: a reinstalled file is a new file) and checks
# again only if one differs, or if a module the check never saw was loaded before it (a
# sitecustomize, another plugin). That saves the start the imports of every module the targets
# live in (about 12 s of CPU on 2026.3.0), most of which LocalStack makes later or never.
CHECKED = Path(sys.prefix) / "localstack-nodocker-seam.json"


def _fingerprint(filename: str) -> list[int] | None:
    try:
        status = os.stat(filename)
    except OSError:
        return None
    return [status.st_ino, status.st_size, status.st_mtime_ns]


def _loaded_files() -> dict[str, list[int]]:
    files = {}
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if filename and filename not in files and (fingerprint := _fingerprint(filename)) is not None:
            files[filename] = fingerprint
    return files


def _installation() -> dict:
    """What else the answer depends on: the interpreter and the engine's entry points."""
    return {
        "python": sys.version,
        "executable": sys.executable,
        "entry_points": metadata.distribution("localstack-nodocker").read_text("entry_points.txt"),
    }


def unchanged_since_checked(path: Path = CHECKED) -> bool:
    """True if the last check that passed read exactly the files it would read now."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    if record.get("installation") != _installation():
        return False
    checked, loaded = record.get("files", {}), _loaded_files()
    if any(filename not in checked for filename in loaded):
        return False
    return all((loaded.get(filename) or _fingerprint(filename)) == recorded for filename, recorded in checked.items())


def record_checked(path: Path = CHECKED) -> None:
    """After a check that passed: the files it read, for the next start. Best effort (a
    read-only installation checks at every start)."""
    record = {"installation": _installation(), "files": _loaded_files()}
    try:
        partial = path.with_name(f"{path.name}.{os.getpid()}")
        partial.write_text(json.dumps(record))
        os.replace(partial, path)  # engines starting together each write a whole record
    except OSError:
        pass


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
ITEM_MEMORY = "DynamoDB items holding the strings they repeat once"
TRANSACTIONS = "DynamoDB transactions that save and restore only their own items"
EXPRESSIONS = "DynamoDB update and condition expressions parsed once per text"
ITEM_COPIES = "DynamoDB items deep-copied directly (an update's old item, a transaction's saved one)"
DIRECT_ITEMS = "DynamoDB item operations answered by moto's handler directly (no HTTP dispatch, no botocore parse)"
STREAM_RECORDS = "DynamoDB Streams records as DynamoDB writes them (no record for a cancelled transaction)"
BISECT = "BisectBatchOnFunctionError for DynamoDB stream mappings"
STREAM_POSITIONS = "DynamoDB stream mappings resuming where they were after a restart"
ROLLBACK = "failed CloudFormation stack creations rolled back"
METRICS_NO_FSYNC = "CloudWatch metrics stored without an fsync per datapoint"
REQUEST_HOOKS = "counting requests (heap freezing) and marking changed services (persistence)"
S3_STATE = "S3 objects saved and loaded with the engine's state"
JOURNAL = "the state journaled every second, value by value (DynamoDB items and stream records, S3 objects, log events, SQS messages)"
SQS_STATE = "SQS messages journaled one by one, put back in their queues' containers on load"
CHANGING_BY_ITSELF = "functions, executions and stacks journaled as they move on after the request that started them"
STATE_PICKLED = (
    "every service's state pickled (boto clients, cryptography keys and certificates, defaultdict subclasses)"
)
EVENTS_RESTART = "EventBridge rules routing events, and scheduled rules running, after a restart"
LOCKS_RESTORED = "locks in saved state restored free"
SERVICE_STATE = "the engine's state saved and loaded per service"
LISTEN_HOSTS = "the engine listening only on the hosts GATEWAY_LISTEN names (the loopback by default)"
HTTP_REFUSALS = "HTTP requests the engine will not read answered 400, 414 or 431 with the reason"
INVOKE_LIMITS = "Lambda's request payload limits (6 MiB synchronous, 1 MiB asynchronous; 413 through API Gateway)"
RESPONSE_LIMIT = "a function response over Lambda's limit answered Function.ResponseSizeTooLarge"
API_IAM = "API Gateway AWS_IAM authorization (the SigV4 signature and the caller's IAM policies)"
API_LIMITS = "API Gateway stage, method and usage plan throttling and quotas"
LAMBDA_METRIC_THREADS = "Lambda's invocation metrics published without a thread kept per invocation"
LOG_PATTERNS = (
    "CloudWatch Logs filter patterns (FilterLogEvents, subscription and metric filters), metric filters per log group"
)
LOG_RETENTION = "CloudWatch Logs retention (a log group's retentionInDays)"
LOG_DESCRIBE = "DescribeLogGroups and ListLogGroups without a copy of every event held"
CW_STATISTICS = (
    "CloudWatch statistics from one indexed read per series (summaries per minute), with percentiles and exact"
    " dimensions; AWS's 15-month retention"
)
SQS_AGE = "SQS ApproximateAgeOfOldestMessage published with the queue metrics"
SQS_REQUEST_METRICS = "SQS per-request metrics (NumberOfMessagesSent, ...) published together once a second"
SQS_BODIES = "SQS event source mappings delivering bodies as sent, in invocations of at most 6 MB"
MAPPING_POLLING = (
    "event source mappings polling as Lambda does (long polls, no sleep between polls, batches run concurrently "
    "within ScalingConfig, reserved concurrency and the engine's bound)"
)
DIRECT_HTTP = "the reactor's own requests read and answered without Twisted's request and WSGI bridge"
REQUEST_COST = "the per-request work no answer needs left out (access log, form parsing, thread switches, log copies)"
MOTO_COST = "moto's per-request method listing and request id drawn at once"
INTAKE = "no outside request served while the state loads, nor once the last of it is being written (make down)"
DRAIN = "the last of the state written once what the engine accepted is finished"
QUEUED_INVOCATIONS = "asynchronous Lambda invocations still queued saved with the state and queued again"
FINAL_ON_SIGNALS = "the last of the state written on SIGTERM and SIGINT"
LAMBDA_RESTORE = "Lambda's event source mappings restarted one by one after a load (one that cannot is reported)"
KINESIS = "Kinesis: kinesis-mock installed from the engine's lock, on the loopback only"
KINESIS_SAVED = "Kinesis streams written by kinesis-mock before it stops (make down)"
S3_LISTINGS = "S3 listings paged by raw key with EncodingType=url (no key listed again or skipped)"
S3_OWN_FOLDER = "S3 objects kept in the engine's own folder (two engines on one host do not share them)"
TABLE_DESCRIPTIONS = (
    "DynamoDB table descriptions as DynamoDB writes them (TableId, billing and index fields, SSE's AWS-managed key)"
)
ITEM_ANSWERS = (
    "DynamoDB item operations answered as DynamoDB answers them (every item of a write checked before any is written)"
)
PARTIQL = "DynamoDB PartiQL run as the operations it stands for (no 500 for a statement)"
REPLICAS = "DynamoDB replicas (UpdateTable's ReplicaUpdates): the replica's region serves its table"
FORM_BODIES = (
    "form bodies reaching functions through API Gateway and function URLs as sent (no 500 for a multipart body)"
)

_DDB_TABLE = "moto.dynamodb.models.table"
_DDB_BACKEND = "moto.dynamodb.models:DynamoDBBackend"
_CONDITIONS = ("condition_expression", "expression_attribute_names", "expression_attribute_values")

CAST_VALUE = _target(
    "moto.dynamodb.models.dynamo_type:DynamoType.cast_value", REPLACED, EXACT_NUMBERS, "dynamodb_numbers.py", Property()
)
CALL_ACTION = _target(
    "moto.dynamodb.responses:DynamoHandler.call_action",
    WRAPPED,
    ATOMIC_REQUESTS,
    "dynamodb_requests.py",
    Parameters("self"),
)
_target(
    "moto.dynamodb.responses:DynamoHandler.get_endpoint_name",
    READ,
    INDEX_UPKEEP,
    "dynamodb_requests.py",
    Parameters("self", "headers"),
)
# dynamodb_direct.py: moto's DynamoDB actions called directly, as its dispatch would call them
_target(
    "moto.dynamodb.responses:DynamoHandler",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    # what _handler sets; get_endpoint_name reads the headers it is given
    Reads("self", "body", "current_account", "region"),
)
_target(
    "moto.dynamodb.responses:include_consumed_capacity",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Reads("handler", "body", "response_headers"),
)
# each action with the decorators it has (their reads are checked above), no other
_CAPACITY_WRAPPER = "include_consumed_capacity.<locals>._inner.<locals>._wrapper"
for _action, _decorators in (
    ("get_item", (_CAPACITY_WRAPPER,)),
    ("put_item", (_CAPACITY_WRAPPER,)),
    ("update_item", ()),
    ("delete_item", (_CAPACITY_WRAPPER,)),
    ("query", (_CAPACITY_WRAPPER,)),
    ("scan", (_CAPACITY_WRAPPER,)),
    ("batch_get_item", ()),
    ("transact_get_items", ()),
    ("transact_write_items", ()),
):
    _target(
        f"moto.dynamodb.responses:DynamoHandler.{_action}",
        READ,
        DIRECT_ITEMS,
        "dynamodb_direct.py",
        Parameters("self"),
        Decorated(*_decorators, f"DynamoHandler.{_action}"),
    )
# the answers' JSON: ASCII only (json.dumps' ensure_ascii), so a lone surrogate in a string is
# written as an escape, which the direct path reads as call_moto's UTF-8 encoding and botocore's
# decoding do (with ensure_ascii=False, call_moto would fail to encode it and the direct path not)
_target(
    "moto.dynamodb.responses:dynamo_json_dump",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Mentions("return json.dumps(dynamo_object, cls=DynamoJsonEncoder)"),
)
# the handler call_moto reaches for DynamoDB, whatever the path (_finished_by_moto calls its
# _dispatch): moto's one URL pattern, which LocalStack's get_dispatcher returns without matching
_target(
    "moto.dynamodb.urls:url_paths",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Maps({"{0}/": "moto.dynamodb.responses:DynamoHandler.dispatch"}, only=True),
)
_target(
    "moto.dynamodb.responses:DynamoHandler.dispatch",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Mentions("return cls()._dispatch(*args, **kwargs)"),
)
_target(
    "localstack.services.moto:get_dispatcher",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Mentions(
        "if len(url_map._rules) == 1:", "rule = next(url_map.iter_rules())", "return rule.endpoint", in_order=True
    ),
)
_target(
    "localstack.services.moto:load_moto_routing_table",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Mentions(
        "for url_path, handler in backend.flask_paths.items():", "endpoint = handler", "url_map.add(Rule(url_path,"
    ),
)
_target(
    "moto.dynamodb.responses:DynamoHandler.call_action",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Mentions('self.body = json.loads(self.body or "{}")', "return super().call_action()"),
)
_target(
    "moto.core.responses:BaseResponse.setup_class",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    # what _handler sets as it does, and the reads of the body and URL that make it fall back
    Mentions(
        "self.body = request.data",
        'headers.get("Content-Encoding", "") == "gzip"',
        "parse_qs(self.parsed_url.query",
        "parse_qsl(",
        "self.body, keep_blank_values=True",
        "querystring.update(headers)",
        "self.region = self.get_region_from_url(request, full_url)",
        '"server": "amazon.com"',
        'self.response_headers["date"] = http_date(utcnow())',
        'self.is_werkzeug_request = "werkzeug" in str(type(request))',
        'self.headers["host"] = self.parsed_url.netloc',
        "self.current_account = self.get_current_account()",
        "access_key=self.access_key",
        "service=self.service_name",
    ),
)
_target(
    "moto.core.responses:BaseResponse._dispatch",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Mentions("self.setup_class(request, full_url, headers)", "return self.call_action()", in_order=True),
)
_target(
    "moto.core.responses:BaseResponse.call_action",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    # the action looked up on the instance; a plain string answered as it is but for a <RequestId>
    Mentions(
        "method = getattr(self, action)",
        "response = method()",
        "except ServiceException as e:",
        "except HTTPException as http_error:",
        "elif isinstance(response, str):",
        "headers, body = self._enrich_response(headers, body)",
        "self._authenticate_and_authorize_normal_action(resource)",
    ),
)
_target(
    "moto.core.responses:BaseResponse._enrich_response",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Mentions("gen_amzn_requestid_long(headers)", r're.sub(r"(?<=<RequestId>).*(?=<\/RequestId>)", request_id, body)'),
)
_target(
    "moto.core.responses:BaseResponse.get_access_key",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Mentions('self.querystring.get("AWSAccessKeyId")', "self.access_key_regex.search("),
    Reads("self", "headers", "access_key_regex", "querystring"),
)
_target("moto.core.responses:BaseResponse.access_key_regex", READ, DIRECT_ITEMS, "dynamodb_direct.py")
_target(
    "moto.core.responses:BaseResponse.get_region_from_url",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Parameters("self", "request", "full_url"),
    Reads("self", "region_regex", "region_from_useragent_regex", "default_region"),
)
_target(
    "moto.core.responses:BaseResponse.get_current_account",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Mentions('"x-moto-account-id" in self.headers', "get_account_id_from(self.get_access_key())"),
    Reads("self", "headers", "get_access_key"),
)
# what _handler calls on the handler is BaseResponse's, checked above (an override in
# DynamoHandler would be read by its Reads; one in a class between them would not)
for _method in ("get_access_key", "get_region_from_url", "get_current_account"):
    _target(
        f"moto.dynamodb.responses:DynamoHandler.{_method}",
        READ,
        DIRECT_ITEMS,
        "dynamodb_direct.py",
        SameAs(f"moto.core.responses:BaseResponse.{_method}"),
    )
_target(
    "moto.core.authorization:ActionAuthenticatorMixin._authenticate_and_authorize_action",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    # no check at all while INITIAL_NO_AUTH_ACTION_COUNT is infinite (its default)
    Mentions("ActionAuthenticatorMixin.request_count", ">= settings.INITIAL_NO_AUTH_ACTION_COUNT"),
)
_target("moto.settings:INITIAL_NO_AUTH_ACTION_COUNT", READ, DIRECT_ITEMS, "dynamodb_direct.py")
_target(
    "moto.iam.models:mark_account_as_visited",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Parameters("account_id", "access_key", "service", "region"),
)
_target(
    "moto.core.exceptions:RESTError", READ, DIRECT_ITEMS, "dynamodb_direct.py", Assigns("error_type", "message", "code")
)
_target(
    "localstack.services.moto:dispatch_to_moto",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    # _finished_by_moto does what it does, with the engine's handler
    Mentions(
        "raw_url = get_raw_current_url(",
        "request.scheme, request.host, request.root_path, full_raw_path",
        "full_raw_path = get_full_raw_path(request)",
        "dispatch = get_dispatcher(service.service_name, raw_path_only)",
        "dispatch(request, raw_url, request.headers)",
        "isinstance(content, str) and len(content) == 0",
        "return Response(content, status, headers)",
        "raise CommonServiceException(e.error_type, e.message, status_code=e.code)",
    ),
)
_target(
    "localstack.services.moto:call_moto",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    # _finished_by_moto is this call, with its dispatch_to_moto
    Mentions(
        "include_response_metadata=False",
        "return dispatch_to_backend(context, dispatch_to_moto, include_response_metadata)",
    ),
)
_target(
    "localstack.aws.forwarder:dispatch_to_backend",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Parameters("context", "http_request_dispatcher"),
    # the dispatch's response parsed (answer reads a 200 as parse_response does), then raised if an error
    Mentions(
        "include_response_metadata=False",
        "http_response = http_request_dispatcher(context)",
        "parsed_response = parse_response(",
        "context.operation, context.protocol, http_response, include_response_metadata",
        "raise_service_exception(http_response, parsed_response)",
        "return parsed_response",
        in_order=True,
    ),
)
_target(
    "localstack.aws.client:raise_service_exception",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Mentions("if service_exception := parse_service_exception(response, parsed_response):"),
)
_target(
    "localstack.aws.client:parse_service_exception",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    # never for a 200, the only answer answer reads itself
    Mentions('if response.status_code < 301 or "Error" not in parsed_response:', "return None", in_order=True),
)
_target(
    "localstack.aws.client:parse_response",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    # a 200's body parsed by botocore's default parser for the protocol, its metadata dropped
    Mentions(
        "factory = ResponseParserFactory()",
        "parser = factory.create_parser(protocol)",
        "parser.parse(response_dict, operation.output_shape)",
        'parsed_response.pop("ResponseMetadata", None)',
    ),
)
# the parser parse_response creates for the "json" protocol (answer checks the request's): a
# JSONParser with no other argument, as dynamodb_direct.py's _PARSER
_target(
    "botocore.parsers:PROTOCOL_PARSERS",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Maps({"json": "botocore.parsers:JSONParser"}),
)
_target(
    "botocore.parsers:ResponseParserFactory",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Mentions(
        "self._defaults = {}", "parser_cls = PROTOCOL_PARSERS[protocol_name]", "return parser_cls(**self._defaults)"
    ),
)
_target(
    "botocore.parsers:JSONParser._do_parse",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Mentions("self._handle_json_body(response['body'], shape)"),
)
_target(
    "botocore.parsers:BaseJSONParser._parse_body_as_json",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Mentions("if not body_contents:", "json.loads(body)"),
)
_target(
    "botocore.parsers:BaseJSONParser._handle_structure",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    # _reader's structure: members in the shape's order, by their JSON names, those not None
    Mentions(
        "if shape.is_document_type:",
        "if value is None:",
        "self._has_unknown_tagged_union_member(shape, value)",
        "for member_name in member_shapes:",
        "json_name = member_shape.serialization.get('name', member_name)",
        "raw_value = value.get(json_name)",
        "if raw_value is not None:",
    ),
)
_target(
    "botocore.parsers:BaseJSONParser._handle_map",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Mentions("for key, value in value.items():", "self._parse_shape(key_shape, key)"),
)
_target(
    "botocore.parsers:ResponseParser._handle_list",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Mentions("if item is None:", "parsed.append(None)", "self._parse_shape(member_shape, item)"),
)
_target(
    "botocore.parsers:BaseJSONParser._handle_blob",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Mentions("return self._blob_parser(value)"),
)
_target(
    "botocore.parsers:ResponseParser._parse_shape",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    # a type without a handler of its own is returned as it is
    Mentions("getattr(", "f'_handle_{shape.type_name}', self._default_handle"),
)
_target(
    "botocore.parsers:ResponseParser._default_handle",
    READ,
    DIRECT_ITEMS,
    "dynamodb_direct.py",
    Mentions("return value"),
)
TABLE_QUERY = _target(
    f"{_DDB_TABLE}:Table.query",
    WRAPPED,
    PARTITION_QUERY,
    "dynamodb_query.py",
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
TABLE_ALL_ITEMS = _target(
    f"{_DDB_TABLE}:Table.all_items", WRAPPED, PARTITION_QUERY, "dynamodb_query.py", Parameters("self")
)
_target(
    f"{_DDB_TABLE}:Table.sorted_items",
    READ,
    PARTITION_QUERY,
    "dynamodb_indexes.py",
    # the sorted partitions keep moto's order: the attributes this method sorts by
    Mentions("self._generate_attr_to_sort_by("),
)
_target(
    f"{_DDB_TABLE}:Table._generate_attr_to_sort_by",
    READ,
    PARTITION_QUERY,
    "dynamodb_indexes.py",
    Parameters("self", "hash_key_attrs", "range_key_attrs"),
)
_target(f"{_DDB_TABLE}:Table.all_indexes", READ, PARTITION_QUERY, "dynamodb_indexes.py", Parameters("self"))
_target(
    f"{_DDB_TABLE}:Table",
    READ,
    f"{PARTITION_QUERY}; {STREAM_RECORDS}",
    "dynamodb_query.py, dynamodb_indexes.py, dynamodb_transactions.py, streams.py",
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
_target(
    f"{_DDB_TABLE}:Table.get_item",
    READ,
    TRANSACTIONS,
    "dynamodb_transactions.py",
    Parameters("self", "hash_key", "range_key"),
)
ITEM_INIT = _target(
    "moto.dynamodb.models.dynamo_type:Item.__init__",
    REPLACED,
    ITEM_MEMORY,
    "dynamodb_memory.py",
    Parameters("self", "hash_key", "range_key", "attrs"),
    # what the engine's makes too: the key, and the attributes, each a DynamoType, in a LimitedSizeDict
    Mentions(
        "self.hash_key = hash_key", "self.range_key = range_key", "self.attrs = LimitedSizeDict()", "DynamoType(value)"
    ),
)
# the size limit the engine's Item.__init__ applies as moto's dict does
_target(
    "moto.dynamodb.models.dynamo_type:LimitedSizeDict.__setitem__",
    READ,
    ITEM_MEMORY,
    "dynamodb_memory.py",
    Parameters("self", "key", "value"),
    Mentions("bytesize(key)", "value.size()", "> 405000", "raise ItemSizeTooLarge"),
)
_target("moto.dynamodb.models.utilities:bytesize", READ, ITEM_MEMORY, "dynamodb_memory.py", Parameters("val"))
_target("moto.dynamodb.exceptions:ItemSizeTooLarge", READ, ITEM_MEMORY, "dynamodb_memory.py", Class())
_target(
    "moto.dynamodb.models.dynamo_type:DynamoType", READ, ITEM_MEMORY, "dynamodb_memory.py", Assigns("type", "value")
)
TABLE_PUT_ITEM = _target(
    f"{_DDB_TABLE}:Table.put_item", WRAPPED, INDEX_UPKEEP, "dynamodb_indexes.py", Parameters("self", "item_attrs")
)
TABLE_DELETE_ITEM = _target(
    f"{_DDB_TABLE}:Table.delete_item",
    WRAPPED,
    INDEX_UPKEEP,
    "dynamodb_indexes.py",
    Parameters("self", "hash_key", "range_key"),
)
BACKEND_UPDATE_ITEM = _target(
    f"{_DDB_BACKEND}.update_item",
    WRAPPED,
    f"{INDEX_UPKEEP}; {TRANSACTIONS}; {STREAM_RECORDS}",
    "dynamodb_indexes.py, dynamodb_transactions.py",
    Parameters("self", "table_name", "key", named=("update_expression", *_CONDITIONS)),
)
_target(
    f"{_DDB_BACKEND}.update_item",
    READ,
    STREAM_RECORDS,
    "dynamodb_transactions.py",
    # its records go through the shard's add, where an update's are held (write_one_record_per_update)
    Mentions("table.stream_shard.add(orig_item, item)"),
)
TRANSACT_WRITE_ITEMS = _target(
    f"{_DDB_BACKEND}.transact_write_items",
    REPLACED,
    TRANSACTIONS,
    "dynamodb_transactions.py",
    Parameters("self", "transact_items"),
)
_target(f"{_DDB_BACKEND}.get_table", READ, TRANSACTIONS, "dynamodb_transactions.py", Parameters("self", "table_name"))
_target(
    f"{_DDB_BACKEND}.get_item", READ, TRANSACTIONS, "dynamodb_transactions.py", Parameters("self", "table_name", "keys")
)
_target(
    f"{_DDB_BACKEND}.put_item",
    READ,
    TRANSACTIONS,
    "dynamodb_transactions.py",
    Parameters("self", "table_name", "item_attrs", named=_CONDITIONS),
)
_target(
    f"{_DDB_BACKEND}.delete_item",
    READ,
    TRANSACTIONS,
    "dynamodb_transactions.py",
    Parameters("self", "table_name", "key", named=_CONDITIONS),
)
_target(
    f"{_DDB_BACKEND}.get_keys_value",
    READ,
    TRANSACTIONS,
    "dynamodb_transactions.py",
    Parameters("self", "table", "keys"),
)
_target(
    _DDB_BACKEND,
    READ,
    f"{INDEX_UPKEEP}; {STREAM_RECORDS}; {REPLICAS}",
    "dynamodb_indexes.py, streams.py, dynamodb_replicas.py",
    Assigns("tables"),
)
_target(
    "moto.dynamodb.models:dynamodb_backends",
    READ,
    f"{TABLE_DESCRIPTIONS}; {ITEM_ANSWERS}; {REPLICAS}",
    "dynamodb_tables.py, dynamodb_replicas.py",
)
# A replica's DeleteTable: moto's takes the table from the region's backend only.
_target(
    f"{_DDB_BACKEND}.delete_table",
    READ,
    REPLICAS,
    "dynamodb_tables.py",
    Parameters("self", "name"),
    Mentions("self.tables.pop("),
)
_target("moto.dynamodb.comparisons:OpDefault", READ, PARTITION_QUERY, "dynamodb_indexes.py", Class())
COPY_MODULES = [
    _target(f"{module}:copy", REPLACED, ITEM_COPIES, "dynamodb_copies.py", Module())
    for module in ("moto.dynamodb.models", "moto.dynamodb.responses")
]
# where those modules copy an item (the copy the engine makes directly)
_target(f"{_DDB_BACKEND}.update_item", READ, ITEM_COPIES, "dynamodb_copies.py", Mentions("copy.deepcopy(item)"))
_target(
    "moto.dynamodb.responses:DynamoHandler.update_item",
    READ,
    ITEM_COPIES,
    "dynamodb_copies.py",
    Mentions("copy.deepcopy(self.dynamodb_backend.get_item(name, key))"),
)
_target(
    "moto.dynamodb.models.dynamo_type:Item",
    READ,
    ITEM_COPIES,
    "dynamodb_copies.py, dynamodb_transactions.py",
    Assigns("hash_key", "range_key", "attrs"),
    TakesAttributes(),
)
UPDATE_EXPRESSION_PARSE = _target(
    "moto.dynamodb.parsing.expressions:UpdateExpressionParser.make",
    REPLACED,
    EXPRESSIONS,
    "dynamodb_expressions.py",
    Parameters("expression_str"),
)
# the tree kept per text is shared: moto's validation resolves names and values on a copy
_target(
    "moto.dynamodb.parsing.validators:Validator.__init__",
    READ,
    EXPRESSIONS,
    "dynamodb_expressions.py",
    Parameters("self", "expression"),
    Mentions("self.node_to_validate = deepcopy(expression)"),
)
TRAVERSE_NODE = _target(
    "moto.dynamodb.parsing.ast_nodes:DepthFirstTraverser.traverse_node_recursively",
    REPLACED,
    EXPRESSIONS,
    "dynamodb_expressions.py",
    Parameters("self", "node", "child_id"),
    # the engine's copy decides these two checks once per type
    Mentions(
        "if isinstance(node, Node):",
        "self.pre_processing_of_child(node, i)",
        "if isinstance(node, self.nodes_to_be_processed()):",
        "node = self.process(node)",
        "parent_node.children[child_id] = node",
        in_order=True,
    ),
)
_target(
    "moto.dynamodb.parsing.ast_nodes:DepthFirstTraverser.nodes_to_be_processed",
    READ,
    EXPRESSIONS,
    "dynamodb_expressions.py",
    Parameters("self"),
    Mentions("self._processing_map().keys()"),
)
_target("moto.dynamodb.parsing.ast_nodes:Node", READ, EXPRESSIONS, "dynamodb_expressions.py", Class())
VALIDATION_COPY = _target(
    "moto.dynamodb.parsing.validators:deepcopy",
    REPLACED,
    EXPRESSIONS,
    "dynamodb_expressions.py",
    Parameters("x", "memo"),
)
CONDITION_PARSERS = [
    _target(
        f"{module}:create_condition_expression_parser",
        REPLACED,
        EXPRESSIONS,
        "dynamodb_expressions.py",
        Parameters("expr", "names", "values"),
    )
    for module in ("moto.dynamodb.responses", "moto.dynamodb.models")
]
FILTER_EXPRESSIONS = [
    _target(
        f"{module}:get_filter_expression",
        REPLACED,
        EXPRESSIONS,
        "dynamodb_expressions.py",
        Parameters("expr", "names", "values"),
    )
    for module in ("moto.dynamodb.models", _DDB_TABLE)
]
_target(
    "moto.dynamodb.comparisons:ConditionExpressionParser",
    READ,
    EXPRESSIONS,
    "dynamodb_expressions.py",
    Parameters("condition_expression", "expression_attribute_names", "expression_attribute_values"),
    Assigns("expr_attr_names_found", "expr_attr_values_found"),
    HasAttributes("parse"),
)
STREAM_SHARD_ADD = _target(
    f"{_DDB_TABLE}:StreamShard.add",
    REPLACED,
    STREAM_RECORDS,
    "streams.py, dynamodb_transactions.py",
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
_target(
    "localstack.services.moto:call_moto",
    READ,
    f"{TABLE_DESCRIPTIONS}; {ITEM_ANSWERS}; {PARTIQL}",
    "dynamodb_tables.py, dynamodb_answers.py",
    Parameters("context"),
)
_target(
    "localstack.services.moto:call_moto_with_request",
    READ,
    TABLE_DESCRIPTIONS,
    "dynamodb_tables.py",
    Parameters("context", "service_request"),
)
_target(
    "localstack.aws.forwarder:create_aws_request_context",
    READ,
    f"{ITEM_ANSWERS}; {PARTIQL}",
    "dynamodb_answers.py",
    Parameters("service_name", "action", named=("parameters", "region")),
)
_target(
    "localstack.services.kms.provider:set_key_managed",
    READ,
    TABLE_DESCRIPTIONS,
    "dynamodb_tables.py",
    Parameters("key_id", "account_id", "region_name"),
)
_target(
    f"{_DDB_TABLE}:Table",
    READ,
    f"{TABLE_DESCRIPTIONS}; {ITEM_ANSWERS}; {PARTIQL}; {REPLICAS}",
    "dynamodb_tables.py, dynamodb_answers.py, dynamodb_items.py, dynamodb_partiql.py, dynamodb_replicas.py",
    Assigns(
        "billing_mode",
        "sse_specification",
        "hash_key_attr",
        "hash_key_type",
        "range_key_attr",
        "range_key_type",
        "attr",
        "indexes",
        "global_indexes",
        "name",
        "account_id",
        "region_name",
        "table_arn",
    ),
    # dynamodb_tables.py keeps when a table was switched to PAY_PER_REQUEST on the table
    TakesAttributes(),
)
_target(f"{_DDB_TABLE}:Table.all_indexes", READ, PARTIQL, "dynamodb_partiql.py", Parameters("self"))
_target(
    f"{_DDB_TABLE}:SecondaryIndex",
    READ,
    f"{ITEM_ANSWERS}; {PARTIQL}",
    "dynamodb_items.py, dynamodb_partiql.py",
    Assigns("name", "schema"),
)
_target(
    f"{_DDB_BACKEND}.get_table",
    READ,
    f"{TABLE_DESCRIPTIONS}; {ITEM_ANSWERS}; {PARTIQL}",
    "dynamodb_tables.py",
    Parameters("self", "table_name"),
)
_target(
    f"{_DDB_BACKEND}.put_item",
    READ,
    ITEM_ANSWERS,
    "dynamodb_answers.py",
    Parameters("self", "table_name", "item_attrs"),
)
_target(
    f"{_DDB_BACKEND}.delete_item", READ, ITEM_ANSWERS, "dynamodb_answers.py", Parameters("self", "table_name", "key")
)
_target(
    "moto.dynamodb.exceptions:ResourceNotFoundException",
    READ,
    f"{TABLE_DESCRIPTIONS}; {ITEM_ANSWERS}; {PARTIQL}",
    "dynamodb_tables.py",
    Class(),
)
_target(
    "moto.core.exceptions:JsonRESTError",
    READ,
    ITEM_ANSWERS,
    "dynamodb_answers.py",
    Assigns("error_type", "message", "code"),
)

_ESM = "localstack.services.lambda_.event_source_mapping"
ESM_DYNAMODB_POLLER = _target(
    f"{_ESM}.esm_worker_factory:DynamoDBPoller", REPLACED, f"{BISECT}; {STREAM_POSITIONS}", "stream_mapping.py", Class()
)
ESM_KINESIS_POLLER = _target(
    f"{_ESM}.esm_worker_factory:KinesisPoller", REPLACED, MAPPING_POLLING, "stream_mapping.py", Class()
)
GET_ESM_WORKER = _target(
    f"{_ESM}.esm_worker_factory:EsmWorkerFactory.get_esm_worker",
    WRAPPED,
    f"{BISECT}; {MAPPING_POLLING}",
    "event_concurrency.py",
    Parameters("self"),
    # the factory builds stream pollers from its module's name, which is replaced
    Mentions("DynamoDBPoller(", "KinesisPoller("),
)
_target(
    f"{_ESM}.esm_worker_factory:EsmWorkerFactory",
    READ,
    f"{BISECT}; {MAPPING_POLLING}; {LAMBDA_RESTORE}",
    "event_concurrency.py, restore.py",
    Parameters("esm_config", "function_role", "enabled"),
    Assigns("esm_config"),
)
_target(
    f"{_ESM}.pollers.stream_poller:StreamPoller",
    READ,
    f"{BISECT}; {STREAM_POSITIONS}; {MAPPING_POLLING}",
    "stream_mapping.py",
    # the overrides below take effect only while the poller loop calls them
    Mentions("self.initialize_shards()", "self.forward_events_to_target(", "self.get_records("),
    Assigns("_is_shutdown"),  # set by close(): a paced Kinesis poller's wait ends with it
)
_target(
    f"{_ESM}.pollers.dynamodb_poller:DynamoDBPoller.poll_events",
    OVERRIDDEN,
    MAPPING_POLLING,
    "stream_mapping.py",
    Parameters("self"),
)
_target(
    f"{_ESM}.pollers.dynamodb_poller:DynamoDBPoller.get_records",
    OVERRIDDEN,
    MAPPING_POLLING,
    "stream_mapping.py",
    Parameters("self", "shard_iterator"),
)
for _poller_method, _parameters in (("poll_events", ("self",)), ("get_records", ("self", "shard_iterator"))):
    _target(
        f"{_ESM}.pollers.kinesis_poller:KinesisPoller.{_poller_method}",
        OVERRIDDEN,
        MAPPING_POLLING,
        "stream_mapping.py",
        Parameters(*_parameters),
    )
_target(
    "localstack.utils.batching:Batcher",
    READ,
    MAPPING_POLLING,
    "stream_mapping.py",
    HasAttributes("duration_until_next_batch", "get_current_size"),
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
    f"{BISECT}; {STREAM_POSITIONS}; {MAPPING_POLLING}",
    "stream_mapping.py",
    Assigns("processor", "shards", "esm_uuid", "source_arn", "shard_batcher"),
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
    f"{STREAM_POSITIONS}; {DRAIN}; {LAMBDA_RESTORE}",
    "service_state.py, drain.py, restore.py",
    Assigns("esm_workers", "lambda_service"),
)
_target(
    f"{_ESM}.esm_worker:EsmWorker",
    READ,
    f"{BISECT}; {STREAM_POSITIONS}; {MAPPING_POLLING}; {DRAIN}; {LAMBDA_RESTORE}",
    "event_concurrency.py, stream_mapping.py, drain.py, restore.py",
    Assigns("poller", "_poller_thread", "uuid", "_shutdown_event"),
)
_target(
    f"{_ESM}.esm_worker:EsmWorker.poller_loop",
    READ,
    MAPPING_POLLING,
    "sqs_mapping.py, stream_mapping.py",
    # the pollers wait in their polls, the loop's interval is configured to 0 (engine/ctl.py),
    # and a poller's batches under way finish in close() before its worker counts as stopped
    Mentions("self.poller.poll_events()", "LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC", "self.poller.close()"),
)

FAILED_DELETE = "deleting a function whose creation failed"
STOP_VERSION = _target(
    "localstack.services.lambda_.invocation.lambda_service:LambdaService.stop_version",
    WRAPPED,
    FAILED_DELETE,
    "lambda_failed_versions.py",
    Parameters("self", "qualified_arn"),
)
_target(
    "localstack.services.lambda_.invocation.lambda_service:LambdaService",
    READ,
    FAILED_DELETE,
    "lambda_failed_versions.py",
    Assigns("lambda_running_versions", "lambda_starting_versions"),
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
    "metrics_store.py",
    Module(),
)
_target(
    "localstack.services.cloudwatch.cloudwatch_database_helper",
    READ,
    METRICS_NO_FSYNC,
    "metrics_store.py",
    # connections are opened through the module's name, which is replaced
    Mentions("sqlite3.connect("),
)
_target(
    "localstack.aws.handlers:run_custom_response_handlers",
    READ,
    f"{REQUEST_HOOKS}; {API_IAM}; {API_LIMITS}",
    "serving.py, persistence.py, execute_api.py",
    HasAttributes("append"),
)
_target(
    "localstack.aws.api.core:RequestContext",
    READ,
    f"{REQUEST_HOOKS}; {INTAKE}; {INVOKE_LIMITS}; {API_LIMITS}; {API_IAM}",
    "persistence.py, intake.py, invoke_limits.py, apigateway_limits.py, execute_api.py, apigateway_iam.py",
    # a response handler that fails is only logged: the change marks would stop without a word
    Assigns("operation", "service", "is_internal_call", "request", "service_request", "service_response"),
    HasAttributes("get"),
)

_target(
    "localstack.services.plugins:Service",
    READ,
    f"{SERVICE_STATE}; {S3_STATE}; {API_IAM}",
    "persistence.py, service_state.py, apigateway_iam.py",
    Assigns("_provider", "lifecycle_hook"),
    HasAttributes("accept_state_visitor"),
)
_target("localstack.services.s3.provider:S3Provider", READ, S3_STATE, "service_state.py", Assigns("_storage_backend"))
_target(
    "localstack.services.s3.storage.ephemeral:EphemeralS3ObjectStore.open",
    READ,
    S3_STATE,
    "service_state.py",
    Parameters("self", "bucket", "s3_object", "mode"),
)
_target(
    "localstack.services.s3.storage.ephemeral:EphemeralS3ObjectStore",
    READ,
    S3_STATE,
    "service_state.py",
    Assigns("root_directory"),
)
_target(
    "localstack.services.s3.storage.ephemeral:EphemeralS3StoredObject",
    READ,
    S3_STATE,
    "service_state.py",
    # an object's bytes read under its read lock, checked against its metadata as GetObject does
    HasAttributes("last_modified", "read", "write"),
)
_target(
    "localstack.services.s3.models:KeyStore", READ, S3_STATE, "service_state.py", HasAttributes("get", "set", "values")
)
_target("localstack.services.s3.models:VersionedKeyStore", READ, S3_STATE, "service_state.py", Assigns("_store"))
_target(
    "localstack.services.s3.models:S3Bucket",
    READ,
    f"{S3_STATE}; {JOURNAL}",
    "service_state.py",
    Assigns("name", "objects", "creation_date"),
)
_target(
    "localstack.services.s3.models:S3Object",
    READ,
    S3_STATE,
    "service_state.py",
    Assigns("key", "version_id", "size", "internal_last_modified"),
)
_target("localstack.services.s3.models:S3DeleteMarker", READ, S3_STATE, "service_state.py", Class())
_target(
    "localstack.services.events.provider:EventsProvider",
    READ,
    EVENTS_RESTART,
    "event_routing.py",
    Assigns("_event_bus_services_store", "_rule_services_store"),
)
_target(
    "localstack.services.events.provider:EventsProvider.create_target_sender",
    READ,
    EVENTS_RESTART,
    "event_routing.py",
    Parameters("self", "target", "rule_arn", "rule_name", "region", "account_id"),
)
_target(
    "localstack.services.events.event_bus:EventBusService",
    READ,
    EVENTS_RESTART,
    "event_routing.py",
    Parameters("event_bus"),
)
_target(
    "localstack.services.events.rule:RuleService",
    READ,
    EVENTS_RESTART,
    "event_routing.py",
    Parameters("rule"),
    Assigns("schedule_cron"),
)
_target(
    "localstack.services.events.rule:RuleService.create_schedule_job",
    READ,
    EVENTS_RESTART,
    "event_routing.py",
    Parameters("self", "schedule_job_sender_func"),
)
_target(
    "localstack.services.events.provider:EventsProvider._get_scheduled_rule_job_function",
    READ,
    EVENTS_RESTART,
    "event_routing.py",
    Parameters("self", "account_id", "region", "rule"),
)
_target(
    "localstack.services.events.models:EventsStore", READ, EVENTS_RESTART, "event_routing.py", Assigns("event_buses")
)
_target("localstack.services.events.models:EventBus", READ, EVENTS_RESTART, "event_routing.py", Assigns("arn", "rules"))
_target(
    "localstack.services.events.models:Rule",
    READ,
    EVENTS_RESTART,
    "event_routing.py",
    Assigns("arn", "name", "targets"),
)
_target("localstack.state.pickle:reducer", READ, LOCKS_RESTORED, "service_state.py", Parameters("cls", "restore"))
_target("localstack.state.pickle:register", READ, STATE_PICKLED, "service_state.py", Parameters("cls", "subclasses"))
_target(
    "localstack.state.pickle:Pickler",
    OVERRIDDEN,
    JOURNAL,
    "service_state.py",
    # the engine's pickler leaves out what a service writes record by record through the
    # dispatch table each instance builds
    Mentions("self.dispatch = dispatch"),
)
_target(
    "localstack.aws.connect:MetadataRequestInjector",
    READ,
    STATE_PICKLED,
    "service_state.py",
    Parameters("client", "params", "custom_headers"),
    Assigns("_client", "_params", "_custom_headers"),
)
_target("botocore.client:BaseClient._get_credentials", READ, STATE_PICKLED, "service_state.py", Parameters("self"))
_target(
    "localstack.services.stepfunctions.backend.models:SFNStore",
    READ,
    CHANGING_BY_ITSELF,
    "service_state.py",
    Assigns("executions"),
)
_target(
    "localstack.services.stepfunctions.backend.execution:Execution",
    READ,
    CHANGING_BY_ITSELF,
    "service_state.py",
    Assigns("exec_status"),
)
_target(
    "localstack.services.cloudformation.models:CloudFormationStore",
    READ,
    CHANGING_BY_ITSELF,
    "service_state.py",
    Assigns("stacks_v2", "change_sets"),
)
_target(
    "localstack.services.cloudformation.v2.entities:Stack",
    READ,
    CHANGING_BY_ITSELF,
    "service_state.py",
    Assigns("status"),
)
_target(
    "localstack.services.cloudformation.v2.entities:ChangeSet",
    READ,
    CHANGING_BY_ITSELF,
    "service_state.py",
    Assigns("status"),
)
_target(
    f"{_DDB_TABLE}:Table",
    READ,
    JOURNAL,
    "service_state.py",
    Assigns("name", "items", "hash_key_attr", "range_key_attr", "created_at", "stream_shard", "latest_stream_label"),
)
_target(f"{_DDB_TABLE}:Table.get_item", READ, JOURNAL, "service_state.py", Parameters("self", "hash_key", "range_key"))
_target(f"{_DDB_TABLE}:StreamShard", READ, JOURNAL, "service_state.py", Assigns("items"))
_target(f"{_DDB_TABLE}:StreamRecord", READ, JOURNAL, "service_state.py", Assigns("record"))
_target(
    "moto.dynamodb.models.dynamo_type:Item",
    READ,
    JOURNAL,
    "service_state.py",
    # items loaded without moto's per-attribute checks: the attributes its constructor sets
    Assigns("hash_key", "range_key", "attrs"),
    HasAttributes("to_json"),
)
_target("moto.dynamodb.models.dynamo_type:DynamoType", READ, JOURNAL, "service_state.py", Assigns("type", "value"))
_target("moto.dynamodb.models.dynamo_type:LimitedSizeDict", READ, JOURNAL, "service_state.py", Class())
_target("moto.logs.models:LogsBackend", READ, JOURNAL, "service_state.py", Assigns("groups"))
_target("moto.logs.models:LogGroup", READ, JOURNAL, "service_state.py", Assigns("name", "streams"))
_target(
    "moto.logs.models:LogStream",
    READ,
    JOURNAL,
    "service_state.py",
    Assigns("events", "log_group", "log_stream_name", "creation_time"),
)
_target(
    "moto.logs.models:LogEvent",
    READ,
    JOURNAL,
    "service_state.py",
    # moto numbers events from this class-wide counter, set past the loaded ones
    Assigns("_event_id", "event_id", "ingestion_time", "timestamp", "message"),
)

# --- the gateway and its handler chains ----------------------------------------------------------

_target(
    "localstack.runtime.server.twisted:TwistedRuntimeServer.register",
    OVERRIDDEN,
    LISTEN_HOSTS,
    "listening.py",
    Parameters("self", "gateway", "listen", "ssl_creds"),
    # what the override does as upstream does it, besides binding each host
    Mentions(
        "TwistedGateway(gateway)", "use_certificate_chain_file(", "TLSMultiplexerFactory(context_factory, False, site)"
    ),
)
_target(
    "localstack.runtime.runtime:LocalstackRuntime._init_gateway_server",
    READ,
    LISTEN_HOSTS,
    "listening.py",
    # the runtime server's register is where the engine binds: it must still be called
    Mentions("runtime_server.register("),
)
_target(
    "rolo.serving.twisted:TwistedGateway",
    READ,
    HTTP_REFUSALS,
    "listening.py",
    # the channel the engine's extends is the one upstream serves with
    Mentions("self.protocol = HeaderPreservingHTTPChannel.protocol_factory"),
)
# request_cost.py's EngineSite: rolo's site for the gateway, built as rolo builds it
_target(
    "rolo.serving.twisted:TwistedGateway.__init__",
    READ,
    REQUEST_COST,
    "request_cost.py",
    Mentions("GatewayResource(gateway, reactor, reactor.getThreadPool())", "requestFactory=TwistedRequestAdapter"),
)
_target(
    "rolo.serving.twisted:GatewayResource.__init__",
    READ,
    REQUEST_COST,
    "request_cost.py",
    Mentions(
        "WebsocketResourceDecorator(",
        "HeaderPreservingWSGIResource(reactor, threadpool, WsgiGateway(gateway))",
        "WebSocketRequest.listener(gateway.accept)",
    ),
)
_target(
    "rolo.serving.twisted:HeaderPreservingWSGIResource.render",
    READ,
    REQUEST_COST,
    "request_cost.py",
    # _EngineWSGIResource.render builds its own response the same way
    Mentions("HeaderPreservingWSGIResponse(", "response.start()"),
)
_target(
    "twisted.web.server:Site.__init__",
    READ,
    REQUEST_COST,
    "request_cost.py",
    Parameters("self", "resource", named=("requestFactory", "parsePOSTFormSubmission")),
)
_target("twisted.web.http:HTTPFactory.log", OVERRIDDEN, REQUEST_COST, "request_cost.py", Parameters("self", "request"))
_target(
    "twisted.web.http:Request.finish",
    READ,
    REQUEST_COST,
    "request_cost.py",
    # where the access log line is written: the override above must be what it calls
    Mentions("self.channel.factory.log(self)"),
)
_target(
    "twisted.web.wsgi:_WSGIResponse.write",
    OVERRIDDEN,
    REQUEST_COST,
    "request_cost.py",
    Parameters("self", "data"),
    Mentions("blockingCallFromThread(", "self._sendResponseHeaders()"),
)
_target(
    "twisted.web.wsgi:_WSGIResponse.run",
    READ,
    REQUEST_COST,
    "request_cost.py",
    # every chunk through self.write, then the finish queued to the reactor after it
    Mentions("self.write(elem)", "self.reactor.callFromThread(wsgiFinish, self.started)", in_order=True),
)
_target(
    "twisted.web.wsgi:_WSGIResponse",
    READ,
    REQUEST_COST,
    "request_cost.py",
    Assigns(
        "started", "reactor", "threadpool", "application", "environ", "request", "headers", "_requestFinished", "_log"
    ),
)
_target(
    "twisted.web.wsgi:_WSGIResponse.startResponse",
    READ,
    REQUEST_COST,
    "request_cost.py, inline_requests.py",
    # an application's status and headers, kept for _sendResponseHeaders
    Mentions("self.status = status", "self.headers = headers"),
)
_target(
    "twisted.web.http:Request",
    READ,
    REQUEST_COST,
    "request_cost.py, inline_requests.py",
    # what decides a request is answered on the reactor thread
    Assigns("method", "path", "args", "content", "requestHeaders"),
)
_target(
    "rolo.gateway.wsgi:WsgiGateway.__call__",
    READ,
    REQUEST_COST,
    "request_cost.py",
    # the request's headers are set before the gateway (the engine's _IndexingGateway) processes it
    Mentions("request.headers = Headers(", "self.gateway.process(request, response)", in_order=True),
)
_target("werkzeug.datastructures.headers:Headers", READ, REQUEST_COST, "request_cost.py", Assigns("_list"))
_target(
    "werkzeug.datastructures.headers:Headers._get_key",
    OVERRIDDEN,
    REQUEST_COST,
    "request_cost.py",
    Parameters("self", "key"),
    # the first of a name, compared in lower case: what the index answers
    Mentions("ikey = key.lower()", "for k, v in self._list:", "if k.lower() == ikey:"),
)
_target(
    "werkzeug.datastructures.headers:Headers.get",
    OVERRIDDEN,
    REQUEST_COST,
    "request_cost.py",
    Parameters("self", "key", "default", "type"),
    Mentions("self._get_key(key)"),
)
_target(
    "werkzeug.datastructures.headers:Headers.__contains__",
    OVERRIDDEN,
    REQUEST_COST,
    "request_cost.py",
    Parameters("self", "key"),
    Mentions("self._get_key(key)"),
)
_target(
    "localstack.services.sqs.provider:SqsProvider.receive_message",
    READ,
    REQUEST_COST,
    "inline_requests.py",
    # when a receive waits: the request's WaitTimeSeconds, else the queue's, or LocalStack's header
    Mentions("extract_wait_time_seconds_from_headers(context)", "wait_time_seconds = queue.wait_time_seconds"),
)
_target(
    "localstack.services.sqs.provider:HEADER_LOCALSTACK_SQS_OVERRIDE_WAIT_TIME_SECONDS",
    READ,
    REQUEST_COST,
    "inline_requests.py",
)
_target("localstack.services.sqs.models:sqs_stores", READ, REQUEST_COST, "inline_requests.py")
_target("localstack.services.sqs.models:sqs_stores", READ, SQS_STATE, "service_state.py", HasAttributes("iter_stores"))
_target(
    "localstack.services.sqs.models:SqsQueue",
    READ,
    SQS_STATE,
    "service_state.py",
    Assigns("inflight", "delayed", "receipts", "mutex"),
    HasAttributes("add_inflight_message"),
)
_target("localstack.services.sqs.models:StandardQueue", READ, SQS_STATE, "service_state.py", Assigns("visible"))
_target(
    "localstack.services.sqs.models:FifoQueue",
    READ,
    SQS_STATE,
    "service_state.py",
    Assigns("message_groups", "inflight_groups", "message_group_queue", "deduplication"),
    HasAttributes("get_message_group"),
)
# a deduplication id older than this decides nothing (FifoQueue.put): left out of the saved queue
_target("localstack.services.sqs.constants:DEDUPLICATION_INTERVAL_IN_SEC", READ, SQS_STATE, "service_state.py")
# a message put back where it became visible: the queue's own low-level put
_target(
    "localstack.services.sqs.models:StandardQueue._put_message",
    READ,
    SQS_STATE,
    "service_state.py",
    Parameters("self", "message"),
)
_target(
    "localstack.services.sqs.models:FifoQueue._put_message",
    READ,
    SQS_STATE,
    "service_state.py",
    Parameters("self", "message"),
)
_target("localstack.services.sqs.models:MessageGroup", READ, SQS_STATE, "service_state.py", Assigns("messages"))
_target(
    "localstack.services.sqs.models:SqsMessage",
    READ,
    SQS_STATE,
    "service_state.py",
    Assigns(
        "receive_count",
        "visibility_deadline",
        "visibility_timeout",
        "delay_seconds",
        "deleted",
        "first_received",
        "receipt_handles",
        "priority",
        "last_received",
    ),
    HasAttributes("message_id", "message_group_id", "is_visible", "is_delayed"),
)
_target("localstack.services.sqs.queue:InterruptiblePriorityQueue", READ, SQS_STATE, "service_state.py", Class())
_target("localstack.services.sqs.queue:InterruptibleQueue", READ, SQS_STATE, "service_state.py", Class())
_target(
    "localstack.services.sqs.models:SqsQueue.wait_time_seconds", READ, REQUEST_COST, "inline_requests.py", Property()
)
RESPONSE_LOG = _target(
    "localstack.aws.handlers.logging:ResponseLogger._log",
    WRAPPED,
    REQUEST_COST,
    "request_cost.py",
    Parameters("self", "context", "response"),
    # the lines the replacement writes, as upstream writes them
    Mentions('"AWS %s.%s => %d (%s)"', '"AWS %s.%s => %s"', '"%s %s => %d"', "self.internal_aws_logger"),
)
MEDIA_TYPE = _target(
    "localstack.aws.protocol.serializer:ResponseSerializer._get_mime_type",
    WRAPPED,
    REQUEST_COST,
    "request_cost.py",
    Parameters("self", "headers"),
    # a function of the Accept and Content-Type headers and the class's media types alone
    Mentions('headers.get("Accept")', 'headers.get("Content-Type")', "self.SUPPORTED_MIME_TYPES"),
)
MOTO_METHOD_NAMES = _target(
    "moto.core.responses:method_names_from_class",
    WRAPPED,
    MOTO_COST,
    "request_cost.py",
    Parameters("clazz"),
)
_target(
    "moto.core.responses:BaseResponse.call_action",
    READ,
    MOTO_COST,
    "request_cost.py",
    # the listing is looked up by that module-level name, and only tested for membership
    Mentions("method_names = method_names_from_class(self.__class__)", "if action in method_names:"),
)
MOTO_RANDOM_STRING = _target(
    "moto.moto_api._internal.moto_random:MotoRandom.get_random_string",
    REPLACED,
    MOTO_COST,
    "request_cost.py",
    Parameters("self", "length", "include_digits", "lower_case"),
    # the alphabet and the draw the replacement makes at once
    Mentions("pool = string.ascii_letters", "pool += string.digits", "self.choice(pool) for i in range(length)"),
)
ROUTER_DISPATCH = _target(
    "rolo.routing.router:Router.dispatch",
    REPLACED,
    REQUEST_COST,
    "request_cost.py",
    Parameters("self", "request"),
    # the match the replacement makes, and remembers when it finds nothing
    Mentions(
        "matcher = self.url_map.bind(server_name=request.host)",
        "handler, args = matcher.match(get_raw_path(request), method=request.method)",
        'args.pop("__host__", None)',
        "return self.dispatcher(request, handler, args)",
        in_order=True,
    ),
)
_target(
    "rolo.routing.router:Router._add_rules",
    READ,
    REQUEST_COST,
    "request_cost.py",
    # a router's rules change by a new map, never in place: a remembered miss is for one map
    Mentions("new = _clone_map_with_rules(self.url_map)", "self.url_map = new", in_order=True),
)
_target(
    "rolo.routing.router:Router.add_rule",
    READ,
    REQUEST_COST,
    "request_cost.py",
    Mentions("new = _clone_map_with_rules(self.url_map)", "self.url_map = new", in_order=True),
)
_target(
    "rolo.routing.router:Router._remove_rules",
    READ,
    REQUEST_COST,
    "request_cost.py",
    Mentions("new = _clone_map_without_rules(old)", "self.url_map = new", in_order=True),
)
_target(
    "werkzeug.routing.map:MapAdapter.match",
    READ,
    REQUEST_COST,
    "request_cost.py",
    # a request no rule matches: NotFound, as such (MethodNotAllowed, redirects are others)
    Mentions("raise NotFound() from None"),
)
LAMBDA_CODE_URL = _target(
    "localstack.services.lambda_.invocation.lambda_models:S3Code.generate_presigned_url",
    REPLACED,
    REQUEST_COST,
    "request_cost.py",
    Parameters("self", "endpoint_url"),
    # the client and the presigned GetObject the replacement makes, with a client kept per endpoint
    Mentions(
        "boto3.client(",
        "aws_access_key_id=config.INTERNAL_RESOURCE_ACCOUNT",
        "aws_secret_access_key=INTERNAL_AWS_SECRET_ACCESS_KEY",
        '"VersionId"] = self.s3_object_version',
        's3_client.generate_presigned_url("get_object", Params=params)',
    ),
)
_target(
    "localstack.services.lambda_.invocation.lambda_models:S3Code",
    READ,
    REQUEST_COST,
    "request_cost.py",
    Assigns("s3_bucket", "s3_key", "s3_object_version"),
)
USER_AGENT = _target(
    "botocore.useragent:UserAgentString.to_string",
    WRAPPED,
    REQUEST_COST,
    "request_cost.py",
    Parameters("self"),
    # built from the instance's own fields and the request's features alone
    Mentions("self._build_feature_metadata()", "self._client_config"),
)
_target(
    "botocore.useragent:UserAgentString._build_feature_metadata",
    READ,
    REQUEST_COST,
    "request_cost.py",
    Mentions("ctx = get_context()", "ctx.features", "self._client_features"),
)
_target(
    "rolo.serving.twisted:HeaderPreservingHTTPChannel.protocol_factory",
    READ,
    HTTP_REFUSALS,
    "http_limits.py",
    # AnsweringHTTPChannel.protocol_factory builds its channel the same way
    Mentions("_GenericHTTPChannelProtocol(HeaderPreservingHTTPChannel())"),
)
_target(
    "twisted.web.http:_GenericHTTPChannelProtocol",
    READ,
    HTTP_REFUSALS,
    "http_limits.py",
    # wraps the engine's channel as rolo's factory wraps its own (HTTP/1.1, or HTTP/2 when negotiated)
)
_target(
    "twisted.web.http:HTTPChannel._respondToBadRequestAndDisconnect",
    OVERRIDDEN,
    HTTP_REFUSALS,
    "http_limits.py",
    Parameters("self"),
)
_target(
    "twisted.web.http:HTTPChannel.headerReceived",
    OVERRIDDEN,
    HTTP_REFUSALS,
    "http_limits.py",
    Parameters("self", "line"),
)
_target(
    "twisted.web.http:HTTPChannel",
    READ,
    HTTP_REFUSALS,
    "http_limits.py",
    Assigns("_receivedHeaderSize", "_receivedHeaderCount", "MAX_LENGTH", "totalHeadersSize", "maxHeaders"),
    # Twisted refuses a malformed head through these, which the engine's channel answers
    Mentions("self._respondToBadRequestAndDisconnect()", "self.headerReceived("),
)
_target(
    "twisted.web.http:HTTPChannel",
    READ,
    DIRECT_HTTP,
    "direct_http.py",
    # between requests: none under way (requests, _handlingRequest) and nothing buffered
    Assigns(
        "requests",
        "_handlingRequest",
        "_networkProducer",
        "_waitingForTransport",
        "persistent",
        "MAX_LENGTH",
        "totalHeadersSize",
        "maxHeaders",
    ),
    # what the direct reading must answer alike: the 100 Continue, and headers in its Headers
    Mentions('b"HTTP/1.1 100 Continue\\r\\n\\r\\n"', 'expectContinue[0].lower() == b"100-continue"'),
)
_target("twisted.protocols.basic:LineReceiver", READ, DIRECT_HTTP, "direct_http.py", Assigns("line_mode", "_buffer"))
_target(
    "twisted.web.http:HTTPChannel.resumeProducing",
    READ,
    DIRECT_HTTP,
    "direct_http.py",
    # a channel handling a request keeps reading paused when the transport drains
    Mentions("if not self._handlingRequest:", "self._networkProducer.resumeProducing()", in_order=True),
)
_target(
    "twisted.web.http:HTTPChannel.requestDone",
    READ,
    DIRECT_HTTP,
    "direct_http.py",
    # what direct_http.py's done_writing does alike
    Mentions("if not self._waitingForTransport:", "self._networkProducer.resumeProducing()", in_order=True),
)
_target(
    "twisted.web.http:Request.write",
    READ,
    DIRECT_HTTP,
    "direct_http.py",
    # the framing direct_http.py writes alike: chunked without a length, no body for HEAD and NO_BODY_CODES
    Mentions(
        'setRawHeaders("Transfer-Encoding", [b"chunked"])',
        'self.method == b"HEAD"',
        "self.code in NO_BODY_CODES",
    ),
)
_target(
    "twisted.web.server:Request.process",
    READ,
    DIRECT_HTTP,
    "direct_http.py",
    # the Server and Date fields direct_http.py writes first, as here
    Mentions('self.setHeader(b"Server", version)', 'self.setHeader(b"Date", datetimeToString())', in_order=True),
)
_target(
    "twisted.web.wsgi:_WSGIResponse._sendResponseHeaders",
    READ,
    DIRECT_HTTP,
    "direct_http.py",
    # the application may not set these two
    Mentions('if name.lower() not in ("server", "date"):'),
)
_target(
    "localstack.aws.app:LocalstackAwsGateway.__init__",
    READ,
    f"{INTAKE}; {FORM_BODIES}; {INVOKE_LIMITS}; {API_LIMITS}; {REQUEST_HOOKS}",
    "intake.py, form_bodies.py, invoke_limits.py, apigateway_limits.py, persistence.py, serving.py",
    # the gate and the kept form bodies before the edge routes (API Gateway, function URLs) and
    # any reader of the body; the service request handlers after the request is parsed
    Mentions(
        "handlers.preprocess_request",
        "handlers.serve_edge_router_rules",
        "handlers.parse_service_request",
        "handlers.serve_custom_service_request_handlers",
        "handlers.run_custom_response_handlers",
        "handlers.run_custom_finalizers",
        in_order=True,
    ),
)
_target(
    "localstack.aws.handlers:preprocess_request",
    READ,
    f"{INTAKE}; {FORM_BODIES}",
    "intake.py, form_bodies.py",
    HasAttributes("append", "handlers"),
)
_target(
    "localstack.aws.handlers:serve_custom_service_request_handlers",
    READ,
    f"{INVOKE_LIMITS}; {API_LIMITS}; {MAPPING_POLLING}",
    "invoke_limits.py, execute_api.py, sqs_mapping.py",
    HasAttributes("append"),
)
_target("localstack.aws.handlers:run_custom_finalizers", READ, INTAKE, "intake.py", HasAttributes("append"))

# --- API Gateway ---------------------------------------------------------------------------------

_NEXT_GEN = "localstack.services.apigateway.next_gen.execute_api"
_target(
    f"{_NEXT_GEN}.gateway:RestApiGateway.__init__",
    READ,
    f"{API_IAM}; {API_LIMITS}",
    "execute_api.py",
    # the engine's handlers need the routed method and run before the API key check
    Mentions(
        "handlers.route_request,",
        "handlers.preprocess_request,",
        "handlers.api_key_validation_handler,",
        in_order=True,
    ),
)
_target(
    f"{_NEXT_GEN}.handlers:preprocess_request",
    READ,
    f"{API_IAM}; {API_LIMITS}",
    "execute_api.py",
    HasAttributes("append", "handlers"),
)
_target(
    f"{_NEXT_GEN}.context:RestApiInvocationContext",
    READ,
    f"{API_IAM}; {API_LIMITS}",
    "apigateway_iam.py, apigateway_limits.py",
    Assigns(
        "request",
        "region",
        "account_id",
        "api_id",
        "stage",
        "deployment",
        "resource",
        "resource_method",
        "stage_configuration",
        "context_variables",
        "invocation_request",
    ),
)
_target(
    f"{_NEXT_GEN}.context:InvocationRequest",
    READ,
    f"{API_IAM}; {API_LIMITS}",
    "apigateway_iam.py, apigateway_limits.py",
    Assigns("http_method", "path", "headers", "body"),
)
_target(
    "localstack.services.apigateway.models:RestApiDeployment",
    READ,
    f"{API_IAM}; {API_LIMITS}",
    "apigateway_iam.py, apigateway_limits.py",
    Assigns("rest_api"),
)
_target(
    "localstack.services.apigateway.models:RestApiContainer",
    READ,
    f"{API_IAM}; {API_LIMITS}",
    "apigateway_iam.py, apigateway_limits.py",
    Assigns("rest_api"),
)
API_EVENT_BODY = _target(
    f"{_NEXT_GEN}.handlers.parse:restore_payload", REPLACED, FORM_BODIES, "form_bodies.py", Parameters("request")
)
_target(
    f"{_NEXT_GEN}.handlers.parse:InvocationRequestParser.create_invocation_request",
    READ,
    FORM_BODIES,
    "form_bodies.py",
    Mentions("body=restore_payload(request)"),
)
FUNCTION_URL_EVENT_BODY = _target(
    "localstack.services.lambda_.urlrouter:restore_payload",
    REPLACED,
    FORM_BODIES,
    "form_bodies.py",
    Parameters("request"),
)
_target(
    "localstack.services.lambda_.urlrouter:event_for_lambda_url",
    READ,
    FORM_BODIES,
    "form_bodies.py",
    Mentions("restore_payload(request)"),
)
GATEWAY_EXCEPTION_HANDLER = _target(
    f"{_NEXT_GEN}.handlers.gateway_exception:GatewayExceptionHandler.__call__",
    WRAPPED,
    INVOKE_LIMITS,
    "invoke_limits.py",
    Parameters("self", "chain", "exception", "context", "response"),
)
_target(
    f"{_NEXT_GEN}.integrations.aws:RestApiAwsProxyIntegration.invoke",
    READ,
    INVOKE_LIMITS,
    "invoke_limits.py",
    # Lambda's refusal is the cause of the integration failure the wrapped handler answers
    Mentions("except ClientError as e", ") from e"),
)
# the gateway responses the engine raises, imported with the chain (not at start): targets, so
# that a LocalStack without one still refuses to start
for _error, _feature, _by in (
    ("IntegrationFailureError", INVOKE_LIMITS, "invoke_limits.py"),
    ("RequestTooLargeError", INVOKE_LIMITS, "invoke_limits.py"),
    ("AccessDeniedError", API_IAM, "apigateway_iam.py"),
    ("ExpiredTokenError", API_IAM, "apigateway_iam.py"),
    ("InvalidSignatureError", API_IAM, "apigateway_iam.py"),
    ("MissingAuthTokenError", API_IAM, "apigateway_iam.py"),
    ("ApiConfigurationError", API_LIMITS, "apigateway_limits.py"),
    ("QuotaExceededError", API_LIMITS, "apigateway_limits.py"),
    ("ThrottledError", API_LIMITS, "apigateway_limits.py"),
):
    _target(f"{_NEXT_GEN}.gateway_response:{_error}", READ, _feature, _by, Class())
# users, groups, roles, policies, access keys and sessions live in LocalStack's own IAM and STS
# stores, where the engine finds callers
_IAM = "localstack.services.iam"
_target(f"{_IAM}.models:iam_stores", READ, API_IAM, "apigateway_iam.py", HasAttributes("get"))
_target(
    f"{_IAM}.models:IamStore",
    READ,
    API_IAM,
    "apigateway_iam.py",
    Assigns("USERS", "GROUPS", "ROLES", "MANAGED_POLICIES", "ACCESS_KEY_INDEX"),
)
_target(
    f"{_IAM}.models:UserEntity",
    READ,
    API_IAM,
    "apigateway_iam.py",
    Assigns("user", "inline_policies", "attached_policy_arns", "access_keys"),
)
_target(
    f"{_IAM}.models:GroupEntity",
    READ,
    API_IAM,
    "apigateway_iam.py",
    Assigns("inline_policies", "attached_policy_arns", "member_user_names"),
)
_target(
    f"{_IAM}.models:RoleEntity",
    READ,
    API_IAM,
    "apigateway_iam.py",
    Assigns("role", "inline_policies", "attached_policy_arns"),
)
_target(f"{_IAM}.models:ManagedPolicyEntity", READ, API_IAM, "apigateway_iam.py", Assigns("policy", "versions"))
_target(f"{_IAM}.models:AccessKeyEntity", READ, API_IAM, "apigateway_iam.py", Assigns("access_key"))
_target(
    f"{_IAM}.provider:IamProvider.create_access_key",
    READ,
    API_IAM,
    "apigateway_iam.py",
    # the index names the user whose key it is
    Mentions("store.ACCESS_KEY_INDEX[access_key_id] = user_name"),
)
for _principal in ("user", "role"):
    _target(
        f"{_IAM}.provider:IamProvider.put_{_principal}_permissions_boundary",
        READ,
        API_IAM,
        "apigateway_iam.py",
        # a boundary is kept in the principal's API shape, as GetUser and GetRole answer it
        Mentions(f'{_principal}_entity.{_principal}["PermissionsBoundary"] = '),
    )
_target(
    f"{_IAM}.provider:IamProvider._get_aws_managed_policy",
    READ,
    API_IAM,
    "apigateway_iam.py",
    # AWS's managed policies are held by the provider, not the store
    Parameters("self", "store", "policy_arn"),
)
_STS = "localstack.services.sts"
_target(f"{_STS}.models:sts_stores", READ, API_IAM, "execute_api.py")
_target(f"{_STS}.models:STSStore", READ, API_IAM, "execute_api.py", Assigns("credentials"))
_target(
    f"{_STS}.models:TemporaryCredentials",
    READ,
    API_IAM,
    "apigateway_iam.py, execute_api.py",
    Assigns("secret_access_key", "session_token", "expiration", "account_id", "arn", "user_id"),
    # the session policies, which LocalStack drops, are kept on the session
    TakesAttributes(),
)
_target(
    f"{_STS}.provider:StsProvider._create_credentials",
    READ,
    API_IAM,
    "apigateway_iam.py",
    # every session is kept under its access key
    Mentions("store.credentials[access_key_id] = creds"),
)
_target(
    f"{_STS}.provider:StsProvider.assume_role",
    READ,
    API_IAM,
    "apigateway_iam.py",
    # the session names its role, and its user id begins with the role's id
    Mentions("assumed-role/{role_name}/", 'assumed_role_id = f"{role_id}:'),
)
for _operation in ("create_usage_plan", "create_api_key"):
    _target(
        f"localstack.services.apigateway.legacy.provider:ApigatewayProvider.{_operation}",
        READ,
        API_LIMITS,
        "apigateway_limits.py",
        # usage plans and API keys live in moto's API Gateway backend, where the engine reads them
        Mentions("call_moto("),
    )
_APIGW = "moto.apigateway.models"
_target(
    f"{_APIGW}:APIGatewayBackend",
    READ,
    API_LIMITS,
    "apigateway_limits.py",
    Assigns("usage_plans", "usage_plan_keys", "keys"),
)
_target(
    f"{_APIGW}:UsagePlan", READ, API_LIMITS, "apigateway_limits.py", Assigns("id", "throttle", "quota", "api_stages")
)
_target(f"{_APIGW}:UsagePlanKey", READ, API_LIMITS, "apigateway_limits.py", Assigns("id"))
_target(f"{_APIGW}:ApiKey", READ, API_LIMITS, "apigateway_limits.py", Assigns("id", "value", "enabled"))

# --- CloudWatch and SQS providers -----------------------------------------------------------------

_CW = "localstack.services.cloudwatch"
_target(f"{_CW}.provider_v2:CloudwatchProvider", READ, CW_STATISTICS, "cloudwatch.py", Assigns("cloudwatch_database"))
_target(
    f"{_CW}.provider_v2:CloudwatchProvider.get_metric_data",
    OVERRIDDEN,
    CW_STATISTICS,
    "cloudwatch.py",
    Parameters("self", "context", "metric_data_queries", "start_time", "end_time"),
    # the store answers each query, with its messages
    Mentions("self.cloudwatch_database.get_metric_data_stat(", 'query_result.get("messages")'),
)
_target(
    f"{_CW}.provider_v2:CloudwatchProvider.get_metric_statistics",
    OVERRIDDEN,
    CW_STATISTICS,
    "cloudwatch.py",
    Parameters(
        "self",
        "context",
        "namespace",
        "metric_name",
        "start_time",
        "end_time",
        "period",
        "dimensions",
        "statistics",
        "extended_statistics",
        "unit",
    ),
)
_target(
    f"{_CW}.cloudwatch_database_helper:CloudwatchDatabase",
    READ,
    CW_STATISTICS,
    "cloudwatch.py",
    Assigns("DATABASE_LOCK", "METRICS_DB", "METRICS_DB_READ_ONLY", "TABLE_SINGLE_METRICS", "TABLE_AGGREGATED_METRICS"),
    # the columns the engine's queries read
    Mentions('"timestamp"', '"dimensions"', '"unit"', '"value"', '"sample_count"', '"sum"', '"min"', '"max"'),
)
_target(
    f"{_CW}.cloudwatch_database_helper:CloudwatchDatabase.clear_tables",
    OVERRIDDEN,
    CW_STATISTICS,
    "cloudwatch.py",
    Parameters("self"),
)
_target(
    f"{_CW}.provider_v2:CloudwatchProvider.on_before_state_reset",
    READ,
    CW_STATISTICS,
    "cloudwatch.py",
    # a reset clears the store through the method the engine's store extends (its minutes too)
    Mentions("self.cloudwatch_database.clear_tables()"),
)
_target(
    f"{_CW}.cloudwatch_database_helper:CloudwatchDatabase.get_metric_data_stat",
    OVERRIDDEN,
    CW_STATISTICS,
    "cloudwatch.py",
    Parameters("self", "account_id", "region", "query", "start_time", "end_time", "scan_by"),
)
_target(
    f"{_CW}.cloudwatch_database_helper:CloudwatchDatabase.get_units_for_metric_data_stat",
    READ,
    CW_STATISTICS,
    "cloudwatch.py",
    Parameters("self", "account_id", "region", "start_time", "end_time", "metric_name", "namespace"),
)
_target(
    f"{_CW}.cloudwatch_database_helper:CloudwatchDatabase._get_ordered_dimensions_with_separator",
    READ,
    CW_STATISTICS,
    "cloudwatch.py",
    Parameters("self", "dims"),
)
_target(
    f"{_CW}.cloudwatch_database_helper:CloudwatchDatabase._convert_timestamp_to_unix",
    READ,
    CW_STATISTICS,
    "cloudwatch.py",
    Parameters("self", "timestamp"),
)

_VERSION_MANAGER = "localstack.services.lambda_.invocation.version_manager"
VERSION_MANAGER_START_THREAD = _target(
    f"{_VERSION_MANAGER}:start_thread",
    REPLACED,
    LAMBDA_METRIC_THREADS,
    "lambda_metrics.py",
    SameAs("localstack.utils.threads:start_thread"),
    Parameters("method", "params", named=("name",)),
)
_METRICS = "localstack.services.lambda_.invocation.metrics"
RECORD_INVOCATION_METRIC = _target(
    f"{_VERSION_MANAGER}:record_cw_metric_invocation",
    REPLACED,
    LAMBDA_METRIC_THREADS,
    "lambda_metrics.py",
    SameAs(f"{_METRICS}:record_cw_metric_invocation"),
    Parameters("function_name", "account_id", "region_name"),
)
RECORD_ERROR_METRIC = _target(
    f"{_VERSION_MANAGER}:record_cw_metric_error",
    REPLACED,
    LAMBDA_METRIC_THREADS,
    "lambda_metrics.py",
    SameAs(f"{_METRICS}:record_cw_metric_error"),
    Parameters("function_name", "account_id", "region_name"),
)
# what the replacements publish, as LocalStack's do: AWS/Lambda, FunctionName, an error in both metrics
_target(
    f"{_METRICS}:record_cw_metric_error",
    READ,
    LAMBDA_METRIC_THREADS,
    "lambda_metrics.py",
    Mentions('"Invocations"', '"Errors"', '{"func_name": function_name}'),
)
_target(
    "localstack.utils.cloudwatch.cloudwatch_util:publish_lambda_metric",
    READ,
    LAMBDA_METRIC_THREADS,
    "lambda_metrics.py",
    Mentions('Namespace="AWS/Lambda"', '"Dimensions": dimension_lambda(kwargs)', '"Value": value'),
)
_target(
    "localstack.utils.bootstrap:is_api_enabled", READ, LAMBDA_METRIC_THREADS, "lambda_metrics.py", Parameters("api")
)
_target(
    "localstack.utils.cloudwatch.cloudwatch_util:dimension_lambda",
    READ,
    LAMBDA_METRIC_THREADS,
    "lambda_metrics.py",
    Mentions('{"Name": "FunctionName", "Value": func_name}'),
)
_target(
    f"{_VERSION_MANAGER}:LambdaVersionManager.invoke",
    READ,
    LAMBDA_METRIC_THREADS,
    "lambda_metrics.py",
    # the metric threads, started by the module's name with the method and a name only
    Mentions(
        "start_thread(", "lambda *args, **kwargs: record_cw_metric_invocation(", 'name=f"record-cloudwatch-metric-{'
    ),
)
_LOGS = "localstack.services.logs.provider"
LOGS_PATTERN_MATCHER = _target(f"{_LOGS}:get_pattern_matcher", REPLACED, LOG_PATTERNS, "logs.py", Parameters("pattern"))
_target(
    _LOGS,
    READ,
    LOG_PATTERNS,
    "logs.py",
    # FilterLogEvents and subscription filters look the matcher up by its module name, per call
    Mentions(
        "matches = get_pattern_matcher(filter_pattern)", "get_pattern_matcher(subscription_filter.filter_pattern)"
    ),
)
_target(f"{_LOGS}:LogsProvider.put_log_events", OVERRIDDEN, LOG_PATTERNS, "logs.py", Parameters("self", "context"))
_target("moto.logs.models:logs_backends", READ, f"{LOG_PATTERNS}; {LOG_RETENTION}", "logs.py")
_target(
    "moto.logs.models:LogsBackend",
    READ,
    f"{LOG_PATTERNS}; {LOG_RETENTION}; {LOG_DESCRIBE}",
    "logs.py",
    Assigns("groups", "filters"),
)
_target(
    "moto.logs.metric_filters:MetricFilters",
    READ,
    LOG_PATTERNS,
    "logs.py",
    Assigns("metric_filters"),
    # the filters' keys the engine reads
    Mentions('"filterName"', '"filterPattern"', '"logGroupName"', '"metricTransformations"'),
)
_target(
    "moto.logs.metric_filters:MetricFilters.delete_filter",
    READ,
    LOG_PATTERNS,
    "logs.py",
    Parameters("self", "filter_name", "log_group_name"),
)
_target(
    "moto.logs.models:LogGroup",
    READ,
    f"{LOG_RETENTION}; {LOG_DESCRIBE}",
    "logs.py",
    Assigns("retention_in_days", "streams", "arn", "creation_time", "name", "kms_key_id"),
)
LOG_GROUP_DESCRIBE = _target("moto.logs.models:LogGroup.to_describe_dict", REPLACED, LOG_DESCRIBE, "logs.py")
_target(
    f"{_LOGS}:moto_to_describe_dict",
    READ,
    LOG_DESCRIBE,
    "logs.py",
    # what the engine's replaces: LocalStack's patch, which copies every event of the group
    Mentions("copy.deepcopy(self.streams)", '"storedBytes": sum(s.stored_bytes for s in copy_streams.values())'),
)
_target(
    f"{_LOGS}:LogsProvider.describe_log_groups",
    OVERRIDDEN,
    LOG_DESCRIBE,
    "logs.py",
    Parameters("self", "context", "request"),
    # what the override leaves out: a copy of every group of the region, events and all
    Mentions("copy.deepcopy(dict(region_backend.groups))"),
)
_target(
    f"{_LOGS}:LogsProvider.list_log_groups",
    OVERRIDDEN,
    LOG_DESCRIBE,
    "logs.py",
    Parameters("self", "context", "request"),
    Mentions("copy.deepcopy(region_backend.groups)"),
)
_target("moto.logs.models:LogStream", READ, LOG_RETENTION, "logs.py", Assigns("events", "stored_bytes"))
_target("moto.logs.models:LogEvent", READ, LOG_RETENTION, "logs.py", Assigns("timestamp", "message"))

_SQS = "localstack.services.sqs"
_target(
    f"{_SQS}.provider:SqsProvider.__init__",
    READ,
    SQS_AGE,
    "sqs.py",
    Mentions("self._init_cloudwatch_metrics_reporting()"),
)
_target(
    f"{_SQS}.provider:SqsProvider._init_cloudwatch_metrics_reporting",
    OVERRIDDEN,
    SQS_AGE,
    "sqs.py",
    Parameters("self"),
)
_target(
    f"{_SQS}.provider:SqsProvider",
    READ,
    SQS_AGE,
    "sqs.py",
    Assigns("cloudwatch_disabled", "_cloudwatch_publish_worker"),
    # the worker started is the one the override put there
    Mentions("self._cloudwatch_publish_worker.start()"),
)
_target(
    f"{_SQS}.provider:CloudwatchPublishWorker.publish_approximate_cloudwatch_metrics",
    OVERRIDDEN,
    SQS_AGE,
    "sqs.py",
    Parameters("self"),
)
_target(
    f"{_SQS}.provider:CloudwatchPublishWorker",
    READ,
    SQS_AGE,
    "sqs.py",
    Mentions("self.publish_approximate_cloudwatch_metrics"),
)
_target(
    f"{_SQS}.provider:SqsProvider",
    READ,
    SQS_REQUEST_METRICS,
    "sqs.py",
    Assigns("_cloudwatch_dispatcher"),
    # the dispatcher the override put there is the one every request's metrics go to, and stopped
    Mentions("self._cloudwatch_dispatcher.dispatch_metric_message_sent(", "self._cloudwatch_dispatcher.shutdown()"),
)
_target(
    f"{_SQS}.provider:CloudwatchDispatcher.dispatch_sqs_metric",
    OVERRIDDEN,
    SQS_REQUEST_METRICS,
    "sqs.py",
    Parameters("self", "account_id", "region", "queue_name", "metric", "value", "unit"),
)
_target(f"{_SQS}.provider:CloudwatchDispatcher.shutdown", OVERRIDDEN, SQS_REQUEST_METRICS, "sqs.py", Parameters("self"))
_target(
    f"{_SQS}.provider:CloudwatchDispatcher",
    READ,
    SQS_REQUEST_METRICS,
    "sqs.py",
    Assigns("running"),
    # each metric of a request goes through dispatch_sqs_metric
    Mentions("self.dispatch_sqs_metric(", '"NumberOfMessagesSent"', '"SentMessageSize"', '"NumberOfEmptyReceives"'),
)
_target(
    "localstack.utils.cloudwatch.cloudwatch_util:publish_sqs_metric_batch",
    READ,
    SQS_AGE,
    "sqs.py",
    Parameters("account_id", "region", "sqs_metric_batch_data"),
)
_target(f"{_SQS}.models:SqsStore", READ, SQS_AGE, "sqs.py", Assigns("queues"))
_target(
    f"{_SQS}.models:SqsQueue",
    READ,
    f"{SQS_AGE}; {DRAIN}; {QUEUED_INVOCATIONS}",
    "sqs.py, drain.py",
    Assigns("name", "mutex", "inflight", "delayed"),
)
_target(f"{_SQS}.models:StandardQueue.approximate_number_of_messages", READ, DRAIN, "drain.py", Property())
_target(
    f"{_SQS}.models:StandardQueue",
    READ,
    f"{SQS_AGE}; {QUEUED_INVOCATIONS}",
    "sqs.py, drain.py",
    Assigns("visible"),
)
_target(f"{_SQS}.models:FifoQueue", READ, SQS_AGE, "sqs.py", Assigns("message_groups"))
_target(f"{_SQS}.models:MessageGroup", READ, SQS_AGE, "sqs.py", Assigns("messages"))
_target(
    f"{_SQS}.models:SqsMessage",
    READ,
    f"{SQS_AGE}; {QUEUED_INVOCATIONS}",
    "sqs.py, drain.py",
    Assigns("priority", "created", "deleted", "receive_count", "delay_seconds", "message"),
)

# --- SQS event source mappings ---------------------------------------------------------------------

_SQS_POLLER = f"{_ESM}.pollers.sqs_poller"
ESM_SQS_POLLER = _target(
    f"{_ESM}.esm_worker_factory:SqsPoller",
    REPLACED,
    f"{SQS_BODIES}; {MAPPING_POLLING}",
    "sqs_mapping.py",
    Class(),
    # the replacement extends LocalStack's own poller
    SameAs(f"{_SQS_POLLER}:SqsPoller"),
)
_target(
    f"{_ESM}.esm_worker_factory:EsmWorkerFactory.get_esm_worker",
    READ,
    f"{SQS_BODIES}; {MAPPING_POLLING}",
    "sqs_mapping.py",
    # the factory builds queue pollers from its module's name, which is replaced
    Mentions("SqsPoller("),
)
_target(
    f"{_SQS}.provider:SqsProvider._put_message",
    OVERRIDDEN,
    MAPPING_POLLING,
    "sqs.py",
    Parameters("self", "queue", "context"),
)
for _operation in ("send_message", "send_message_batch"):
    # every message sent is put through the overridden method
    _target(
        f"{_SQS}.provider:SqsProvider.{_operation}", READ, MAPPING_POLLING, "sqs.py", Mentions("self._put_message(")
    )
_target(f"{_SQS}.models:SqsQueue", READ, MAPPING_POLLING, "sqs.py", HasAttributes("arn"))
_target(f"{_SQS}.models:SqsStore", READ, MAPPING_POLLING, "sqs.py", Assigns("queues"))
for _queue in ("StandardQueue", "FifoQueue"):
    _target(f"{_SQS}.models:{_queue}.approximate_number_of_messages", READ, MAPPING_POLLING, "sqs.py", Property())
_target(
    f"{_SQS_POLLER}:SqsPoller.poll_events",
    OVERRIDDEN,
    f"{SQS_BODIES}; {MAPPING_POLLING}",
    "sqs_mapping.py",
    Parameters("self"),
)
_target(f"{_ESM}.pollers.poller:Poller.close", OVERRIDDEN, MAPPING_POLLING, "sqs_mapping.py", Parameters("self"))
_target(
    f"{_SQS_POLLER}:SqsPoller.delete_messages",
    READ,
    SQS_BODIES,
    "sqs_mapping.py",
    Parameters("self", "messages", "message_ids_to_delete"),
)
_target(
    f"{_SQS_POLLER}:SqsPoller.add_source_metadata", READ, SQS_BODIES, "sqs_mapping.py", Parameters("self", "events")
)
_target(
    f"{_SQS_POLLER}:SqsPoller",
    READ,
    f"{SQS_BODIES}; {MAPPING_POLLING}",
    "sqs_mapping.py",
    Assigns(
        "filter_patterns",
        "source_arn",
        "processor",
        "queue_url",
        "batch_size",
        "maximum_batching_window",
        "source_client",
    ),
)

_target(f"{_SQS_POLLER}:transform_into_events", READ, SQS_BODIES, "sqs_mapping.py", Parameters("messages"))
_target(
    f"{_SQS_POLLER}:parse_batch_item_failures",
    READ,
    SQS_BODIES,
    "sqs_mapping.py",
    Parameters("result", "valid_item_ids"),
)
_target(
    f"{_SQS_POLLER}:PartialBatchFailureError",
    READ,
    SQS_BODIES,
    "sqs_mapping.py",
    Class(),
    Assigns("partial_failure_payload"),
)
_target(
    f"{_ESM}.event_processor:EventProcessor.process_events_batch",
    READ,
    f"{SQS_BODIES}; {BISECT}",
    "sqs_mapping.py, stream_mapping.py",
    Parameters("self", "input_events"),
)
_target(f"{_ESM}.pipe_utils:to_json_str", READ, SQS_BODIES, "sqs_mapping.py", Parameters("obj"))
_target(
    "localstack.utils.event_matcher:matches_event",
    READ,
    SQS_BODIES,
    "sqs_mapping.py",
    Parameters("event_pattern", "event"),
)

# --- stopping and restarting ---------------------------------------------------------------------

_target(
    "localstack.runtime.main:main",
    READ,
    FINAL_ON_SIGNALS,
    "persistence.py",
    # LocalStack's handlers are set before the runtime (and its start hooks) runs: the engine's run them after
    Mentions("signal.signal(signal.SIGINT", "runtime.run()", in_order=True),
    Mentions("signal.signal(signal.SIGTERM", "runtime.run()", in_order=True),
)
# s3_listing.py: each listing runs unencoded and only its answer is encoded. Installed before
# the provider is loaded: its dispatch table binds the methods it finds then.
S3_LISTING_OPERATIONS = {
    operation: _target(
        f"localstack.services.s3.provider:S3Provider.{operation}",
        WRAPPED,
        S3_LISTINGS,
        "s3_listing.py",
        Parameters("self", "context", named=("encoding_type",)),
    )
    for operation in ("list_objects", "list_objects_v2", "list_object_versions")
}
_target(
    "localstack.services.s3.provider:S3Provider.__init__",
    READ,
    S3_OWN_FOLDER,
    "s3_storage.py",
    Parameters("self", "storage_backend"),
    # the storage given is the one used (else the fixed folder)
    Mentions("self._storage_backend = storage_backend or "),
)
_target(
    "localstack.services.s3.storage.ephemeral:EphemeralS3ObjectStore.__init__",
    READ,
    S3_OWN_FOLDER,
    "s3_storage.py",
    Parameters("self", "root_directory"),
)
S3_CONTINUATION_TOKEN = _target(
    "localstack.services.s3.provider:decode_continuation_token",
    REPLACED,
    S3_LISTINGS,
    "s3_listing.py",
    Parameters("value"),
)
_target(
    "localstack.services.s3.provider:S3Provider.list_objects_v2",
    READ,
    S3_LISTINGS,
    "s3_listing.py",
    # the token is read through the provider module's name, which is replaced
    Mentions("decode_continuation_token(continuation_token)"),
)
_target(
    "localstack.services.s3.utils:encode_continuation_token",
    READ,
    S3_LISTINGS,
    "s3_listing.py",
    # the token the replacement reads: the key's UTF-8 bytes in base64 with these characters
    Mentions('base64.b64encode(value.encode(), altchars=b"._")'),
)
S3_SUBMIT_NOTIFICATION = _target(
    "localstack.services.s3.notifications:NotificationDispatcher._submit_notification",
    WRAPPED,
    DRAIN,
    "drain.py",
    Parameters("self", "notifier", "ctx", "config"),
    # the counted notifier stands in for the notifier: only its notify is called
    Mentions("notifier.notify"),
)
_target(
    "localstack.services.s3.notifications:NotificationDispatcher.send_notifications",
    READ,
    DRAIN,
    "drain.py",
    Mentions("self._submit_notification("),
)
_LAMBDA = "localstack.services.lambda_"
_target(
    f"{_LAMBDA}.invocation.lambda_service:LambdaService",
    READ,
    f"{DRAIN}; {QUEUED_INVOCATIONS}",
    "drain.py",
    Assigns("event_managers", "lambda_running_versions"),
)
_target(
    f"{_LAMBDA}.invocation.event_manager:LambdaEventManager",
    READ,
    f"{DRAIN}; {QUEUED_INVOCATIONS}",
    "drain.py",
    Assigns("event_queue_url", "poller", "poller_thread"),
)
_target(f"{_LAMBDA}.invocation.event_manager:Poller.stop", READ, QUEUED_INVOCATIONS, "drain.py", Parameters("self"))
_target(f"{_LAMBDA}.invocation.version_manager:LambdaVersionManager", READ, DRAIN, "drain.py", Assigns("log_handler"))
_target(f"{_LAMBDA}.invocation.logs:LogHandler", READ, DRAIN, "drain.py", Assigns("log_queue"))
_target(
    f"{_LAMBDA}.invocation.internal_sqs_queue:get_fake_sqs_client",
    READ,
    f"{DRAIN}; {QUEUED_INVOCATIONS}",
    "drain.py",
    Parameters(),
)
_target(
    f"{_LAMBDA}.invocation.internal_sqs_queue:FakeSqsClient",
    READ,
    f"{DRAIN}; {QUEUED_INVOCATIONS}",
    "drain.py",
    Assigns("queue_manager"),
)
_target(
    f"{_LAMBDA}.invocation.internal_sqs_queue:FakeSqsClient.send_message",
    READ,
    QUEUED_INVOCATIONS,
    "drain.py",
    Parameters("self", "QueueUrl", "MessageBody", "DelaySeconds"),
)
_target(
    f"{_LAMBDA}.invocation.internal_sqs_queue:QueueManager",
    READ,
    f"{DRAIN}; {QUEUED_INVOCATIONS}",
    "drain.py",
    Assigns("queues"),
)
_target(f"{_ESM}.esm_worker:EsmWorker.stop_for_shutdown", READ, DRAIN, "drain.py", Parameters("self"))
_target(
    f"{_LAMBDA}.invocation.execution_environment:ExecutionEnvironment.get_environment_variables",
    READ,
    f"{DRAIN}; {RESPONSE_LIMIT}",
    "executor.py, worker.py",
    # a function's own calls are let in while the engine stops by its access key; the worker
    # reads the response limit LocalStack configures
    Mentions('"AWS_ACCESS_KEY_ID"', '"LOCALSTACK_MAX_PAYLOAD_SIZE"'),
)
_target(
    f"{_LAMBDA}.provider_utils:get_function_version_from_arn",
    READ,
    f"{QUEUED_INVOCATIONS}; {LAMBDA_RESTORE}",
    "drain.py, restore.py",
    Parameters("function_arn"),
)
_target(
    f"{_LAMBDA}.provider:LambdaProvider.on_after_state_load",
    READ,
    LAMBDA_RESTORE,
    "restore.py",
    # the loop restore.py empties the stores for and does one mapping at a time
    Mentions(
        "state.event_source_mappings.values()",
        "EsmWorkerFactory(",
        "esm_worker.create()",
        "self.esm_workers[esm_worker.uuid] = esm_worker",
    ),
)
_target(
    f"{_LAMBDA}.invocation.models:LambdaStore",
    READ,
    LAMBDA_RESTORE,
    "restore.py",
    Assigns("functions", "event_source_mappings"),
)
_target(f"{_LAMBDA}.invocation.lambda_models:Function", READ, LAMBDA_RESTORE, "restore.py", Assigns("versions"))
# the function's reserved concurrency bounds a mapping's deliveries; ScalingConfig checked
_target(
    f"{_LAMBDA}.invocation.models:lambda_stores",
    READ,
    MAPPING_POLLING,
    "event_concurrency.py, sqs_mapping.py",
    HasAttributes("iter_stores"),
)
_target(
    f"{_LAMBDA}.invocation.models:LambdaStore",
    READ,
    MAPPING_POLLING,
    "event_concurrency.py, sqs_mapping.py",
    Assigns("functions", "event_source_mappings"),
)
_target(
    f"{_LAMBDA}.invocation.lambda_models:Function",
    READ,
    MAPPING_POLLING,
    "event_concurrency.py",
    Assigns("reserved_concurrent_executions"),
)
_target(
    f"{_LAMBDA}.invocation.lambda_models:ValidationException",
    READ,
    MAPPING_POLLING,
    "sqs_mapping.py",
    Parameters("message"),
)
_target(
    f"{_LAMBDA}.invocation.lambda_models:FunctionVersion",
    READ,
    f"{QUEUED_INVOCATIONS}; {LAMBDA_RESTORE}",
    "drain.py, restore.py",
    Assigns("id", "config"),
)
_target(
    f"{_LAMBDA}.invocation.lambda_models:VersionFunctionConfiguration",
    READ,
    f"{QUEUED_INVOCATIONS}; {LAMBDA_RESTORE}; {CHANGING_BY_ITSELF}",
    "drain.py, restore.py, service_state.py",
    Assigns("state", "role", "last_update"),
)
_target(
    f"{_LAMBDA}.invocation.lambda_models:VersionState",
    READ,
    f"{QUEUED_INVOCATIONS}; {LAMBDA_RESTORE}",
    "drain.py, restore.py",
    Assigns("state", "reason"),
)
_target(
    f"{_LAMBDA}.invocation.lambda_models:VersionIdentifier.qualified_arn",
    READ,
    LAMBDA_RESTORE,
    "restore.py",
    Parameters("self"),
)
_target(f"{_ESM}.esm_worker:EsmWorker.create", READ, LAMBDA_RESTORE, "restore.py", Parameters("self"))
_target(f"{_ESM}.esm_worker:EsmState", READ, LAMBDA_RESTORE, "restore.py", HasAttributes("DISABLED", "DISABLING"))

# Asynchronous invocations within the engine's bound on workers (async_invocations.py).
ASYNC_INVOCATIONS = (
    "asynchronous Lambda invocations run concurrently within the engine's bound, once each, "
    "with AWS's event age and retry rules"
)
_EVENTS = f"{_LAMBDA}.invocation.event_manager"
EVENT_POLLER = _target(f"{_EVENTS}:Poller", REPLACED, ASYNC_INVOCATIONS, "async_invocations.py", Class())
_target(
    f"{_EVENTS}:LambdaEventManager.start",
    READ,
    ASYNC_INVOCATIONS,
    "async_invocations.py",
    # the module name the engine replaces, and its run as the poller thread
    Mentions("Poller(self.version_manager, self.event_queue_url)", "self.poller.run"),
)
_target(
    f"{_EVENTS}:Poller",
    READ,
    ASYNC_INVOCATIONS,
    "async_invocations.py",
    Assigns("version_manager", "event_queue_url", "_shutdown_event", "invoker_pool", "lambda_client"),
)
_target(
    f"{_EVENTS}:Poller.__init__",
    READ,
    ASYNC_INVOCATIONS,
    "async_invocations.py",
    Parameters("self", "version_manager", "event_queue_url"),
)
_target(f"{_EVENTS}:Poller.run", OVERRIDDEN, ASYNC_INVOCATIONS, "async_invocations.py", Parameters("self"))
_target(
    f"{_EVENTS}:Poller.stop",
    READ,
    ASYNC_INVOCATIONS,
    "async_invocations.py",
    # the pool's queued invocations are cancelled (and given back by the engine)
    Mentions("self._shutdown_event.set()", "self.invoker_pool.shutdown("),
)
_target(
    f"{_EVENTS}:Poller.handle_message",
    OVERRIDDEN,
    ASYNC_INVOCATIONS,
    "async_invocations.py",
    Parameters("self", "message"),
    # it invokes, then deletes the message whatever happened
    Mentions('SQSInvocation.decode(message["Body"])', "sqs_client.delete_message("),
)
_target(
    f"{_EVENTS}:Poller.process_failure_destination",
    OVERRIDDEN,
    ASYNC_INVOCATIONS,
    "async_invocations.py",
    Parameters("self", "sqs_invocation", "response_payload", "event_invoke_config", "failure_cause"),
)
_target(
    f"{_EVENTS}:Poller.process_dead_letter_queue",
    OVERRIDDEN,
    ASYNC_INVOCATIONS,
    "async_invocations.py",
    Parameters("self", "sqs_invocation", "response_payload"),
    Mentions('response_payload.get("errorMessage")'),
)
_target(
    f"{_EVENTS}:Poller.process_throttles_and_system_errors",
    OVERRIDDEN,
    ASYNC_INVOCATIONS,
    "async_invocations.py",
    Parameters("self", "sqs_invocation", "error"),
)
for _caller, _calls in (
    (
        "_handle_invoke_exception",
        (
            "self.process_failure_destination(",
            "self.process_dead_letter_queue(",
            "self.process_throttles_and_system_errors(",
        ),
    ),
    ("_handle_function_error", ("self.process_failure_destination(", "self.process_dead_letter_queue(")),
):
    _target(
        f"{_EVENTS}:Poller.{_caller}", READ, ASYNC_INVOCATIONS, "async_invocations.py", Mentions(*_calls, in_order=True)
    )
_target(f"{_EVENTS}:get_sqs_client", READ, ASYNC_INVOCATIONS, "async_invocations.py", Parameters("function_version"))
_target(
    f"{_EVENTS}:SQSInvocation",
    READ,
    ASYNC_INVOCATIONS,
    "async_invocations.py",
    Assigns("invocation", "exception_retries"),
    TakesAttributes(),
)
_target(f"{_EVENTS}:SQSInvocation.decode", READ, ASYNC_INVOCATIONS, "async_invocations.py", Parameters("message"))
_target(f"{_EVENTS}:SQSInvocation.encode", READ, ASYNC_INVOCATIONS, "async_invocations.py", Parameters("self"))
_target(
    f"{_LAMBDA}.invocation.lambda_models:Invocation",
    READ,
    ASYNC_INVOCATIONS,
    "async_invocations.py",
    Assigns("invoke_time", "request_id"),
)
_target(
    f"{_LAMBDA}.invocation.lambda_models:Function",
    READ,
    ASYNC_INVOCATIONS,
    "async_invocations.py",
    Assigns("event_invoke_configs", "reserved_concurrent_executions"),
)
_target(
    f"{_LAMBDA}.invocation.lambda_models:EventInvokeConfig",
    READ,
    ASYNC_INVOCATIONS,
    "async_invocations.py",
    Assigns("maximum_event_age_in_seconds"),
)
_target(
    f"{_LAMBDA}.invocation.version_manager:LambdaVersionManager",
    READ,
    ASYNC_INVOCATIONS,
    "async_invocations.py",
    Assigns("function", "function_version", "function_arn"),
)
_target(
    f"{_LAMBDA}.analytics:FunctionStatus",
    READ,
    ASYNC_INVOCATIONS,
    "async_invocations.py",
    HasAttributes("throttle_error", "system_error"),
)

# --- Kinesis --------------------------------------------------------------------------------------

_KINESIS_MOCK = "localstack.services.kinesis.kinesis_mock_server"
_target(
    f"{_KINESIS_MOCK}:KinesisServerManager._create_kinesis_mock_server",
    READ,
    KINESIS,
    "kinesis.py",
    Parameters("self", "account_id"),
    # the names the engine replaces, as the manager builds kinesis-mock's Node.js server with them
    Mentions(
        "port = get_free_tcp_port()",
        "kinesismock_package.install()",
        "kinesismock_package.get_installer().get_executable_path()",
        "return KinesisMockNodeServer(",
    ),
)
KINESIS_MOCK_PORTS = _target(
    f"{_KINESIS_MOCK}:get_free_tcp_port",
    REPLACED,
    KINESIS,
    "kinesis.py",
    Parameters("blocklist"),
)
_target(
    f"{_KINESIS_MOCK}:KinesisMockServer",
    READ,
    KINESIS,
    "kinesis.py",
    # its second (TLS) port found by the same name; the process started with its variables
    Mentions('"KINESIS_MOCK_TLS_PORT": get_free_tcp_port()', "env_vars=env_vars"),
)
KINESIS_MOCK_PACKAGE = _target(
    f"{_KINESIS_MOCK}:kinesismock_package",
    REPLACED,
    KINESIS,
    "kinesis.py",
    HasAttributes("install", "get_installer"),
)
KINESIS_MOCK_SERVER = _target(
    f"{_KINESIS_MOCK}:KinesisMockNodeServer",
    REPLACED,
    KINESIS,
    "kinesis.py",
    Class(),
    Parameters(named=("port", "exe_path", "latency", "account_id", "log_level", "data_dir")),
)
_target(
    f"{_KINESIS_MOCK}:KinesisMockNodeServer._create_shell_command",
    OVERRIDDEN,
    KINESIS,
    "kinesis.py",
    Parameters("self"),
    # the process is started with the variables the override adds to
    Mentions("return cmd, self._environment_variables"),
)
_target(
    f"{_KINESIS_MOCK}:KinesisMockServer._environment_variables",
    OVERRIDDEN,
    KINESIS,
    "kinesis.py",
    Property(),
)
_target(
    "localstack.utils.serving:Server.shutdown",
    OVERRIDDEN,
    KINESIS_SAVED,
    "kinesis.py",
    Parameters("self"),
    # what the override leaves it: stopping the thread, which kills the process
    Mentions("self._thread.stop()"),
)
_target("localstack.utils.serving:Server", READ, KINESIS_SAVED, "kinesis.py", Assigns("_thread"))
_target(
    f"{_KINESIS_MOCK}:KinesisMockServer.do_start_thread",
    READ,
    KINESIS_SAVED,
    "kinesis.py",
    Mentions("cmd, env_vars = self._create_shell_command()", "ShellCommandThread(", "auto_restart=True"),
)
_target(
    "localstack.utils.run:ShellCommandThread",
    READ,
    KINESIS_SAVED,
    "kinesis.py",
    Assigns("process", "auto_restart", "stopped"),
)
_target(
    "localstack.utils.run:ShellCommandThread.run_cmd",
    READ,
    KINESIS_SAVED,
    "kinesis.py",
    # a process that exits is started again unless auto_restart is off
    Mentions("or not self.auto_restart"),
)
_target(
    "localstack.utils.run:ShellCommandThread.stop",
    READ,
    KINESIS_SAVED,
    "kinesis.py",
    # a stopped thread kills nothing
    Mentions("if self.stopped:\n        return"),
)
