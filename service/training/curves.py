"""The training logs (CSV) -> a PNG of the loss and validation-AP curves."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open() as fh:
        return list(csv.DictReader(fh))


def append_csv(path: Path, row: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def plot_curves(
    steps_csv: Path, epochs_csv: Path, out_png: Path,
    title: str = "validation AP (AIC sigmas, GT boxes)",
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, epochs = read_csv(steps_csv), read_csv(epochs_csv)
    fig, (ax_loss, ax_ap) = plt.subplots(1, 2, figsize=(10, 4))
    if steps:
        x = [int(r["step"]) for r in steps]
        y = [float(r["loss"]) for r in steps]
        ax_loss.plot(x, y, lw=0.5, alpha=0.35, label="per step")
        window = max(1, min(200, len(y) // 10))
        if window > 1:  # the trend the per-step noise hides
            mean = np.convolve(y, np.ones(window) / window, mode="valid")
            ax_loss.plot(x[window - 1:], mean, lw=1.5, label=f"mean of {window} steps")
            ax_loss.legend()
        ax_loss.set_yscale("log")
    ax_loss.set(title="training loss", xlabel="step")
    if epochs:
        x = [int(r["step"]) for r in epochs]
        for key in ("AP", "AP50", "AP75"):
            ax_ap.plot(x, [float(r[key]) for r in epochs], marker="o", label=key)
        ax_ap.legend()
    ax_ap.set(title=title, xlabel="step", ylim=(0, 1))
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
