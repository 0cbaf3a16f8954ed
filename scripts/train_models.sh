#!/usr/bin/env bash
# Retrains the two bundled models from scratch, as they were trained here (docs/models.md):
# generates the synthetic data, trains the pose network and the detector, exports both to
# model_store/. On this 2-core CPU machine it takes several hours (see README); both trainings
# checkpoint every 5 minutes, and running this script again resumes them.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DATA=${BOXPOSE_DATA:-data}

[ -f "$DATA/val/annotations.json" ] || \
  $BIN/boxpose synth --out "$DATA/val" --count 300 --seed 1 --width 640 --height 480 \
    --min-height 0.25 --workers 2
[ -f "$DATA/train/annotations.json" ] || \
  $BIN/boxpose synth --out "$DATA/train" --count 6000 --seed 100000 --width 512 --height 384 \
    --views 0.65,0.2,0.15 --workers 2
[ -f "$DATA/train-tall/annotations.json" ] || \
  $BIN/boxpose synth --out "$DATA/train-tall" --count 3000 --seed 200000 --width 512 \
    --height 384 --min-height 0.3 --views 0.65,0.2,0.15 --workers 2

# The pose network runs first with both cores (0.45 s per step of 8 crops here: 25000 steps take
# about 3 h 20 min); the detector follows. Both resume from their run directories when run again.
# The bundled pose-lite was trained in two legs (docs/models.md); this is their recipe in one run.
$BIN/boxpose train pose --train "$DATA/train" "$DATA/train-tall" --val "$DATA/val" \
  --run-dir runs/pose-lite --preset lite --batch-size 8 --crop-size 256 --p-person 0.9 \
  --min-person 0.3 --max-person 1.5 --learning-rate 1e-3 --warmup-steps 200 \
  --schedule-steps "${POSE_STEPS:-25000}" --max-steps "${POSE_STEPS:-25000}" --epochs 40 \
  --sigma 6 --delta 4 --foreground-weight 10 --twin-weight 10 --workers 1 --threads 2 \
  --val-limit 150 --resume
$BIN/boxpose train detector --train "$DATA/train" --val "$DATA/val" --run-dir runs/detector \
  --epochs "${DETECTOR_EPOCHS:-24}" --learning-rate 2e-3 --threads 2 --resume
# Trained at a 512 long side, served at 640: more of the small people are found (docs/models.md).
$BIN/python scripts/reexport_detector.py --checkpoint runs/detector/best.pt \
  --input-long-side 640 --val "$DATA/val"
