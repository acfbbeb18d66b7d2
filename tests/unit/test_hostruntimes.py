"""engine/localstack_nodocker/hostruntimes.py: what a runtime lacks, and installing it (each
part once, in parallel, bounded, with the reason when it fails). Fake installers stand in
for uv and npm: the real ones are exercised by the engine tests (tests/engine/test_runtimes.py)."""

import os
import stat
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "engine"))
from localstack_nodocker import hostruntimes  # noqa: E402


def executable(path: Path, script: str) -> str:
    path.write_text("#!/bin/sh\nPATH=/usr/bin:/bin\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A host whose PATH holds only fake interpreters (python3.9 and python3.12, no npm, no node)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for version in ("3.9", "3.12"):
        executable(bin_dir / f"python{version}", f"echo {version}\n")
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    return tmp_path


def fake_uv(folder: Path, script: str = "") -> str:
    """Records each call, runs `script`, then fills --target with a module."""
    return executable(
        folder / "uv",
        f'echo "$@" >> {folder}/uv-calls\n{script}\n'
        'while [ "$1" != "--target" ]; do shift; done\nmkdir -p "$2/boto3" && touch "$2/boto3/__init__.py"\n',
    )


@pytest.mark.parametrize("runtime", ["python3.9", "python3.12"])
def test_a_python_runtime_lacks_its_boto3_until_installed_then_resolves(host, runtime):
    library = host / "library"
    [part] = hostruntimes.missing_parts(runtime, library)
    version = runtime.removeprefix("python")
    assert part.pin == hostruntimes.python_sdk_requirement(version) and part.tool == "uv"
    assert "--python" in part.arguments and part.arguments[part.arguments.index("--python") + 1].endswith(runtime)
    with pytest.raises(hostruntimes.RuntimeUnavailable, match="make install-runtimes"):
        hostruntimes.resolve(runtime, library)
    said = []
    hostruntimes.install([part], fake_uv(host), os.environ, said.append)
    assert hostruntimes.missing_parts(runtime, library) == []
    assert hostruntimes.resolve(runtime, library) == (str(host / "bin" / runtime), library / runtime)
    assert said[0] == f"installing {part.what} ..." and said[1].startswith(f"installed {part.what} in ")


def test_a_changed_pin_makes_the_installed_folder_stale(host, monkeypatch):
    library = host / "library"
    [part] = hostruntimes.missing_parts("python3.12", library)
    hostruntimes.install([part], fake_uv(host), os.environ, lambda _: None)
    monkeypatch.setitem(hostruntimes.PINS["python"], "3.12", "boto3==9.9.9")
    [stale] = hostruntimes.missing_parts("python3.12", library)
    assert stale.pin == "boto3==9.9.9" and stale.folder == part.folder


@pytest.mark.parametrize("runtime", ["python3.8", "python3.13"])
def test_a_runtime_without_its_interpreter_is_refused_with_the_fix(host, runtime):
    version = runtime.removeprefix("python")
    with pytest.raises(hostruntimes.RuntimeUnavailable) as refused:
        hostruntimes.missing_parts(runtime, host / "library")
    assert f"No interpreter for runtime {runtime}" in str(refused.value)
    assert f"pyenv install {version}" in str(refused.value)


@pytest.mark.parametrize(
    "runtime, sdk", [("nodejs12.x", "v2"), ("nodejs16.x", "v2"), ("nodejs18.x", "v3"), ("nodejs24.x", "v3")]
)
def test_a_node_runtime_without_npm_names_what_it_needs_and_npm(host, runtime, sdk):
    """nodejs16.x and older get the SDK v2, as AWS's runtimes provided it; the newer ones v3."""
    with pytest.raises(hostruntimes.RuntimeUnavailable) as refused:
        hostruntimes.missing_parts(runtime, host / "library")
    major = runtime.removeprefix("nodejs").removesuffix(".x")
    message = str(refused.value)
    assert f"AWS SDK for JavaScript {sdk}" in message and f"Node.js {hostruntimes.PINS['nodejs'][major]}" in message
    assert "install npm" in message


def test_runtimes_of_one_sdk_share_its_folder_and_the_two_sdks_do_not(tmp_path):
    folders = {major: hostruntimes.node_sdk_dir(tmp_path, major) for major in hostruntimes.NODE_MAJORS}
    assert folders["12"] == folders["14"] == folders["16"] != folders["18"] == folders["20"] == folders["24"]
    assert {folder.parent.name for folder in folders.values()} <= hostruntimes.library_entries(tmp_path)


def test_the_deprecated_runtimes_localstack_still_runs_are_supported():
    assert {"python3.7", "nodejs12.x", "nodejs14.x", "nodejs16.x"} <= set(hostruntimes.SUPPORTED)


@pytest.mark.parametrize("runtime", ["java21", "provided.al2023", "go1.x", "python2.7", "nodejs10.x", ""])
def test_unsupported_runtimes_are_refused_with_the_fix(host, runtime):
    with pytest.raises(hostruntimes.RuntimeUnavailable) as refused:
        hostruntimes.missing_parts(runtime, host / "library")
    assert f"Runtime '{runtime}' is not supported" in str(refused.value)
    assert "Change the function's runtime" in str(refused.value) and "LocalStack in Docker" in str(refused.value)


@pytest.mark.parametrize(
    "script, reason",
    [
        ("echo 'error: No solution found when resolving' >&2; exit 1", "(exit 1):\nerror: No solution found"),
        ("echo offline; exit 2", "(exit 2):\noffline"),
        ("sleep 30", "did not finish within 1 s"),
    ],
)
def test_a_failed_install_says_why_and_leaves_the_runtime_missing(host, script, reason):
    library = host / "library"
    parts = [hostruntimes.missing_parts(runtime, library)[0] for runtime in ("python3.9", "python3.12")]
    with pytest.raises(hostruntimes.RuntimeUnavailable) as failed:
        hostruntimes.install(parts, fake_uv(host, script), os.environ, lambda _: None, timeout=1)
    for part in parts:  # each failure named, none stamped
        assert f"installing {part.what} " in str(failed.value)
        assert reason in str(failed.value)
        assert not part.installed


def test_one_part_wanted_at_once_by_several_callers_is_installed_once(host):
    library = host / "library"
    [part] = hostruntimes.missing_parts("python3.12", library)
    uv = fake_uv(host, "sleep 0.3")
    callers = [
        threading.Thread(target=hostruntimes.install, args=([part], uv, os.environ, lambda _: None)) for _ in range(4)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert part.installed
    assert len((host / "uv-calls").read_text().splitlines()) == 1


def test_independent_parts_install_side_by_side(host):
    """Two parts whose installers each wait for the other to have started: only a parallel
    install finishes (a sequential one would time out)."""
    library = host / "library"
    parts = [hostruntimes.missing_parts(runtime, library)[0] for runtime in ("python3.9", "python3.12")]
    uv = fake_uv(
        host,
        'while [ "$1" != "--python" ]; do shift; done; touch "$2.started"\n'
        f"for _ in $(seq 100); do [ $(ls {host}/bin/*.started | wc -l) = 2 ] && break; sleep 0.1; done\n"
        f"[ $(ls {host}/bin/*.started | wc -l) = 2 ] || exit 7\n",
    )
    hostruntimes.install(parts, uv, os.environ, lambda _: None, timeout=60)
    assert all(part.installed for part in parts)


@pytest.mark.parametrize(
    "name, kept",
    [
        ("HOME", True),
        ("UV_CACHE_DIR", True),
        ("UV_INDEX_URL", True),
        ("PIP_INDEX_URL", True),
        ("npm_config_cache", True),
        ("NPM_CONFIG_REGISTRY", True),
        ("https_proxy", True),
        ("NO_PROXY", True),
        ("XDG_CACHE_HOME", True),
        ("SSL_CERT_FILE", True),
        ("AWS_SECRET_ACCESS_KEY", False),
        ("PATH", False),
        ("LOCALSTACK_HOST", False),
        ("HOMEBREW_PREFIX", False),
        ("PYTHONPATH", False),
    ],
)
def test_installs_get_the_users_package_manager_settings_only(name, kept):
    assert (name in hostruntimes.installer_environment({name: "value"})) is kept
