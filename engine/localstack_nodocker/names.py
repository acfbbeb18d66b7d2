"""What a Lambda worker (or a shell, through `engine/ctl.py env`) needs to reach the engine
as https://localhost.localstack.cloud:<port>. Standard library only: ctl.py loads it too.

- Name resolution: preload/localstack_names.py (Python; the worker loads it at start, since
  it runs with -I -S and no sitecustomize) and preload/localstack_names.js (Node, through
  NODE_OPTIONS=--require).
- Trust: the checkout's CA (engine/ctl.py install creates it; ctl passes the paths to the
  engine as LOCALSTACK_NODOCKER_CA_CERT / LOCALSTACK_NODOCKER_CA_BUNDLE).
"""

import os
from pathlib import Path

PRELOAD_DIR = Path(__file__).with_name("preload")
NODE_PRELOAD = PRELOAD_DIR / "localstack_names.js"


def trust_variables(bundle: str, ca_cert: str) -> dict[str, str]:
    """The bundle holds the public CAs too, since these variables replace the default trust;
    Node adds NODE_EXTRA_CA_CERTS to its built-in CAs."""
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


def worker_environment(function_environment: dict[str, str]) -> dict[str, str]:
    """Variables to add to a worker's environment. What the function sets itself wins;
    its own NODE_OPTIONS are kept after the preload."""
    added = {}
    bundle = os.environ.get("LOCALSTACK_NODOCKER_CA_BUNDLE")
    ca_cert = os.environ.get("LOCALSTACK_NODOCKER_CA_CERT")
    if bundle and ca_cert:
        added = {
            key: value for key, value in trust_variables(bundle, ca_cert).items() if key not in function_environment
        }
    added["NODE_OPTIONS"] = node_options(function_environment.get("NODE_OPTIONS", ""))
    return added
