"""localhost.localstack.cloud and every name under it resolve to the engine, in this process.

Importing this module patches the socket module's resolver functions; other names go to
the system resolver unchanged, and nothing outside the process (/etc/hosts, DNS) changes.
Standard library only: Lambda workers load it on every Python runtime, and a shell loads
it through the sitecustomize.py beside it (PYTHONPATH=<this folder>).
"""

import socket

DOMAIN = "localhost.localstack.cloud"
ENGINE_ADDRESS = "127.0.0.1"  # the engine listens on the loopback only (GATEWAY_LISTEN)


def is_engine_name(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.rstrip(".").lower()
    return host == DOMAIN or host.endswith("." + DOMAIN)


def _install():
    if getattr(socket.getaddrinfo, "resolves_engine_names", False):
        return
    system_getaddrinfo, system_gethostbyname, system_gethostbyname_ex = (
        socket.getaddrinfo,
        socket.gethostbyname,
        socket.gethostbyname_ex,
    )

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if is_engine_name(host):
            # An IPv6-only lookup fails as it would for a name with only an IPv4 address.
            family = socket.AF_INET if family == socket.AF_UNSPEC else family
            return system_getaddrinfo(ENGINE_ADDRESS, port, family, type, proto, flags)
        return system_getaddrinfo(host, port, family, type, proto, flags)

    def gethostbyname(host):
        return ENGINE_ADDRESS if is_engine_name(host) else system_gethostbyname(host)

    def gethostbyname_ex(host):
        if is_engine_name(host):
            return host, [], [ENGINE_ADDRESS]
        return system_gethostbyname_ex(host)

    getaddrinfo.resolves_engine_names = True
    socket.getaddrinfo, socket.gethostbyname, socket.gethostbyname_ex = getaddrinfo, gethostbyname, gethostbyname_ex


_install()
