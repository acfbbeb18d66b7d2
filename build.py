#!/usr/bin/env python3
"""Build one deterministic zip per Lambda package: lambda_src/<function>/ -> build/<function>.zip.

Each zip holds the package's own files, the shared lambda_src/common/ packages and the
package's requirements.txt installed for the Lambda platform (manylinux2014_x86_64, the
runtime's Python version, binary wheels only). The runtime is the default of
`lambda_runtime` in variables.tf, the one place it is set (Terraform accepts no other value).
Same inputs give byte-identical zips: files in sorted order, fixed timestamps and
permissions, no bytecode. A package whose inputs
(content hash) did not change is not rebuilt.

    python build.py               build what changed
    python build.py --force       rebuild everything
    python build.py --hot-reload  also sync build/hot-reload/<function>/: the same files as the
                                  zip, unzipped, for functions deployed with hot reload (make dev)
    python build.py --watch       sync those folders, then again on every saved change (Ctrl-C stops)
"""

import argparse
import hashlib
import io
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SOURCE_DIR = ROOT / "lambda_src"
COMMON_DIR = SOURCE_DIR / "common"
BUILD_DIR = ROOT / "build"
VARIABLES_TF = ROOT / "variables.tf"
# Functions deployed with hot_reload = true run from these folders (variables.tf).
HOT_RELOAD_DIR = BUILD_DIR / "hot-reload"
WATCH_INTERVAL_S = 0.25
LAMBDA_PLATFORM = "manylinux2014_x86_64"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# Bump to invalidate every cached build when the packaging itself changes.
PACKAGING_VERSION = "1"
EXCLUDED_PARTS = {"__pycache__", ".pytest_cache", "tests"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo"}


class BuildError(Exception):
    pass


def lambda_python_version() -> str:
    """ "3.11" from `default = "python3.11"` of the lambda_runtime variable in variables.tf."""
    # The default comes before the block's validation, so no closing brace lies between.
    match = re.search(r'variable\s+"lambda_runtime"\s*\{[^}]*?default\s*=\s*"python(3\.\d+)"', VARIABLES_TF.read_text())
    if not match:
        raise BuildError(f'no default = "python3.<minor>" in the lambda_runtime variable of {VARIABLES_TF.name}')
    return match.group(1)


def package_files(directory: Path) -> list[Path]:
    """Files of a source tree that belong in a zip, in a stable order."""
    return sorted(
        path
        for path in directory.rglob("*")
        if path.is_file()
        and not EXCLUDED_PARTS.intersection(path.relative_to(directory).parts)
        and path.suffix not in EXCLUDED_SUFFIXES
        and path.name != "requirements.txt"
    )


def input_hash(package: Path, python_version: str) -> str:
    digest = hashlib.sha256(f"{PACKAGING_VERSION}|{python_version}|{LAMBDA_PLATFORM}".encode())
    requirements = package / "requirements.txt"
    if requirements.exists():
        digest.update(b"requirements\0" + requirements.read_bytes())
    for tree in (package, COMMON_DIR):
        for path in package_files(tree):
            digest.update(str(path.relative_to(SOURCE_DIR)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def install_requirements(requirements: Path, target: Path, python_version: str) -> None:
    lines = [line for line in requirements.read_text().splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        return
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--quiet",
        "--no-compile",
        "--target",
        str(target),
        "--platform",
        LAMBDA_PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
        "--requirement",
        str(requirements),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        errors = [
            line for line in result.stderr.splitlines() if line.startswith("ERROR")
        ] or result.stderr.splitlines()[-5:]
        raise BuildError(f"installing {requirements.relative_to(ROOT)} failed: " + " / ".join(errors))


def merged_files(trees: list[Path]) -> dict[str, Path]:
    """Relative path -> file, over the trees (later trees win on equal paths)."""
    entries: dict[str, Path] = {}
    for tree in trees:
        for path in package_files(tree):
            entries[path.relative_to(tree).as_posix()] = path
    return entries


def write_zip(destination: Path, trees: list[Path]) -> None:
    """Zip the trees' files (later trees win on equal paths) with fixed metadata."""
    entries = merged_files(trees)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if entries[name].stat().st_mode & 0o111 else 0o644) << 16
            archive.writestr(info, entries[name].read_bytes(), compresslevel=9)
    destination.write_bytes(buffer.getvalue())


def build_package(package: Path, force: bool, python_version: str) -> tuple[str, Path]:
    zip_path = BUILD_DIR / f"{package.name}.zip"
    stamp = BUILD_DIR / f".{package.name}.sha256"
    wanted = input_hash(package, python_version)
    if not force and zip_path.exists() and stamp.exists() and stamp.read_text() == wanted:
        return "unchanged", zip_path
    with tempfile.TemporaryDirectory(prefix=f"build-{package.name}-") as scratch:
        dependencies = Path(scratch) / "dependencies"
        dependencies.mkdir()
        requirements = package / "requirements.txt"
        if requirements.exists():
            install_requirements(requirements, dependencies, python_version)
        shutil.rmtree(dependencies / "bin", ignore_errors=True)  # console scripts: host paths, unused
        write_zip(zip_path, [dependencies, COMMON_DIR, package])
    stamp.write_text(wanted)
    return "built", zip_path


# --- hot reload ---------------------------------------------------------------------------------


def hot_reload_dependencies(package: Path, python_version: str) -> Path:
    """The package's requirements installed once per requirements file, kept beside the folders."""
    requirements = package / "requirements.txt"
    content = requirements.read_bytes() if requirements.exists() else b""
    digest = hashlib.sha256(f"{python_version}|{LAMBDA_PLATFORM}|".encode() + content).hexdigest()[:16]
    target = HOT_RELOAD_DIR / ".dependencies" / f"{package.name}-{digest}"
    if not target.exists():
        scratch = target.with_name(target.name + ".partial")
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        if requirements.exists():
            install_requirements(requirements, scratch, python_version)
        shutil.rmtree(scratch / "bin", ignore_errors=True)
        scratch.rename(target)
    return target


def sync_hot_reload(package: Path, python_version: str) -> list[str]:
    """Make build/hot-reload/<package>/ hold exactly the zip's files; return what changed."""
    folder = HOT_RELOAD_DIR / package.name
    wanted = merged_files([hot_reload_dependencies(package, python_version), COMMON_DIR, package])
    changed = []
    for name, source in wanted.items():
        target = folder / name
        if (
            target.exists()
            and target.stat().st_size == source.stat().st_size
            and target.read_bytes() == source.read_bytes()
        ):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        changed.append(name)
    for path in sorted(folder.rglob("*"), reverse=True) if folder.exists() else []:
        name = path.relative_to(folder).as_posix()
        if path.is_file() and name not in wanted and "__pycache__" not in path.parts:
            path.unlink()
            changed.append(f"{name} (removed)")
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return changed


def source_fingerprint() -> tuple:
    """Changes when any file under lambda_src/ is saved, added or removed."""
    return tuple(
        sorted(
            (str(path), path.stat().st_mtime_ns, path.stat().st_size)
            for path in SOURCE_DIR.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        )
    )


def syntax_errors(folder: Path, names: list[str]) -> list[str]:
    """The synced Python files that do not compile: the function would fail at its next
    invocation with only a 502 to show for it, so the watcher says which line is wrong."""
    errors = []
    for name in names:
        path = folder / name
        if path.suffix == ".py" and path.is_file():
            try:
                compile(path.read_bytes(), str(path), "exec")
            except SyntaxError as exc:
                errors.append(f"{name}{f':{exc.lineno}' if exc.lineno else ''}: {exc.msg}")
    return errors


def sync_all(python_version: str, quiet: bool = False) -> None:
    for package in packages():
        changed = sync_hot_reload(package, python_version)
        if changed or not quiet:
            shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
            print(
                f"[hot-reload] {package.name:<24} {len(changed)} file(s) synced{': ' + shown if changed else ''}",
                flush=True,
            )
        for error in syntax_errors(HOT_RELOAD_DIR / package.name, changed):
            print(
                f"[hot-reload] {package.name:<24} error: {error} (its functions fail until this is fixed)",
                file=sys.stderr,
                flush=True,
            )


def watch(python_version: str) -> None:
    print(
        f"[hot-reload] watching {SOURCE_DIR.relative_to(ROOT)}/ (Ctrl-C stops): a saved change is live "
        "at the next invocation",
        flush=True,
    )
    seen = source_fingerprint()
    while True:
        time.sleep(WATCH_INTERVAL_S)
        now = source_fingerprint()
        if now != seen:
            seen = now
            try:
                sync_all(python_version, quiet=True)
            except (BuildError, OSError) as exc:  # e.g. a file removed while copying: next round
                print(f"[hot-reload] error: {exc}", file=sys.stderr, flush=True)


def packages() -> list[Path]:
    return sorted(
        p for p in SOURCE_DIR.iterdir() if p.is_dir() and p != COMMON_DIR and not p.name.startswith((".", "_"))
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="rebuild even if the inputs did not change")
    parser.add_argument("--hot-reload", action="store_true", help="also sync the hot-reload folders")
    parser.add_argument("--watch", action="store_true", help="sync the hot-reload folders on every change")
    args = parser.parse_args()
    try:
        python_version = lambda_python_version()
    except BuildError as exc:
        print(f"[build] error: {exc}", file=sys.stderr)
        return 1
    BUILD_DIR.mkdir(exist_ok=True)
    for package in packages():
        started = time.monotonic()
        if sys.stdout.isatty():
            print(f"[build] {package.name:<24} ...", end="\r", flush=True)
        try:
            state, zip_path = build_package(package, args.force, python_version)
        except BuildError as exc:
            print(f"[build] {package.name:<24} failed", flush=True)
            print(f"[build] error: {exc}", file=sys.stderr)
            return 1
        digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()[:12]
        print(
            f"[build] {package.name:<24} {state:<9} {zip_path.stat().st_size / 1024:8.1f} KiB "
            f"sha256 {digest}  {time.monotonic() - started:5.1f} s"
        )
    if args.hot_reload or args.watch:
        try:
            sync_all(python_version, quiet=args.watch)
            if args.watch:
                watch(python_version)
        except BuildError as exc:
            print(f"[hot-reload] error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
