"""Nothing reachable from the network: the engine and its Lambda workers listen on the
loopback only (engine/localstack_nodocker/listening.py) unless GATEWAY_LISTEN opts in, which
warns; what the engine keeps is private to this user. On second engines (own port, own
state folder), so the session's engine is left alone."""

import contextlib
import fcntl
import ipaddress
import json
import os
import socket
import stat
import struct
import subprocess
import sys
import urllib.parse
import uuid
from pathlib import Path

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.engine.test_lambda_paths import wait_active, zipped
from tests.support.engine import ROOT, ctl, endpoint, health

sys.path.insert(0, str(ROOT / "engine"))
from localstack_nodocker import loopback  # standard library only; found through the path set above

# The session engine's port + 34 (test_lifecycle.py's second engine has + 33).
PORT = (urllib.parse.urlparse(endpoint()).port or 4566) + 34
INSTALL_DIR = Path(os.environ.get("LOCALSTACK_INSTALL_DIR", ROOT / ".localstack"))
ENGINE_PYTHON = INSTALL_DIR / "venv" / "bin" / "python"
ROLE = "arn:aws:iam::000000000000:role/listening"
SIOCGIFADDR = 0x8915


def machine_addresses() -> list[str]:
    """This machine's addresses that are not the loopback (IPv6 link-local ones aside: they
    need an interface to connect to)."""
    addresses = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            with contextlib.suppress(OSError):  # an interface without an IPv4 address
                request = struct.pack("256s", name.encode()[:15])
                addresses.append(socket.inet_ntoa(fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)[20:24]))
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            addresses.append(str(ipaddress.IPv6Address(bytes.fromhex(line.split()[0]))))
    return [
        address
        for address in addresses
        if not ipaddress.ip_address(address).is_loopback and not ipaddress.ip_address(address).is_link_local
    ]


def process_tree(root: int) -> set[int]:
    """``root`` and every process below it (Lambda workers run in sessions of their own)."""
    parents = {}
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            if proc.name.isdigit():
                parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    tree, grown = {root}, True
    while grown:
        below = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= below
        grown = bool(below)
    return tree


def command_line(pid: int) -> bytes:
    with contextlib.suppress(OSError):  # a process that has ended since
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    return b""


def _address(hex_address: str) -> tuple[str, int]:
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1]), int(port, 16)
    # /proc prints IPv6 as four host-order 32-bit words
    return socket.inet_ntop(socket.AF_INET6, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))), int(port, 16)


def listening_sockets(pids: set[int]) -> set[tuple[str, str, int]]:
    """(protocol, host, port) of every TCP socket listening and every UDP socket waiting for
    any sender, held by these processes (from their descriptors and /proc/net)."""
    inodes = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for descriptor in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(descriptor)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    found = set()
    for protocol in ("tcp", "tcp6", "udp", "udp6"):
        for line in Path(f"/proc/net/{protocol}").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if inode not in inodes:
                continue
            waiting = state == "0A" if protocol.startswith("tcp") else _address(remote)[1] == 0
            if waiting:
                found.add((protocol.rstrip("6"), *_address(local)))
    return found


