"""engine/localstack_nodocker/names.py: what a worker's environment gets (AWS host names sent
to the engine unless switched off, the trust variables), and the CA bundle built from the
system's CAs plus the checkout's."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "engine"))
from localstack_nodocker import names  # noqa: E402

SWITCH = "DISABLE_TRANSPARENT_ENDPOINT_INJECTION"


@pytest.fixture
def engine_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(SWITCH, raising=False)
    monkeypatch.setenv("LOCALSTACK_NODOCKER_CA_BUNDLE", str(tmp_path / "ca-bundle.pem"))
    monkeypatch.setenv("LOCALSTACK_NODOCKER_CA_CERT", str(tmp_path / "ca.pem"))
    return monkeypatch


def test_a_worker_sends_aws_host_names_to_the_engines_port(engine_environment):
    added = names.worker_environment({}, 4770)
    assert added[names.AWS_HOSTS_PORT_VARIABLE] == "4770"
    assert added["AWS_CA_BUNDLE"].endswith("ca-bundle.pem") and added["NODE_EXTRA_CA_CERTS"].endswith("ca.pem")


@pytest.mark.parametrize("value, off", [("1", True), ("true", True), ("TRUE ", True), ("0", False), ("", False)])
def test_the_switch_for_the_engine_or_one_function(engine_environment, value, off):
    assert (names.AWS_HOSTS_PORT_VARIABLE not in names.worker_environment({SWITCH: value}, 4770)) == off
    engine_environment.setenv(SWITCH, value)
    assert (names.AWS_HOSTS_PORT_VARIABLE not in names.worker_environment({}, 4770)) == off


def test_a_functions_own_trust_settings_win(engine_environment):
    added = names.worker_environment({"AWS_CA_BUNDLE": "/mine.pem", "NODE_OPTIONS": "--enable-source-maps"}, 4770)
    assert "AWS_CA_BUNDLE" not in added and added["REQUESTS_CA_BUNDLE"].endswith("ca-bundle.pem")
    assert added["NODE_OPTIONS"].startswith("--require") and added["NODE_OPTIONS"].endswith("--enable-source-maps")


def pem(name: str) -> bytes:
    return f"-----BEGIN CERTIFICATE-----\n{name}\n-----END CERTIFICATE-----\n".encode()


def test_the_bundle_is_the_machines_cas_plus_the_checkouts(monkeypatch, tmp_path):
    """A corporate or mirror CA the machine trusts (here through SSL_CERT_FILE) stays trusted
    after `eval "$(ctl.py env)"`, which points SSL_CERT_FILE at the bundle."""
    system, ca, bundle = tmp_path / "system.pem", tmp_path / "ca.pem", tmp_path / "ca-bundle.pem"
    system.write_bytes(pem("public") + pem("corporate"))
    ca.write_bytes(pem("checkout"))
    monkeypatch.setenv("SSL_CERT_FILE", str(system))
    names.write_ca_bundle(bundle, ca)
    assert bundle.read_bytes() == pem("public") + pem("corporate") + pem("checkout")

    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))  # the shell after `eval "$(ctl.py env)"`
    assert names.system_ca_bundle(bundle) != bundle  # never the bundle itself: OpenSSL's default instead


def test_no_ca_bundle_on_the_machine_says_how_to_fix_it(monkeypatch, tmp_path):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    monkeypatch.setattr(names, "SYSTEM_BUNDLES", ())
    monkeypatch.setattr(names.ssl, "get_default_verify_paths", lambda: type("Paths", (), {"openssl_cafile": None})())
    with pytest.raises(names.NoSystemCaBundle, match="set SSL_CERT_FILE to your CA bundle"):
        names.write_ca_bundle(tmp_path / "ca-bundle.pem", tmp_path / "ca.pem")
