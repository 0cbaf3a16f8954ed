"""Where the box parser loses AP on oracle maps of a COCO keypoint file (default: the project's
synthetic validation set): per ground-truth person OKS, missed and low people by cause, wrong or
missing joints by type, false positives, and what ideal ranking would give.

Rerun: `.venv/bin/python bench/oracle_analysis.py [--limit 300] [--write]`. With `--write` it
writes its section of BENCHMARKS.md (`bench:oracle_analysis`), the "before" row being given by
`--before "AIC AP, COCO AP"` (the figures of the earlier parser, which this script cannot rerun).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402
from service.evaluation.coco_eval import (  # noqa: E402
    evaluate_keypoints,
    format_stats,
    poses_to_results,
    sigmas_for,
    skeleton_from_category,
)
from service.evaluation.oracle import image_people, oracle_poses  # noqa: E402
from service.parsing import ParserConfig  # noqa: E402
from service.skeleton import Skeleton  # noqa: E402
from service.targets import TargetConfig  # noqa: E402

VAL = ROOT / "data" / "val" / "annotations.json"  # docs/data.md


def oks_matrix(gt: np.ndarray, areas: np.ndarray, pred: np.ndarray, sigmas: np.ndarray
               ) -> np.ndarray:
    """pycocotools' OKS. gt (N, J, 3), areas (N,), pred (M, J, 3) -> (N, M)."""
    if len(gt) == 0 or len(pred) == 0:
        return np.zeros((len(gt), len(pred)))
    var = (2 * sigmas) ** 2  # (J,)
    d2 = ((gt[:, None, :, :2] - pred[None, :, :, :2]) ** 2).sum(axis=3)  # (N, M, J)
    e = d2 / var / (areas[:, None, None] + np.spacing(1)) / 2
    lab = (gt[:, :, 2] > 0)[:, None, :]  # (N, 1, J)
    return (np.exp(-e) * lab).sum(axis=2) / np.maximum(lab.sum(axis=2), 1)


def causes(kp: np.ndarray, n: int, boxes: list) -> list[str]:
    """Labels describing GT person n's situation (a person may have several)."""
    out = []
    lab = kp[n, :, 2] > 0
    if kp[n, 13, 2] == 0:
        out.append("no neck")
    if lab.sum() <= 5:
        out.append("<=5 joints")
    others = np.delete(kp, n, axis=0)
    if len(others):
        inside = boxes[n].contains(others[..., :2]) & (others[..., 2] > 0)  # (N-1, J)
        if (inside.sum(axis=1) >= 4).any():
            out.append("box holds another body")
        d = np.linalg.norm(others[..., :2] - kp[n, None, :, :2], axis=2)  # (N-1, J)
        close = (d < 12) & (others[..., 2] > 0) & lab[None]
        if close.any():
            out.append("same-type joint < 12 px")
    if (kp[n, :, 2] == 1).sum() >= 4:
        out.append(">=4 occluded")
    return out or ["clean"]


def analyse(ground_truth: dict, skeleton: Skeleton, limit: int | None, config: ParserConfig,
            targets: TargetConfig) -> dict:
    sig = sigmas_for(skeleton, "aic")
    results, ids, oracle_rank = [], [], []
    per_gt: list[tuple[float, list[str]]] = []
    joint_missing, joint_wrong = Counter(), Counter()
    false_pos = 0
    for image, kp, boxes in image_people(ground_truth, skeleton, limit):
        h, w = int(image["height"]), int(image["width"])
        poses = oracle_poses(kp, boxes, h, w, skeleton, "boxes", config, targets)
        res = poses_to_results(poses, int(image["id"]))
        results += res
        ids.append(int(image["id"]))
        areas = np.array([b.area for b in boxes])
        pred = np.stack([p.keypoints for p in poses]) if poses else np.zeros((0, 14, 3))
        oks = oks_matrix(kp, areas, pred, sig)  # (N, M)
        oracle_rank += [dict(r, score=float(oks[:, m].max()) if len(kp) else 0.0)
                        for m, r in enumerate(res)]
        false_pos += int((oks.max(axis=0, initial=0) < 0.5).sum()) if len(kp) else len(poses)
        for n in range(len(kp)):
            best = float(oks[n].max()) if oks.shape[1] else 0.0
            per_gt.append((best, causes(kp, n, boxes)))
            if best >= 0.95 or not oks.shape[1]:
                continue
            p = pred[int(oks[n].argmax())]
            lab = kp[n, :, 2] > 0
            for j in np.flatnonzero(lab & (p[:, 2] <= 0)):
                joint_missing[skeleton.joints[j]] += 1
            err = np.linalg.norm(p[:, :2] - kp[n, :, :2], axis=1)
            for j in np.flatnonzero(lab & (p[:, 2] > 0) & (err > 4.0)):
                joint_wrong[skeleton.joints[j]] += 1
    stats = {s: evaluate_keypoints(ground_truth, results, sigmas_for(skeleton, s), ids)
             for s in ("aic", "coco")}
    ideal = evaluate_keypoints(ground_truth, oracle_rank, sig, ids)
    return {"stats": stats, "ideal": ideal, "per_gt": per_gt, "missing": joint_missing,
            "wrong": joint_wrong, "false_pos": false_pos, "images": len(ids),
            "poses": len(results)}


