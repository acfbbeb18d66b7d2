"""A copy of the Terraform configuration for offline checks, away from tflocal's working tree."""

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOT_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf")


def copy_configuration(destination: Path) -> None:
    """The root and its modules, and lambda_src/ (the packages are its folders, and
    Terraform reads the image processor's limits.json); no
    provider override, state or .terraform."""
    for name in ROOT_FILES:
        shutil.copy(ROOT / name, destination / name)
    shutil.copytree(ROOT / "modules", destination / "modules")
    shutil.copytree(ROOT / "lambda_src", destination / "lambda_src", ignore=shutil.ignore_patterns("__pycache__"))
