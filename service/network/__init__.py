"""Image -> per-stage (confidence maps, direction fields): presets, the network, TorchScript export.

Sec. III-A of the paper: a ResNet backbone with dilated convolutions (features at stride 8),
T two-branch stages (maps first, then fields from features + new maps), 2x deconvolution so the
outputs are at stride 4. The model does no decoding (STYLE.md 3): it returns tensors only.
`openpose`: OpenPose's own VGG19 6-stage network (Table III's baseline), named as its weights.
"""

from service.network.config import PRESETS, BackboneConfig, HeadConfig, NetworkConfig
from service.network.export import export_model
from service.network.net import InferenceNet, PoseNet, build_network, load_backbone_weights

__all__ = [
    "PRESETS",
    "BackboneConfig",
    "HeadConfig",
    "InferenceNet",
    "NetworkConfig",
    "PoseNet",
    "build_network",
    "export_model",
    "load_backbone_weights",
]
