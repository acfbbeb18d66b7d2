"""What a Lambda worker (or a shell, through `engine/ctl.py env`) needs to reach the engine
as https://localhost.localstack.cloud:<port>, and a worker to reach it under AWS's own host
names (dynamodb.us-east-1.amazonaws.com, ...). Standard library only: ctl.py loads it too.

- Name resolution: preload/localstack_names.py (Python; the worker loads it at start, since
  it runs with -I -S and no sitecustomize) and preload/localstack_names.js (Node, through
  NODE_OPTIONS=--require). AWS host names only in workers, and not with
  DISABLE_TRANSPARENT_ENDPOINT_INJECTION set (LocalStack's name for this switch), for the
  engine or for one function in its environment.
- Trust: the checkout's CA (engine/ctl.py install creates it; ctl passes the paths to the
  engine as LOCALSTACK_NODOCKER_CA_CERT / LOCALSTACK_NODOCKER_CA_BUNDLE), and for clients
  whose setting replaces the default trust, a bundle of the system's CAs plus it.
"""

from __future__ import annotations

import importlib.util
import os
import ssl
from pathlib import Path

PRELOAD_DIR = Path(__file__).with_name("preload")
NODE_PRELOAD = PRELOAD_DIR / "localstack_names.js"
# preload/localstack_names.py and .js read it: the port AWS host names are sent to.
AWS_HOSTS_PORT_VARIABLE = "LOCALSTACK_NODOCKER_AWS_HOSTS_PORT"
INJECTION_SWITCH = "DISABLE_TRANSPARENT_ENDPOINT_INJECTION"
# Where Linux distributions keep the system's CA bundle, after OpenSSL's own default (the
# list Go's crypto/x509 searches).
SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
)


class NoSystemCaBundle(Exception):
    """This machine has no CA bundle where OpenSSL and the distributions keep one."""


def load_preload():
    """preload/localstack_names.py as a module (loading it changes nothing; its install() does)."""
    spec = importlib.util.spec_from_file_location("localstack_names", PRELOAD_DIR / "localstack_names.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def system_ca_bundle(own_bundle: Path) -> Path:
    """The CA bundle this machine trusts: SSL_CERT_FILE's (unless it is `own_bundle`, set by
    `ctl.py env`), else OpenSSL's default file, else a distribution's."""
    candidates = (os.environ.get("SSL_CERT_FILE"), ssl.get_default_verify_paths().openssl_cafile, *SYSTEM_BUNDLES)
    for candidate in filter(None, candidates):
        path = Path(candidate)
        if path.is_file() and path.resolve() != own_bundle.resolve():
            return path
    raise NoSystemCaBundle(
        f"no CA bundle of this machine was found (SSL_CERT_FILE, {', '.join(SYSTEM_BUNDLES)}): install the "
        "system's CA certificates (e.g. the ca-certificates package) or set SSL_CERT_FILE to your CA bundle, "
        "then run `make install` again"
    )


def write_ca_bundle(bundle: Path, ca_cert: Path) -> None:
    """The system's CAs (a corporate or mirror CA the machine trusts included) plus the
    checkout's, rewritten only when it changes."""
    wanted = system_ca_bundle(bundle).read_bytes().rstrip(b"\n") + b"\n" + ca_cert.read_bytes()
    if not bundle.exists() or bundle.read_bytes() != wanted:
        write_whole(bundle, wanted, 0o644)


def write_whole(path: Path, data: bytes, mode: int) -> None:
    """Replace the file at once: a process reading it (an engine starting, a client loading
    its trust) sees the old file or the new one, never part of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.chmod(partial, mode)
    os.replace(partial, path)


def trust_variables(bundle: str, ca_cert: str) -> dict[str, str]:
    """The bundle holds the system's CAs too, since these variables replace the default
    trust; Node adds NODE_EXTRA_CA_CERTS to its built-in CAs."""
    return {
        "AWS_CA_BUNDLE": bundle,
        "REQUESTS_CA_BUNDLE": bundle,
        "SSL_CERT_FILE": bundle,
        "NODE_EXTRA_CA_CERTS": ca_cert,
    }


def node_options(existing: str, preload: Path = NODE_PRELOAD) -> str:
    """NODE_OPTIONS with the resolver preload first (once)."""
    if str(preload) in existing:
        return existing
    return f'--require "{preload}" {existing}'.strip()


def _switched_on(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true")  # LocalStack's is_env_true


def worker_environment(function_environment: dict[str, str], engine_port: int) -> dict[str, str]:
    """Variables to add to a worker's environment. What the function sets itself wins;
    its own NODE_OPTIONS are kept after the preload."""
    added = {}
    if not (_switched_on(os.environ.get(INJECTION_SWITCH)) or _switched_on(function_environment.get(INJECTION_SWITCH))):
        added[AWS_HOSTS_PORT_VARIABLE] = str(engine_port)
    bundle = os.environ.get("LOCALSTACK_NODOCKER_CA_BUNDLE")
    ca_cert = os.environ.get("LOCALSTACK_NODOCKER_CA_CERT")
    if bundle and ca_cert:
        added.update(
            {key: value for key, value in trust_variables(bundle, ca_cert).items() if key not in function_environment}
        )
    added["NODE_OPTIONS"] = node_options(function_environment.get("NODE_OPTIONS", ""))
    return added
