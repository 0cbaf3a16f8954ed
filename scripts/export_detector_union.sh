#!/usr/bin/env bash
# Rebuilds model_store/detector-union, the default detector, from what the repository holds:
# pose-real exported from checkpoints/pose-real-last.pt (its weights' moving average) into a
# scratch store beside copies of the bundled models, then joined with BlazePose's detector
# (service/detector/union.py; docs/models.md, "The checked union"). Takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
STORE=$(mktemp -d)
trap 'rm -rf "$STORE"' EXIT
cp -r model_store/blazepose-detector "$STORE/"
$BIN/boxpose export --preset bottomup-blazepose --checkpoint checkpoints/pose-real-last.pt \
  --name pose-real --store "$STORE" --manifest-extra scripts/pose_real_manifest.json
$BIN/boxpose export --union blazepose-detector pose-real --store "$STORE"
rm -rf model_store/detector-union
cp -r "$STORE/detector-union" model_store/
echo "wrote model_store/detector-union"
