"""What a pose model's maps get right, before any parsing: the numbers behind docs/models.md.

For each visible (v = 2) ground-truth joint of the first --limit images:
* peaks: is there a local maximum of the same joint's map within 2 / 4 / 8 px?
* left/right: is the joint's own map higher at the joint than its left/right twin's map
  (3x3 cells around it)? 50% = the net does not tell left from right. Split by whether the
  person's right shoulder is on the image's left ("front-like") or not ("back-like"): a net that
  only learnt "the right side is on the image's left" scores high on the first, low on the second.

    .venv/bin/python scripts/diagnose_maps.py --model pose-lite --limit 40
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from service.evaluation.oracle import image_people
from service.parsing.peaks import find_peaks
from service.runtime.factory import load_pipeline
from service.runtime.protocol import ImageInput
from service.skeleton import AIC14

R_SHO, L_SHO = AIC14.joints.index("right_shoulder"), AIC14.joints.index("left_shoulder")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="pose-lite")
    ap.add_argument("--store", type=Path, default=None, help="model store (default: bundled)")
    ap.add_argument("--annotations", type=Path, default=Path("data/val/annotations.json"))
    ap.add_argument("--images", type=Path, default=Path("data/val/images"))
    ap.add_argument("--limit", type=int, default=40)
    args = ap.parse_args()

    pipe = load_pipeline(args.model, device="cpu", store=args.store)
    twin = np.asarray(AIC14.flip_permutation)
    ground_truth = json.loads(args.annotations.read_text())
    distance, own, other, front_like, paired = [], [], [], [], []
    for image, people, _ in image_people(ground_truth, AIC14, args.limit):
        bgr = cv2.imread(str(args.images / image["file_name"]), cv2.IMREAD_COLOR)
        out = pipe.forward_batch([ImageInput(bgr[:, :, ::-1].copy(), [], (1.0,))]).images[0]
        maps = out.maps
        peaks = find_peaks(maps, pipe.stride, threshold=0.05)
        h, w = maps.shape[1:]
        for kp in people:  # (J, 3)
            both = kp[R_SHO, 2] > 0 and kp[L_SHO, 2] > 0
            facing = bool(kp[R_SHO, 0] < kp[L_SHO, 0]) if both else None
            for j in np.flatnonzero(kp[:, 2] == 2):
                ids = peaks.by_joint[j]
                d = np.linalg.norm(peaks.xy[ids] - kp[j, :2], axis=1).min() if len(ids) else 1e9
                distance.append(d)
                if twin[j] == j:
                    continue
                gx = min(int(round(kp[j, 0] / pipe.stride)), w - 1)
                gy = min(int(round(kp[j, 1] / pipe.stride)), h - 1)
                window = (slice(max(gy - 1, 0), gy + 2), slice(max(gx - 1, 0), gx + 2))
                own.append(maps[j][window].max())
                other.append(maps[twin[j]][window].max())
                paired.append(facing is not None)
                front_like.append(bool(facing))
    d, own_v, other_v = np.array(distance), np.array(own), np.array(other)
    paired_v, front_v = np.array(paired), np.array(front_like)
    wins = own_v > other_v
    print(f"{args.model}: {len(d)} visible joints in {args.limit} images")
    print("same-joint peak within 2 / 4 / 8 px: "
          + " / ".join(f"{100 * np.mean(d < t):.1f}%" for t in (2, 4, 8)))  # fmt: skip
    print(f"left/right: own map above the twin's for {100 * wins.mean():.1f}% of "
          f"{len(wins)} left/right joints; front-like {100 * wins[paired_v & front_v].mean():.1f}%"
          f", back-like {100 * wins[paired_v & ~front_v].mean():.1f}%")


if __name__ == "__main__":
    main()
