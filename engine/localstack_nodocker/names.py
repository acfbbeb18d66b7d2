"""What a Lambda worker needs to reach the engine as https://localhost.localstack.cloud:<port>.

- Name resolution: preload/localstack_names.py (Python; the worker loads it at start, since
  it runs with -I -S and no sitecustomize) and preload/localstack_names.js (Node, through
  NODE_OPTIONS=--require).
- Trust: the checkout's CA (engine/ctl.py install creates it; ctl passes the paths to the
  engine as LOCALSTACK_NODOCKER_CA_CERT / LOCALSTACK_NODOCKER_CA_BUNDLE).
"""

import os
from pathlib import Path

PRELOAD_DIR = Path(__file__).with_name("preload")
PYTHON_PRELOAD = PRELOAD_DIR / "localstack_names.py"
NODE_PRELOAD = PRELOAD_DIR / "localstack_names.js"


def worker_environment(function_environment: dict[str, str]) -> dict[str, str]:
    """Variables to add to a worker's environment. What the function sets itself wins;
    its own NODE_OPTIONS are kept after the preload."""
    added = {}
    bundle = os.environ.get("LOCALSTACK_NODOCKER_CA_BUNDLE")
    ca_cert = os.environ.get("LOCALSTACK_NODOCKER_CA_CERT")
    if bundle and ca_cert:
        # The bundle holds the public CAs too: these variables replace the default trust.
        added.update(AWS_CA_BUNDLE=bundle, REQUESTS_CA_BUNDLE=bundle, SSL_CERT_FILE=bundle)
        added["NODE_EXTRA_CA_CERTS"] = ca_cert  # Node adds it to its built-in CAs
    added = {key: value for key, value in added.items() if key not in function_environment}
    node_options = function_environment.get("NODE_OPTIONS", "")
    added["NODE_OPTIONS"] = f'--require "{NODE_PRELOAD}" {node_options}'.strip()
    return added
