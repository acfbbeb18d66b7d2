"""LocalStack's host names with TLS: functions (and a shell, through `engine/ctl.py env`)
reach https://localhost.localstack.cloud:<port> and S3 virtual-host URLs under it with
certificate verification on, through the checkout's own certificate authority."""

import json
import os
import runpy
import shlex
import shutil
import ssl
import stat
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import boto3
import certifi
import pytest

from tests.engine.test_lambda_paths import wait_active, zipped
from tests.support.engine import ENGINE_PYTHON, ROOT, ctl, endpoint

sys.path.insert(0, str(ROOT / "engine"))
from localstack_nodocker import names

DOMAIN = "localhost.localstack.cloud"

HANDLER_SOURCE = """
import os
import runpy
import ssl
import urllib.error
import urllib.parse
import urllib.request

import boto3


def handler(event, context):
    base = os.environ["ENGINE_HTTPS_URL"]
    port = urllib.parse.urlparse(base).port
    found = {"verifies": ssl.create_default_context().verify_mode == ssl.CERT_REQUIRED}
    found["health"] = urllib.request.urlopen(base + "/_localstack/health").status
    boto3.client("s3", endpoint_url=base).put_object(Bucket=event["bucket"], Key="from-lambda", Body=b"verified")
    found["virtual_host"] = urllib.request.urlopen(
        f"https://{event['bucket']}.s3.{urllib.parse.urlparse(base).hostname}:{port}/from-lambda").read().decode()
    try:
        urllib.request.urlopen(f"https://{event['wrong_name']}:{port}/")
    except urllib.error.URLError as exc:
        found["wrong_name"] = f"{type(exc.reason).__name__}: {exc.reason}"
    return found
"""

NODE_SOURCE = r"""
const https = require('https');

async function probe(event) {
  const base = process.env.ENGINE_HTTPS_URL;
  const url = new URL(base);
  const found = {};
  found.health = (await fetch(`${base}/_localstack/health`)).status;
  found.virtual_host = await new Promise((resolve, reject) => {
    https.get(`https://${event.bucket}.s3.${url.hostname}:${url.port}/${event.key}`, (response) => {
      let body = '';
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => resolve(body));
    }).on('error', reject);
  });
  found.wrong_name = await new Promise((resolve) => {
    https.get(`https://${event.wrong_name}:${url.port}/`, () => resolve('answered')).on('error', (e) => resolve(e.code));
  });
  return found;
}

exports.handler = probe;
if (require.main === module) probe(JSON.parse(process.argv[2])).then((found) => console.log(JSON.stringify(found)));
"""


@pytest.fixture(scope="module")
def https_url(engine) -> str:
    return f"https://{DOMAIN}:{urllib.parse.urlparse(endpoint()).port}"


@pytest.fixture(scope="module")
def bucket(engine):
    s3 = boto3.client("s3")
    name = f"names-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="from-test", Body=b"from the test")
    yield name
    for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def shell_environment() -> dict[str, str]:
    exports = ctl("env").stdout.splitlines()
    return dict(shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in exports)


def deploy(name: str, runtime: str, handler: str, code: bytes, https_url: str) -> dict:
    lam = boto3.client("lambda")
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Handler=handler,
        Timeout=20,
        Role="arn:aws:iam::000000000000:role/names",
        Code={"ZipFile": code},
        Environment={"Variables": {"ENGINE_HTTPS_URL": https_url}},
    )
    return wait_active(lam, name)


def invoke(name: str, event: dict) -> dict:
    response = boto3.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event))
    result = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, result
    return result


def test_a_python_function_reaches_the_engine_by_name_with_verification_on(https_url, bucket):
    name = f"names-python-{uuid.uuid4().hex[:8]}"
    deploy(name, "python3.11", "probe.handler", zipped(HANDLER_SOURCE), https_url)
    try:
        found = invoke(name, {"bucket": bucket, "wrong_name": f"{bucket}.s3.{DOMAIN}.invalid"})
    finally:
        boto3.client("lambda").delete_function(FunctionName=name)
    assert found["verifies"] and found["health"] == 200
    assert found["virtual_host"] == "verified"
    assert found["wrong_name"].startswith("gaierror")  # the system resolver's answer, not the engine


def test_a_node_function_reaches_the_engine_by_name_with_verification_on(https_url, bucket):
    name = f"names-node-{uuid.uuid4().hex[:8]}"
    config = deploy(name, "nodejs20.x", "index.handler", zipped(NODE_SOURCE, "index.js"), https_url)
    assert config["State"] == "Active", config.get("StateReason")
    try:
        found = invoke(name, {"bucket": bucket, "key": "from-test", "wrong_name": f"{DOMAIN}.invalid"})
    finally:
        boto3.client("lambda").delete_function(FunctionName=name)
    assert found == {"health": 200, "virtual_host": "from the test", "wrong_name": "ENOTFOUND"}


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_node_preload_resolves_the_names_in_a_shell(https_url, bucket, tmp_path):
    """The preload the Node workers get (NODE_OPTIONS), with plain node and `ctl.py env`."""
    script = tmp_path / "probe.js"
    script.write_text(NODE_SOURCE)
    event = {"bucket": bucket, "key": "from-test", "wrong_name": f"{DOMAIN}.invalid"}
    result = subprocess.run(
        ["node", str(script), json.dumps(event)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **shell_environment(), "ENGINE_HTTPS_URL": https_url},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"health": 200, "virtual_host": "from the test", "wrong_name": "ENOTFOUND"}


