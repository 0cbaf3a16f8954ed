"""Large photos over real HTTP: the models run at the working size, the answer is in the original
image's pixels, within the default deadline; client boxes are answered one to one."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator

import cv2
import httpx
import numpy as np
import pytest
from api_helpers import Server
from PIL import Image
from runtime_fakes import SceneData

from service.config import Settings
from service.data.synth.scene import SynthConfig, generate_scene

WIDTH, HEIGHT = 4084, 3036  # a 12-megapixel photo
SX, SY = WIDTH / 320, HEIGHT / 240  # the test scene's 320x240 -> the photo
BACKGROUND = [3700.0, 30.0, 4050.0, 350.0]  # top right corner: nobody there


def photo(image: np.ndarray) -> bytes:
    """(h, w, 3) image -> a 4084x3036 JPEG (quality 90), as a camera would send."""
    big = cv2.resize(image, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
    buffer = io.BytesIO()
    Image.fromarray(big).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def post(url: str, data: bytes, boxes: list | None = None, **params: str) -> httpx.Response:
    files = {"image": ("photo.jpg", data, "image/jpeg")}
    form = {"boxes": json.dumps(boxes)} if boxes is not None else None
    return httpx.post(f"{url}/v1/poses", files=files, data=form, params=params, timeout=60)


@pytest.fixture(scope="module")
def scene_photo(scene: SceneData) -> bytes:
    return photo(scene.image)


def test_12mp_photo_answers_client_boxes_in_original_pixels(
    server: Server, scene: SceneData, scene_photo: bytes
) -> None:
    boxes = [[v * s for v, s in zip(b, (SX, SY, SX, SY), strict=True)] for b in scene.boxes]
    sent = [boxes[1], BACKGROUND, boxes[0]]
    response = post(server.url, scene_photo, sent, score_threshold="0.5")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["image"] == {"width": WIDTH, "height": HEIGHT}
    persons = body["persons"]  # one per box, in order, whatever the score threshold
    assert [p["box"] for p in persons] == [[round(v, 2) for v in b] for b in sent]
    assert persons[1]["score"] == 0 and persons[1]["keypoints"] == [None] * 14
    for person, truth in ((persons[0], scene.keypoints[1]), (persons[2], scene.keypoints[0])):
        found = np.array([kp[:2] for kp in person["keypoints"]])  # all 14 found
        expected = (truth[:, :2] + 0.5) * (SX, SY) - 0.5
        # Within 2% of the photo's height (the stand-in's maps are resampled to the grid):
        # working-image pixels (x 4.8 too small) would miss by hundreds.
        assert np.abs(found - expected).max() < 0.02 * HEIGHT


def test_12mp_photo_detector_boxes_come_back_in_original_pixels(
    server: Server, scene: SceneData, scene_photo: bytes
) -> None:
    response = post(server.url, scene_photo)
    assert response.status_code == 200, response.text
    boxes = [p["box"] for p in response.json()["persons"]]
    assert boxes and all(p["box_source"] == "detector" for p in response.json()["persons"])
    # The stand-in detector answers its fixed rows in the 848x630 working image's pixels
    # (each row's pose, where pose NMS kept it).
    scale = np.array([WIDTH / 848, HEIGHT / 630] * 2)
    expected = np.array(scene.boxes) * scale  # (2, 4)
    for found in boxes:
        assert np.abs(expected - np.array(found)).max(axis=1).min() < 0.01


def test_12mp_overlay_is_drawn_on_the_working_image(server: Server, scene_photo: bytes) -> None:
    files = {"image": ("photo.jpg", scene_photo, "image/jpeg")}
    response = httpx.post(f"{server.url}/v1/render", files=files, timeout=60)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    drawn = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))
    assert drawn.shape == (630, 848, 3)
    plain = cv2.resize(cv2.imdecode(np.frombuffer(scene_photo, np.uint8), cv2.IMREAD_COLOR),
                       (848, 630), interpolation=cv2.INTER_AREA)[..., ::-1]  # fmt: skip
    changed = np.abs(drawn.astype(int) - plain).max(axis=2) > 60
    assert changed.mean() > 0.005  # skeletons and boxes drawn


@pytest.fixture(scope="module")
def bundled() -> Iterator[Server]:
    """The bundled models with the default settings (working size, deadline)."""
    running = Server(Settings(device="cpu", warmup=True)).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def synth_photo() -> tuple[bytes, np.ndarray]:
    """A generated scene (two people, 376 and 243 px tall at 848x630) as a 12 MP photo, and
    its people's boxes in the photo's pixels."""
    config = SynthConfig(min_people=3, max_people=4, min_height=0.4, max_height=0.8)
    scene = generate_scene(np.random.default_rng(3), 848, 630, config)
    return photo(scene.image), scene.boxes * np.array([WIDTH / 848, HEIGHT / 630] * 2)


def test_bundled_models_answer_a_12mp_photo_within_the_default_deadline(
    bundled: Server, synth_photo: tuple[bytes, np.ndarray]
) -> None:
    data, truth_boxes = synth_photo
    assert bundled.runtime.settings.deadline_s == Settings().deadline_s  # the default
    response = post(bundled.url, data)
    assert response.status_code == 200, response.text  # 503 deadline_exceeded at full size
    body = response.json()
    assert body["image"] == {"width": WIDTH, "height": HEIGHT}
    for person in body["persons"]:  # in the original's pixels
        x1, y1, x2, y2 = person["box"]
        assert 0 <= x1 < x2 <= WIDTH and 0 <= y1 < y2 <= HEIGHT
    given = [[round(float(v), 1) for v in b] for b in truth_boxes]
    own = post(bundled.url, data, given)
    assert own.status_code == 200, own.text
    persons = own.json()["persons"]
    assert [p["box"] for p in persons] == given  # one each, in order
    found = 0
    for person, (x1, y1, x2, y2) in zip(persons, given, strict=True):
        points = np.array([kp[:2] for kp in person["keypoints"] if kp]).reshape(-1, 2)
        found += len(points)
        dx, dy = 0.06 * (x2 - x1) + 5, 0.06 * (y2 - y1) + 5  # the parser's 10% extension
        assert ((points >= [x1 - dx, y1 - dy]) & (points <= [x2 + dx, y2 + dy])).all()
    assert found >= 10  # joints found, and each inside its own box in the photo's pixels


def test_working_size_setting(monkeypatch: pytest.MonkeyPatch,
                              make_server: Callable[..., Server]) -> None:  # fmt: skip
    monkeypatch.setenv("BOXPOSE_WORKING_SIZE", "640")
    assert Settings().runtime().working_size == 640
    monkeypatch.setenv("BOXPOSE_WORKING_SIZE", "")
    assert Settings().working_size is None  # the pose manifest's, else 848
    server = make_server(working_size=0)
    assert server.runtime.pipeline.working_size == 0
    monkeypatch.setenv("BOXPOSE_WORKING_SIZE", "-1")
    with pytest.raises(ValueError):
        Settings()
