"""The checkout's certificate authority and the engine's server certificate.

LocalStack downloads a publicly trusted certificate for localhost.localstack.cloud; this
engine runs offline, so ``engine/ctl.py install`` creates a local CA once per checkout and
issues the server certificate from it (re-issued when close to expiry, the CA kept).
Run in the engine's virtualenv (it has ``cryptography``):

    python -m localstack_nodocker.tls --ca-key K --ca-cert C --server S --bundle B

- K: the CA's private key (0600; never leaves .localstack/)
- C: the CA certificate, what clients trust
- S: server key + certificate + CA chain in one PEM, LocalStack's CUSTOM_SSL_CERT_PATH (0600)
- B: the public CAs (certifi) plus C, for clients whose trust setting replaces the defaults
  (SSL_CERT_FILE, AWS_CA_BUNDLE, REQUESTS_CA_BUNDLE)
"""

import argparse
import datetime
import ipaddress
import os
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

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


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.chmod(path, 0o600)


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
    ca_cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def issue_server_certificate(ca_key: Path, ca_cert: Path, server: Path) -> None:
    authority_key = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
    authority = x509.load_pem_x509_certificate(ca_cert.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(name) for name in SERVER_NAMES] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAMES[0])]))
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
    # LocalStack splits this file into <server>.key and <server>.crt (key, then the chain).
    _write_private(server, _key_pem(key) + certificate.public_bytes(serialization.Encoding.PEM) + ca_cert.read_bytes())


def _expires_soon(server: Path) -> bool:
    certificate = x509.load_pem_x509_certificate(server.read_bytes())  # the first certificate: the server's
    return certificate.not_valid_after_utc - _now() < datetime.timedelta(days=RENEW_BEFORE_DAYS)


def ensure(ca_key: Path, ca_cert: Path, server: Path, bundle: Path) -> list[str]:
    """Create what is missing; what was done, for the installer's output."""
    done = []
    if not (ca_key.exists() and ca_cert.exists()):
        create_ca(ca_key, ca_cert)
        server.unlink(missing_ok=True)
        done.append(f"created the local certificate authority {ca_cert}")
    if not server.exists() or _expires_soon(server):
        issue_server_certificate(ca_key, ca_cert, server)
        done.append(f"issued the server certificate for {', '.join(SERVER_NAMES[:3])}")
    wanted_bundle = Path(certifi.where()).read_bytes().rstrip(b"\n") + b"\n" + ca_cert.read_bytes()
    if not bundle.exists() or bundle.read_bytes() != wanted_bundle:
        bundle.write_bytes(wanted_bundle)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for option in ("--ca-key", "--ca-cert", "--server", "--bundle"):
        parser.add_argument(option, type=Path, required=True)
    args = parser.parse_args()
    for line in ensure(args.ca_key, args.ca_cert, args.server, args.bundle):
        print(line)


if __name__ == "__main__":
    main()