def refused(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as client:
        client.settimeout(5)
        return client.connect_ex((host, port)) != 0


@pytest.fixture(scope="module")
def default_engine(engine, tmp_path_factory):
    """A second engine started as `make up` starts it (no GATEWAY_LISTEN in the shell), with
    a warm Python and, where the host has Node, a warm Node.js worker, and a Kinesis stream
    (kinesis-mock, a Node.js server LocalStack starts beside itself)."""
    state = tmp_path_factory.mktemp("listening") / "state"
    env = {"AWS_ENDPOINT_URL": f"http://localhost:{PORT}", "LOCALSTACK_STATE_DIR": str(state), "GATEWAY_LISTEN": ""}
    try:
        started = ctl("up", env=env, check=False)
        assert started.returncode == 0, started.stdout + started.stderr
        lam = boto3.client("lambda", endpoint_url=f"http://localhost:{PORT}")
        for runtime, name, source in [
            ("python3.11", "index.py", "def handler(event, context):\n    return 'warm'\n"),
            ("nodejs20.x", "index.js", "exports.handler = async () => 'warm';\n"),
        ]:
            function = f"listening-{runtime.replace('.', '')}-{uuid.uuid4().hex[:6]}"
            lam.create_function(
                FunctionName=function,
                Runtime=runtime,
                Handler="index.handler",
                Role=ROLE,
                Code={"ZipFile": zipped(source, name)},
            )
            if wait_active(lam, function)["State"] == "Active":  # a runtime this host lacks is refused
                assert json.loads(lam.invoke(FunctionName=function)["Payload"].read()) == "warm"
        kinesis = boto3.client("kinesis", endpoint_url=f"http://localhost:{PORT}")
        kinesis.create_stream(StreamName="listening", ShardCount=1)
        kinesis.get_waiter("stream_exists").wait(StreamName="listening", WaiterConfig={"Delay": 1})
        yield {"pid": int((state / "localstack.pid").read_text()), "state": state, "env": env}
    finally:
        ctl("down", env=env, check=False)


def test_the_engine_and_its_workers_listen_on_the_loopback_only(default_engine):
    tree = process_tree(default_engine["pid"])
    assert len(tree) > 1, "no Lambda worker is running: the check would cover the engine alone"
    assert any(b"kinesis-local/main.js" in command_line(pid) for pid in tree), "kinesis-mock is not running"
    sockets = listening_sockets(tree)
    assert ("tcp", "127.0.0.1", PORT) in sockets
    assert [entry for entry in sockets if not ipaddress.ip_address(entry[1]).is_loopback] == []


def test_another_address_of_this_machine_is_refused(default_engine):
    addresses = machine_addresses()
    if not addresses:
        pytest.skip("this machine has no address but the loopback: there is nothing else to connect to")
    assert health(f"http://127.0.0.1:{PORT}") is not None
    assert {address: refused(address, PORT) for address in addresses} == {address: True for address in addresses}


def test_the_state_and_the_keys_are_this_users_alone(default_engine):
    saved = ctl("save", env=default_engine["env"], check=False)
    assert saved.returncode == 0, saved.stdout + saved.stderr
    state = default_engine["state"]
    assert (state / "snapshot").is_dir()
    # Reachable by others: the path lets them in and every folder above it, up to the state
    # folder, lets them through. (LocalStack 2026.3.0 makes a function's unpacked code 0755
    # for Docker; its folder, made under the engine's umask, keeps it private.)
    shared = [
        f"{path} {stat.filemode(path.lstat().st_mode)}"
        for path in [state, *state.rglob("*")]
        if not path.is_symlink()
        and path.lstat().st_mode & 0o077
        and all(folder.stat().st_mode & 0o011 for folder in path.parents if folder.is_relative_to(state))
    ]
    assert shared == []
    for folder in (INSTALL_DIR, INSTALL_DIR / "tls", state / "tls"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    # the CA's key, and the server key LocalStack splits off the engine's own copy of server.pem
    assert (INSTALL_DIR / "tls" / "ca.key").exists() and (state / "tls" / "engine.pem.key").exists()
    keys = {*(INSTALL_DIR / "tls").glob("*.key"), *(state / "tls").glob("*.key")}
    assert {str(key): stat.S_IMODE(key.stat().st_mode) for key in keys} == {str(key): 0o600 for key in keys}


@pytest.fixture
def second_engine(engine, tmp_path):
    env = {"AWS_ENDPOINT_URL": f"http://localhost:{PORT + 1}", "LOCALSTACK_STATE_DIR": str(tmp_path / "state")}
    yield env
    ctl("down", env=env, check=False)


def test_an_address_named_in_gateway_listen_is_served_with_a_warning(second_engine, tmp_path):
    addresses = [address for address in machine_addresses() if ":" not in address]
    if not addresses:
        pytest.skip("this machine has no IPv4 address but the loopback to opt in to")
    listen = f"{addresses[0]}:{PORT + 1},127.0.0.1:{PORT + 1}"
    started = ctl("up", env={**second_engine, "GATEWAY_LISTEN": listen}, check=False)
    assert started.returncode == 0, started.stdout + started.stderr
    # said by ctl.py to the person starting it, and by the engine in its log (in LocalStack's order)
    for output in (started.stdout, (tmp_path / "state" / "logs" / "localstack.log").read_text()):
        assert f"makes the engine reachable from other machines on {addresses[0]}: " in output
        assert "anyone who can reach that port can create a Lambda function and so run code" in output
    pid = int((tmp_path / "state" / "localstack.pid").read_text())
    assert listening_sockets(process_tree(pid)) == {("tcp", addresses[0], PORT + 1), ("tcp", "127.0.0.1", PORT + 1)}
    assert health(f"http://{addresses[0]}:{PORT + 1}") is not None


@pytest.mark.parametrize(
    "listen",
    [f"127.0.0.1:{PORT + 2}", "192.0.2.77:{port}", "[::1]:{port}x", "localhost:not-a-port"],
    ids=["another-port", "no-loopback", "garbled-port", "no-port-number"],
)
def test_a_gateway_listen_that_cannot_serve_the_endpoint_is_refused_before_starting(second_engine, listen):
    listen = listen.format(port=PORT + 1)
    result = ctl("up", env={**second_engine, "GATEWAY_LISTEN": listen}, check=False)
    assert result.returncode == 1
    assert f"GATEWAY_LISTEN={listen}" in result.stderr
    assert "starting LocalStack" not in result.stdout
    assert health(second_engine["AWS_ENDPOINT_URL"]) is None


GUARD_PROBE = """
import json, socket, sys
from localstack_nodocker.listening import guard_binds
guard_binds()
family, host = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, sys.argv[1]
with socket.socket(family) as sock:
    try:
        sock.bind((host, 0))
        print(json.dumps("bound"))
    except PermissionError as error:
        print(json.dumps(str(error)))
"""


def guarded_bind(host: str, listen: str) -> str:
    """What a bind of ``host`` does in the engine's interpreter, with the engine's guard."""
    env = {"PATH": os.environ["PATH"], "GATEWAY_LISTEN": listen}
    result = subprocess.run(
        [str(ENGINE_PYTHON), "-c", GUARD_PROBE, host], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("host", ["0.0.0.0", "", "::", "192.0.2.77", "fd00::77"])
def test_no_server_in_the_engine_can_bind_an_address_other_machines_reach(host):
    """The guard behind the gateway: LocalStack's DNS server, a service's helper server (a
    port probed on every interface), anything in the engine's process is refused by default."""
    answer = guarded_bind(host, f"127.0.0.1:{PORT}")
    assert answer.startswith("the engine listens on the loopback only: refused to bind")
    assert "GATEWAY_LISTEN" in answer


@pytest.mark.parametrize(
    ("host", "listen"),
    [("127.0.0.1", "127.0.0.1:1"), ("::1", "127.0.0.1:1"), ("", "0.0.0.0:1"), ("0.0.0.0", "0.0.0.0:1")],
)
def test_the_loopback_and_what_gateway_listen_names_can_be_bound(host, listen):
    assert guarded_bind(host, listen) == "bound"


@given(st.ip_addresses())
def test_only_loopback_addresses_count_as_unreachable_from_elsewhere(address):
    assert loopback.is_loopback(str(address)) is address.is_loopback
    assert loopback.is_loopback(f"[{address}]" if address.version == 6 else str(address)) is address.is_loopback


@pytest.mark.parametrize(
    ("listen", "addresses"),
    [
        ("0.0.0.0:4566", [("0.0.0.0", 4566)]),
        (":4567", [("127.0.0.1", 4567)]),
        ("192.0.2.7", [("192.0.2.7", 4570)]),
        ("[::]:4566, 127.0.0.1:4567", [("::", 4566), ("127.0.0.1", 4567)]),
        ("[::1]", [("::1", 4570)]),
        ("localhost:80,", [("localhost", 80)]),
    ],
)
def test_gateway_listen_is_read_as_localstack_reads_it(listen, addresses):
    assert loopback.parse_listen(listen, 4570) == addresses
