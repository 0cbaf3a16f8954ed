"""Training curves of `boxpose train bottomup` runs side by side (pose loss = Eq. 8 over both
stages, box loss = focal + size L1), running means over the per-step noise.

    .venv/bin/python scripts/plot_bottomup_curves.py --runs pretrained=runs/pose-real \\
        random=runs/pose-real-random --out docs/pose-real-curves.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.training.curves import read_csv  # noqa: E402


def running_mean(values: list[float], window: int) -> np.ndarray:
    window = max(1, min(window, len(values)))
    return np.convolve(values, np.ones(window) / window, mode="valid")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", nargs="+", required=True, help="label=run_dir")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--window", type=int, default=50)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for spec in args.runs:
        label, _, run_dir = spec.partition("=")
        rows = read_csv(Path(run_dir) / "steps.csv")
        steps = [int(r["step"]) for r in rows]
        for ax, key in zip(axes, ("pose", "box"), strict=True):
            mean = running_mean([float(r[key]) for r in rows], args.window)
            ax.plot(steps[len(steps) - len(mean):], mean, label=f"{label} ({len(rows)} steps)")
    axes[0].set(title="pose loss (Eq. 8, both stages), per image", xlabel="step", yscale="log")
    axes[1].set(title="box loss (focal + log-size L1)", xlabel="step")
    for ax in axes:
        ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
