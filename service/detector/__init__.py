"""Image -> person boxes: a small CenterNet-style single-class detector and its TorchScript export.

The exported module follows one contract (written into its manifest): input float (B, 3, H, W)
RGB 0..255 of any size; output (B, K, 5) rows [x1, y1, x2, y2, score] in input pixels, sorted by
score, padding rows with score 0. It resizes to its working resolution and maps boxes back itself.
Training code (`train.py`, `data.py`, `evaluate.py`) is imported only by the `train` command.
"""

from service.detector.config import DETECTOR_PRESETS, DetectorConfig
from service.detector.decode import InferenceDetector, decode_heads
from service.detector.net import DetectorNet, HeadOutputs, build_detector

__all__ = [
    "DETECTOR_PRESETS",
    "DetectorConfig",
    "DetectorNet",
    "HeadOutputs",
    "InferenceDetector",
    "build_detector",
    "decode_heads",
]
