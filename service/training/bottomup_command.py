"""`boxpose train bottomup`: the bottom-up net with a box head on a pretrained trunk, trained on
tile caches of real photos (`boxpose train tiles` writes them), exported to model_store."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from service.training.bottomup import BottomUpTrainConfig

_NUMBERS = ("batch_size", "max_steps", "schedule_steps", "cosine_from", "warmup_steps",
            "learning_rate", "trunk_lr_factor", "foreground_weight", "box_weight", "ema_decay",
            "checkpoint_minutes", "threads", "workers")  # fmt: skip


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tiles", type=Path, nargs="+", required=True,
                        help="tile caches (.npz) to draw mosaics from")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/pose-real"))
    parser.add_argument("--trunk", choices=("blazepose", "lite"), default="blazepose",
                        help="blazepose: the pretrained BlazePose trunk (--trunk-from); lite: the "
                             "lite preset's backbone from random weights (the from-scratch "
                             "baseline: use with --frozen '' --trunk-lr-factor 1)")
    parser.add_argument("--trunk-from", default="blazepose-topdown",
                        help="model_store name of the imported BlazePose landmark model whose "
                             "weights start the trunk, a landmark state dict (.pt), or 'none' "
                             "for random weights (ignored when resuming)")
    defaults = BottomUpTrainConfig(tiles=(), run_dir=Path())
    for name in _NUMBERS:
        default = getattr(defaults, name)
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    parser.add_argument("--frozen", default=",".join(defaults.frozen),
                        help="comma-separated trunk modules kept fixed ('' = none)")
    parser.add_argument("--no-resume", action="store_true", help="ignore RUN_DIR/last.pt")


def trunk_state(name: str) -> dict[str, torch.Tensor]:
    """The landmark network's weights from an imported model in the store (its TorchScript
    module holds them under `landmarks.`, or at the top level)."""
    from service.runtime.model_store import load_model

    module = load_model(name).module
    state = module.state_dict()
    prefix = next((p for p in ("landmarks.", "net.", "") if any(k.startswith(p + "stem.")
                                                              for k in state)), None)
    if prefix is None:
        raise ValueError(f"model {name!r} holds no BlazePose landmark weights")
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def run(args: argparse.Namespace) -> int:
    from service.network.bottomup import BottomUpConfig, BottomUpNet
    from service.network.trunks import LiteTrunk, Trunk, blazepose_trunk
    from service.skeleton import AIC14
    from service.training.bottomup import train_bottomup

    cfg = BottomUpTrainConfig(tiles=tuple(args.tiles), run_dir=args.run_dir,
                              resume=not args.no_resume,
                              frozen=tuple(m for m in args.frozen.split(",") if m),
                              **{k: getattr(args, k) for k in _NUMBERS})  # fmt: skip
    resuming = cfg.resume and (cfg.run_dir / "last.pt").exists()
    if args.trunk == "lite":
        if cfg.frozen:
            raise SystemExit("boxpose train bottomup: --trunk lite trains every layer: pass "
                             "--frozen ''")
        trunk: Trunk = LiteTrunk()
    else:
        trunk = blazepose_trunk(None if resuming else _trunk_weights(args.trunk_from))
    net = BottomUpNet(BottomUpConfig(), AIC14, trunk, trunk.channels, trunk.pad_multiple)
    progress = train_bottomup(net, AIC14, cfg)
    print(f"done: {progress.step} steps; checkpoint {cfg.run_dir / 'last.pt'}")
    return 0


def _trunk_weights(source: str) -> dict[str, torch.Tensor] | None:
    if source == "none":  # the same network from random weights (the ablation)
        return None
    if source.endswith(".pt"):  # a landmark-net state dict file
        return dict(torch.load(source, map_location="cpu"))
    return trunk_state(source)
