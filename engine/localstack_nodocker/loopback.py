"""Which addresses the engine may listen on, and the warning for those other machines can
reach (standard library only: engine/ctl.py imports it too).

The engine listens on the loopback only (GATEWAY_LISTEN=127.0.0.1:<port>, set by
engine/ctl.py). Anyone who reaches its port can create a Lambda function, and a function is
a process of the user who started the engine, on this machine; so an address reachable from
elsewhere (GATEWAY_LISTEN=0.0.0.0:<port>, or a LAN address) is an explicit opt-in, and every
start with one says so.
"""

import getpass
import ipaddress

# Every interface, the loopback included.
WILDCARDS = ("0.0.0.0", "::")


def is_loopback(host: str) -> bool:
    """Only this machine can connect to ``host`` (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0]).is_loopback
    except ValueError:
        return False


def parse_listen(value: str, default_port: int) -> list[tuple[str, int]]:
    """GATEWAY_LISTEN as LocalStack reads it (``config.HostAndPort.parse``): comma-separated
    ``host:port``, ``[v6]:port``, ``host`` or ``:port``; the host defaults to 127.0.0.1."""
    addresses = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        host, port = "127.0.0.1", default_port
        if entry.startswith("["):
            inside, _, rest = entry[1:].partition("]")
            host = inside
            if rest.startswith(":"):
                port = int(rest[1:])
        elif ":" in entry:
            name, port_text = entry.split(":", 1)
            host, port = name.strip() or host, int(port_text)
        else:
            host = entry
        addresses.append((host, port))
    return addresses


def exposure_warning(listen: str, exposed: list[str]) -> str:
    """What an opt-in to a reachable address risks, in the words a person needs to decide."""
    return (
        f"GATEWAY_LISTEN={listen} makes the engine reachable from other machines on {', '.join(exposed)}: "
        "anyone who can reach that port can create a Lambda function and so run code on this machine "
        f"as user {getpass.getuser()!r}, and read or change everything the engine holds. "
        "Use it only on a network you trust; without GATEWAY_LISTEN the engine listens on 127.0.0.1 only."
    )
