"""Lambda layers laid out as AWS lays them out under /opt (standard library only).

Each execution environment gets its own ``opt`` folder: the layers' unzipped contents merged
in the function's order, a later layer's file replacing an earlier one's. Files are
hard-linked from LocalStack's unzipped layer cache (copied when the cache is on another
file system), so a cold start with a large layer stays cheap.
"""

import os
import shutil
from pathlib import Path


def assemble(layer_dirs: list[Path], opt: Path) -> None:
    """Merge ``layer_dirs`` (first to last) into ``opt``."""
    opt.mkdir(parents=True, exist_ok=True)
    for layer in layer_dirs:
        for folder, subfolders, files in os.walk(layer):
            relative = Path(folder).relative_to(layer)
            target_folder = opt / relative
            if target_folder.is_symlink() or (target_folder.exists() and not target_folder.is_dir()):
                target_folder.unlink()
            target_folder.mkdir(exist_ok=True)
            for name in files + [d for d in subfolders if (Path(folder) / d).is_symlink()]:
                _place(Path(folder) / name, target_folder / name)


def _place(source: Path, target: Path) -> None:
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        shutil.rmtree(target)
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def python_paths(opt: Path, version: str) -> list[str]:
    """sys.path entries for layers, in AWS's order (after the function's own folder)."""
    return [str(opt / "python" / "lib" / f"python{version}" / "site-packages"), str(opt / "python")]


def node_paths(opt: Path, major: str) -> list[str]:
    """NODE_PATH entries for layers, in AWS's order."""
    return [str(opt / "nodejs" / f"node{major}" / "node_modules"), str(opt / "nodejs" / "node_modules")]


def environment(opt: Path, inherited_path: str) -> dict[str, str]:
    """What AWS's runtimes derive from /opt: binaries in /opt/bin, libraries in /opt/lib.
    (The executor also sets LAMBDA_OPT_DIR, where /opt is here, for code that reads layer
    files by path: this engine has no /opt of its own to mount them on.)"""
    return {
        "PATH": f"{opt / 'bin'}:{inherited_path}",
        "LD_LIBRARY_PATH": f"{opt / 'lib'}",
    }
