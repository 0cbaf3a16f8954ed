"""The upload page in headless Chromium (Debian's chromium driven by Playwright's Python package):
its empty state, a photo chosen, dropped or the sample, a video played with track ids, the webcam
over the WebSocket (a fake camera fed from a generated .y4m file), and errors.

Each state is screenshot into a temporary folder (BOXPOSE_SCREENSHOTS names one to keep them);
the assertions read the DOM and the overlay canvas's pixels back.
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
from api_helpers import Server
from runtime_fakes import SceneData
from video_helpers import still_clip

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]  # fmt: skip
PALETTE_0, PALETTE_1 = (230, 25, 75), (60, 180, 75)  # the page's first two person colours
TIMEOUT_MS = 30_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="the upload-page tests skip: /usr/bin/chromium is missing; install Debian's chromium "
    "(apt-get install chromium, as root; scripts/setup_test_env.sh does it), run make test again",
)

# Is there a pixel of `rgb` (opaque, within 40 per channel) within `r` pixels of (x, y)?
NEAR_COLOUR = """([x, y, rgb, r]) => {
  const ctx = document.getElementById('overlay').getContext('2d');
  const d = ctx.getImageData(Math.round(x) - r, Math.round(y) - r, 2 * r + 1, 2 * r + 1).data;
  for (let i = 0; i < d.length; i += 4)
    if (d[i + 3] > 200 && Math.abs(d[i] - rgb[0]) < 40 && Math.abs(d[i + 1] - rgb[1]) < 40
        && Math.abs(d[i + 2] - rgb[2]) < 40) return true;
  return false;
}"""
PAINTED = """() => { const c = document.getElementById('overlay');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"""


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("BOXPOSE_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("page_screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def camera_file(tmp_path_factory: pytest.TempPathFactory, scene: SceneData) -> Path:
    """The scene as a 10-frame .y4m (4:2:0) for Chromium's fake camera."""
    path = tmp_path_factory.mktemp("camera") / "scene.y4m"
    height, width = scene.image.shape[:2]
    planes = cv2.cvtColor(scene.image, cv2.COLOR_RGB2YUV_I420).tobytes()
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + b"".join(b"FRAME\n" + planes for _ in range(10)))
    return path


@pytest.fixture(scope="module")
def browser(camera_file: Path) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[*ARGS, f"--use-file-for-fake-video-capture={camera_file}"])  # fmt: skip
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.grant_permissions(["camera"])
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert errors == [], f"script errors on the page: {errors}"


