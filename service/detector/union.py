"""Two person detectors as one: BlazePose's detector, with the box head of a bottom-up pose
model (pose-real) adding the people it missed, each checked by BlazePose's detector on a crop.

BlazePose's detector finds a person from the face and gives the crop's rotation; on the
multi-person dev photos it misses many people (box AP50 0.17), most of them small: it sees the
whole image at 224 px. pose-real's box head finds twice as many (0.34) but has no rotation and a
lower precision (on the astronaut photo it boxes the rocket, and the landmark model's person
flag there is 0.92). So each box the head adds is shown to BlazePose's detector once more, on a
square crop around it (`verify_grow` times its long side, at the detector's input size): the box
is kept only if the detector finds someone there (score >= `verify_threshold`) whose hip centre
lies inside it. Measurements: docs/models.md. The rule, in one TorchScript module:

- the primary's rows below `primary_threshold` are dropped;
- the supplement runs on the image resized to a `long_side` px long side (its box pass,
  service/runtime/person_scale.py); its rows below `supplement_threshold`, and those that
  overlap a kept primary row (clipped to the image: BlazePose's square body regions may reach
  far past it) by IoU >= `max_iou`, are dropped;
- with `verify_grow` > 0, the remaining supplement rows are verified as above (0: all kept);
- the rest are joined, sorted by score (padding rows of zeros last). `detect` also gives the
  primary's alignment keypoints; a supplement row gets upright ones (hip centre at the box
  centre, the body-circle point straight above it), so its crop is not rotated.

Each source's threshold is applied inside; the manifest's recommended threshold is the lower
of the two, so the service's own cut passes both. The primary's own internal cut must be at
most `verify_threshold` (export_union lowers it; its full-image rows are still cut at
`primary_threshold`).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812

UNION_NAME = "detector-union"  # its name in the store (BlazePose's manifest prefers it)
VERIFY_SIZE = 224  # the crops' side: BlazePose's detector input (it letterboxes to 224)


def pairwise_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, N, 4), (B, M, 4) xyxy -> (B, N, M) IoU."""
    lt = torch.maximum(a[:, :, None, :2], b[:, None, :, :2])
    rb = torch.minimum(a[:, :, None, 2:], b[:, None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(dim=-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp(min=0).prod(dim=-1)
    return inter / (area_a[:, :, None] + area_b[:, None, :] - inter).clamp(min=1e-9)


class DetectorUnion(torch.nn.Module):
    """forward(images (B, 3, H, W) 0..255) -> (B, K1 + K2, 5); detect(images) -> (B, K1 + K2,
    13) with the alignment keypoints."""

    def __init__(self, primary: Any, supplement: torch.nn.Module,  # primary: has detect()
                 primary_threshold: float, supplement_threshold: float, max_iou: float,
                 long_side: int, verify_grow: float = 0.0, verify_threshold: float = 0.5,
                 verify_size: int = VERIFY_SIZE) -> None:  # fmt: skip
        super().__init__()
        self.primary, self.supplement = primary, supplement
        self.primary_threshold, self.supplement_threshold = primary_threshold, supplement_threshold
        self.max_iou, self.long_side = max_iou, long_side
        self.verify_grow, self.verify_threshold = verify_grow, verify_threshold
        self.verify_size = verify_size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.detect(images)[..., :5]  # x1, y1, x2, y2, score (input pixels)

    @torch.jit.export
    def detect(self, images: torch.Tensor) -> torch.Tensor:
        first = self.primary.detect(images)  # (B, K1, 13)
        first = first * (first[..., 4:5] >= self.primary_threshold).to(first.dtype)
        extra = self._supplement_rows(images)  # (B, K2, 5)
        keep = extra[..., 4] >= self.supplement_threshold
        if first.shape[1] > 0 and extra.shape[1] > 0:
            # BlazePose's square body regions may reach far past the image: compared clipped
            limits = torch.tensor([images.shape[3], images.shape[2]], dtype=first.dtype,
                                  device=first.device).repeat(2)  # fmt: skip
            seen = torch.minimum(first[..., :4].clamp(min=0), limits)
            overlap = pairwise_iou(extra[..., :4], seen)  # (B, K2, K1)
            overlap = overlap * (first[..., 4] > 0).to(overlap.dtype)[:, None, :]
            keep = keep & (overlap.amax(dim=2) < self.max_iou)
        if self.verify_grow > 0.0:
            keep = self._verified(images, extra, keep)
        extra = extra * keep[..., None].to(extra.dtype)
        rows = torch.cat([first, _upright(extra)], dim=1)
        order = torch.argsort(rows[..., 4], dim=1, descending=True, stable=True)
        return torch.gather(rows, 1, order[..., None].expand(-1, -1, rows.shape[2]))

    def _supplement_rows(self, images: torch.Tensor) -> torch.Tensor:
        """The supplement's box rows, found on the image at `long_side`, in input pixels."""
        height, width = images.shape[2], images.shape[3]
        scale = float(self.long_side) / float(max(height, width))
        size = [max(1, int(round(height * scale))), max(1, int(round(width * scale)))]
        if scale < 1.0:  # as the pipeline's own resize: area when shrinking
            small = F.interpolate(images, size=size, mode="area")
        else:
            small = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
        rows = self.supplement(small)[2].to(images.dtype)  # (maps, fields, boxes)
        back = torch.ones(5, dtype=rows.dtype, device=rows.device)
        back[:4] = 1.0 / scale
        return rows * back

    def _verified(self, images: torch.Tensor, extra: torch.Tensor,
                  keep: torch.Tensor) -> torch.Tensor:  # fmt: skip
        """(B, K2) kept supplement rows -> those where the primary, run on a square crop around
        the row (`verify_grow` x its long side, at `verify_size` px), finds a person whose hip
        centre (keypoint 0) lies inside the row's box."""
        out = torch.zeros_like(keep)
        height, width = images.shape[2], images.shape[3]
        size = self.verify_size
        steps = torch.arange(size, dtype=torch.float32, device=images.device) / size
        for b in range(images.shape[0]):
            index = keep[b].nonzero()[:, 0]
            n = index.shape[0]
            if n == 0:
                continue
            rows = extra[b, index].float()  # (n, 5)
            side = (rows[:, 2:4] - rows[:, 0:2]).amax(dim=1) * self.verify_grow  # (n,)
            corner = (rows[:, 0:2] + rows[:, 2:4]) / 2 - side[:, None] / 2  # (n, 2)
            # crop pixel j samples image pixel corner + j * side / size (grid_sample's [-1, 1])
            xs = corner[:, 0:1] + steps[None] * side[:, None]  # (n, size)
            ys = corner[:, 1:2] + steps[None] * side[:, None]
            gx = (xs / max(width - 1, 1) * 2 - 1)[:, None, :].expand(-1, size, -1)
            gy = (ys / max(height - 1, 1) * 2 - 1)[:, :, None].expand(-1, -1, size)
            crops = F.grid_sample(images[b:b + 1].float().expand(n, -1, -1, -1),
                                  torch.stack([gx, gy], dim=-1), mode="bilinear",
                                  padding_mode="zeros", align_corners=True)  # fmt: skip
            found = self.primary.detect(crops.to(images.dtype)).float()  # (n, K1, 13) crop px
            scale = (side / size)[:, None]
            hip_x = corner[:, 0:1] + found[..., 5] * scale
            hip_y = corner[:, 1:2] + found[..., 6] * scale
            inside = ((found[..., 4] >= self.verify_threshold)
                      & (hip_x >= rows[:, 0:1]) & (hip_x <= rows[:, 2:3])
                      & (hip_y >= rows[:, 1:2]) & (hip_y <= rows[:, 3:4]))  # fmt: skip
            out[b, index] = inside.any(dim=1)
        return out


def _upright(rows: torch.Tensor) -> torch.Tensor:
    """(B, K, 5) -> (B, K, 13): hip centre at the box centre, body-circle point, shoulder centre
    and upper-body point straight above it (rotation 0); zero rows stay zero."""
    cx = (rows[..., 0] + rows[..., 2]) / 2
    cy = (rows[..., 1] + rows[..., 3]) / 2
    top = rows[..., 1]
    points = torch.stack([cx, cy, cx, top, cx, cy, cx, top], dim=-1)
    valid = (rows[..., 4:5] > 0).to(rows.dtype)
    return torch.cat([rows, points * valid], dim=-1)


def export_union(store: Path, name: str, primary: str, supplement: str, max_iou: float = 0.3,
                 long_side: int | None = None, verify_grow: float = 1.3,
                 verify_threshold: float = 0.3) -> Path:  # fmt: skip
    """Join two models of `store` into `store/name/` (a detector): the thresholds are each
    model's recommended one; `long_side` defaults to the supplement's box pass size;
    `verify_grow` 0 keeps every supplement row without the crop check."""
    from service.network.export import save_model
    from service.runtime.model_store import ModelStoreError, load_model

    first, second = load_model(primary, store), load_model(supplement, store)
    if first.kind != "detector" or not first.manifest.aligned:
        raise ModelStoreError(f"{primary!r} is not a detector with alignment keypoints")
    head = second.manifest.box_head
    if head is None:
        raise ModelStoreError(f"{supplement!r} has no box head")
    if verify_grow < 0 or not 0 < verify_threshold <= 1:
        raise ModelStoreError(f"verify_grow must be >= 0 (is {verify_grow}) and verify_threshold "
                              f"in (0, 1] (is {verify_threshold})")
    scale = second.manifest.person_scale
    side = int(long_side or (scale.box_long_side[0] if scale and scale.box_long_side else 256))
    if first.manifest.recommended_score_threshold is None:
        raise ModelStoreError(f"{primary!r} names no recommended_score_threshold")
    thresholds = (first.manifest.recommended_score_threshold,
                  head.recommended_score_threshold)  # fmt: skip
    detector = first.module
    internal = getattr(detector, "score_threshold", None)
    if verify_grow > 0 and isinstance(internal, float) and internal > verify_threshold:
        # the crops' cut (full-image rows: above); on a copy: the loaded module stays as loaded
        detector = copy.deepcopy(detector)
        detector.score_threshold = verify_threshold
    module = torch.jit.script(DetectorUnion(detector, second.module, *thresholds, max_iou, side,
                                            verify_grow, verify_threshold, VERIFY_SIZE).eval())
    output = dict(first.manifest["output"])
    output["K"] = int(output["K"]) + head.max_boxes
    output["coordinates"] = ("input pixels; the primary's rows as it gives them (square body "
                             "regions, may reach past the image), the supplement's tight boxes")
    output["score"] = "each source's own score, sorted descending"
    return save_model(module, Path(store) / name, {
        "name": name, "kind": "detector",
        "network": f"union: {primary}, supplemented by {supplement}'s box head "
                   "(service/detector/union.py)",
        "sources": {primary: {"version": first.version, "sha256": first.sha256,
                              "licence": first.manifest.get("licence")},
                    supplement: {"version": second.version, "sha256": second.sha256,
                                 "licence": second.manifest.get("licence"),
                                 "trained_on": second.manifest.get("trained_on")}},
        "union": {"primary_threshold": thresholds[0], "supplement_threshold": thresholds[1],
                  "max_iou": max_iou, "supplement_long_side": side,
                  "verify_grow": verify_grow, "verify_threshold": verify_threshold,
                  "verify_size": VERIFY_SIZE},
        "input": first.manifest["input"], "output": output,
        "recommended_score_threshold": min(thresholds),
        "output_stride": 1,
    })  # fmt: skip
