"""One command line: serve / predict / eval / synth / train / export / bench.

Each sub-command lives beside the code it drives, in a `command.py` (or `*_command.py`) exposing
`register(parser)` and `run(args)`; the table below is the one place that lists them. A command
served by several packages (`export`: a network preset, a training checkpoint, a union of stored
detectors) names one module per package: each adds its own options to the command's parser, and
the first whose `claims(args)` is true runs, else the last. Modules are imported only when their
command runs, so `boxpose --help` stays fast and never loads torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from service.errors import BoxposeError

# command name -> (modules with `register` and `run`, the last the default; one-line help)
COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "serve": (("service.api.command",), "run the REST service"),
    "predict": (("service.runtime.command",), "estimate poses in one image without a server"),
    "eval": (("service.evaluation.command",), "COCO keypoint AP of a model or of the oracle"),
    "synth": (("service.data.command",), "generate synthetic multi-person scenes"),
    "train": (("service.training.command",), "train the pose network or the detector"),
    "export": (
        ("service.runtime.onnx_command", "service.detector.union_command",
         "service.training.export_command", "service.network.command"),
        "export a network preset, a training checkpoint or a detector union to TorchScript; "
        "--onnx: the stored models' ONNX files (every one without a name)",
    ),
    "import": (("service.importers.command",), "import a third-party model (blazepose, openpose)"),
    "label": (("service.labelling.command",), "COCO pseudo-labels for a folder of photos"),
}


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="boxpose", description="Multi-person pose estimation with bounding-box constraints."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_names, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            for module_name in reversed(module_names):  # the default's options first
                importlib.import_module(module_name).register(cmd)
    return parser


def runner(name: str, args: argparse.Namespace) -> ModuleType:
    """The module of command `name` that runs `args`: the first that claims them, else the last."""
    *others, default = COMMANDS[name][0]
    for module_name in others:
        module = importlib.import_module(module_name)
        if module.claims(args):
            return module
    return importlib.import_module(default)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in args_list if not a.startswith("-")), None)
    if selected not in COMMANDS:
        selected = None
    args = build_parser(selected).parse_args(args_list)
    if args.command is None:
        build_parser().print_help()
        return 0
    module = runner(args.command, args)
    try:
        return int(module.run(args) or 0)
    except BoxposeError as exc:
        print(f"boxpose {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