def webm_clip(image: np.ndarray, count: int, fps: int = 10) -> bytes:
    """A VP8 WebM Chromium can play (it cannot play MPEG-4 Part 2)."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=fps)
        stream.height, stream.width = image.shape[:2]
        stream.pix_fmt = "yuv420p"
        for _ in range(count):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def limb_midpoint(body: dict[str, Any], person: dict[str, Any]) -> tuple[float, float]:
    """The middle of the person's neck-to-head limb (the stand-in models' AI Challenger joints)."""
    named = dict(zip(body["keypoint_names"], person["keypoints"], strict=True))
    neck, head = named["neck"], named["head_top"]
    assert neck is not None and head is not None
    return (neck[0] + head[0]) / 2, (neck[1] + head[1]) / 2


def names_listed(page: Any) -> list[str]:
    names = page.eval_on_selector_all("#people li .name", "els => els.map(e => e.textContent)")
    return [str(n) for n in names]


def test_page_opens_on_an_empty_state(server: Server, page: Any, shots: Path) -> None:
    page.goto(server.url + "/")
    assert page.title() == "boxpose"
    assert page.is_visible("#empty") and page.is_hidden("#view")
    assert page.text_content("#empty-title") == "Drop a photo here"
    assert page.is_visible("#choose") and page.is_visible("#sample")
    # no broken image: every visible <img> has loaded pixels
    broken = page.evaluate("""() => [...document.images].filter(i => i.offsetParent !== null
        && !(i.complete && i.naturalWidth > 0)).length""")
    assert broken == 0
    page.screenshot(path=str(shots / "1-empty.png"))
    page.click("#tab-video")
    assert page.text_content("#empty-title") == "Drop a video here"
    page.click("#tab-webcam")
    assert page.is_visible("#cam-start") and page.is_hidden("#choose")


def test_photo_lists_people_draws_them_and_shows_json(
    server: Server, scene: SceneData, page: Any, tmp_path: Path, shots: Path
) -> None:
    image = tmp_path / "scene.png"
    image.write_bytes(scene.png())
    page.goto(server.url + "/")
    page.set_input_files("#file", str(image))
    page.wait_for_function("document.querySelectorAll('#people li').length === 2",
                           timeout=TIMEOUT_MS)  # fmt: skip
    body = json.loads(page.text_content("#json") or "{}")
    assert len(body["persons"]) == 2
    assert names_listed(page) == ["Person 1", "Person 2"]
    assert "2 people found" in (page.text_content("#status") or "")
    assert page.evaluate("document.getElementById('photo').naturalWidth") == 320
    overlay = page.evaluate("[document.getElementById('overlay').width, "
                            "document.getElementById('overlay').height]")  # fmt: skip
    assert overlay == [320, 240]  # drawn in the image's own pixels
    for person, colour in zip(body["persons"], (PALETTE_0, PALETTE_1), strict=True):
        assert page.evaluate(NEAR_COLOUR, [*limb_midpoint(body, person), list(colour), 2])
    assert not page.evaluate(NEAR_COLOUR, [160, 235, list(PALETTE_0), 3])  # nobody there
    page.screenshot(path=str(shots / "2-photo.png"))


def test_a_dropped_photo_is_read(server: Server, scene: SceneData, page: Any) -> None:
    page.goto(server.url + "/")
    page.evaluate("""(b64) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], 'scene.png', { type: 'image/png' }));
        document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: data,
            bubbles: true, cancelable: true }));
    }""", base64.b64encode(scene.png()).decode())  # fmt: skip
    page.wait_for_function("document.querySelectorAll('#people li').length === 2",
                           timeout=TIMEOUT_MS)  # fmt: skip
    assert page.evaluate(PAINTED) > 100


def test_the_sample_photo_with_the_default_model(
    default_server: Server, page: Any, shots: Path
) -> None:
    page.goto(default_server.url + "/")
    page.click("#sample")
    page.wait_for_function("document.querySelectorAll('#people li').length >= 1 "
                           "|| document.getElementById('status').className === 'error'",
                           timeout=120_000)  # fmt: skip
    body = json.loads(page.text_content("#json") or "{}")
    assert body["image"] == {"width": 512, "height": 512}  # the astronaut
    assert len(body["persons"]) == 1
    assert "1 person found" in (page.text_content("#status") or "")
    nose = body["persons"][0]["keypoints"][body["keypoint_names"].index("nose")]
    assert page.evaluate(NEAR_COLOUR, [nose[0], nose[1], list(PALETTE_0), 3])
    page.screenshot(path=str(shots / "3-sample.png"))


def wait_for_video_answer(page: Any) -> None:
    """Until the page has read the video's whole NDJSON answer (its summary) or an error."""
    page.wait_for_function("document.getElementById('status').dataset.tracks !== undefined "
                           "|| document.getElementById('status').className === 'error'",
                           timeout=TIMEOUT_MS)  # fmt: skip


def test_video_plays_with_skeletons_and_track_ids(
    server: Server, scene: SceneData, page: Any, tmp_path: Path, shots: Path
) -> None:
    clip = tmp_path / "scene.webm"
    clip.write_bytes(webm_clip(scene.image, 12))
    page.goto(server.url + "/")
    page.click("#tab-video")
    page.set_input_files("#file", str(clip))
    wait_for_video_answer(page)
    assert page.evaluate("document.getElementById('status').dataset.tracks") == "2"
    assert "12 frames, 2 tracks" in (page.text_content("#status") or "")
    assert page.is_visible("#download")  # the NDJSON answer to keep
    page.evaluate("""() => new Promise(done => { const v = document.getElementById('clip');
        v.addEventListener('seeked', done, { once: true }); v.currentTime = 0.55; })""")
    page.wait_for_function("document.getElementById('json-title').textContent.includes('frame 5')",
                           timeout=TIMEOUT_MS)  # fmt: skip
    assert page.evaluate("document.getElementById('clip').videoWidth") == 320  # it plays
    assert names_listed(page) == ["Track #1", "Track #2"]
    frame = json.loads(page.text_content("#json") or "{}")
    assert frame["frame"] == 5
    named = {"keypoint_names": page.evaluate("state.names")}
    for person in frame["persons"]:
        colour = PALETTE_0 if person["track_id"] == 1 else PALETTE_1
        assert page.evaluate(NEAR_COLOUR, [*limb_midpoint(named, person), list(colour), 2])
    page.screenshot(path=str(shots / "4-video.png"))


