"""`boxpose predict clip.mp4 --out poses.ndjson`: the video route's NDJSON, without a server,
on the stand-in models of runtime_fakes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS / "runtime"), str(TESTS / "api")]

from runtime_fakes import make_scene, make_store  # noqa: E402
from video_helpers import still_clip  # noqa: E402

from service.cli import main  # noqa: E402


def test_predict_a_video_writes_ndjson(tmp_path: Path) -> None:
    scene = make_scene()
    store = make_store(tmp_path / "store", scene)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(still_clip(scene.image, 6))
    out = tmp_path / "poses.ndjson"
    code = main(["predict", str(clip), "--out", str(out), "--model-store", str(store),
                 "--pose-model", "pose-fixed", "--detector-model", "detector-fixed",
                 "--device", "cpu", "--max-frames", "4"])  # fmt: skip
    assert code == 0
    *frames, last = [json.loads(line) for line in out.read_text().splitlines()]
    assert [f["frame"] for f in frames] == [0, 1, 2, 3]
    ids = [sorted(p["track_id"] for p in f["persons"]) for f in frames]
    assert all(i == ids[0] for i in ids) and ids[0]
    assert last["summary"]["frames"] == 4 and last["summary"]["tracks"] == len(ids[0])


def test_predict_an_undecodable_video_is_a_clear_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    store = make_store(tmp_path / "store", make_scene())
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00junk" * 100)
    code = main(["predict", str(bad), "--model-store", str(store), "--pose-model", "pose-fixed",
                 "--detector-model", "detector-fixed", "--device", "cpu"])  # fmt: skip
    assert code == 2
    assert "cannot read the video" in capsys.readouterr().err
