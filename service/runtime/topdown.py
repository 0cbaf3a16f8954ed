"""Images + person boxes -> one pose per box with a single-person model (manifest kind `topdown`).

Per box (box_source.py: the client's, else the detector's, else the whole image): the square
crop of `crops.py`, at the model's crop size (the manifest's `crop`). All crops of a batch go
through the model together (in chunks of `max_crops`); landmarks come back in crop pixels and are
mapped to the working image, then to AIC14 (`blazepose_joints`), then to original pixels.
Scales and flip do not apply (one crop per person).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from service.runtime.blazepose_joints import SKELETONS as TOPDOWN_SKELETONS
from service.runtime.blazepose_joints import to_skeleton
from service.runtime.box_source import BoxStage, FoundBoxes, or_whole_image
from service.runtime.client_boxes import empty_pose
from service.runtime.common import Models
from service.runtime.crops import Square
from service.runtime.model_store import LoadedModel, ModelStoreError
from service.runtime.protocol import (
    BatchOutput,
    ImageInput,
    PipelineConfig,
    PipelineResult,
    predict_one,
)
from service.runtime.working import Frame, WorkingInput, prepare
from service.types import Box, Pose

LANDMARKS = 39  # BlazePose's landmark rows per crop


@dataclass(frozen=True)
class PersonCrops:
    """One image's top-down output in working pixels: landmarks per box, pose flags."""

    boxes: list[Box]  # working-image boxes, one per crop
    landmarks: np.ndarray  # (P, L, 5): x, y (working pixels), z, visibility, presence
    flags: np.ndarray  # (P,) probability that the crop holds a person
    frame: Frame | None = None  # original <-> working pixels; None = the same
    client: list[Box] | None = None  # the client's boxes as sent (answered one to one)


