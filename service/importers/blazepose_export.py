"""mediapipe wheel -> model_store/blazepose-topdown and model_store/blazepose-detector.

With `skeleton="coco18"` the landmark model is written as blazepose-topdown-coco: the same
network answering COCO-18 (COCO's 17 joints are BlazePose landmarks; the neck is derived).

Each: rebuilt from the .tflite, checked against the TFLite interpreter, scripted, the script
checked against the eager module, saved with a manifest that says where it came from (wheel
name + sha256, file + sha256), its licence and what the conversion changed.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from service.detector.blazepose import InferenceBlazeDetector
from service.detector.union import UNION_NAME
from service.importers.blazepose import fixed_inputs
from service.importers.blazepose_check import check_detector_net, check_landmark_net
from service.importers.wheel import WheelInfo, extract
from service.network.blazepose import BlazePoseLandmarkNet, landmark_net_from_tflite
from service.network.blazepose_detector import BlazePoseDetectorNet, detector_net_from_tflite
from service.network.blazepose_topdown import TopdownLandmarks
from service.network.export import save_model
from service.runtime.blazepose_joints import COCO17, DIRECT, HEAD_TOP_UP
from service.runtime.model_store import sha256_of
from service.skeleton import AIC14, COCO18, SKELETONS

MEMBERS = {
    "landmark": "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
    "detector": "mediapipe/modules/pose_detection/pose_detection.tflite",
}
TOPDOWN_NAME, DETECTOR_NAME = "blazepose-topdown", "blazepose-detector"
TOPDOWN_NAMES = {AIC14.name: TOPDOWN_NAME, COCO18.name: "blazepose-topdown-coco"}
JOINTS = {
    AIC14.name: {"direct": DIRECT, "neck": "midpoint of the shoulders (derived)",
                 "head_top": f"centre of eyes' and ears' midpoints + {HEAD_TOP_UP} x "
                             "(eyes' midpoint - mouth's midpoint) (derived)",
                 "scores": "visibility; derived joints the smallest of their landmarks'"},
    COCO18.name: {"direct": COCO17, "neck": "midpoint of the shoulders (derived)",
                  "scores": "visibility; the neck the smaller of the shoulders'"},
}  # fmt: skip
LICENCE = {"name": "Apache-2.0", "holder": "Google LLC (MediaPipe)",
           "url": "https://github.com/google-ai-edge/mediapipe/blob/master/LICENSE"}
CHANGES = [
    "fp16 weights (DEQUANTIZE) converted to float32",
    "CSR-sparse weights (DENSIFY) made dense (detector)",
    "batch-norms were already folded into conv biases by TFLite: kept folded",
    "TFLite PAD + VALID stride-2 convs as symmetric zero padding; SAME stride-2 as TF padding",
    "RESIZE_BILINEAR (half_pixel_centers) of fixed sizes as 2x scale factors",
    "NHWC -> NCHW; weights OHWI -> OIHW, depthwise 1HWC -> C1HW",
]


@dataclass(frozen=True)
class ImportReport:
    model_dirs: dict[str, Path]
    differences: dict[str, dict[str, float]]  # model -> output -> max abs diff vs TFLite
    script_differences: dict[str, float]  # model -> max abs diff TorchScript vs eager
    ms_per_call: dict[str, float]


def _source(wheel: WheelInfo, member: str, path: Path) -> dict[str, Any]:
    return {"package": "mediapipe", "wheel": wheel.name, "wheel_sha256": wheel.sha256,
            "file": member, "file_sha256": sha256_of(path)}


def _script_check(module: torch.nn.Module, script: torch.jit.ScriptModule,
                  x: torch.Tensor) -> tuple[float, float]:
    """(max abs diff of every output, ms per scripted call on one thread) on x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a busy 2-core machine makes 2 threads several times slower
    try:
        return _compare_and_time(module, script, x)
    finally:
        torch.set_num_threads(threads)


def _compare_and_time(module: torch.nn.Module, script: torch.jit.ScriptModule,
                      x: torch.Tensor) -> tuple[float, float]:
    with torch.inference_mode():
        eager, scripted = module(x), script(x)
        for _ in range(3):  # the profiling executor optimises during the first calls
            script(x)
        times = []
        for _ in range(5):
            start = time.perf_counter()
            script(x)
            times.append(time.perf_counter() - start)
        ms = statistics.median(times) * 1000
    pairs = zip(eager if isinstance(eager, tuple) else (eager,),
                scripted if isinstance(scripted, tuple) else (scripted,), strict=True)
    return max(float((a - b).abs().max()) for a, b in pairs), ms