def report(a: dict) -> list[str]:
    oks = np.array([o for o, _ in a["per_gt"]])
    lines = [
        f"{a['images']} images, {len(oks)} GT people, {a['poses']} poses, "
        f"{a['false_pos']} poses with OKS < 0.5 to every GT",
        f"aic: {format_stats(a['stats']['aic'])}",
        f"coco: {format_stats(a['stats']['coco'])}",
        f"aic AP with ideal ranking (score = best OKS): {100 * a['ideal']['AP']:.2f}",
        f"GT best OKS: <0.5 {(oks < 0.5).sum()}, 0.5-0.9 {((oks >= 0.5) & (oks < 0.9)).sum()}, "
        f">=0.9 {(oks >= 0.9).sum()}",
        "cause: people | missed (<0.5) | low (0.5-0.9) | mean OKS",
    ]
    tally: dict[str, list[float]] = {}
    for o, cs in a["per_gt"]:
        for c in cs:
            tally.setdefault(c, []).append(o)
    for c, v in sorted(tally.items(), key=lambda kv: -len(kv[1])):
        arr = np.array(v)
        lines.append(f"  {c:26s} {len(arr):4d} | {(arr < 0.5).sum():3d} | "
                     f"{((arr >= 0.5) & (arr < 0.9)).sum():3d} | {arr.mean():.3f}")
    top = ", ".join(f"{k} {v}" for k, v in a["missing"].most_common(5))
    lines.append(f"joints missing in people below OKS 0.95: {sum(a['missing'].values())} ({top})")
    top = ", ".join(f"{k} {v}" for k, v in a["wrong"].most_common(5))
    lines.append(f"joints > 4 px off in those people: {sum(a['wrong'].values())} ({top})")
    return lines


def overrides(items: list[str]) -> ParserConfig:
    """["nms_eta=0.3", ...] -> ParserConfig with those fields (typed like the defaults)."""
    base = ParserConfig()
    changes = {}
    for item in items:
        key, value = item.split("=", 1)
        kind = type(getattr(base, key))
        changes[key] = value.lower() in ("1", "true") if kind is bool else kind(value)
    return dataclasses.replace(base, **changes)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--annotations", type=Path, default=VAL)
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--sigma", type=float, default=TargetConfig().sigma, help="Eq. 1 sigma")
    ap.add_argument("--delta", type=float, default=TargetConfig().delta, help="Eq. 3 delta")
    ap.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                    help="ParserConfig overrides, e.g. nms_eta=0.3 box_choice=joints")
    ap.add_argument("--write", action="store_true", help="write the BENCHMARKS.md section")
    ap.add_argument("--before", default="", help='earlier parser\'s "aic AP, coco AP" (%%)')
    args = ap.parse_args()
    gt = json.loads(args.annotations.read_text())
    skeleton = skeleton_from_category(gt["categories"][0])
    targets = TargetConfig(sigma=args.sigma, delta=args.delta)
    a = analyse(gt, skeleton, args.limit, overrides(args.set), targets)
    lines = report(a)
    print("\n".join(lines))
    if args.write:
        write(args, a, lines)
    return 0


def write(args: argparse.Namespace, a: dict, lines: list[str]) -> None:
    aic, coco = (100 * a["stats"][s]["AP"] for s in ("aic", "coco"))
    before = [v.strip() for v in args.before.split(",")] if args.before else ["-", "-"]
    body = [
        "## Oracle AP on the synthetic validation set", "",
        f"Command: `.venv/bin/python bench/oracle_analysis.py --limit {args.limit} --write`", "",
        f"`{args.annotations}` (first {a['images']} images, 640x480, people 25-100% of the "
        "image height, overlapping, occluded, truncated): maps and fields encoded from the "
        f"ground truth (sigma {args.sigma:g}, delta {args.delta:g}, stride 4), parsed by the box "
        "parser in the ground-truth boxes. pycocotools AP (%).", "",
        "| parser | AP (AIC sigmas) | AP (COCO sigmas) |", "|---|---|---|",
        f"| before (first box parser) | {before[0]} | {before[1]} |",
        f"| now | {aic:.2f} | {coco:.2f} |", "", "Breakdown (now):", "", "```", *lines, "```",
    ]
    write_section("oracle_analysis", "\n".join(body))


if __name__ == "__main__":
    sys.exit(main())