def test_a_video_the_browser_cannot_play_replays_on_a_blank_frame(
    server: Server, scene: SceneData, page: Any, tmp_path: Path, shots: Path
) -> None:
    clip = tmp_path / "scene.mp4"
    clip.write_bytes(still_clip(scene.image, 8))  # MPEG-4 Part 2: Chromium cannot play it
    page.goto(server.url + "/")
    page.click("#tab-video")
    page.set_input_files("#file", str(clip))
    wait_for_video_answer(page)
    page.wait_for_selector("#note", state="visible", timeout=TIMEOUT_MS)
    assert page.is_visible("#backdrop") and page.is_hidden("#clip")
    assert page.evaluate("[document.getElementById('backdrop').width, "
                         "document.getElementById('backdrop').height]") == [320, 240]  # fmt: skip
    assert "8 frames, 2 tracks" in (page.text_content("#status") or "")
    page.wait_for_function("document.querySelectorAll('#people li').length === 2",
                           timeout=TIMEOUT_MS)  # fmt: skip
    assert names_listed(page) == ["Track #1", "Track #2"]
    assert page.evaluate(PAINTED) > 100  # the skeletons replay over the blank frame
    page.screenshot(path=str(shots / "4b-video-unplayable.png"))


def test_webcam_streams_frames_and_draws_tracks(server: Server, page: Any, shots: Path) -> None:
    page.goto(server.url + "/")
    page.click("#tab-webcam")
    page.click("#cam-start")
    page.wait_for_function("Number(document.getElementById('status').dataset.answered) >= 5",
                           timeout=TIMEOUT_MS)  # fmt: skip
    assert page.evaluate("document.getElementById('status').dataset.tracks") == "2"
    assert names_listed(page) == ["Track #1", "Track #2"]
    line = json.loads(page.text_content("#json") or "{}")
    assert line["image"]["width"] == page.evaluate("document.getElementById('cam').videoWidth")
    assert sorted(p["track_id"] for p in line["persons"]) == [1, 2]
    assert page.evaluate(PAINTED) > 100
    page.screenshot(path=str(shots / "5-webcam.png"))
    page.click("#cam-stop")
    assert page.is_visible("#empty")
    assert page.evaluate("state.ws") is None


def test_webcam_shows_why_the_stream_closed(make_server: Any, page: Any) -> None:
    server = make_server(api_key="secret")
    page.goto(server.url + "/")
    page.click("#tab-webcam")
    page.click("details.options summary")
    page.fill("#apikey", "wrong")
    page.click("#cam-start")
    page.wait_for_selector("#status.error", timeout=TIMEOUT_MS)
    assert "1008" in (page.text_content("#status") or "")
    assert "API key" in (page.text_content("#status") or "")


def test_upload_page_shows_errors(server: Server, page: Any, tmp_path: Path, shots: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    page.goto(server.url + "/")
    page.set_input_files("#file", str(bad))
    page.wait_for_selector("#status.error", timeout=TIMEOUT_MS)
    assert "400 invalid_image" in (page.text_content("#status") or "")
    assert page.text_content("#people-empty") == "No people yet."
    page.screenshot(path=str(shots / "6-error.png"))


def test_sample_photo_is_served(server: Server) -> None:
    import httpx

    response = httpx.get(server.url + "/sample.jpg", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content[:3] == b"\xff\xd8\xff"