def export_topdown(net: BlazePoseLandmarkNet, store: Path, source: dict[str, Any],
                   checks: dict[str, Any], skeleton: str = AIC14.name
                   ) -> tuple[Path, float, float]:  # fmt: skip
    module = TopdownLandmarks(net.eval()).eval()
    script = torch.jit.script(module)
    crop = torch.from_numpy(fixed_inputs(256, 0.0, 255.0)[1]).permute(0, 3, 1, 2).contiguous()
    diff, ms = _script_check(module, script, crop)
    name = TOPDOWN_NAMES[skeleton]
    model_dir = save_model(script, store / name, {
        "name": name, "kind": "topdown", "skeleton": SKELETONS[skeleton].to_dict(),
        "licence": LICENCE, "source": source, "changes": CHANGES,
        "network": "BlazePose landmark 'full' (service.network.blazepose.BlazePoseLandmarkNet)",
        "input": {"layout": "NCHW", "dtype": "float32", "color": "RGB", "range": [0, 255],
                  "size": "256 x 256 person crops", "normalisation": "x / 255 inside"},
        "output": {"landmarks": "(N, 39, 5): x, y in crop pixels (continuous, the crop spans "
                                "[0, 256)), refined from the 64x64 heatmaps (kernel 7, min "
                                "confidence 0.5); z; visibility, presence (probabilities)",
                   "pose_flag": "(N,) probability that the crop holds a person"},
        "crop": {"size": 256, "grow": 0.25, "border": "replicate", "min_pose_flag": 0.5,
                 "max_crops": 32,
                 "rotation": "client boxes: none; a detector giving BlazePose's keypoints "
                             "(detect()): MediaPipe's, hip centre -> body-circle point upright",
                 "sampling": "crop pixel (i, j) samples the image at corner + (j, i) * side "
                             "/ 256, bilinear (MediaPipe's corner-to-corner warp)"},
        "joints": JOINTS[skeleton],
        "working_size": 1024,
        # the union (BlazePose's detector + pose-real's checked boxes) where the store holds
        # it: served AP 0.27 vs 0.19 on the dev photos; BlazePose's own: box AP50 0.17 vs
        # detector-lite's 0.02 (docs/real-photos.md)
        "default_detector": [UNION_NAME, DETECTOR_NAME],
        "num_parameters": sum(p.numel() for p in net.parameters()),
        "validation": {"tflite_max_abs_diff": checks, "torchscript_max_abs_diff": diff},
    })  # fmt: skip
    return model_dir, diff, ms


def export_detector(net: BlazePoseDetectorNet, store: Path, source: dict[str, Any],
                    checks: dict[str, Any]) -> tuple[Path, float, float]:
    module = InferenceBlazeDetector(net.eval()).eval()
    script = torch.jit.script(module)
    image = torch.from_numpy(fixed_inputs(320, 0.0, 255.0)[1]).permute(0, 3, 1, 2).contiguous()
    diff, ms = _script_check(module, script, image[:, :, :240])
    model_dir = save_model(script, store / DETECTOR_NAME, {
        "name": DETECTOR_NAME, "kind": "detector", "licence": LICENCE, "source": source,
        "changes": CHANGES,
        "network": "BlazePose person detector (service.network.blazepose_detector)",
        "input": {"layout": "NCHW", "dtype": "float32", "color": "RGB", "range": [0, 255],
                  "size": "any H, W >= 1"},
        "output": {"shape": "(B, K, 5)", "K": module.max_detections,
                   "columns": ["x1", "y1", "x2", "y2", "score"],
                   "coordinates": "input pixels, continuous; the square body region (centre: "
                                  "hip centre, half side: distance to the body-circle point); "
                                  "NOT clipped: it may reach past the image",
                   "order": "score descending", "padding": "rows of zeros after the detections",
                   "score": "face-anchored SSD score, sigmoid",
                   "keypoints": "detect(images) -> (B, K, 13): the 5 columns, then hip centre, "
                                "body-circle point, shoulder centre, upper-body-circle point "
                                "(x, y); a topdown model rotates its crop by keypoints 0 -> 1"},
        "internal": {"resize": "letterbox into 224 x 224 (centred, black), [-1, 1]",
                     "anchors": "2254 SSD anchors, strides 8, 16, 32 x3, fixed size",
                     "nms": "weighted, IoU 0.3 on the face boxes", "score_threshold": 0.5},
        "recommended_score_threshold": 0.5,
        "num_parameters": sum(p.numel() for p in net.parameters()),
        "validation": {"tflite_max_abs_diff": checks, "torchscript_max_abs_diff": diff},
    })  # fmt: skip
    return model_dir, diff, ms


def import_blazepose(wheel: WheelInfo, store: Path, work_dir: Path,
                     skeleton: str = AIC14.name) -> ImportReport:  # fmt: skip
    """Extract, rebuild, check against TFLite, script and save both models into `store`; the
    landmark model answers `skeleton` (aic14: blazepose-topdown, coco18: -coco)."""
    files = extract(wheel.path, MEMBERS, work_dir)
    torch.manual_seed(0)
    landmark = landmark_net_from_tflite(files["landmark"])
    detector = detector_net_from_tflite(files["detector"])
    top = TOPDOWN_NAMES[skeleton]
    diffs = {top: check_landmark_net(landmark, files["landmark"]),
             DETECTOR_NAME: check_detector_net(detector, files["detector"])}
    top_dir, top_diff, top_ms = export_topdown(
        landmark, store, _source(wheel, MEMBERS["landmark"], files["landmark"]), diffs[top],
        skeleton)
    det_dir, det_diff, det_ms = export_detector(
        detector, store, _source(wheel, MEMBERS["detector"], files["detector"]),
        diffs[DETECTOR_NAME])
    return ImportReport({top: top_dir, DETECTOR_NAME: det_dir}, diffs,
                        {top: top_diff, DETECTOR_NAME: det_diff},
                        {top: top_ms, DETECTOR_NAME: det_ms})
