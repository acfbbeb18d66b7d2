"""localhost.localstack.cloud and every name under it (and under localhost) resolve to the
engine, in this process; in a Lambda worker (ENGINE_PORT_VARIABLE set), AWS service host
names do too, on the engine's port: code that ignores AWS_ENDPOINT_URL (an old boto3, a
client built with a region and no endpoint) reaches the engine, which serves a certificate
for each such name from the checkout's CA (tls.py).

``install()`` patches the socket module's resolver functions; other names go to the system
resolver unchanged, and nothing outside the process (/etc/hosts, DNS) changes. Standard
library only, Python 3.7 and later: Lambda workers load it on every Python runtime, and a
shell loads it through the sitecustomize.py beside it (PYTHONPATH=<this folder>).
"""

import os
import socket

DOMAIN = "localhost.localstack.cloud"
ENGINE_ADDRESS = "127.0.0.1"  # the engine listens on the loopback only (GATEWAY_LISTEN)
# Set by the executor in workers (names.worker_environment): the engine's port.
ENGINE_PORT_VARIABLE = "LOCALSTACK_NODOCKER_AWS_HOSTS_PORT"
# The DNS suffixes of AWS's service endpoints (partitions aws, aws-us-gov: amazonaws.com;
# aws-cn: amazonaws.com.cn).
AWS_DOMAINS = ("amazonaws.com", "amazonaws.com.cn")


def _name(host) -> str:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return host.rstrip(".").lower() if isinstance(host, str) else ""


def is_engine_name(host) -> bool:
    """The names LocalStack's DNS server gives its own address: localhost.localstack.cloud,
    names under it and the host-prefixed forms of it (botocore sends StartSyncExecution to
    sync-localhost.localstack.cloud); and names under localhost (loopback, RFC 6761), where
    the engine's function URLs are (<id>.lambda-url.<region>.localhost)."""
    host = _name(host)
    return host == DOMAIN or host.endswith(("." + DOMAIN, "-" + DOMAIN, ".localhost"))


def is_aws_name(host) -> bool:
    """A service host name under an AWS endpoint domain (dynamodb.us-east-1.amazonaws.com,
    <bucket>.s3.amazonaws.com, ...)."""
    host = _name(host)
    return any(host.endswith("." + domain) for domain in AWS_DOMAINS)


def install(environ=os.environ):
    if getattr(socket.getaddrinfo, "resolves_engine_names", False):
        return
    aws_port = int(environ[ENGINE_PORT_VARIABLE]) if environ.get(ENGINE_PORT_VARIABLE) else None
    system_getaddrinfo, system_gethostbyname, system_gethostbyname_ex = (
        socket.getaddrinfo,
        socket.gethostbyname,
        socket.gethostbyname_ex,
    )

    def destination(host, port):
        """(address, port) at the engine for a name it takes, else None."""
        if is_engine_name(host):
            return ENGINE_ADDRESS, port
        if aws_port is not None and is_aws_name(host):
            return ENGINE_ADDRESS, aws_port  # whatever port was asked (443, 80): the engine serves both
        return None

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        engine = destination(host, port)
        if engine is None:
            return system_getaddrinfo(host, port, family, type, proto, flags)
        # An IPv6-only lookup fails as it would for a name with only an IPv4 address.
        family = socket.AF_INET if family == socket.AF_UNSPEC else family
        return system_getaddrinfo(*engine, family, type, proto, flags)

    def gethostbyname(host):
        return ENGINE_ADDRESS if destination(host, None) else system_gethostbyname(host)

    def gethostbyname_ex(host):
        if destination(host, None):
            return host, [], [ENGINE_ADDRESS]
        return system_gethostbyname_ex(host)

    getaddrinfo.resolves_engine_names = True
    socket.getaddrinfo, socket.gethostbyname, socket.gethostbyname_ex = getaddrinfo, gethostbyname, gethostbyname_ex
