"""Where the engine listens: on the hosts GATEWAY_LISTEN names, the loopback by default.

LocalStack's twisted server (``localstack/runtime/server/twisted.py``, the same in 4.8 and
2026.3) binds every IPv4 entry of GATEWAY_LISTEN to all interfaces (``# TODO: interface =
host?``): ``127.0.0.1:4566`` listened on ``0.0.0.0:4566``, and anyone who could reach the port
could create a Lambda function, which runs as a process of this user on this machine.

- ``HostBoundTwistedServer`` is the engine's runtime server, through LocalStack's
  ``localstack.runtime.server`` plugin point (``GATEWAY_SERVER=twisted-host-bound``, set by
  engine/ctl.py): LocalStack's Twisted server with each endpoint bound to its own host, an
  HTTP channel that answers the requests it will not read (http_limits.py), and a site
  without the per-request work no answer needs (request_cost.py).
- A guard refuses every other bind of the engine process to an address that is not the
  loopback and not named by GATEWAY_LISTEN (a Python audit hook on ``socket.bind``, PEP 578),
  so no other server in the engine (LocalStack's DNS server, a service's helper server)
  can listen on the network by default either. It fails the bind, loudly, with the reason.
- An address other machines can reach is the user's explicit opt-in; it is logged as a
  warning naming the risk at every start (loopback.exposure_warning).
- TLS answers AWS service host names with a certificate for each (tls.AwsHostCertificates),
  for Lambda workers that reach the engine under them.
"""

import logging
import socket
import sys

from localstack import config
from localstack.aws.serving.twisted import TLSMultiplexerFactory
from localstack.runtime.server.twisted import TwistedRuntimeServer
from twisted.internet import endpoints, reactor, ssl

from localstack_nodocker.loopback import exposure_warning, is_loopback
from localstack_nodocker.request_cost import EngineSite
from localstack_nodocker.tls import serve_aws_host_names

LOG = logging.getLogger(__name__)


class _BindGuard:
    """The hosts the engine may bind besides the loopback (GATEWAY_LISTEN's)."""

    allowed: frozenset[str] | None = None  # None: not installed yet


def _bind_allowed(family: int, host: str) -> bool:
    if is_loopback(host) or host in _BindGuard.allowed:
        return True
    # with its family's wildcard named ("" binds it too), no address of it exposes more
    return ("0.0.0.0" if family == socket.AF_INET else "::") in _BindGuard.allowed


def _refuse_exposed_binds(event: str, args: tuple) -> None:
    # called for every audit event of the process: return at once for all but socket.bind
    if event != "socket.bind":
        return
    sock, address = args
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = str(address[0])
    if not _bind_allowed(sock.family, host):
        shown = f"[{host}]" if ":" in host else host or "every interface"
        raise PermissionError(
            f"the engine listens on the loopback only: refused to bind {shown}:{address[1]}. "
            f"An address other machines can reach must be named in GATEWAY_LISTEN (now {_listen_setting()}); "
            "see docs/reliability-and-security.md, 'Who can call what'"
        )


def _listen_setting() -> str:
    return ",".join(f"{address.host}:{address.port}" for address in config.GATEWAY_LISTEN)


def guard_binds() -> None:
    """Install the bind guard (once) for the hosts of GATEWAY_LISTEN; warn for each of them
    other machines can reach."""
    if _BindGuard.allowed is not None:
        return
    hosts = {address.host for address in config.GATEWAY_LISTEN}
    _BindGuard.allowed = frozenset(hosts)
    exposed = sorted(host for host in hosts if not is_loopback(host))
    if exposed:
        LOG.warning(exposure_warning(_listen_setting(), exposed))
    sys.addaudithook(_refuse_exposed_binds)


class HostBoundTwistedServer(TwistedRuntimeServer):
    """LocalStack's TwistedRuntimeServer (its run and shutdown unchanged), registering each
    GATEWAY_LISTEN entry on its own host."""

    def register(self, gateway, listen: list[config.HostAndPort], ssl_creds: tuple[str, str] | None = None):
        guard_binds()
        site = EngineSite(gateway)  # rolo's site, with the engine's HTTP channel (request_cost.py)
        protocol_factory = site
        if ssl_creds:  # as upstream: TLS and plain HTTP on the same port
            cert_file_name, key_file_name = ssl_creds
            context_factory = ssl.DefaultOpenSSLContextFactory(key_file_name, cert_file_name)
            context_factory.getContext().use_certificate_chain_file(cert_file_name)
            serve_aws_host_names(context_factory.getContext(), site.acceptableProtocols())
            protocol_factory = TLSMultiplexerFactory(context_factory, False, site)
        for address in listen:
            tcp = endpoints.TCP6ServerEndpoint if config.is_ipv6_address(address.host) else endpoints.TCP4ServerEndpoint
            endpoint = tcp(reactor, address.port, interface=address.host)
            failures = []
            # listen() binds synchronously; upstream drops its failure, which left the engine
            # waiting 15 s for a gateway that never came: fail the start with the reason
            endpoint.listen(protocol_factory).addErrback(failures.append)
            if failures:
                raise RuntimeError(f"cannot listen on {address.host}:{address.port}: {failures[0].getErrorMessage()}")
