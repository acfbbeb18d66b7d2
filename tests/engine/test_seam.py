"""The seam (engine/localstack_nodocker/seam.py): a LocalStack or moto internal the engine patches
or reads that is missing or changed stops the engine's start, naming the target, the versions and
the feature, instead of a patch that silently no longer applies."""

import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
import urllib.parse
from pathlib import Path

import pytest

from tests.support.engine import ENGINE_PYTHON, ROOT, ctl, endpoint, health

PORT = int(os.environ.get("ROXS_SECOND_ENGINE_PORT", (urllib.parse.urlparse(endpoint()).port or 4566) + 33))
VERSIONS = re.compile(r"localstack-core \d+\.\d+\.\d+, moto-ext \S+ \(moto \S+\), Python 3\.\d+")


def load_module(name: str, path: Path):
    """A standard-library-only module of the engine, loaded alone."""
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def load_seam():
    """seam.py as the engine's start hook uses it."""
    return load_module("seam", ROOT / "engine" / "localstack_nodocker" / "seam.py")


# An upstream module as the engine expects it, and, per case, the same module after a release
# changed one thing the engine depends on. Each case is (what changed, the target it breaks).
FITTING = """
import functools

def logged(function):
    @functools.wraps(function)
    def wrapper(*args):
        return function(*args)
    return wrapper

class Store:
    def __init__(self):
        self.items = {}

    @logged
    def get(self, key):
        return self.items[key]

    @classmethod
    def dispatch(cls):
        return cls()

    def query(self, hash_key, limit, index_name=None, **filter_kwargs):
        return self.all_items()[:limit]

    def all_items(self):
        return list(self.items.values())

    @property
    def size(self):
        return len(self.items)

def connect(path):
    return sqlite3.connect(path)

def chain():
    return [route, authorize, check_key]

Poller = Store

routes = {"{0}/": Store.dispatch}

import sqlite3
"""
CHANGES = {
    "a method removed": ("def all_items(self):", "def every_item(self):", "upstream:Store.all_items"),
    "a parameter renamed": ("def query(self, hash_key,", "def query(self, partition_key,", "upstream:Store.query"),
    "a parameter dropped": (", index_name=None", "", "upstream:Store.query"),
    "a property made a method": ("@property\n    def size", "def size", "upstream:Store.size"),
    "an instance attribute renamed": ("self.items = {}", "self._items = {}", "upstream:Store"),
    "the call a replacement relies on gone": (
        "return self.all_items()[:limit]",
        "return list(self.items.values())[:limit]",
        "upstream:Store.query",
    ),
    "a module replaced by a name": ("import sqlite3", "sqlite3 = None", "upstream:sqlite3"),
    "the module's own call changed": ("sqlite3.connect(path)", "sqlite3.Connection(path)", "upstream"),
    "two steps of a chain swapped": ("[route, authorize,", "[authorize, route,", "upstream:chain"),
    "a replaced name no longer upstream's class": ("Poller = Store", "class Poller:\n    pass", "upstream:Poller"),
    "a route added": ('{"{0}/": Store.dispatch}', '{"{0}/": Store.dispatch, "{0}/x": Poller}', "upstream:routes"),
    "a route to another handler": ('{"{0}/": Store.dispatch}', '{"{0}/": Store.__init__}', "upstream:routes"),
    "a decorator removed": ("    @logged\n", "", "upstream:Store.get"),
    "a decorator added": ("    @logged\n", "    @logged\n    @logged\n", "upstream:Store.get"),
}


