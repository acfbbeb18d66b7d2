"""The checkout's certificate authority, the engine's server certificate, and certificates
for AWS service host names.

LocalStack downloads a publicly trusted certificate for localhost.localstack.cloud; this
engine runs offline, so ``engine/ctl.py install`` creates a local CA once per checkout and
issues the server certificate from it (re-issued when close to expiry, the CA kept).
Run in the engine's virtualenv (it has ``cryptography``):

    python -m localstack_nodocker.tls --ca-key K --ca-cert C --server S --bundle B

- K: the CA's private key (0600; never leaves .localstack/)
- C: the CA certificate, what clients trust
- S: server key + certificate + CA chain in one PEM, LocalStack's CUSTOM_SSL_CERT_PATH (0600)
- B: the system's CAs plus C, for clients whose trust setting replaces the defaults
  (SSL_CERT_FILE, AWS_CA_BUNDLE, REQUESTS_CA_BUNDLE; names.write_ca_bundle)

Lambda workers reach the engine under AWS's own host names too (dynamodb.us-east-1.amazonaws.com,
<bucket>.s3.amazonaws.com: preload/localstack_names.py). The engine answers a TLS handshake
for such a name (SNI) with a certificate for exactly that name, issued from K when first
asked (``AwsHostCertificates``): no list of regions or host forms to keep up with. The
engine reads K from its folder; any process of this user (a Lambda function included) could.
"""

import argparse
import datetime
import fcntl
import functools
import ipaddress
import logging
import os
import re
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import SSL

from localstack_nodocker.names import NoSystemCaBundle, load_preload, write_ca_bundle, write_whole

LOG = logging.getLogger(__name__)

SERVER_NAMES = [
    "localhost.localstack.cloud",
    "*.localhost.localstack.cloud",
    "localhost",
    # S3 virtual-host names have two labels under the domain; a wildcard covers one.
    "*.s3.localhost.localstack.cloud",
]
CA_DAYS = 10 * 365
SERVER_DAYS = 365  # clients refuse server certificates valid for much longer
RENEW_BEFORE_DAYS = 30
# AWS host names a warm engine keeps a certificate for: a function's services and buckets.
AWS_HOST_CERTIFICATES_KEPT = 512
# A name as a certificate may hold it: letters, digits, hyphens, dots, at most 253 characters.
DNS_NAME = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _write_private(path: Path, data: bytes) -> None:
    write_whole(path, data, 0o600)


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def create_ca(ca_key: Path, ca_cert: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"LocalStack engine CA ({ca_key.parent.parent})"[:64])])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(minutes=5))
        .not_valid_after(_now() + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(ca_key, _key_pem(key))
    write_whole(ca_cert, certificate.public_bytes(serialization.Encoding.PEM), 0o644)


def _server_certificate(names: list, key, authority: x509.Certificate, authority_key) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0].value)]))
        .issuer_name(authority.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(minutes=5))
        .not_valid_after(_now() + datetime.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key.public_key()), critical=False)
        .sign(authority_key, hashes.SHA256())
    )


def _authority(ca_key: Path, ca_cert: Path):
    return x509.load_pem_x509_certificate(ca_cert.read_bytes()), serialization.load_pem_private_key(
        ca_key.read_bytes(), password=None
    )


def issue_server_certificate(ca_key: Path, ca_cert: Path, server: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(name) for name in SERVER_NAMES] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = _server_certificate(names, key, *_authority(ca_key, ca_cert))
    # LocalStack splits this file into <server>.key and <server>.crt (key, then the chain).
    _write_private(server, _key_pem(key) + certificate.public_bytes(serialization.Encoding.PEM) + ca_cert.read_bytes())


