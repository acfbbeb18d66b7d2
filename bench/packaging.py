"""Group build: build.py with nothing changed, and a forced rebuild's zips byte-identical."""

import hashlib
import statistics
import subprocess
import sys

from bench.harness import (
    ROOT,
    row,
    timed,
)


def zip_digests() -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted((ROOT / "build").glob("*.zip"))}


def bench_build() -> None:
    build = [sys.executable, str(ROOT / "build.py")]
    subprocess.run(build, check=True, capture_output=True)
    before = zip_digests()
    baseline = min(timed(subprocess.run, [sys.executable, "-c", "pass"], check=True)[0] for _ in range(3))
    runs = [timed(subprocess.run, build, check=True, capture_output=True)[0] for _ in range(3)]
    unchanged = zip_digests() == before
    forced, _ = timed(subprocess.run, [*build, "--force"], check=True, capture_output=True)
    identical = zip_digests() == before
    sizes = {path.name: path.stat().st_size for path in sorted((ROOT / "build").glob("*.zip"))}
    row(
        "build, unchanged",
        f"median {statistics.median(runs):.2f} s; forced rebuild {forced:.1f} s, "
        f"zips {'byte-identical' if identical else 'DIFFERENT'}",
        f"python startup {baseline:.2f} s",
        "< 1 s, byte-identical",
        statistics.median(runs) < 1 and unchanged and identical,
        zip_bytes=sizes,
    )


def group(context: dict, args) -> None:
    bench_build()
