"""Our OpenPose import vs the `controlnet_aux` port on the same body_pose_model.pth.

    bench/.venv/bin/python bench/openpose_port_check.py PATH.pth [--size 184x240]

`make bench-env` installs controlnet_aux into bench/.venv (never into the project's environment;
its code is never copied here). The file is loaded into their `bodypose_model` through their own
`util.transfer`, as their `Body` does, and into ours by `boxpose import openpose`'s loader; both
see the same image, theirs normalised their way (BGR, x / 256 - 0.5, padded with grey 128 to a
multiple of 8), ours given RGB 0..255. Printed: the largest differences of the PAFs and heatmaps,
ours read back into OpenPose's channels. Their last heatmap layer has a ReLU (a name repeated in
their list of layers without one), so heatmaps are compared after max(., 0); the raw difference
is printed too.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.openpose_ref import load_body_class  # noqa: E402
from service.importers.openpose import load_openpose  # noqa: E402
from service.importers.openpose_export import check_image  # noqa: E402
from service.network.openpose import OpenPoseInference  # noqa: E402


def theirs(path: Path, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Their network on the image: (PAFs (1, 38, h, w), heatmaps (1, 19, h, w))."""
    load_body_class()  # makes controlnet_aux.open_pose importable without its __init__
    model = importlib.import_module("controlnet_aux.open_pose.model")
    util = importlib.import_module("controlnet_aux.open_pose.util")
    net = model.bodypose_model()
    net.load_state_dict(util.transfer(net, torch.load(path, map_location="cpu")))
    h, w = rgb.shape[2], rgb.shape[3]
    bgr = torch.full((1, 3, -(-h // 8) * 8, -(-w // 8) * 8), 128.0)
    bgr[:, :, :h, :w] = rgb.flip(1)
    with torch.inference_mode():
        pafs, heat = net.eval()(bgr / 256 - 0.5)
    return pafs, heat


def ours(path: Path, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Our exported module's (maps, fields) and its channel layout, from the same file."""
    net, _ = load_openpose(path)
    module = OpenPoseInference(net).eval()
    with torch.inference_mode():
        maps, fields = module(rgb)
    return maps, fields, module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("weights", type=Path)
    parser.add_argument("--size", default="184x240", help="HxW of the test image")
    args = parser.parse_args()
    torch.set_num_threads(1)
    h, w = (int(v) for v in args.size.split("x"))
    rgb = check_image(h, w)
    pafs, heat = theirs(args.weights, rgb)
    maps, fields, module = ours(args.weights, rgb)
    gh, gw = maps.shape[2:]
    want_fields = pafs.index_select(1, module.field_index) * module.field_sign.view(1, -1, 1, 1)
    want_maps = heat.index_select(1, module.map_index)
    paf_diff = float((fields - want_fields[:, :, :gh, :gw]).abs().max())
    heat_diff = float((maps.clamp(min=0) - want_maps[:, :, :gh, :gw]).abs().max())
    raw = float((maps - want_maps[:, :, :gh, :gw]).abs().max())
    print(f"{args.weights.name} on a {h} x {w} image ({gh} x {gw} cells):\n"
          f"  max |ours - theirs|  PAFs {paf_diff:.2e}  heatmaps (after ReLU) {heat_diff:.2e}  "
          f"heatmaps raw {raw:.2e}\n"
          f"  value ranges: PAFs {float(fields.abs().max()):.3f}, "
          f"heatmaps {float(maps.abs().max()):.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
