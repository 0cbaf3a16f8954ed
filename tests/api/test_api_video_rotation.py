"""Phone clips: the display matrix (or an older file's "rotate" tag) turns every frame, so sizes
and coordinates are those of the video as shown. The clips are generated here with their track
header's matrix written as a phone writes it (video_helpers.turned)."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import numpy as np
import pytest
from api_helpers import Server
from runtime_fakes import SceneData
from video_helpers import encode_clip, ndjson, turned

from service.config import VideoConfig
from service.runtime.video import display_rotation, open_video

# (clockwise turn a player applies, the white strip's place once turned: the decoded picture's
# left edge goes to the top for a quarter turn clockwise)
TURNS = [(0, "left"), (90, "top"), (180, "right"), (270, "bottom")]


def strip_clip() -> bytes:
    """3 frames of 64x32 with a white strip on the left quarter, black elsewhere."""
    image = np.zeros((32, 64, 3), np.uint8)
    image[:, :16] = 255
    return encode_clip([image] * 3, fps=10)


def bright_side(rgb: np.ndarray) -> str:
    h, w = rgb.shape[:2]
    sides = {"left": rgb[:, : w // 4], "right": rgb[:, -w // 4 :], "top": rgb[: h // 4],
             "bottom": rgb[-h // 4 :]}  # fmt: skip
    return max(sides, key=lambda k: float(sides[k].mean()))


@pytest.mark.parametrize(("clockwise", "side"), TURNS)
def test_frames_are_turned_as_a_player_shows_them(clockwise: int, side: str) -> None:
    data = strip_clip() if clockwise == 0 else turned(strip_clip(), clockwise)
    video = open_video(data, VideoConfig(), max_pixels=10**7, working_size=640)
    try:
        quarter = clockwise in (90, 270)
        assert (video.info.width, video.info.height) == ((32, 64) if quarter else (64, 32))
        assert video.info.rotation == (360 - clockwise) % 360  # counterclockwise
        frames = list(video.frames())
        assert len(frames) == 3
        rgb = frames[0].image.rgb
        assert rgb.shape[:2] == ((64, 32) if quarter else (32, 64))
        assert frames[0].image.size == (video.info.height, video.info.width)
        assert bright_side(rgb) == side
    finally:
        video.close()


def test_an_older_files_rotate_tag_is_read() -> None:
    frame = SimpleNamespace(rotation=0)
    assert display_rotation(frame, SimpleNamespace(metadata={"rotate": "90"})) == 270  # type: ignore[arg-type]
    assert display_rotation(frame, SimpleNamespace(metadata={})) == 0  # type: ignore[arg-type]
    nan = SimpleNamespace(rotation=float("nan"))
    assert display_rotation(nan, SimpleNamespace(metadata={})) == 0  # type: ignore[arg-type]


def test_the_route_answers_a_phone_clip_in_its_shown_size(server: Server, scene: SceneData) -> None:
    clip = turned(encode_clip([scene.image] * 4, fps=10), 90)
    response = httpx.post(f"{server.url}/v1/poses:video", content=clip,
                          headers={"content-type": "video/mp4"}, timeout=60)  # fmt: skip
    assert response.status_code == 200, response.text
    *frames, last = ndjson(response.text)
    assert len(frames) == 4
    video = last["summary"]["video"]
    assert (video["width"], video["height"], video["rotation"]) == (240, 320, 270)
    for frame in frames:  # every coordinate inside the shown (portrait) frame
        for person in frame["persons"]:
            x1, y1, x2, y2 = person["box"]
            assert 0 <= x1 <= x2 <= 240 and 0 <= y1 <= y2 <= 320
