"""model_store/<name>/{manifest.json, model file} -> a loaded, checksum-verified TorchScript model.

Only directories inside the store are loaded: a name that resolves elsewhere (`..`, an absolute
path, a symlink out of the store) is refused, as is a file whose sha256 differs from its manifest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import torch
from pydantic import ValidationError

from service.config import Settings
from service.errors import BoxposeError
from service.runtime.manifest import Kind, Manifest
from service.skeleton import Skeleton

# The repository's own store (the bundled models). The store served is Settings.model_store
# (BOXPOSE_MODEL_STORE), which defaults to it: `default_store()`.
MODEL_STORE = Path(__file__).resolve().parents[2] / "model_store"
KINDS: tuple[str, ...] = get_args(Kind)  # topdown: person crops -> one pose (runtime/topdown.py)


class ModelStoreError(BoxposeError, RuntimeError):
    """A model that cannot be loaded, with a message that says why."""


def sha256_of(path: Path) -> str:
    """A file's sha256, hex: what a manifest's `sha256` promises of its model file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_store() -> Path:
    """The store to use when none is given: Settings' `model_store` (BOXPOSE_MODEL_STORE),
    else the repository's `model_store/`."""
    return Settings().model_store or MODEL_STORE


def _store(store: Path | None) -> Path:
    return Path(store) if store is not None else default_store()


@dataclass(frozen=True)
class LoadedModel:
    name: str
    kind: str
    module: torch.jit.ScriptModule
    manifest: Manifest
    skeleton: Skeleton | None  # None for detectors
    stride: int
    sha256: str
    path: Path
    device: str
    engine: str = "torchscript"  # what runs `module`'s call: runtime/engines.py

    @property
    def version(self) -> str:
        return self.manifest.version


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def read_manifest(name: str, store: Path | None = None) -> tuple[Path, Manifest]:
    """Validate the name, read `<store>/<name>/manifest.json` and check its typed fields;
    returns (model dir, manifest)."""
    root = _store(store).resolve()
    model_dir = (root / name).resolve()
    if not name or model_dir == root or not _inside(model_dir, root):
        raise ModelStoreError(f"model {name!r} is outside the model store {root}")
    manifest_path = model_dir / "manifest.json"
    if not manifest_path.is_file():
        raise ModelStoreError(f"model {name!r} not found: no {manifest_path}")
    try:
        raw = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelStoreError(f"model {name!r}: manifest.json is not valid JSON ({exc})") from exc
    return model_dir, parse_manifest(name, raw)


def parse_manifest(name: str, raw: Any) -> Manifest:
    """A manifest.json's content -> `Manifest`; a ModelStoreError names the first bad field."""
    if not isinstance(raw, dict):
        raise ModelStoreError(f"model {name!r}: manifest.json is not a JSON object")
    for key in ("kind", "file", "sha256"):
        if key not in raw:
            raise ModelStoreError(f"model {name!r}: manifest.json lacks {key!r}")
    if raw["kind"] not in KINDS:
        raise ModelStoreError(f"model {name!r}: unknown kind {raw['kind']!r}")
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise ModelStoreError(f"model {name!r}: manifest.json field {field!r}: {error['msg']} "
                              f"(is {error.get('input')!r})") from exc


def holds(name: str, store: Path | None = None) -> bool:
    """Whether `store` has a model called `name` (its manifest; not validated here)."""
    return (_store(store) / name / "manifest.json").is_file()


def default_detector(pose_name: str, store: Path | None = None) -> str | None:
    """The detector a pose model's manifest names (`default_detector`): a name, or names in
    order of preference, of which the first the store holds (the last one when it holds none,
    so that loading it reports what is missing); "" when it names none on purpose ("" or []:
    boxes from the grouping of its own maps); None when the manifest does not say."""
    try:
        _, manifest = read_manifest(pose_name, store)
    except ModelStoreError:
        return None  # reported when the model itself is loaded
    named = manifest.default_detector
    if named is None:
        return None
    if not named:
        return ""
    if isinstance(named, str):
        return named
    names = list(named)
    held = [n for n in names if holds(n, store)]
    return held[0] if held else names[-1]


def has_box_head(pose_name: str, store: Path | None = None) -> bool:
    """Whether the pose model answers boxes itself (its manifest describes a `box_head`)."""
    try:
        _, manifest = read_manifest(pose_name, store)
    except ModelStoreError:
        return False
    return manifest.box_head is not None


def load_model(name: str, store: Path | None = None, device: str = "cpu") -> LoadedModel:
    """Load a model by name from the store onto `device`, after checking its sha256."""
    model_dir, manifest = read_manifest(name, store)
    model_path = (model_dir / manifest.file).resolve()
    if not _inside(model_path, model_dir) or not model_path.is_file():
        raise ModelStoreError(f"model {name!r}: file {manifest.file!r} missing or outside it")
    digest = sha256_of(model_path)
    if digest != manifest.sha256:
        raise ModelStoreError(
            f"model {name!r}: sha256 of {model_path.name} is {digest}, manifest says "
            f"{manifest.sha256}; the file was changed or corrupted"
        )
    try:
        module = torch.jit.load(str(model_path), map_location=device)
    except RuntimeError as exc:
        raise ModelStoreError(f"model {name!r}: not a TorchScript file ({exc})") from exc
    module.eval()
    skeleton = Skeleton.from_dict(manifest.skeleton) if manifest.skeleton is not None else None
    if manifest.kind in ("pose", "topdown") and skeleton is None:
        raise ModelStoreError(f"model {name!r}: a pose model's manifest needs a skeleton")
    return LoadedModel(
        name=manifest.name or name,
        kind=manifest.kind,
        module=module,
        manifest=manifest,
        skeleton=skeleton,
        stride=manifest.output_stride,
        sha256=digest,
        path=model_dir,
        device=device,
    )
