"""NOTICE is what scripts/write_notice.py writes from the current manifests (so it cannot drift),
and the generator reads every manifest shape: a licence table or sentence, a wheel source, a
download source, a joined model's parts, research-use data, and fields that are missing."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("write_notice", ROOT / "scripts/write_notice.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_notice_matches_the_manifests() -> None:
    written = _generator().notice_text(ROOT / "model_store")
    assert (ROOT / "NOTICE").read_text() == written, "run: python scripts/write_notice.py"


def test_every_bundled_model_is_listed_with_its_sha256() -> None:
    notice = (ROOT / "NOTICE").read_text()
    for path in sorted((ROOT / "model_store").glob("*/manifest.json")):
        manifest = json.loads(path.read_text())
        assert f"\n{manifest['name']} (" in notice
        assert manifest["sha256"] in notice
        sums = [v for k, v in (manifest.get("source") or {}).items() if k.endswith("sha256")]
        assert all(value in notice for value in sums)


def test_research_use_data_is_named() -> None:
    notice = (ROOT / "NOTICE").read_text()
    union = notice.split("\ndetector-union (")[1].split("\n\n")[0]
    assert "RESEARCH-USE DATA: pose-real" in union and "LSPet" in union
    assert "coco-mini-train" in union.split("RESEARCH-USE DATA")[1]
    assert "RESEARCH-USE DATA" not in notice.split("\nblazepose-topdown (")[1].split("\n\n")[0]


def _store(tmp_path: Path, manifests: dict[str, dict]) -> Path:
    for name, manifest in manifests.items():
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def test_other_shapes_and_missing_fields_fall_back_clearly(tmp_path: Path) -> None:
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "model.pt").write_bytes(b"weights")
    store = _store(tmp_path, {
        "bare": {},
        "tf-pose": {"name": "tf-pose", "kind": "pose", "sha256": "ab" * 32, "file": "model.pt",
                    "licence": {"name": "Apache-2.0", "holder": "Someone", "url": "https://x"},
                    "source": {"url": "https://example.org/graph.pb", "file": "graph_opt.pb",
                               "file_sha256": "cd" * 32, "commit": "0123abc"}},
        "sentence": {"name": "sentence", "licence": "research only",
                     "source": "a paper's release",
                     "trained_on": {"sets": [{"name": "MPII", "terms": "non-commercial use"},
                                             {"name": "mine"}]}},
    })  # fmt: skip
    text = _generator().notice_text(store)
    bare = text.split("\nbare (")[1].split("\n\n")[0]
    assert "kind not stated in the manifest" in bare
    assert "(computed from model.pt: the manifest records none)" in bare
    assert "licence: not stated in the manifest" in bare and "holder:  not stated" in bare
    assert "source:  not stated in the manifest" in bare
    tf = text.split("\ntf-pose (")[1].split("\n\n")[0]
    assert "sha256:  " + "ab" * 32 in tf and "file_sha256: " + "cd" * 32 in tf
    assert "url: https://example.org/graph.pb" in tf and "holder:  Someone" in tf
    sentence = text.split("\nsentence (")[1]
    assert "licence: research only" in sentence and "source:  a paper's release" in sentence
    assert "RESEARCH-USE DATA: sentence was trained on research-use data (terms above): MPII\n" in (
        sentence
    )
    assert "mine: terms not stated in the manifest" in sentence
