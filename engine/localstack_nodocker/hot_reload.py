"""Hot reload for functions whose code is a host folder (LocalStack's ``BUCKET_MARKER_LOCAL``
bucket, ``hot-reload`` by default, with the absolute folder as the key).

LocalStack core turns such code into ``HotReloadingCode``, whose unzipped location is the
folder itself, so the executor already runs the function from it. In Docker, LocalStack's
runtime init watches the mounted folder and restarts the runtime when a file changes; here
the executor asks ``CodeWatch.changed()`` before each invocation and restarts its worker
(a cold start inside the same environment) when the folder's files changed.
"""

import os


def folder_fingerprint(folder: str) -> tuple:
    """Changes when a file under the folder is saved, added or removed (bytecode caches aside)."""
    entries = []
    for directory, subdirectories, files in os.walk(folder, followlinks=True):
        subdirectories[:] = [name for name in subdirectories if name != "__pycache__"]
        for name in files:
            try:
                stat = os.stat(os.path.join(directory, name))
            except OSError:  # removed while walking: the next look sees the change
                continue
            entries.append((directory, name, stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(entries))


class CodeWatch:
    """Whether a function's code folder changed since the worker last loaded it."""

    def __init__(self, code, code_dir: str):
        self.folder = code_dir if code is not None and code.is_hot_reloading() else None
        self.loaded = folder_fingerprint(self.folder) if self.folder else None

    def changed(self) -> bool:
        if not self.folder:
            return False
        now = folder_fingerprint(self.folder)
        if now == self.loaded:
            return False
        self.loaded = now
        return True
