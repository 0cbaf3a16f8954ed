"""One command line: serve / predict / eval / synth / train / export / bench.

Each sub-command lives beside the code it drives, in a `command.py` exposing
`register(subparsers)`; the table below is the one place that lists them. Modules are imported
only when their command runs, so `boxpose --help` stays fast and never loads torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from service.errors import BoxposeError

# command name -> (module with `register` and `run`, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("service.api.command", "run the REST service"),
    "predict": ("service.runtime.command", "estimate poses in one image without a server"),
    "eval": ("service.evaluation.command", "COCO keypoint AP of a model or of the oracle"),
    "synth": ("service.data.command", "generate synthetic multi-person scenes"),
    "train": ("service.training.command", "train the pose network or the detector"),
    "export": ("service.network.command", "export a network preset to TorchScript"),
    "import": ("service.importers.command", "import a third-party model (blazepose, openpose)"),
    "label": ("service.labelling.command", "COCO pseudo-labels for a folder of photos"),
}


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="boxpose", description="Multi-person pose estimation with bounding-box constraints."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            importlib.import_module(module_name).register(cmd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in args_list if not a.startswith("-")), None)
    if selected not in COMMANDS:
        selected = None
    args = build_parser(selected).parse_args(args_list)
    if args.command is None:
        build_parser().print_help()
        return 0
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except BoxposeError as exc:
        print(f"boxpose {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
