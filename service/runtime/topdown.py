"""Images + person boxes -> one pose per box with a single-person model (manifest kind `topdown`).

Per box (the client's, else the detector's, else the whole image): the square centred on the
box, of side (1 + grow) x its long side, cut from the working image with edge replication
(cv2.warpAffine, BORDER_REPLICATE), resized to the model's crop size. All crops of a batch go
through the model together (in chunks of `max_crops`); landmarks come back in crop pixels and are
mapped to the working image, then to AIC14 (`blazepose_joints`), then to original pixels.
Same interface as `Pipeline` (the batching worker and the API cannot tell them apart).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
import torch

from service.runtime.blazepose_joints import SKELETONS as TOPDOWN_SKELETONS
from service.runtime.blazepose_joints import to_skeleton
from service.runtime.client_boxes import empty_pose
from service.runtime.model_store import LoadedModel, ModelStoreError
from service.runtime.padding import group_by_size, pad_batch
from service.runtime.pipeline import (
    BatchOutput,
    ImageInput,
    ImageMaps,
    Pipeline,
    PipelineConfig,
    _threshold,
    _working_size,
)
from service.runtime.working import Frame, WorkingInput, prepare
from service.types import Box, Pose


@dataclass(frozen=True)
class CropConfig:
    """How a person box becomes the model's input; read from the manifest's `crop`."""

    size: int = 256  # crop side in pixels
    grow: float = 0.25  # the square's side is (1 + grow) x the box's long side
    min_pose_flag: float = 0.5  # below: no person in the crop (MediaPipe's threshold)
    max_crops: int = 32  # crops per forward call (memory), all of a batch otherwise together


@dataclass(frozen=True)
class PersonCrops(ImageMaps):
    """One image's top-down output in working pixels: landmarks per box, pose flags."""

    landmarks: np.ndarray = field(default_factory=lambda: np.zeros((0, 39, 5)))  # (P, L, 5)
    flags: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (P,)


