"""engine/ctl.py without an interpreter the engine can run on: `install` stops before it
touches anything and says what to install (no download: an interpreter is not fetched)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(sys.version_info[:2] in ((3, 12), (3, 13)), reason="ctl.py would take this interpreter")
@pytest.mark.parametrize("on_path", [(), ("python3.11", "python3.9")])
def test_install_without_python_3_12_or_3_13_stops_with_what_to_install(tmp_path, on_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in on_path:  # interpreters the engine cannot use
        (bin_dir / name).symlink_to(sys.executable)
    env = {
        "HOME": str(tmp_path),
        "PATH": str(bin_dir),
        "PYENV_ROOT": str(tmp_path / "pyenv"),
        "LOCALSTACK_INSTALL_DIR": str(tmp_path / "install"),
        **{key: value for key, value in os.environ.items() if key in ("LANG", "LC_ALL")},
    }
    run = subprocess.run(
        [sys.executable, str(ROOT / "engine" / "ctl.py"), "install"], env=env, capture_output=True, text=True
    )
    assert run.returncode == 1
    output = run.stdout + run.stderr
    assert "needs python3.13 or python3.12; neither was found on PATH or in" in output, output
    assert f"{tmp_path / 'pyenv'}/versions" in output and "pyenv install 3.13" in output
    assert "Traceback" not in output
    assert not (tmp_path / "install").exists()
