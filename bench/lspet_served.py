"""Single-person sports photos served end to end: is the annotated athlete found? BlazePose's
landmark model in the boxes of blazepose-detector, of detector-union (the default) and, where the
store holds it, of detector-union-unchecked, side by side in one run.

LSPet's dev split (im09001..im10000, docs/real-photos.md) annotates one person per photo and
leaves background people unannotated, so keypoint AP is not defined there; instead, per photo,
the best OKS (COCO's sigmas, AI Challenger's 14 joints as LSP labels them) of any served pose
with the annotated person. Reported: the share of photos where it reaches 0.5 and 0.75, the share
where no served pose overlaps the person at all (OKS 0), and the poses answered per photo.

    .venv/bin/python bench/lspet_served.py [--store DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.detector_union_speed import POSE, served_systems  # noqa: E402
from bench.report import write_section  # noqa: E402
from service.data.real_split import DEFAULT_DATA_ROOT, load_dataset  # noqa: E402
from service.data.sample import read_rgb  # noqa: E402
from service.evaluation.real_eval import oks_matrix, poses_to_aic14  # noqa: E402
from service.evaluation.real_metrics import SIGMAS  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, default=None, help="model store (default model_store/)")
    ap.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    ap.add_argument("--limit", type=int, default=None, help="the first N dev photos only")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if not (args.data_root / "lspet").is_dir():
        print(f"no LSPet under {args.data_root}: nothing to measure")
        return 1
    systems = served_systems(args.store)
    records = load_dataset("lspet-dev", args.data_root, limit=args.limit)
    best = {name: np.zeros(len(records)) for name in systems}
    answered = dict.fromkeys(systems, 0)
    start = time.perf_counter()
    for i, record in enumerate(records):
        image = read_rgb(str(record.path))
        for name, system in systems.items():
            poses = system.predict(image).poses
            answered[name] += len(poses)
            if poses:
                keypoints = poses_to_aic14(poses, system.skeleton)
                best[name][i] = oks_matrix(record.keypoints, record.areas, keypoints,
                                           SIGMAS["coco"]).max()  # fmt: skip
    text = report(records, best, answered, args, time.perf_counter() - start)
    print(text)
    if not args.no_write:
        write_section("lspet_served", text)
    return 0


def report(records: list, best: dict, answered: dict, args: argparse.Namespace,
           seconds: float) -> str:
    store = f" --store {args.store}" if args.store else ""
    limit = f" --limit {args.limit}" if args.limit else ""
    lines = [
        "## Single-person sports photos, served: is the athlete found?", "",
        f"Command: `.venv/bin/python bench/lspet_served.py{store}{limit}` ({seconds:.0f} s, "
        f"{args.threads} threads)", "",
        f"LSPet dev photos: {len(records)}, one annotated person each (background people are "
        f"not annotated). {POSE} in each detector's boxes; per photo the best OKS (COCO's "
        "sigmas) of any served pose with the annotated person.", "",
        "| detector | found (OKS >= 0.5) | OKS >= 0.75 | no pose on the athlete "
        "| poses per photo |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, values in best.items():
        lines.append(f"| {name} | {(values >= 0.5).mean():.3f} | {(values >= 0.75).mean():.3f} | "
                     f"{(values == 0).mean():.3f} | {answered[name] / len(records):.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