class AwsHostCertificates:
    """The TLS context for each AWS service host name a client asks for (SNI), with a
    certificate for that name issued from the checkout's CA at its first handshake of the
    day (one key for every name; the newest AWS_HOST_CERTIFICATES_KEPT names kept)."""

    def __init__(self, ca_key: Path, ca_cert: Path, protocols: list[bytes]) -> None:
        self._authority, self._authority_key = _authority(ca_key, ca_cert)
        self._protocols = protocols
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._is_aws_name = load_preload().is_aws_name
        self._context = functools.lru_cache(maxsize=AWS_HOST_CERTIFICATES_KEPT)(self._issue)

    def _issue(self, name: str, day: datetime.date) -> SSL.Context:
        """`day` makes a new certificate daily, long before one expires."""
        context = SSL.Context(SSL.TLS_SERVER_METHOD)
        context.use_privatekey(self._key)
        context.use_certificate(
            _server_certificate([x509.DNSName(name)], self._key, self._authority, self._authority_key)
        )
        context.add_extra_chain_cert(self._authority)
        # the engine's context offers its protocols (ALPN) per connection; this one must too
        context.set_alpn_select_callback(self._choose_protocol)
        return context

    def _choose_protocol(self, connection: SSL.Connection, offered: list[bytes]) -> bytes:
        return next((protocol for protocol in self._protocols if protocol in offered), SSL.NO_OVERLAPPING_PROTOCOLS)

    def select(self, connection: SSL.Connection) -> None:
        """OpenSSL's server-name callback: an AWS name gets its own certificate, any other
        name the engine's."""
        name = (connection.get_servername() or b"").decode("ascii", "replace").rstrip(".").lower()
        if not (self._is_aws_name(name) and DNS_NAME.fullmatch(name)):
            return
        try:
            connection.set_context(self._context(name, _now().date()))
        except Exception:  # the handshake goes on with the engine's certificate, which the client refuses
            LOG.exception("issuing a certificate for %s failed", name)


def serve_aws_host_names(context: SSL.Context, protocols: list[bytes]) -> None:
    """Let the engine's TLS context answer AWS host names, negotiating `protocols` (ALPN)
    as it does. Only with LOCALSTACK_NODOCKER_CA_KEY and _CERT, set by engine/ctl.py."""
    ca_key, ca_cert = os.environ.get("LOCALSTACK_NODOCKER_CA_KEY"), os.environ.get("LOCALSTACK_NODOCKER_CA_CERT")
    if ca_key and ca_cert:
        context.set_tlsext_servername_callback(AwsHostCertificates(Path(ca_key), Path(ca_cert), protocols).select)


def _expires_soon(server: Path) -> bool:
    certificate = x509.load_pem_x509_certificate(server.read_bytes())  # the first certificate: the server's
    return certificate.not_valid_after_utc - _now() < datetime.timedelta(days=RENEW_BEFORE_DAYS)


def ensure(ca_key: Path, ca_cert: Path, server: Path, bundle: Path) -> list[str]:
    """Create what is missing; what was done, for the installer's output. One process at a
    time (engines started together would each make a CA, and sign with one the bundle lacks)."""
    ca_key.parent.mkdir(parents=True, exist_ok=True)
    with open(ca_key.parent / "tls.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure(ca_key, ca_cert, server, bundle)


def _ensure(ca_key: Path, ca_cert: Path, server: Path, bundle: Path) -> list[str]:
    done = []
    if not (ca_key.exists() and ca_cert.exists()):
        create_ca(ca_key, ca_cert)
        server.unlink(missing_ok=True)
        done.append(f"created the local certificate authority {ca_cert}")
    if not server.exists() or _expires_soon(server):
        issue_server_certificate(ca_key, ca_cert, server)
        done.append(f"issued the server certificate for {', '.join(SERVER_NAMES[:3])}")
    write_ca_bundle(bundle, ca_cert)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for option in ("--ca-key", "--ca-cert", "--server", "--bundle"):
        parser.add_argument(option, type=Path, required=True)
    args = parser.parse_args()
    try:
        done = ensure(args.ca_key, args.ca_cert, args.server, args.bundle)
    except NoSystemCaBundle as exc:  # the reason and the fix
        parser.exit(1, f"{exc}\n")
    for line in done:
        print(line)


if __name__ == "__main__":
    main()
