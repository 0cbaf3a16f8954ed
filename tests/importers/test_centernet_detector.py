"""The package's CenterNet as a person detector: the decoding answers the detector contract on a
stand-in trunk, a tarball without the model (or not a tarball) is refused naming it, and the
real tarball (skips without it) converts, matches its graph op by op and loads as a detector."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from service.cli import main
from service.detector.centernet_persons import CenterNetPersons
from service.errors import BoxposeError
from service.importers.centernet_export import CENTERNET, NAME, person_graph
from service.importers.human_models import (
    MOVENET,
    TARBALL,
    read_tarball,
)
from service.importers.tf_graphdef import Graph, Node
from service.runtime.model_store import load_model


class _StandIn(nn.Module):
    """(B, 3, 512, 512) -> a heatmap with two peaks and constant edge distances."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        heat = torch.zeros(x.shape[0], 1, 128, 128)
        heat[:, 0, 10, 20], heat[:, 0, 64, 32] = 0.9, 0.5
        heat[:, 0, 64, 33] = 0.4  # beside the second peak: no peak itself
        wh = torch.tensor([8.0, 4.0, 16.0, 12.0]).view(1, 4, 1, 1).expand(x.shape[0], 4, 128, 128)
        return heat, wh


def test_decoding_gives_contract_rows_stretched_back_to_the_image() -> None:
    module = torch.jit.script(CenterNetPersons(_StandIn(), max_boxes=4))
    rows = module(torch.zeros(2, 3, 256, 1024))  # x stretched by 2, y by 0.5
    assert rows.shape == (2, 4, 5)
    # peak (row 10, col 20) = point (80, 40) in 512 px; box 72..96 x 36..52
    assert torch.allclose(rows[0, 0], torch.tensor([144.0, 18.0, 192.0, 26.0, 0.9]))
    assert torch.allclose(rows[0, 1], torch.tensor([240.0, 126.0, 288.0, 134.0, 0.5]))
    assert rows[0, 2, 4] == 0.0  # the neighbour of a peak is suppressed, not a third box


def _tarball(path: Path, with_model: bool) -> Path:
    """A .tgz with the package's package.json and, optionally, a (tiny) centernet.json."""
    with tarfile.open(path, "w:gz") as tar:
        files = {"package/package.json": json.dumps({"license": "MIT", "version": "3.0.4"})}
        if with_model:
            files[f"package/models/{CENTERNET}.json"] = json.dumps(
                {"modelTopology": {"node": []}, "weightsManifest": []})
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_tarball_without_centernet_is_refused_naming_it(tmp_path: Path) -> None:
    path = _tarball(tmp_path / TARBALL, with_model=False)
    with pytest.raises(BoxposeError, match=f"{TARBALL} has no package/models/{CENTERNET}.json"):
        read_tarball(path, (CENTERNET,))


def test_a_corrupt_tarball_is_refused_by_the_command(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / TARBALL
    bad.write_bytes(_tarball(tmp_path / "good.tgz", True).read_bytes()[:-30])  # truncated
    assert main(["import", "human-models", "--detector", "--tarball", str(bad), "--out",
                 str(tmp_path / "out"), "--model-store", str(tmp_path / "store")]) != 0
    assert TARBALL in capsys.readouterr().err
    assert not (tmp_path / "store").exists()


def test_a_graph_without_the_heads_is_refused_naming_them() -> None:
    graph = Graph({"tower_0/images": Node("tower_0/images", "Placeholder", ())}, {})
    with pytest.raises(BoxposeError, match="centernet: the graph has no node 'tower_0/keypoints'"):
        person_graph(graph)


def test_real_centernet_converts_matches_and_loads_as_a_detector(tarball: Path,
                                                                 tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert main(["import", "human-models", "--detector", "--tarball", str(tarball), "--out",
                 str(tmp_path / MOVENET), "--model-store", str(store)]) == 0  # fmt: skip
    manifest = json.loads((store / NAME / "manifest.json").read_text())
    assert manifest["kind"] == "detector"
    diffs = manifest["validation"]["graph_max_abs_diff_per_head"]
    assert diffs["heatmap"] < 1e-5 and diffs["wh"] < 1e-2  # wh: pixels, up to about 300
    assert manifest["validation"]["torchscript_max_abs_diff"] < 1e-4
    assert manifest["licence"]["package"]["name"] == "MIT"
    assert len(manifest["source"]["tarball_sha256"]) == 64
    detector = load_model(NAME, store=store)
    assert detector.kind == "detector"
    image = np.zeros((1, 3, 240, 424), np.float32) + 128.0
    with torch.inference_mode():
        rows = detector.module(torch.from_numpy(image))
    assert rows.shape == (1, 32, 5)
    assert bool((rows[0, :, 2] <= 424).all()) and bool((rows[0, :, 3] <= 240).all())