def targets(seam, feature: str):
    return [
        seam.Target("upstream:Store.query", seam.WRAPPED, feature, "test", (
            seam.Parameters("self", "hash_key", named=("limit", "index_name", "filter_kwargs")),
            seam.Mentions("self.all_items()"),
        )),
        seam.Target("upstream:Store.all_items", seam.REPLACED, feature, "test", (seam.Parameters("self"),)),
        seam.Target("upstream:Store.size", seam.READ, feature, "test", (seam.Property(),)),
        seam.Target("upstream:Store", seam.READ, feature, "test", (seam.Assigns("items"),)),
        seam.Target("upstream:sqlite3", seam.REPLACED, feature, "test", (seam.Module(),)),
        seam.Target("upstream", seam.READ, feature, "test", (seam.Mentions("sqlite3.connect("),)),
        seam.Target("upstream:chain", seam.READ, feature, "test", (
            seam.Mentions("route", "authorize", "check_key", in_order=True),
        )),
        seam.Target("upstream:Poller", seam.REPLACED, feature, "test", (seam.Class(), seam.SameAs("upstream:Store"))),
        seam.Target("upstream:routes", seam.READ, feature, "test", (
            seam.Maps({"{0}/": "upstream:Store.dispatch"}, only=True),
        )),
        seam.Target("upstream:Store.get", seam.READ, feature, "test", (
            seam.Decorated("logged.<locals>.wrapper", "Store.get"),
        )),
    ]  # fmt: skip


def check_module(seam, tmp_path, monkeypatch, source: str, feature: str) -> list[str]:
    folder = tmp_path / f"release{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    (folder / "upstream.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "upstream", raising=False)
    return seam.check(targets(seam, feature))


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_changed_target_is_refused_with_its_name_and_feature(change, tmp_path, monkeypatch):
    seam = load_seam()
    before, after, broken = CHANGES[change]
    assert before in FITTING
    assert check_module(seam, tmp_path, monkeypatch, FITTING, "the feature") == []

    problems = check_module(seam, tmp_path, monkeypatch, FITTING.replace(before, after), f"feature for {change}")

    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{broken} "), problems
    assert f"feature for {change}" in problems[0]
    message = seam.refusal(problems)
    assert problems[0] in message and "localstack-core" in message and "moto-ext" in message


def test_a_missing_module_is_refused(tmp_path, monkeypatch):
    seam = load_seam()
    target = seam.Target("upstream_moved.models:Store.query", seam.WRAPPED, "paged queries", "dynamodb.py")

    problems = seam.check([target])

    assert len(problems) == 1 and problems[0].startswith("upstream_moved.models:Store.query cannot be imported")
    assert "paged queries" in problems[0] and "dynamodb.py" in problems[0]


# A module LocalStack imports late or never is patched when it is first imported, not at start
# (seam.replace_on_import): nothing of it imported by the registration, the patch in place as soon
# as the module is, and at once for a module already imported.
LATE = "class Executor:\n    def process(self):\n        return 'upstream'\n"


def late_target(seam, module: str):
    return seam.Target(f"{module}:Executor.process", seam.WRAPPED, "late patch", "test", (seam.Parameters("self"),))


def wrap(process):
    return lambda self: f"patched {process(self)}"


def test_a_patch_waits_for_its_module_to_be_imported(tmp_path, monkeypatch):
    seam = load_seam()
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))  # the import hook goes with the test
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in ("upstream_late", "upstream_early"):
        (tmp_path / f"{module}.py").write_text(LATE)
        monkeypatch.delitem(sys.modules, module, raising=False)
    early = importlib.import_module("upstream_early")

    seam.replace_on_import(late_target(seam, "upstream_late"), wrap)
    seam.replace_on_import(late_target(seam, "upstream_early"), wrap)

    assert "upstream_late" not in sys.modules
    assert early.Executor().process() == "patched upstream"  # already imported: at once
    assert importlib.import_module("upstream_late").Executor().process() == "patched upstream"


def test_what_waits_for_a_module_is_given_it_when_imported(tmp_path, monkeypatch):
    seam = load_seam()
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "upstream_chain.py").write_text("steps = []\n")
    monkeypatch.delitem(sys.modules, "upstream_chain", raising=False)

    seam.on_import("upstream_chain", lambda module: module.steps.append("the engine's"))

    assert "upstream_chain" not in sys.modules
    assert importlib.import_module("upstream_chain").steps == ["the engine's"]
    seam.on_import("upstream_chain", lambda module: module.steps.append("at once"))
    assert sys.modules["upstream_chain"].steps == ["the engine's", "at once"]


def test_a_patch_whose_target_changed_fails_its_module_import(tmp_path, monkeypatch):
    seam = load_seam()
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "upstream_changed.py").write_text(LATE.replace("def process(self)", "def run(self)"))
    monkeypatch.delitem(sys.modules, "upstream_changed", raising=False)
    seam.replace_on_import(late_target(seam, "upstream_changed"), wrap)

    for _attempt in range(2):  # and again: not the module without its patch
        with pytest.raises(seam.SeamBroken, match="upstream_changed:Executor.process is missing.*late patch"):
            importlib.import_module("upstream_changed")


