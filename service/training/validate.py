"""A network + a COCO-format validation set -> keypoint AP (single scale, ground-truth boxes).

Used once per epoch; the served pipeline (detector boxes, several scales) is measured by
`boxpose eval`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from service.data.sample import read_rgb
from service.evaluation.coco_eval import evaluate_keypoints, poses_to_results
from service.network.net import StagedNet
from service.parsing import ParserConfig, parse
from service.parsing.config import DEFAULT_CONFIG
from service.skeleton import Skeleton
from service.types import Box, BoxSource


@torch.no_grad()
def predict_maps(net: StagedNet, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 RGB -> maps (J+1, h, w), fields (2C, h, w) of the last stage."""
    device = next(net.parameters()).device
    x = torch.from_numpy(image_rgb).permute(2, 0, 1)[None].float().to(device)  # (1, 3, H, W)
    maps, fields = net(x)[-1]
    return maps[0].cpu().numpy(), fields[0].cpu().numpy()


def validate(
    net: StagedNet, annotations: Path, images: Path, skeleton: Skeleton, limit: int = 0,
    config: ParserConfig = DEFAULT_CONFIG,
) -> dict[str, float]:
    """AP, AP50, AP75, APM, APL with the skeleton's sigmas on the first `limit` images."""
    gt: dict[str, Any] = json.loads(Path(annotations).read_text())
    image_infos = sorted(gt["images"], key=lambda im: im["id"])
    if limit:
        image_infos = image_infos[:limit]
    by_image: dict[int, list[Box]] = {}
    for ann in gt["annotations"]:
        if ann.get("iscrowd", 0) or ann.get("num_keypoints", 0) == 0:
            continue
        x, y, w, h = ann["bbox"]
        truth = Box(x, y, x + w, y + h, 1.0, BoxSource.GROUND_TRUTH)
        by_image.setdefault(ann["image_id"], []).append(truth)
    was_training = net.training
    net.eval()
    results: list[dict[str, Any]] = []
    for info in image_infos:
        maps, fields = predict_maps(net, read_rgb(str(Path(images) / info["file_name"])))
        poses = parse(
            "boxes", maps, fields, skeleton, net.output_stride, by_image.get(info["id"], []),
            config,
        )
        results += poses_to_results(poses, info["id"])
    net.train(was_training)
    subset = {**gt, "images": image_infos}
    ids = {im["id"] for im in image_infos}
    subset["annotations"] = [a for a in gt["annotations"] if a["image_id"] in ids]
    return evaluate_keypoints(subset, results, skeleton.sigmas_array)
