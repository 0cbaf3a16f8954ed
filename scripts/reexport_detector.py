"""Re-export a trained detector with another working resolution (the long side its module
resizes every image to) and measure its box AP there; its training record is carried over.

    .venv/bin/python scripts/reexport_detector.py --checkpoint checkpoints/detector-lite-last.pt \
        --input-long-side 640 --val data/val

detector-lite was trained on 512 x 384 canvases (zoom 0.7-2.5) and exported at 512; on the
640 x 480 validation scenes 640 finds more of the small people (docs/models.md).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.detector.export import reexport_detector  # noqa: E402
from service.runtime.model_store import MODEL_STORE  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="detector training .pt")
    parser.add_argument("--input-long-side", type=int, required=True)
    parser.add_argument("--val", type=Path, help="COCO directory to measure box AP on")
    parser.add_argument("--name", default="detector-lite", help="model name in the store")
    parser.add_argument("--store", type=Path, default=MODEL_STORE)
    parser.add_argument("--source", type=Path,
                        help="manifest to carry the training record from "
                             "(default: STORE/NAME/manifest.json)")
    args = parser.parse_args()
    source_path = args.source or args.store / args.name / "manifest.json"
    source = json.loads(source_path.read_text()) if source_path.is_file() else {}
    command = shlex.join(["python", *sys.argv])
    out = reexport_detector(args.checkpoint, source, args.store, args.name,
                            args.input_long_side, args.val, command)
    validation = json.loads((out / "manifest.json").read_text())["validation"]
    if validation:
        print(f"box AP {100 * validation['ap']:.2f}  AP50 {100 * validation['ap50']:.2f}  "
              f"AP75 {100 * validation['ap75']:.2f}  threshold {validation['f1_threshold']:.3f}")
    print(f"exported {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
