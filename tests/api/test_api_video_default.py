"""The service's default model (movenet-fields) on a real clip: PoseTrack18's 000001_mpiinew_test
(5 frames, 1280x720, research-only data read from ../shared, never committed), answered frame by
frame over real HTTP; and the OpenAPI document of the video route."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from api_helpers import Server
from video_helpers import ndjson

CLIP = (Path(__file__).resolve().parents[3] / "shared/data/mmpose-testdata/posetrack18/videos/"
        "000001_mpiinew_test/000001_mpiinew_test.mp4")  # fmt: skip


@pytest.mark.slow
def test_posetrack_clip_is_answered_frame_by_frame(default_server: Server) -> None:
    if not CLIP.exists():
        pytest.skip(f"the PoseTrack18 test clip is not here ({CLIP})")
    r = httpx.post(default_server.url + "/v1/poses:video", content=CLIP.read_bytes(),
                   headers={"content-type": "video/mp4"}, params={"score_threshold": 0.2},
                   timeout=300)  # fmt: skip
    assert r.status_code == 200, r.text
    *frames, last = ndjson(r.text)
    assert [f["frame"] for f in frames] == [0, 1, 2, 3, 4]
    summary = last["summary"]
    assert summary["video"]["width"] == 1280 and summary["video"]["height"] == 720
    assert len(summary["keypoint_names"]) == 17
    # Three footballers, two tangled on the ground; at 0.2 the model is sure of the runner
    assert all(f["persons"] for f in frames), [len(f["persons"]) for f in frames]
    best = max(frames[0]["persons"], key=lambda p: p["score"])
    for f in frames[1:]:  # 33 ms apart: the clearest person keeps their id
        assert best["track_id"] in {p["track_id"] for p in f["persons"]}
    for f in frames:
        for p in f["persons"]:
            x1, y1, x2, y2 = p["box"]
            assert -50 <= x1 < x2 <= 1330 and -50 <= y1 < y2 <= 770


def test_openapi_documents_the_video_route(default_server: Server) -> None:
    doc = httpx.get(default_server.url + "/openapi.json").json()
    op = doc["paths"]["/v1/poses:video"]["post"]
    assert "video" in op["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert "video/mp4" in op["requestBody"]["content"]
    assert "application/x-ndjson" in op["responses"]["200"]["content"]
    assert {"413", "415", "400"} <= set(op["responses"])
    params = {p["name"] for p in op["parameters"]}
    assert {"fps", "max_frames", "scales", "score_threshold", "keep_neck"} <= params
