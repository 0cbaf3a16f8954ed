"""Working images at one scale -> a bottom-up pose net's maps, fields and box-head boxes.

Images are resized by the scale, grouped by size, padded into one batch per group (padding.py)
and run once; each image's outputs are cropped back to its own grid. With `flip`, the mirrored
batch is run too and its outputs, brought back, averaged in (Sec. IV-A's test-time flip).
"""

from __future__ import annotations

import numpy as np
import torch

from service import parsing
from service.runtime.box_source import head_boxes
from service.runtime.common import Models
from service.runtime.outputs import PoseNetOutput
from service.runtime.padding import crop_outputs, group_by_size, pad_batch, resize
from service.types import Box

# one image's (maps (J+1, h, w), fields (2C, h, w), box-head boxes or None)
ScaleOutput = tuple[np.ndarray, np.ndarray, list[Box] | None]


class PoseNet:
    """A bottom-up pose model's forward at one scale."""

    def __init__(self, models: Models, flip: bool, max_pad_ratio: float,
                 box_threshold: float | None) -> None:  # fmt: skip
        """box_threshold: the box head's cut; None: the model has no box head."""
        self.models, self.flip, self.max_pad_ratio = models, flip, max_pad_ratio
        self.box_threshold = box_threshold
        self.stride = models.pose.stride

    @torch.inference_mode()
    def forward_scale(self, images: list[np.ndarray], scale: float) -> list[ScaleOutput]:
        """(H, W, 3) images at one scale -> per image (maps, fields, the box head's boxes in
        the unscaled image's pixels, None without a box head)."""
        scaled = [resize(im, scale) for im in images]
        sizes = [(int(im.shape[0]), int(im.shape[1])) for im in scaled]
        results: list[ScaleOutput] = [(np.empty(0), np.empty(0), None)] * len(images)
        # Mirroring maps cells onto cells only when the net pads nothing itself: pad to a
        # multiple of the feature stride (2 x the output stride covers every preset).
        multiple = 2 * self.stride if self.flip else 1
        for group in group_by_size(sizes, self.max_pad_ratio):
            batch = pad_batch([scaled[g] for g in group], self.models.device, self.models.dtype,
                              multiple)  # fmt: skip
            out = PoseNetOutput.of(self.models.pose.module(batch))
            maps, fields = out.maps, out.fields  # (B, J+1, h, w), (B, 2C, h, w)
            rows = None
            if self.box_threshold is not None and out.box_rows is not None:
                rows = out.box_rows.float().cpu().numpy()  # (B, K, 5)
            if self.flip:
                maps, fields = self._add_mirrored(batch, maps, fields)
            group_sizes = [sizes[g] for g in group]
            crops = zip(crop_outputs(maps, group_sizes, self.stride),
                        crop_outputs(fields, group_sizes, self.stride), strict=True)  # fmt: skip
            for k, (g, (image_maps, image_fields)) in enumerate(zip(group, crops, strict=True)):
                found = None
                if rows is not None and self.box_threshold is not None:
                    found = head_boxes(rows[k], sizes[g], self.box_threshold, scale)
                results[g] = (image_maps, image_fields, found)
        return results

    def head_forward(self, images: list[np.ndarray], scale: float) -> list[list[Box] | None]:
        """Images at one scale -> per image the box head's boxes (box_source.HeadForward)."""
        return [found for _, _, found in self.forward_scale(images, scale)]

    def _add_mirrored(self, batch: torch.Tensor, maps: torch.Tensor,
                      fields: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """The mean of the outputs of `batch` and of its mirror image, brought back."""
        mirrored = PoseNetOutput.of(self.models.pose.module(batch.flip(-1)))
        back_maps, back_fields = parsing.unflip_outputs(
            mirrored.maps.float().cpu().numpy(), mirrored.fields.float().cpu().numpy(),
            self.models.skeleton,
        )
        return ((maps.float().cpu() + torch.from_numpy(back_maps)) / 2,
                (fields.float().cpu() + torch.from_numpy(back_fields)) / 2)  # fmt: skip
