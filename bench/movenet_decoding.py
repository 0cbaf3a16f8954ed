"""Our MoveNet decoding (service/parsing/centres.py) on the real development split, one table.

MoveNet MultiPose's trunk and heads are converted from the npm tarball (as `boxpose import
human-models` does; skips with the reason without it), each dev photo is resized to a long side
of 384 px (padded inside to a multiple of 32), run once, and its heads decoded: our decoding
(every centre peak above the threshold) and the same with the graph's cap of 6 people (what
MoveNet's own output keeps). Scored as bench/real_photos.py scores served boxes: keypoint AP,
12 limb joints, COCO sigmas, overall and per subset (`service.evaluation.real_report.score`).

    .venv/bin/python bench/movenet_decoding.py --write
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402
from service.data.real import ImageRecord  # noqa: E402
from service.data.real_split import DEFAULT_DATA_ROOT, DEV_SUBSETS, load_dataset  # noqa: E402
from service.data.sample import read_rgb  # noqa: E402
from service.evaluation.real_eval import (  # noqa: E402
    ImagePrediction,
    greedy_assign,
    oks_matrix,
    poses_to_aic14,
    poses_to_coco17,
)
from service.evaluation.real_metrics import SIGMAS  # noqa: E402
from service.evaluation.real_report import ModeReport, score  # noqa: E402
from service.importers.human_models import (  # noqa: E402
    MOVENET,
    find_tarball,
    missing_tarball_message,
    read_tarball,
)
from service.importers.movenet_export import TIMING_SIZE, convert, forward_ms  # noqa: E402
from service.network.movenet import MoveNetHeads  # noqa: E402
from service.parsing.centres import CentreDecodeConfig, decode, to_poses  # noqa: E402
from service.runtime.exposure import brighten  # noqa: E402
from service.skeleton import COCO18  # noqa: E402

LONG_SIDE = 384
DECODINGS = {
    "ours (every centre peak > 0.1)": CentreDecodeConfig(),
    "ours, threshold 0.05": CentreDecodeConfig(centre_threshold=0.05),
    "ours capped at 6 people (the graph's cap)": CentreDecodeConfig(max_people=6),
    "ours, weights 1 / (d + 1) (single-pose's)": CentreDecodeConfig(weighting="inverse"),
}
Heads = tuple[np.ndarray, ...]


def forward(module: torch.nn.Module, image: np.ndarray) -> tuple[Heads, float, float]:
    """(H, W, 3) RGB -> the heads as numpy (C, h, w), the scale (input / image), forward s.
    A very dark image is brightened first, as the served pipelines do (runtime/exposure.py)."""
    image = brighten(image)
    scale = LONG_SIDE / max(image.shape[:2])
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1
                         else cv2.INTER_LINEAR)  # fmt: skip
    x = torch.from_numpy(np.ascontiguousarray(resized)).permute(2, 0, 1)[None].float()
    start = time.perf_counter()
    with torch.inference_mode():
        heads: MoveNetHeads = module(x)
    seconds = time.perf_counter() - start
    return tuple(t[0].double().numpy() for t in heads), scale, seconds


def predict(record: ImageRecord, heads: Heads, scale: float, config: CentreDecodeConfig,
            seconds: float) -> ImagePrediction:  # fmt: skip
    start = time.perf_counter()
    poses = to_poses(decode(*heads, config=config), scale)
    seconds += time.perf_counter() - start
    kp = poses_to_aic14(poses, COCO18)
    scores = np.array([p.score for p in poses], np.float64)
    assigned = greedy_assign(oks_matrix(record.keypoints, record.areas, kp, SIGMAS["coco"]),
                             1e-6)  # fmt: skip
    boxes = np.array([[*p.box.as_list(), p.box.score] for p in poses if p.box]).reshape(-1, 5)
    return ImagePrediction(kp, scores, assigned, boxes, seconds, poses_to_coco17(poses, COCO18))


class DecodingPipeline:
    """Our MoveNet decoding behind the pipeline calls bench/real_photos.py makes (`predict`,
    `detect_missing`, `skeleton`, `config`): the heads at a long side of 384 px, decoded with
    `config`; served only (it takes no boxes: `served_only`)."""

    served_only = True

    def __init__(self, module: torch.nn.Module, config: CentreDecodeConfig | None = None) -> None:
        from service.runtime.protocol import PipelineConfig

        self.module, self.decoding = module, config or CentreDecodeConfig()
        self.skeleton, self.config = COCO18, PipelineConfig()
        self._last: tuple[int, list[Any]] | None = None

    def predict(self, image: np.ndarray, boxes: Any = None, *_: Any) -> Any:
        if boxes is not None:
            raise ValueError("the decoding takes no boxes")
        heads, scale, _ = forward(self.module, image)
        poses = to_poses(decode(*heads, config=self.decoding), scale)
        self._last = (id(image), poses)
        return SimpleNamespace(poses=poses)

    def detect_missing(self, inputs: list[Any]) -> list[list[Any] | None]:
        """The boxes of the poses of the image just predicted (its people's boxes)."""
        out = []
        for inp in inputs:
            if self._last is None or self._last[0] != id(inp.image):
                self.predict(inp.image)
            assert self._last is not None
            out.append([p.box for p in self._last[1] if p.box is not None])
        return out


def load_decoding() -> DecodingPipeline | str:
    """The decoding of the tarball's MoveNet, or why it cannot be loaded."""
    path = find_tarball()
    if path is None:
        return missing_tarball_message()
    module, _ = convert(read_tarball(path).models[MOVENET])
    return DecodingPipeline(torch.jit.script(module))


def run(records: list[ImageRecord], module: torch.nn.Module) -> dict[str, ModeReport]:
    cached = []
    for record in records:
        cached.append(forward(module, read_rgb(str(record.path))))
    reports = {}
    for name, config in DECODINGS.items():
        preds = [predict(r, heads, scale, config, s) for r, (heads, scale, s) in
                 zip(records, cached, strict=True)]  # fmt: skip
        reports[name] = score(records, preds, "served", "box")
        people = sum(p.scores.size for p in preds)
        print(f"{name}: AP {reports[name].ap['AP']:.3f} ({people} people decoded)", flush=True)
    return reports


def section(reports: dict[str, ModeReport], diff: float, ms: float, images: int) -> str:
    head = ["decoding", "AP", "AP50", "AP75", *DEV_SUBSETS, "COCO-17 AP", "box AP50"]
    lines = ["## MoveNet MultiPose, our decoding (bench/movenet_decoding.py)", "",
             f"MoveNet MultiPose Lightning's trunk and heads converted from the npm tarball "
             f"(`boxpose import human-models`; max |ours - graph op by op| {diff:.1e}), dev split "
             f"({images} mmpose photos), long side {LONG_SIDE} px padded to a multiple of 32, "
             f"served (no true boxes): keypoint AP, 12 limb joints, COCO sigmas. Forward "
             f"{ms:.0f} ms median at {TIMING_SIZE[1]} x {TIMING_SIZE[0]} (TorchScript, 2 threads, "
             f"this CPU shared with other jobs: an upper bound). The graph's own "
             "decoding keeps at most 6 people; ours keeps every centre peak.", "",
             "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]  # fmt: skip
    for name, r in reports.items():
        cells = [name, *(f"{r.ap[k]:.3f}" for k in ("AP", "AP50", "AP75")),
                 *(f"{r.ap_by_subset[s]['AP']:.3f}" for s in DEV_SUBSETS),
                 f"{r.ap_coco17['AP']:.3f}" if r.ap_coco17 else "-",
                 f"{r.box.ap50:.3f}" if r.box else "-"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--tarball", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="write BENCHMARKS.md's section")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    path = args.tarball or find_tarball()
    if path is None:
        print(f"skipped: {missing_tarball_message()}")
        return 0
    module, diffs = convert(read_tarball(path).models[MOVENET])
    script = torch.jit.script(module)
    records = load_dataset("mmpose", args.data_root)
    ms = forward_ms(script, TIMING_SIZE, args.threads, repeats=9)
    reports = run(records, script)
    body = section(reports, max(diffs.values()), ms, len(records))
    print(body)
    if args.write:
        write_section("movenet-decoding", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