class TopdownPipeline:
    """A top-down landmark model (+ an optional detector) on one device (a `PoseModel`)."""

    def __init__(self, pose: LoadedModel, detector: LoadedModel | None,
                 config: PipelineConfig) -> None:  # fmt: skip
        self.config = config
        self.parts = Models.of(pose, detector, config, "topdown")
        if self.parts.skeleton.name not in TOPDOWN_SKELETONS:
            raise ModelStoreError(f"model {pose.name!r}: a topdown model answers "
                                  f"{' or '.join(TOPDOWN_SKELETONS)}, not "
                                  f"{self.parts.skeleton.name}")  # fmt: skip
        self.pose, self.detector, self.skeleton = pose, detector, self.parts.skeleton
        self.working_size = self.parts.working_size
        self.crop = pose.manifest.crop
        # a body region may reach past the image: detector boxes are kept whole (not clipped)
        self.boxes = BoxStage(detector, self.parts.detector_threshold, self.parts.device,
                              self.parts.dtype, config.max_pad_ratio, clip=False, aligned=True)

    @property
    def models(self) -> list[LoadedModel]:
        return self.parts.loaded

    def warmup(self, height: int = 240, width: int = 320) -> None:
        """The detector on a blank image and the landmark model on one crop (a blank image
        has no person, so the batch path alone would leave the landmark model cold)."""
        image = np.full((height, width, 3), 127, dtype=np.uint8)
        self.parse(self.forward_batch([ImageInput(image, None, self.config.scales)]).images[0])
        self._landmarks([np.full((self.crop.size, self.crop.size, 3), 127, dtype=np.uint8)])

    def forward_batch(self, inputs: list[ImageInput]) -> BatchOutput[PersonCrops]:
        """Working images, crops (client boxes / detector / whole image), then every crop of
        the batch through the landmark model together."""
        start = time.perf_counter()
        work = [prepare(inp.image, inp.size, inp.boxes, self.working_size,
                        self.config.brighten_dark) for inp in inputs]
        found = or_whole_image(self.boxes.find(work), work)
        detected = time.perf_counter()
        squares = [[Square.of(b, self.crop.grow, a) for b, a in zip(f.boxes, f.angles,
                                                                    strict=True)]
                   for f in found]  # fmt: skip
        crops = [sq.cut(w.image, self.crop.size)
                 for w, image_squares in zip(work, squares, strict=True)
                 for sq in image_squares]  # fmt: skip
        landmarks, flags = self._landmarks(crops)  # (N, L, 5), (N,)
        images: list[PersonCrops] = []
        n = 0
        for w, inp, f, sq in zip(work, inputs, found, squares, strict=True):
            images.append(self._person_crops(w, inp, f, sq, landmarks[n:n + len(sq)],
                                             flags[n:n + len(sq)]))  # fmt: skip
            n += len(sq)
        self.parts.sync()
        return BatchOutput(images, detected - start, time.perf_counter() - detected)

    def parse(self, item: PersonCrops) -> list[Pose]:
        """Landmarks -> poses in the model's skeleton (AIC14 or COCO-18) in original pixels;
        one per client box, in order; detector boxes whose crop holds no person (pose flag <
        min_pose_flag) are left out."""
        joints = to_skeleton(item.landmarks, self.skeleton)  # (P, J, 3)
        joints[..., 2] = np.clip(joints[..., 2], 1e-6, 1.0)  # every joint is predicted
        poses = []
        for p, box in enumerate(item.boxes):
            client = item.client[p] if item.client is not None else None
            found = float(item.flags[p]) >= self.crop.min_pose_flag
            if not found and client is None:
                continue
            shown = box if client is not None or item.frame is None else _clip(box, item.frame)
            pose = (Pose(joints[p], float(item.flags[p]), shown) if found
                    else empty_pose(shown, self.skeleton.num_joints))  # fmt: skip
            poses.append(item.frame.pose_out(pose, client) if item.frame is not None else pose)
        return poses

    def predict(self, image_rgb: np.ndarray, boxes: list[Box] | None = None,
                scales: tuple[float, ...] | None = None, size: tuple[int, int] | None = None,
                hints: list[Box] | None = None) -> PipelineResult:  # fmt: skip
        """One image, no server (protocol.predict_one)."""
        return predict_one(self, image_rgb, boxes, scales or self.config.scales, size, hints)

    def detect_missing(self, inputs: list[ImageInput]) -> list[list[Box] | None]:
        """Client boxes as given; the detector's (clipped to the image, in original pixels)
        for the others; None without a detector."""
        work = [prepare(inp.image, inp.size, inp.boxes, self.working_size,
                        self.config.brighten_dark) for inp in inputs]
        found = self.boxes.find(work)
        return [inp.boxes if inp.boxes is not None or f is None
                else [w.frame.box_out(_clip(b, w.frame)) for b in f.boxes]
                for inp, w, f in zip(inputs, work, found, strict=True)]  # fmt: skip

    def _person_crops(self, work: WorkingInput, inp: ImageInput, found: FoundBoxes,
                      squares: list[Square], landmarks: np.ndarray,
                      flags: np.ndarray) -> PersonCrops:  # fmt: skip
        """One image's crops' landmarks (P, L, 5) in crop pixels -> PersonCrops (working)."""
        lm = landmarks.astype(np.float64, copy=True)  # (P, L, 5)
        for p, square in enumerate(squares):
            lm[p, :, :2] = square.to_image(lm[p, :, :2], self.crop.size)
        return PersonCrops(found.boxes, lm, flags, work.frame, inp.boxes)

    @torch.inference_mode()
    def _landmarks(self, crops: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """N crops (S, S, 3) uint8 -> landmarks (N, L, 5) in crop pixels, pose flags (N,)."""
        if not crops:
            return np.zeros((0, LANDMARKS, 5)), np.zeros(0)
        out_lm, out_flag = [], []
        for start in range(0, len(crops), self.crop.max_crops):
            chunk = np.stack(crops[start:start + self.crop.max_crops])  # (n, S, S, 3)
            batch = torch.from_numpy(chunk).to(self.parts.device).permute(0, 3, 1, 2)
            batch = batch.to(self.parts.dtype).contiguous(memory_format=torch.channels_last)
            landmarks, flags = self.pose.module(batch)  # channels-last: 1.24x on CPU
            out_lm.append(landmarks.float().cpu().numpy())
            out_flag.append(flags.float().cpu().numpy())
        return np.concatenate(out_lm), np.concatenate(out_flag)


def _clip(box: Box, frame: Frame) -> Box:
    """A working-image box clipped to the working image (a body region may reach past it)."""
    w, h = float(frame.work_width), float(frame.work_height)
    return replace(box, x1=min(max(box.x1, 0.0), w), y1=min(max(box.y1, 0.0), h),
                   x2=min(max(box.x2, 0.0), w), y2=min(max(box.y2, 0.0), h))
