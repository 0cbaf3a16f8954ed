"""The tracker as served, on real people: LSPet training people (never the dev split) walked
along crossing paths over a blurred training photo (bench/tracking_real.py), encoded as H.264,
decoded and answered frame by frame by the default model, scored with py-motmetrics.

The issue's target is IDF1 >= 0.9 with at most 1 identity switch per 100 frames. IDF1 cannot
exceed the detection F1 (a person the model misses or fragments has no id to keep). The tests pin
what the tracker adds, each on a clip where it shows (BENCHMARKS.md, "Tracking real people", has
all eight): in seed 6 two people cross twice, and motion alone swaps their ids (IDF1 0.645)
where looks keep them (0.967, within 1% of the detection F1); in seed 1 the track boxes (each
frame parsed first where the people of the last frame should be) find people that frames
answered alone miss (detection F1 0.944 against 0.909).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from service.data.real_split import DEFAULT_DATA_ROOT, LSPET_DIR  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (DEFAULT_DATA_ROOT / LSPET_DIR).is_dir(),
        reason=f"needs the LSPet photos in {DEFAULT_DATA_ROOT / LSPET_DIR} "
        "(../shared/data, not in the repository)",
    ),  # fmt: skip
]
pytest.importorskip("motmetrics", reason="py-motmetrics scores the tracks (dev extra)")


@pytest.fixture(scope="module")
def pipeline():  # type: ignore[no-untyped-def]
    from bench.tracking_real import default_pipeline

    return default_pipeline()


def _scores(pipeline, seed: int) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    from bench.tracking_real import answer_clip, found_by, pick_people, score, walking_clip

    people, background = pick_people(3, seed, found_by(pipeline))
    clip = walking_clip(people, background, 150, seed)
    answers = answer_clip(pipeline, clip)
    scores = {name: score(clip, found) for name, found in answers.items()}
    scores["served"]["ids"] = len({t for frame in answers["served"] for t, _ in frame})
    return scores


def test_looks_keep_ids_where_people_cross(pipeline) -> None:  # type: ignore[no-untyped-def]
    scores = _scores(pipeline, 6)
    served, motion = scores["served"], scores["motion"]
    assert served["num_frames"] == 150
    assert served["detection_f1"] >= 0.9  # the people are found: what is left is tracking
    assert served["idf1"] >= 0.97 * served["detection_f1"], served
    assert served["idf1"] >= motion["idf1"] + 0.2, (served, motion)
    assert served["num_switches"] < motion["num_switches"], (served, motion)
    assert served["ids"] <= 4  # three people


def test_track_boxes_find_people_frames_alone_miss(pipeline) -> None:  # type: ignore[no-untyped-def]
    scores = _scores(pipeline, 1)
    served, alone = scores["served"], scores["alone"]
    assert served["detection_f1"] >= alone["detection_f1"] + 0.02, (served, alone)
    assert served["idf1"] >= alone["idf1"] + 0.01, (served, alone)
