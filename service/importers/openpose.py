"""OpenPose's `body_pose_model.pth` -> a checked state dict -> our OpenPoseNet with its weights.

The file PyTorch ports of OpenPose distribute (pytorch-openpose, ControlNet's annotators) is a
plain state dict whose keys name each layer without its block (`conv1_1.weight`,
`Mconv7_stage6_L2.bias`); a state dict saved from such a port's model object has the blocks
(`model0.conv1_1.weight`). Both are read. Every key and shape is checked against the network's
own layout before anything is loaded, and anything missing, extra or mis-shaped is named.
The file is loaded with `weights_only=True`: tensors only, no pickled code runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch

from service.errors import BoxposeError
from service.network.openpose import (
    OPENPOSE_VGG19,
    OpenPoseConfig,
    OpenPoseNet,
    block_of,
    expected_shapes,
)
from service.skeleton import COCO18, Skeleton

_BLOCK = re.compile(r"^model\d+(_\d+)?\.")
SHOWN = 8  # problems named per kind; the rest are counted


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a .pth file: a state dict, or a checkpoint holding one (`state_dict`,
    `model`); a DataParallel `module.` prefix is dropped."""
    try:
        loaded = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise BoxposeError(f"{path}: no such file") from exc
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a foreign file
        raise BoxposeError(f"{path}: not a PyTorch state dict ({exc})") from exc
    for key in ("state_dict", "model"):
        if isinstance(loaded, Mapping) and isinstance(loaded.get(key), Mapping):
            loaded = loaded[key]
    if not isinstance(loaded, Mapping) or not loaded:
        raise BoxposeError(f"{path}: holds no state dict (a mapping of names to tensors)")
    bad = [str(k) for k, v in loaded.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise BoxposeError(f"{path}: not tensors: {', '.join(bad[:SHOWN])}")
    return {str(k).removeprefix("module."): v for k, v in loaded.items()}


def with_blocks(
    state: Mapping[str, torch.Tensor], cfg: OpenPoseConfig
) -> tuple[dict[str, torch.Tensor], str]:
    """A state dict in either layout -> (the network's keys, "flat" or "blocks").

    A flat key gets the block its layer belongs to; a key naming no layer is kept as it is (and
    reported as extra by `check_state`)."""
    if any(_BLOCK.match(key) for key in state):
        return dict(state), "blocks"
    blocks = block_of(cfg)
    out = {}
    for key, value in state.items():
        block = blocks.get(key.rpartition(".")[0])
        out[f"{block}.{key}" if block else key] = value
    return out, "flat"


def _shown(key: str, layout: str) -> str:
    """A key as the file spells it."""
    return _BLOCK.sub("", key) if layout == "flat" else key


def _listing(kind: str, items: list[str]) -> str:
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return f"{kind} ({len(items)}): {', '.join(items[:SHOWN])}{more}"


def state_problems(
    state: Mapping[str, torch.Tensor], cfg: OpenPoseConfig, layout: str
) -> list[str]:
    """What keeps `state` (the network's keys) from loading: missing, extra, mis-shaped keys and
    non-float tensors, each named as the file names it. Empty when it loads."""
    expected = expected_shapes(cfg)
    missing = [_shown(k, layout) for k in expected if k not in state]
    extra = [_shown(k, layout) for k in state if k not in expected]
    shapes = [f"{_shown(k, layout)} {tuple(state[k].shape)}, expected {shape}"
              for k, shape in expected.items()
              if k in state and tuple(state[k].shape) != shape]  # fmt: skip
    dtypes = [f"{_shown(k, layout)} {state[k].dtype}" for k in expected
              if k in state and not state[k].is_floating_point()]  # fmt: skip
    return [_listing(kind, items) for kind, items in (
        ("missing", missing), ("extra", extra), ("mis-shaped", shapes), ("not float", dtypes),
    ) if items]  # fmt: skip


def load_openpose(
    path: Path, cfg: OpenPoseConfig = OPENPOSE_VGG19, skeleton: Skeleton = COCO18
) -> tuple[OpenPoseNet, str]:
    """The file's weights in an OpenPoseNet (eval mode, float32) and the file's key layout.

    Raises BoxposeError naming every missing, extra and mis-shaped key."""
    state, layout = with_blocks(read_state_dict(path), cfg)
    problems = state_problems(state, cfg, layout)
    if problems:
        raise BoxposeError(f"{Path(path).name} is not OpenPose's body model "
                           f"({cfg.name}, {layout} keys): " + "; ".join(problems))  # fmt: skip
    net = OpenPoseNet(cfg, skeleton)
    net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return net.eval(), layout
