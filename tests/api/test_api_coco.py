"""A COCO-18 model over real HTTP answers COCO's 17 keypoints, named (the neck on request).

Two models: a stand-in whose maps are the targets of two known people (the values are checked,
joint by joint, by name), and OpenPose's network imported from a fabricated body_pose_model.pth
(random weights: only the shape of its answers can be checked).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from api_helpers import Server, settings_for
from runtime_fakes import FixedMaps, encode, stick_person

from service.runtime.model_store import sha256_of
from service.skeleton import AIC14, COCO18
from service.targets import TargetConfig
from service.targets import encode as encode_targets

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "importers"))
from openpose_fakes import fabricated_state, save  # noqa: E402

from service.importers.openpose_export import import_openpose  # noqa: E402

COCO17 = list(COCO18.joints[:17])
FACE = {"nose": (0, 0.07), "left_eye": (0.02, 0.05), "right_eye": (-0.02, 0.05),
        "left_ear": (0.045, 0.06), "right_ear": (-0.045, 0.06)}  # from the head top, x h


def coco18_person(cx: float, top: float, h: float) -> np.ndarray:
    """(18, 3) COCO-18 keypoints: the stand-in scene's stick person with a face."""
    aic = stick_person(cx, top, h)
    kp = np.zeros((COCO18.num_joints, 3))
    for j, name in enumerate(COCO18.joints):
        if name in AIC14.joints:
            kp[j] = aic[AIC14.joint(name)]
        else:
            dx, dy = FACE[name]
            kp[j] = (cx + dx * h, top + dy * h, 2)
    return kp


PEOPLE = np.stack([coco18_person(80.0, 30.0, 190.0), coco18_person(235.0, 40.0, 180.0)])
BOXES = [[40.0, 20.0, 125.0, 225.0], [195.0, 30.0, 275.0, 220.0]]


def write_stand_in(root: Path) -> None:
    t = encode_targets(PEOPLE, COCO18, 240, 320, TargetConfig(stride=8, sigma=7.0, delta=8.0))
    module = FixedMaps(torch.from_numpy(t.maps), torch.from_numpy(t.fields), 8)
    model_dir = root / "coco-fixed"
    model_dir.mkdir(parents=True)
    torch.jit.save(torch.jit.script(module.eval()), str(model_dir / "model.pt"))
    manifest = {"name": "coco-fixed", "kind": "pose", "version": "test-1", "file": "model.pt",
                "sha256": sha256_of(model_dir / "model.pt"), "output_stride": 8,
                "skeleton": COCO18.to_dict()}  # fmt: skip
    (model_dir / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def coco_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("coco_store")
    write_stand_in(root)
    weights = save(fabricated_state(), tmp_path_factory.mktemp("weights") / "body.pth")
    import_openpose(weights, root, "openpose-coco")
    weights.unlink()
    return root


@pytest.fixture(scope="module")
def servers(coco_store: Path) -> Iterator[dict[str, Server]]:
    running = {name: Server(settings_for(coco_store, pose_model=name, detector_model="",
                                         warmup=False)).start()
               for name in ("coco-fixed", "openpose-coco")}  # fmt: skip
    yield running
    for server in running.values():
        server.stop()


def post(server: Server, image: np.ndarray, boxes: list | None, **params: str) -> httpx.Response:
    files = {"image": ("scene.png", encode(image, "PNG"), "image/png")}
    data = {"boxes": json.dumps(boxes)} if boxes is not None else None
    return httpx.post(f"{server.url}/v1/poses", files=files, data=data, params=params,
                      timeout=120)  # fmt: skip


BLANK = np.full((240, 320, 3), 128, np.uint8)


def test_coco_model_answers_coco17_by_name(servers: dict[str, Server]) -> None:
    response = post(servers["coco-fixed"], BLANK, BOXES)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["keypoint_names"] == COCO17
    assert len(body["persons"]) == 2
    for person, truth in zip(body["persons"], PEOPLE, strict=True):
        assert len(person["keypoints"]) == 17
        for name, kp in zip(body["keypoint_names"], person["keypoints"], strict=True):
            x, y = truth[COCO18.joint(name), :2]
            assert kp is not None and abs(kp[0] - x) < 1.0 and abs(kp[1] - y) < 1.0, name


def test_keep_neck_adds_the_neck_last(servers: dict[str, Server]) -> None:
    body = post(servers["coco-fixed"], BLANK, None, keep_neck="true").json()
    assert body["keypoint_names"] == COCO17 + ["neck"]
    persons = sorted(body["persons"], key=lambda p: p["box"][0])  # greedy boxes: no order
    for person, truth in zip(persons, PEOPLE, strict=True):
        neck = person["keypoints"][17]
        assert abs(neck[0] - truth[17, 0]) < 1.0 and abs(neck[1] - truth[17, 1]) < 1.0
    bad = post(servers["coco-fixed"], BLANK, None, keep_neck="perhaps")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"


def test_imported_openpose_answers_17_named_keypoints(servers: dict[str, Server]) -> None:
    server = servers["openpose-coco"]
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    response = post(server, image, [[4.0, 2.0, 60.0, 46.0]])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"]["name"] == "openpose-coco" and body["keypoint_names"] == COCO17
    (person,) = body["persons"]  # a given box is answered, found or not
    assert person["box_source"] == "client" and len(person["keypoints"]) == 17
    assert post(server, image, [], keep_neck="1").json()["keypoint_names"][-1] == "neck"
    (model,) = httpx.get(f"{server.url}/v1/models", timeout=30).json()["models"]
    assert model["skeleton"]["joints"] == list(COCO18.joints) and model["stride"] == 8