# The CloudFormation rollback (cloudformation_rollback.py), registered as the start hook does it.
ROLLBACK_ON_IMPORT = """
import json, sys
from localstack_nodocker import cloudformation_rollback
cloudformation_rollback.roll_back_failed_stack_creations()
heavy = ("localstack.services.cloudformation.engine.v2.change_set_model_executor", "localstack.aws.api.ec2")
seen = {"imported by the hook": [name for name in heavy if name in sys.modules]}
from localstack.services.cloudformation.engine.v2.change_set_model_executor import ChangeSetModelExecutor
from localstack.services.cloudformation.v2.entities import Stack
seen["patched"] = [ChangeSetModelExecutor.process.__name__, Stack.set_stack_status.__name__]
print(json.dumps(seen))
"""


def test_the_rollback_is_patched_when_cloudformation_is_imported():
    result = subprocess.run([str(ENGINE_PYTHON), "-c", ROLLBACK_ON_IMPORT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "imported by the hook": [],
        "patched": ["process_or_roll_back", "set_stack_status_after_rollback"],
    }


# The API Gateway hooks (invoke_limits.py, form_bodies.py, execute_api.py), run as at start: the
# REST API chain is LocalStack's to import (its API Gateway provider imports it through the gateway).
API_GATEWAY_ON_IMPORT = """
import json, sys
from localstack_nodocker import execute_api, form_bodies, invoke_limits
invoke_limits.limit_invoke_payloads()
form_bodies.pass_form_bodies_as_sent()
execute_api.enforce_api_gateway_access()
heavy = (".next_gen.execute_api", "localstack_nodocker.apigateway_", "localstack.services.lambda_.urlrouter")
seen = {"imported by the hooks": sorted(name for name in sys.modules if any(part in name for part in heavy))}
from localstack.aws import handlers as gateway
seen["on the gateway"] = [
    handler.__name__
    for handler in gateway.serve_custom_service_request_handlers.handlers + gateway.run_custom_response_handlers.handlers
]
from localstack.services.apigateway.next_gen.execute_api.gateway import RestApiGateway
from localstack.services.apigateway.next_gen.execute_api import handlers
from localstack.services.apigateway.next_gen.execute_api.handlers import parse
from localstack.services.lambda_ import urlrouter
seen["chain"] = [handler.__name__ for handler in handlers.preprocess_request.handlers]
seen["patched"] = [
    handlers.GatewayExceptionHandler.__call__.__name__,
    parse.restore_payload.__name__,
    urlrouter.restore_payload.__name__,
]
seen["derived from"] = sorted(execute_api.DERIVED_FROM)
print(json.dumps(seen))
"""


@pytest.mark.parametrize("throttling", ["1", "0"])
def test_the_api_gateway_hooks_apply_when_its_chain_is_imported(throttling):
    result = subprocess.run(
        [str(ENGINE_PYTHON), "-c", API_GATEWAY_ON_IMPORT],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NODOCKER_APIGATEWAY_THROTTLING": throttling},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "imported by the hooks": [],
        "on the gateway": [
            "refuse_oversized_payloads",
            "_refuse_invalid_limits",
            "record_session_policies",
            "_forget_derived_state",
        ],
        "chain": ["authorize", "apply_limits"] if throttling == "1" else ["authorize"],
        "patched": ["answer", "body_as_sent", "body_as_sent"],
        "derived from": ["apigateway", "iam"],
    }


def test_the_installed_engine_fits_its_seam():
    """Every registered target is there with its shape, and every plugin of the engine loads."""
    script = (
        "import json; from localstack_nodocker import seam; "
        "print(json.dumps([len(seam.TARGETS), seam.check() + seam.unloadable_plugins(), seam.versions()]))"
    )
    result = subprocess.run([str(ENGINE_PYTHON), "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    count, problems, versions = json.loads(result.stdout.splitlines()[-1])
    assert problems == []
    assert count >= 150 and VERSIONS.fullmatch(versions), (count, versions)


# The engine with one target removed before LocalStack starts, as a release that dropped it would
# be: the installed engine's interpreter, behind a wrapper that adds a sitecustomize doing that.
REMOVE_STREAM_SHARD_ADD = "from moto.dynamodb.models.table import StreamShard\ndel StreamShard.add\n"


def test_an_engine_missing_a_target_refuses_to_start(tmp_path):
    site, install = tmp_path / "site", tmp_path / "install"
    site.mkdir()
    (site / "sitecustomize.py").write_text(REMOVE_STREAM_SHARD_ADD)
    (install / "venv" / "bin").mkdir(parents=True)
    wrapper = install / "venv" / "bin" / "python"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={site} exec {ENGINE_PYTHON} "$@"\n')
    wrapper.chmod(0o755)
    # stamped as installed from this checkout, so that ctl.py does not install a fresh engine here
    ctl_module = load_module("ctl", ROOT / "engine" / "ctl.py")
    (install / "install.sha256").write_text(ctl_module._install_inputs_hash())
    catalog = install / ctl_module.CATALOG_ROOT.name / ctl_module.STATIC_LIBS / "service-catalog-stamped.dill"
    catalog.parent.mkdir(parents=True)
    catalog.touch()  # a catalog too (a name LocalStack never reads), so that none is built here
    url = f"http://localhost:{PORT}"
    env = {"AWS_ENDPOINT_URL": url, "LOCALSTACK_INSTALL_DIR": str(install), "LOCALSTACK_STATE_DIR": str(tmp_path)}

    try:
        result = ctl("up", env=env, check=False)
    finally:
        ctl("down", env=env, check=False)  # an engine that did not refuse is not left running

    assert result.returncode == 1, result.stdout + result.stderr
    refusal = result.stderr
    assert "LocalStack refused to start: the engine's plugins do not fit this LocalStack" in refusal, refusal
    assert "moto.dynamodb.models.table:StreamShard.add is missing" in refusal
    assert "DynamoDB Streams records" in refusal and VERSIONS.search(refusal), refusal
    assert "Traceback" not in refusal
    assert health(url) is None


def test_docs_engine_lists_every_target():
    """docs/engine.md says why each target exists and what would let it go: none is left out."""
    seam, docs = load_seam(), (ROOT / "docs" / "engine.md").read_text()

    def listed(path: str) -> bool:
        # by its full path, or (an attribute of a module) as Class.attribute after a backtick or a colon
        attribute = path.partition(":")[2]
        return path in docs or bool(attribute and re.search(rf"[`:]{re.escape(attribute)}\b", docs))

    assert [target.path for target in seam.TARGETS if not listed(target.path)] == []


# The start hook checks again only when a file the last passing check read has changed, or a
# module it never saw was loaded first; the record is exercised with a module of its own.
CHECKED_RECORD = """
import importlib, json, os, sys
from pathlib import Path
from localstack_nodocker import seam
folder, record = Path(sys.argv[1]), Path(sys.argv[1]) / "checked.json"
sys.path.insert(0, str(folder))
(folder / "upstream_module.py").write_text("VALUE = 1\\n")
importlib.import_module("upstream_module")
seen = {"no record": seam.unchanged_since_checked(record)}
seam.record_checked(record)
seen["as recorded"] = seam.unchanged_since_checked(record)
os.utime(folder / "upstream_module.py", ns=(0, 0))
seen["a read file changed"] = seam.unchanged_since_checked(record)
seam.record_checked(record)
(folder / "plugin_loaded_first.py").write_text("")
importlib.import_module("plugin_loaded_first")
seen["a module loaded before the check"] = seam.unchanged_since_checked(record)
seam.record_checked(record)
saved = json.loads(record.read_text())
saved["installation"]["python"] = "another interpreter"
record.write_text(json.dumps(saved))
seen["another installation"] = seam.unchanged_since_checked(record)
print(json.dumps(seen))
"""


def test_the_check_is_skipped_only_for_the_installation_it_passed(tmp_path):
    result = subprocess.run(
        [str(ENGINE_PYTHON), "-c", CHECKED_RECORD, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "no record": False,
        "as recorded": True,
        "a read file changed": False,
        "a module loaded before the check": False,
        "another installation": False,
    }
