"""Training configuration: one frozen dataclass handed to `train`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrainConfig:
    train_annotations: Path
    train_images: Path
    val_annotations: Path
    val_images: Path
    # More training sets, each a directory with annotations.json and images/ (concatenated).
    extra_train: tuple[Path, ...] = ()
    run_dir: Path = Path("runs/pose-lite")
    preset: str = "lite"
    skeleton: str = "aic14"
    batch_size: int = 16
    learning_rate: float = 8e-5  # the paper's; from scratch on CPU a larger one converges faster
    weight_decay: float = 0.0
    epochs: int = 50
    max_steps: int = 0  # 0 = no limit
    crop_size: int = 256
    # Share of crops centred on one person scaled to min..max_person x crop_size (log-uniform;
    # above 1 the person is cut by the crop); the others show the whole image (augment.py).
    p_person: float = 0.7
    min_person: float = 0.15
    max_person: float = 0.9
    sigma: float = 6.0  # Eq. 1 in input pixels (at the crop's scale)
    delta: float = 4.0  # Eq. 3 half width
    relative_sigma: float = 0.0
    background_weight: float = 0.05  # lambda of Eq. 6
    foreground_weight: float = 10.0  # 0 = the paper's plain L2 (service/training/loss.py)
    twin_weight: float = 0.0  # extra weight where the left/right twin has its target (loss.py)
    warmup_steps: int = 200  # linear learning-rate warm-up
    # Cosine decay of the learning rate to 2% over this many steps (0 = constant after warm-up).
    schedule_steps: int = 0
    workers: int = 1
    threads: int = 0  # torch threads; 0 = leave torch's default
    checkpoint_minutes: float = 5.0
    val_limit: int = 0  # validate on the first N images (0 = all)
    seed: int = 0
    backbone_weights: Path | None = None  # torchvision-named ResNet state dict, e.g. ImageNet
    # Start from the network weights of an earlier run's checkpoint (fine-tuning on new data):
    # fresh optimizer, step 0. A --resume of this run's own last.pt takes precedence.
    init_checkpoint: Path | None = None
    export_name: str = "pose-lite"
    model_store: Path | None = None
    resume: bool = False