@dataclass(frozen=True)
class Square:
    """A crop in working-image pixels: centre, side, rotation (radians, counter-clockwise of
    the crop's axes in the image; 0 for client boxes)."""

    cx: float
    cy: float
    side: float
    angle: float = 0.0

    @classmethod
    def of(cls, box: Box, grow: float, angle: float = 0.0) -> Square:
        side = max(box.width, box.height) * (1.0 + grow)
        return cls((box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2, max(side, 1.0), angle)

    def axes(self, size: int) -> np.ndarray:
        """(2, 2): image pixels per crop pixel along the crop's x (column 0) and y (column 1)."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        return np.array([[c, -s], [s, c]]) * (self.side / size)

    def cut(self, image: np.ndarray, size: int) -> np.ndarray:
        """(H, W, 3) uint8 -> (size, size, 3): crop pixel (i, j) samples the image at
        corner + axes @ (j, i), as MediaPipe's OpenCV converter maps the square's corners onto
        the crop's; edges replicated outside the image."""
        axes = self.axes(size)
        corner = np.array([self.cx, self.cy]) - axes @ np.array([size / 2, size / 2])
        matrix = np.concatenate([axes, corner[:, None]], axis=1)  # crop -> image
        return cv2.warpAffine(image, matrix, (size, size),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)  # fmt: skip

    def to_image(self, uv: np.ndarray, size: int) -> np.ndarray:
        """(L, 2) landmark positions in crop pixels -> (L, 2) working-image pixels."""
        return (uv - size / 2) @ self.axes(size).T + np.array([self.cx, self.cy])


def body_angle(rows: np.ndarray) -> np.ndarray:
    """(K, 13) BlazePose detector rows -> (K,) crop rotation: MediaPipe's alignment that turns
    the hip centre -> body-circle point vector (keypoints 0 -> 1) upright."""
    dx, dy = rows[:, 7] - rows[:, 5], rows[:, 8] - rows[:, 6]
    return np.pi / 2 - np.arctan2(-dy, dx)


class TopdownPipeline(Pipeline):
    """A top-down landmark model (+ an optional detector) with `Pipeline`'s interface."""

    def __init__(self, pose: LoadedModel, detector: LoadedModel | None,
                 config: PipelineConfig) -> None:  # fmt: skip
        if pose.kind != "topdown" or pose.skeleton is None:
            raise ModelStoreError(f"model {pose.name!r} is a {pose.kind}, not a topdown model")
        if detector is not None and detector.kind != "detector":
            raise ModelStoreError(f"model {detector.name!r} is a {detector.kind}, not a detector")
        self.pose, self.detector, self.config = pose, detector, config
        if pose.skeleton.name not in TOPDOWN_SKELETONS:
            raise ModelStoreError(f"model {pose.name!r}: a topdown model answers "
                                  f"{' or '.join(TOPDOWN_SKELETONS)}, not {pose.skeleton.name}")
        self.skeleton = pose.skeleton
        self.stride = 1
        self.device = torch.device(pose.device)
        self.dtype = torch.float16 if config.fp16 else torch.float32
        self.detector_threshold = _threshold(detector, config.detector_threshold)
        self.working_size = _working_size(pose, config.working_size)
        crop = pose.manifest.get("crop", {})
        self.crop = CropConfig(**{k: crop[k] for k in ("size", "grow", "min_pose_flag",
                                                      "max_crops") if k in crop})
        if config.fp16:
            for model in self.models:
                model.module.half()

    def warmup(self, height: int = 240, width: int = 320) -> None:
        """The detector on a blank image and the landmark model on one crop (a blank image
        has no person, so the batch path alone would leave the landmark model cold)."""
        image = np.full((height, width, 3), 127, dtype=np.uint8)
        self.parse(self.forward_batch([ImageInput(image, None, self.config.scales)]).images[0])
        self._landmarks([np.full((self.crop.size, self.crop.size, 3), 127, dtype=np.uint8)])

    def forward_batch(self, inputs: list[ImageInput]) -> BatchOutput:
        """Working images, crops (client boxes / detector / whole image), then every crop of
        the batch through the landmark model together."""
        start = time.perf_counter()
        work = [prepare(inp.image, inp.size, inp.boxes, self.working_size) for inp in inputs]
        found = self._find_boxes(work)
        detected = time.perf_counter()
        squares = [[Square.of(b, self.crop.grow, a) for b, a in zip(bx, angles, strict=True)]
                   for bx, angles in found]  # fmt: skip
        crops = [sq.cut(w.image, self.crop.size)
                 for w, image_squares in zip(work, squares, strict=True)
                 for sq in image_squares]  # fmt: skip
        landmarks, flags = self._landmarks(crops)  # (N, L, 5), (N,)
        images: list[ImageMaps] = []
        n = 0
        for w, inp, (bx, _), sq in zip(work, inputs, found, squares, strict=True):
            lm = landmarks[n:n + len(bx)].astype(np.float64, copy=True)  # (P, L, 5)
            for p, square in enumerate(sq):
                lm[p, :, :2] = square.to_image(lm[p, :, :2], self.crop.size)
            images.append(PersonCrops(np.zeros(0), np.zeros(0), bx, w.frame, inp.boxes,
                                      landmarks=lm, flags=flags[n:n + len(bx)]))  # fmt: skip
            n += len(bx)
        self._sync()
        return BatchOutput(images, detected - start, time.perf_counter() - detected)

    def parse(self, item: ImageMaps) -> list[Pose]:
        """Landmarks -> poses in the model's skeleton (AIC14 or COCO-18) in original pixels;
        one per client box, in order; detector boxes whose crop holds no person (pose flag <
        min_pose_flag) are left out."""
        if not isinstance(item, PersonCrops):
            raise TypeError(f"a topdown pipeline parses PersonCrops, not {type(item).__name__}")
        joints = to_skeleton(item.landmarks, self.skeleton)  # (P, J, 3)
        joints[..., 2] = np.clip(joints[..., 2], 1e-6, 1.0)  # every joint is predicted
        poses = []
        for p, box in enumerate(item.boxes or []):
            client = item.client[p] if item.client is not None else None
            found = float(item.flags[p]) >= self.crop.min_pose_flag
            if not found and client is None:
                continue
            shown = box if client is not None or item.frame is None else _clip(box, item.frame)
            pose = (Pose(joints[p], float(item.flags[p]), shown) if found
                    else empty_pose(shown, self.skeleton.num_joints))  # fmt: skip
            poses.append(item.frame.pose_out(pose, client) if item.frame is not None else pose)
        return poses

    def detect_missing(self, inputs: list[ImageInput]) -> list[list[Box] | None]:
        """Client boxes as given; the detector's (clipped to the image, in original pixels)
        for the others; None without a detector."""
        work = [prepare(inp.image, inp.size, inp.boxes, self.working_size) for inp in inputs]
        found = self._find_boxes(work)
        return [inp.boxes if inp.boxes is not None or self.detector is None
                else [w.frame.box_out(_clip(b, w.frame)) for b in boxes]
                for inp, w, (boxes, _) in zip(inputs, work, found, strict=True)]  # fmt: skip

    def _find_boxes(self, work: list[WorkingInput]) -> list[tuple[list[Box], list[float]]]:
        """Per image: working-image boxes and crop rotations. The client's boxes (no rotation),
        else the detector's (not clipped: a body region may reach past the image; rotated when
        the detector gives BlazePose's alignment keypoints), else the whole image."""
        found: list[tuple[list[Box], list[float]] | None] = [
            (w.boxes, [0.0] * len(w.boxes)) if w.boxes is not None else None for w in work]
        todo = [i for i, w in enumerate(work) if w.boxes is None]
        if self.detector is not None and todo:
            sizes = [(int(work[i].image.shape[0]), int(work[i].image.shape[1])) for i in todo]
            for group in group_by_size(sizes, self.config.max_pad_ratio):
                rows = self._detect_rows([work[todo[g]].image for g in group])
                for g, image_rows in zip(group, rows, strict=True):
                    found[todo[g]] = image_rows
        return [f if f is not None else ([_whole(w.image)], [0.0])
                for f, w in zip(found, work, strict=True)]  # fmt: skip

    @torch.inference_mode()
    def _detect_rows(self, images: list[np.ndarray]) -> list[tuple[list[Box], list[float]]]:
        """Images -> per image (boxes, rotations) above the detector threshold."""
        assert self.detector is not None
        batch = pad_batch(images, self.device, self.dtype)
        rotated = "keypoints" in self.detector.manifest.get("output", {})
        rows = self.detector.module.detect(batch) if rotated else self.detector.module(batch)
        rows = rows.float().cpu().numpy().astype(np.float64)  # (B, K, 5 or 13)
        out = []
        for b in range(len(images)):
            r = rows[b]
            keep = (np.isfinite(r).all(axis=1) & (r[:, 4] >= self.detector_threshold)
                    & (r[:, 2] > r[:, 0]) & (r[:, 3] > r[:, 1]))  # fmt: skip
            angles = body_angle(r[keep]) if rotated else np.zeros(int(keep.sum()))
            boxes = [Box(float(x[0]), float(x[1]), float(x[2]), float(x[3]), float(x[4]),
                         "detector") for x in r[keep]]
            out.append((boxes, [float(a) for a in angles]))
        return out

    @torch.inference_mode()
    def _landmarks(self, crops: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """N crops (S, S, 3) uint8 -> landmarks (N, L, 5) in crop pixels, pose flags (N,)."""
        if not crops:
            return np.zeros((0, 39, 5)), np.zeros(0)
        out_lm, out_flag = [], []
        for start in range(0, len(crops), self.crop.max_crops):
            chunk = np.stack(crops[start:start + self.crop.max_crops])  # (n, S, S, 3)
            batch = torch.from_numpy(chunk).to(self.device).permute(0, 3, 1, 2)
            batch = batch.to(self.dtype).contiguous(memory_format=torch.channels_last)
            landmarks, flags = self.pose.module(batch)  # channels-last: 1.24x on CPU
            out_lm.append(landmarks.float().cpu().numpy())
            out_flag.append(flags.float().cpu().numpy())
        return np.concatenate(out_lm), np.concatenate(out_flag)


def _clip(box: Box, frame: Frame) -> Box:
    """A working-image box clipped to the working image (a body region may reach past it)."""
    w, h = float(frame.work_width), float(frame.work_height)
    return replace(box, x1=min(max(box.x1, 0.0), w), y1=min(max(box.y1, 0.0), h),
                   x2=min(max(box.x2, 0.0), w), y2=min(max(box.y2, 0.0), h))


def _whole(image: np.ndarray) -> Box:
    return Box(0.0, 0.0, float(image.shape[1]), float(image.shape[0]), 1.0, "image")
