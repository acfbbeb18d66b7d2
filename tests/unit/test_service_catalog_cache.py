"""engine/ctl.py builds LocalStack's service catalog once per engine lock and Python, keeps it
in the user's cache and copies it into the next install from there; another lock or Python
builds its own. LocalStack's build step is replaced by one that writes a file and counts."""

import importlib.util
import stat
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ctl(tmp_path, monkeypatch):
    """engine/ctl.py as a module whose install, lock and cache are under tmp_path."""
    monkeypatch.setenv("LOCALSTACK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(ROOT / "engine"))
    spec = importlib.util.spec_from_file_location("ctl_under_test", ROOT / "engine" / "ctl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lock = tmp_path / "requirements.txt"
    lock.write_text("localstack-core==2026.3.0 --hash=sha256:aaaa\n")
    monkeypatch.setattr(module, "ENGINE_LOCK", lock)
    builds = []

    def build(command, what, env=None, cwd=None):
        builds.append(command)
        catalog = Path(env["FILESYSTEM_ROOT"]) / module.STATIC_LIBS / "service-catalog-2026.3.0_1.40.dill"
        catalog.write_bytes(b"catalog %d" % len(builds))

    monkeypatch.setattr(module, "_run_install", build)
    module.builds = builds
    yield module
    sys.modules.pop("ctl_under_test", None)


def install_at(ctl, monkeypatch, folder: Path, python: str = "3.13") -> Path:
    """Point the module at an install folder whose virtualenv has ``python``; its catalog folder."""
    venv = folder / "venv"
    venv.mkdir(parents=True, exist_ok=True)
    (venv / "pyvenv.cfg").write_text(f"version_info = {python}.0\n")
    monkeypatch.setattr(ctl, "VENV", venv)
    monkeypatch.setattr(ctl, "CATALOG_ROOT", folder / "filesystem")
    return folder / "filesystem" / ctl.STATIC_LIBS


def catalogs(folder: Path) -> dict:
    return {path.name: path.read_bytes() for path in folder.glob("service-catalog-*.dill")}


def test_a_second_install_copies_the_catalog_the_first_built(ctl, monkeypatch, tmp_path):
    first = install_at(ctl, monkeypatch, tmp_path / "clone-1")
    ctl._build_service_catalog()
    second = install_at(ctl, monkeypatch, tmp_path / "clone-2")
    ctl._build_service_catalog()

    assert len(ctl.builds) == 1
    assert catalogs(second) == catalogs(first) == {"service-catalog-2026.3.0_1.40.dill": b"catalog 1"}
    cache = tmp_path / "cache" / "localstack-nodocker"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700  # the user's alone: LocalStack unpickles it
    assert not list(ctl._catalog_cache().glob(".*"))  # no partial copy left behind


def test_another_lock_or_python_builds_its_own(ctl, monkeypatch, tmp_path):
    install_at(ctl, monkeypatch, tmp_path / "clone-1")
    ctl._build_service_catalog()
    ctl.ENGINE_LOCK.write_text("localstack-core==2026.3.0 --hash=sha256:bbbb\n")
    install_at(ctl, monkeypatch, tmp_path / "clone-2")
    ctl._build_service_catalog()
    other_python = install_at(ctl, monkeypatch, tmp_path / "clone-3", python="3.12")
    ctl._build_service_catalog()

    assert len(ctl.builds) == 3
    assert catalogs(other_python) == {"service-catalog-2026.3.0_1.40.dill": b"catalog 3"}


def test_a_cache_that_cannot_be_written_only_costs_the_next_build(ctl, monkeypatch, tmp_path):
    (tmp_path / "cache").write_text("not a folder")  # the cache's parent is a file
    built = install_at(ctl, monkeypatch, tmp_path / "clone-1")
    ctl._build_service_catalog()
    install_at(ctl, monkeypatch, tmp_path / "clone-2")
    ctl._build_service_catalog()

    assert len(ctl.builds) == 2
    assert catalogs(built) == {"service-catalog-2026.3.0_1.40.dill": b"catalog 1"}
