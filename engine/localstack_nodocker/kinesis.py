"""Kinesis: kinesis-mock, the server LocalStack's Kinesis provider forwards every call to,
installed when first needed and listening on the loopback only.

LocalStack starts one kinesis-mock per account on the first Kinesis call, after installing
it with npm (``kinesis-local``, its Node.js build; ``KinesisServerManager``). It finds the
process's two ports by binding every interface (``get_free_tcp_port``: ``("", 0)``), which the
engine's bind guard refuses (listening.py): every Kinesis call answered InternalError. And
kinesis-mock itself listens on 0.0.0.0, with no setting to change it. Here, through the
names LocalStack's server manager builds it with (seam targets):

- its ports are found on the loopback (``free_loopback_port``);
- it listens there: ``preload/listen_on_loopback.js`` (``NODE_OPTIONS``) moves its wildcard
  listens to 127.0.0.1 and refuses any other address;
- it is installed from the engine's lock (``kinesis-mock/``: kinesis-local at LocalStack
  2026.3.0's version, with its hashes, no install scripts) into the runtime library, which
  the engines of this checkout share, with a progress line in the engine's log; a host that
  cannot install or run it answers with the reason;
- it is stopped with SIGTERM, on which it writes its streams to its file (LocalStack kills
  it), and ends with the engine (end_with_engine.py; LocalStack starts it in a session of
  its own, which outlived a killed engine).
"""

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from localstack.packages import InstallTarget, Package, PackageException
from localstack.packages.core import NodePackageInstaller
from localstack.runtime import hooks
from localstack.services.kinesis.kinesis_mock_server import KinesisMockNodeServer
from localstack.utils.run import ShellCommandThread

from localstack_nodocker import hostruntimes, seam
from localstack_nodocker.runtimes import INSTALLER_VARIABLE, runtime_library_dir

LOG = logging.getLogger(__name__)
PRELOAD = Path(__file__).with_name("preload") / "listen_on_loopback.js"
END_WITH_ENGINE = str(Path(__file__).with_name("end_with_engine.py"))
PACKAGE = "kinesis-local"
# How long a stopping kinesis-mock may take to write its streams (a second here for a few
# thousand records) before it is killed.
STOP_TIMEOUT_S = 30
# Ports handed out: a port just probed and closed can be handed out again by the kernel, and
# kinesis-mock's two ports are probed one after the other.
_handed_out: set[int] = set()


def free_loopback_port(blocklist: list[int] | None = None) -> int:
    """A free port on 127.0.0.1, not in ``blocklist`` and not handed out before (LocalStack's
    ``get_free_tcp_port`` binds every interface to find one)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in (blocklist or ()) and port not in _handed_out:
            _handed_out.add(port)
            return port


class LoopbackKinesisMockServer(KinesisMockNodeServer):
    """LocalStack's kinesis-mock process, with the preload that keeps it on the loopback, and
    stopped so that it saves first."""

    @property
    def _environment_variables(self) -> dict:
        return {**super()._environment_variables, "NODE_OPTIONS": f"--require {PRELOAD}"}

    def _create_shell_command(self) -> tuple[list, dict]:
        # LocalStack starts it in a session of its own: an engine killed (`make reset`, a
        # crash) left it running, writing its streams into the data folder the next one reads
        command, env = super()._create_shell_command()
        return [sys.executable, "-I", "-S", END_WITH_ENGINE, str(os.getpid()), *map(str, command)], env

    def shutdown(self) -> None:
        """kinesis-mock writes its streams to its file every KINESIS_MOCK_PERSIST_INTERVAL (5 s)
        and when asked to stop (SIGTERM); LocalStack kills it (SIGKILL), which lost what it had
        taken since its last write (a record put just before `make down`)."""
        thread = self._thread
        process = thread.process if isinstance(thread, ShellCommandThread) else None
        if process is not None and process.poll() is None:
            thread.auto_restart = False  # this exit is no crash to restart from
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
                thread.stopped = True  # nothing left for LocalStack's stop to kill
            except subprocess.TimeoutExpired:
                LOG.warning("kinesis-mock did not stop within %d s of SIGTERM: killed", STOP_TIMEOUT_S)
        super().shutdown()


def kinesis_mock_part() -> hostruntimes.Part:
    source = hostruntimes.KINESIS_MOCK_SOURCE
    lock = source / "package-lock.json"
    return hostruntimes.Part(
        f"kinesis-mock {locked_version()} for Kinesis (npm {PACKAGE}, locked)",
        runtime_library_dir() / source.name,
        lock.read_text(),
        "npm",
        ("ci", "--ignore-scripts", "--no-audit", "--no-fund", "--omit=dev"),
        files=(source / "package.json", lock),
    )


def locked_version() -> str:
    lock = json.loads((hostruntimes.KINESIS_MOCK_SOURCE / "package-lock.json").read_text())
    return lock["packages"][f"node_modules/{PACKAGE}"]["version"]


class LockedKinesisMockInstaller(NodePackageInstaller):
    """kinesis-local from the engine's lock, in the runtime library (LocalStack's installer
    runs `npm install` of the version alone into the engine's state folder)."""

    def __init__(self, version: str):
        super().__init__(package_name=PACKAGE, version=version)

    def install(self, target: InstallTarget | None = None) -> None:
        if not shutil.which("node"):  # LocalStack runs it as `node <main.js>`
            raise PackageException(
                "Kinesis needs Node.js to run its server, kinesis-mock, and `node` was not found on PATH: "
                "install Node.js (18 or later) and npm, then start the engine again."
            )
        super().install(target)

    def _get_install_dir(self, target: InstallTarget) -> str:
        return str(kinesis_mock_part().folder)

    def is_installed(self) -> bool:
        return kinesis_mock_part().installed  # the stamp of a complete install of this lock

    def _install(self, target: InstallTarget) -> None:
        installer = json.loads(os.environ[INSTALLER_VARIABLE])
        try:
            hostruntimes.install([kinesis_mock_part()], installer["uv"], {**os.environ, **installer["env"]}, LOG.info)
        except hostruntimes.RuntimeUnavailable as exc:
            # the message reaches the caller (InternalFailure); the reason is npm's
            raise PackageException(
                f"Kinesis needs kinesis-mock, which could not be installed: {exc}\nKinesis needs npm (with access "
                "to the npm registry) and Node.js on PATH; fix that and call Kinesis again."
            ) from None


class LockedKinesisMockPackage(Package[LockedKinesisMockInstaller]):
    def __init__(self):
        super().__init__(name="Kinesis Mock", default_version=locked_version())

    def get_versions(self) -> list[str]:
        return [self.default_version]

    def _get_installer(self, version: str) -> LockedKinesisMockInstaller:
        return LockedKinesisMockInstaller(version)


@hooks.on_infra_start()
def run_kinesis_mock_on_loopback() -> None:
    """LocalStack's Kinesis server manager builds kinesis-mock with the engine's ports,
    package and server (module docstring)."""
    seam.replace(seam.KINESIS_MOCK_PORTS, free_loopback_port)
    seam.replace(seam.KINESIS_MOCK_PACKAGE, LockedKinesisMockPackage())
    seam.replace(seam.KINESIS_MOCK_SERVER, LoopbackKinesisMockServer)
