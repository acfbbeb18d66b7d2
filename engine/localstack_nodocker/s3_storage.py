"""S3 object bytes in this engine's own folder (``s3:nodocker``, chosen by engine/ctl.py).

LocalStack's S3 provider keeps object bytes under one fixed folder,
``/tmp/localstack-s3-storage/<bucket>`` (``DEFAULT_S3_TMP_DIR``, 4.8 and 2026.3.0), whatever
process runs it. Two engines on one host (yours, `make bench`'s, a test's second engine,
another checkout's) share it: one deleting a bucket removes the folder the other writes that
bucket's objects into, and the other's next PutObject fails with 500 ("No such file or
directory"). This provider is LocalStack's own, given the storage its constructor takes, in
the engine's temporary folder (``TMPDIR``: ``.localstack/tmp`` under ctl.py).
"""

import tempfile
from pathlib import Path

from localstack.services.plugins import Service, aws_provider

FOLDER = "s3-storage"


@aws_provider(api="s3", name="nodocker")
def s3_nodocker():
    from localstack.services.s3.provider import S3Provider
    from localstack.services.s3.storage.ephemeral import EphemeralS3ObjectStore

    root = Path(tempfile.gettempdir()) / FOLDER
    root.mkdir(mode=0o700, exist_ok=True)
    return Service.for_provider(S3Provider(storage_backend=EphemeralS3ObjectStore(str(root))))
