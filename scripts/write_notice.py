"""model_store/*/manifest.json -> NOTICE: every bundled model with its source, licence, holder
and sha256s, and whether it was trained on data whose terms allow research use only.

    .venv/bin/python scripts/write_notice.py          # rewrite NOTICE
    .venv/bin/python scripts/write_notice.py --check  # exit 1 if NOTICE is out of date

tests/test_notice.py fails when the committed NOTICE differs from what this writes. Manifests are
read as data: `licence` a {name, holder, url} table or a sentence, `source` a table (a wheel or
a download, with `*_sha256` of each) or a sentence, `sources` the parts of a joined model,
`trained_on.sets[*].terms` the data's terms (research-use data is named in a line of its own);
a field a manifest lacks is written as not stated.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MISSING = "not stated in the manifest"
# Words in a data set's terms that make it research-use data: research only, or photos under
# their owners' terms (COCO's Flickr images).
RESTRICTED = ("research use", "research-use", "non-commercial", "noncommercial", "owners' terms")
# The order a source table's fields are written in; others follow, sorted.
SOURCE_ORDER = ("package", "wheel", "wheel_sha256", "url", "repo", "commit", "archive",
                "archive_sha256", "file", "file_sha256")  # fmt: skip

HEADER = """\
boxpose
Licensed under the Apache License, Version 2.0 (see LICENSE).

The models bundled in model_store/ are listed below with their sources, licences, holders and
sha256 sums (of model_store/<name>/<file>, and of the source file each was converted from where
its manifest records one). Their terms are their own: a model converted from third-party
weights keeps that party's licence, and a model trained on data whose terms allow research use
only says so.

This file is generated from the manifests by `python scripts/write_notice.py`; do not edit it
by hand (tests/test_notice.py checks that it is up to date).
"""


def notice_text(store: Path) -> str:
    """NOTICE's text for every model directory in `store` holding a manifest.json."""
    blocks = [model_block(path.parent.name, json.loads(path.read_text()), path.parent)
              for path in sorted(store.glob("*/manifest.json"))]  # fmt: skip
    return HEADER + "".join("\n" + block for block in blocks)


def model_block(name: str, manifest: dict[str, Any], model_dir: Path) -> str:
    """One model's entry: its lines, each field's fallback where the manifest lacks it."""
    file = manifest.get("file", MISSING)
    lines = [f"{manifest.get('name', name)} ({manifest.get('kind', 'kind ' + MISSING)}; "
             f"model_store/{name}/{file}, version {manifest.get('version', MISSING)})",
             f"  sha256:  {_model_sha256(manifest, model_dir)}"]  # fmt: skip
    lines += _source_lines(manifest)
    lines += _trained_on_lines(manifest.get("trained_on"), "  ")
    lines += _licence_lines(manifest.get("licence"), "  ")
    if "licence" not in manifest and manifest.get("sources"):
        lines[-2] += " (a model joined from the parts below: their terms apply)"
    parts = {str(manifest.get("name", name)): manifest, **(manifest.get("sources") or {})}
    for part, info in list(parts.items())[1:]:
        lines.append(f"  part {part} (sha256 {info.get('sha256', MISSING)}, version "
                     f"{info.get('version', MISSING)})")  # fmt: skip
        lines += _trained_on_lines(info.get("trained_on"), "    ")
        lines += _licence_lines(info.get("licence"), "    ")
    for part, info in parts.items():
        restricted = research_data(info)
        if restricted:
            lines.append(f"  RESEARCH-USE DATA: {part} was trained on research-use data (terms "
                         f"above): {', '.join(restricted)}")  # fmt: skip
    return "\n".join(lines) + "\n"


def _model_sha256(manifest: dict[str, Any], model_dir: Path) -> str:
    if "sha256" in manifest:
        return str(manifest["sha256"])
    path = model_dir / str(manifest.get("file", "model.pt"))
    if path.is_file():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        return f"{digest} (computed from {path.name}: the manifest records none)"
    return MISSING


def _licence_lines(licence: Any, indent: str) -> list[str]:
    if licence is None:
        return [f"{indent}licence: {MISSING}", f"{indent}holder:  {MISSING}"]
    if isinstance(licence, str):
        return [f"{indent}licence: {licence}", f"{indent}holder:  {MISSING}"]
    lines = [f"{indent}licence: {licence.get('name', MISSING)}",
             f"{indent}holder:  {licence.get('holder', MISSING)}"]  # fmt: skip
    others = {k: v for k, v in licence.items() if k not in ("name", "holder")}
    return lines + [f"{indent}licence {k}: {_text(v)}" for k, v in others.items()]


def _source_lines(manifest: dict[str, Any]) -> list[str]:
    source = manifest.get("source")
    if source is None:
        made_here = "training" in manifest or "sources" in manifest
        return ["  source:  " + MISSING + ("; trained or joined by this project (the manifest's "
                                           "`training` / `sources`)" if made_here else "")]
    if not isinstance(source, dict):
        return [f"  source:  {source}"]
    keys = [k for k in SOURCE_ORDER if k in source] + sorted(set(source) - set(SOURCE_ORDER))
    return ["  source:"] + [f"    {k}: {_text(source[k])}" for k in keys]


def _trained_on_lines(trained_on: Any, indent: str) -> list[str]:
    if not isinstance(trained_on, dict):
        return []
    sets = trained_on.get("sets")
    if sets is None:  # {"train": {...}, "val": {...}} as the detector trainer writes it
        sets = [dict(v, name=k) for k, v in trained_on.items() if isinstance(v, dict)]
    lines = [f"{indent}trained on:"]
    for item in sets:
        terms = item.get("terms", "terms " + MISSING)
        lines.append(f"{indent}  - {_set_name(item)}: {terms}")
    return lines if len(lines) > 1 else []


def _set_name(item: dict[str, Any]) -> str:
    info = item.get("info") or {}
    where = item.get("annotations") or item.get("path")
    name = item.get("name") or info.get("description") or where or "a data set"
    described = info.get("description")
    if item.get("name") and described:
        name = f"{name}: {described}"
    return f"{name} ({where})" if where and where != name else str(name)


def research_data(manifest: dict[str, Any]) -> list[str]:
    """The data sets a model was trained on whose terms restrict its use: research use only, or
    photos under their owners' terms (`trained_on.sets[*].terms`)."""
    trained_on = manifest.get("trained_on")
    sets = trained_on.get("sets", []) if isinstance(trained_on, dict) else []
    return [_set_name(item) for item in sets
            if any(word in str(item.get("terms", "")).lower() for word in RESTRICTED)]  # fmt: skip


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, default=ROOT / "model_store")
    parser.add_argument("--out", type=Path, default=ROOT / "NOTICE")
    parser.add_argument("--check", action="store_true", help="exit 1 if OUT is out of date")
    args = parser.parse_args(argv)
    text = notice_text(args.store)
    if args.check:
        current = args.out.read_text() if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is out of date: run python scripts/write_notice.py",
                  file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