def test_the_certificate_verifies_only_through_the_checkouts_authority(https_url):
    environment = shell_environment()
    host, port = "localhost", urllib.parse.urlparse(https_url).port  # resolvable here without the preload
    trusted = ssl.create_default_context(cafile=environment["NODE_EXTRA_CA_CERTS"])
    with urllib.request.urlopen(f"https://{host}:{port}/_localstack/health", context=trusted) as response:
        assert response.status == 200
    public_only = ssl.create_default_context(cafile=certifi.where())
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(f"https://{host}:{port}/_localstack/health", context=public_only)


def test_the_shells_bundle_is_the_machines_cas_plus_the_checkouts():
    """`pip install` behind a corporate or mirror CA the machine trusts still works after
    `eval "$(ctl.py env)"`: the bundle holds the machine's CAs, not a public list instead."""
    environment = shell_environment()
    bundle = Path(environment["SSL_CERT_FILE"])
    machine = names.system_ca_bundle(bundle)
    assert bundle.read_bytes().startswith(machine.read_bytes().rstrip(b"\n"))
    assert bundle.read_bytes().endswith(Path(environment["NODE_EXTRA_CA_CERTS"]).read_bytes())


def test_the_private_keys_stay_in_the_install_folder_and_private():
    environment = shell_environment()
    tls_dir = os.path.dirname(environment["NODE_EXTRA_CA_CERTS"])
    assert tls_dir == os.path.join(os.environ.get("LOCALSTACK_INSTALL_DIR", ROOT / ".localstack"), "tls")
    for key_file in ("ca.key", "server.pem"):
        mode = stat.S_IMODE(os.stat(os.path.join(tls_dir, key_file)).st_mode)
        assert mode == 0o600, f"{key_file} is readable by others ({oct(mode)})"
    for value in environment.values():
        assert "ca.key" not in value and "server.pem" not in value


# engine/ctl.py makes the certificates before each start (tls.ensure), and engines start together
# (the test workers): each process here is such a start, in a fresh install folder.
ENSURE_TOGETHER = """
import sys
from pathlib import Path
from localstack_nodocker import tls
folder = Path(sys.argv[1])
tls.ensure(folder / "ca.key", folder / "ca.pem", folder / "server.pem", folder / "ca-bundle.pem")
"""
ISSUED_BY_THE_AUTHORITY = """
import sys
from pathlib import Path
from cryptography import x509
folder = Path(sys.argv[1])
authority = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
x509.load_pem_x509_certificate((folder / "server.pem").read_bytes()).verify_directly_issued_by(authority)
"""


def test_engines_started_together_get_one_authority_and_its_certificate(tmp_path):
    starts = [
        subprocess.Popen([str(ENGINE_PYTHON), "-c", ENSURE_TOGETHER, str(tmp_path)], stderr=subprocess.PIPE)
        for _ in range(8)
    ]
    assert [(start.wait(), start.stderr.read()) for start in starts] == [(0, b"")] * 8
    authority = (tmp_path / "ca.pem").read_bytes()
    assert (tmp_path / "ca-bundle.pem").read_bytes().endswith(authority)
    issued = subprocess.run([str(ENGINE_PYTHON), "-c", ISSUED_BY_THE_AUTHORITY, str(tmp_path)], capture_output=True)
    assert issued.returncode == 0, issued.stderr.decode()
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "ca-bundle.pem",
        "ca.key",
        "ca.pem",
        "server.pem",
        "tls.lock",
    ]


NAME_CASES = {
    DOMAIN: True,
    f"{DOMAIN}.": True,
    DOMAIN.upper(): True,
    f"bucket.s3.{DOMAIN}": True,
    f"evil{DOMAIN}": False,
    f"{DOMAIN}.example.com": False,
    "localstack.cloud": False,
    # a host prefix botocore adds (StartSyncExecution), resolved as LocalStack's DNS resolves it
    f"sync-{DOMAIN}": True,
    # the engine's function URLs: under localhost, which RFC 6761 keeps for the loopback
    "abc123.lambda-url.us-east-1.localhost": True,
    "evillocalhost": False,
    "localhost.example.com": False,
}


def test_the_python_preload_takes_exactly_the_engines_names():
    namespace = runpy.run_path(str(ROOT / "engine" / "localstack_nodocker" / "preload" / "localstack_names.py"))
    assert {name: namespace["is_engine_name"](name) for name in NAME_CASES} == NAME_CASES


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_node_preload_takes_exactly_the_engines_names():
    script = (
        "const dns = require('dns'); const names = JSON.parse(process.argv[1]); const found = {};"
        "let left = names.length; for (const name of names) dns.lookup(name, {family: 4}, (error, address) => {"
        "found[name] = !error && address === '127.0.0.1'; "
        "if (--left === 0) console.log(JSON.stringify(found)); });"
    )
    preload = ROOT / "engine" / "localstack_nodocker" / "preload" / "localstack_names.js"
    result = subprocess.run(
        ["node", "--require", str(preload), "-e", script, json.dumps(list(NAME_CASES))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == NAME_CASES
