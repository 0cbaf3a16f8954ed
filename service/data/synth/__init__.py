"""Seeded random numbers -> synthetic multi-person scenes (image, AIC-14 keypoints, boxes).

pose: body + pose + view -> 2.5D joints; body: joints -> drawn figure; face: the drawn head ->
COCO's nose, eyes, ears; background: backdrop; scene: people + distractors + photometry ->
`Scene`; writer: scenes -> JPEG + COCO json (AIC-14 or COCO-17).
"""

from service.data.synth.scene import Scene, SynthConfig, generate_scene

__all__ = ["Scene", "SynthConfig", "generate_scene"]
