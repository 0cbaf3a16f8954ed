"""Rebuilt BlazePose modules vs the TFLite interpreter on fixed inputs: max abs differences.

The interpreter (ai-edge-litert) is an import-time extra; outputs are compared by the file's
output names (Identity, Identity_1, ...), ours put into the file's NHWC layout first, and
reported by what they are (landmarks, pose_flag, ...).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from service.importers.blazepose import fixed_inputs, max_differences, run_interpreter
from service.network.blazepose import INPUT_SIZE, BlazePoseLandmarkNet
from service.network.blazepose_detector import INPUT_SIZE as DETECTOR_SIZE
from service.network.blazepose_detector import BlazePoseDetectorNet

# the files' output tensor names -> what they are
LANDMARK_OUTPUTS = {"Identity": "landmarks", "Identity_1": "pose_flag",
                    "Identity_2": "segmentation", "Identity_3": "heatmaps", "Identity_4": "world"}
DETECTOR_OUTPUTS = {"Identity": "regressors", "Identity_1": "classifiers"}


@torch.inference_mode()
def landmark_outputs(net: BlazePoseLandmarkNet, image_nhwc: np.ndarray) -> dict[str, np.ndarray]:
    """Our net on a (1, 256, 256, 3) input -> outputs named and laid out as in the .tflite."""
    out = net(torch.from_numpy(image_nhwc).permute(0, 3, 1, 2))
    return {
        "Identity": out.landmarks.reshape(1, -1).numpy(),
        "Identity_1": out.pose_flag.numpy(),
        "Identity_2": out.segmentation.permute(0, 2, 3, 1).numpy(),
        "Identity_3": out.heatmaps.permute(0, 2, 3, 1).numpy(),
        "Identity_4": out.world.reshape(1, -1).numpy(),
    }


@torch.inference_mode()
def detector_outputs(net: BlazePoseDetectorNet, image_nhwc: np.ndarray) -> dict[str, np.ndarray]:
    reg, cls = net(torch.from_numpy(image_nhwc).permute(0, 3, 1, 2))
    return {"Identity": reg.numpy(), "Identity_1": cls.numpy()}


def check_landmark_net(net: BlazePoseLandmarkNet, tflite: Path) -> dict[str, float]:
    """Max abs difference per output (landmarks, pose flag, segmentation, heatmaps, world)."""
    inputs = fixed_inputs(INPUT_SIZE, 0.0, 1.0)
    diffs = max_differences([landmark_outputs(net.eval(), x) for x in inputs],
                            [run_interpreter(tflite, x) for x in inputs])
    return {LANDMARK_OUTPUTS[k]: v for k, v in diffs.items()}


def check_detector_net(net: BlazePoseDetectorNet, tflite: Path) -> dict[str, float]:
    """Max abs difference of the regressors and classifier logits."""
    inputs = fixed_inputs(DETECTOR_SIZE, -1.0, 1.0)
    diffs = max_differences([detector_outputs(net.eval(), x) for x in inputs],
                            [run_interpreter(tflite, x) for x in inputs])
    return {DETECTOR_OUTPUTS[k]: v for k, v in diffs.items()}
