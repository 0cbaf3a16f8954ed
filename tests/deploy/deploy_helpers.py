"""Shared by the deployment tests: the repository's paths, YAML loading, kustomize rendering and
the prometheus-adapter rule turned into a query a plain Prometheus can run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the `deploy` package (not installed: not part of the service)

K8S = ROOT / "k8s"
KUSTOMIZATIONS = ("base", "overlays/cpu", "overlays/gpu")
ADAPTER_VALUES = K8S / "prometheus-adapter" / "values.yaml"


def scene_png(width: int = 256, height: int = 192, seed: int = 0) -> bytes:
    """A generated scene of 2-3 large people (`boxpose synth`'s generator), PNG-encoded; the
    bundled models find two of them at the default size and seed."""
    from service.data.synth import SynthConfig, generate_scene

    config = SynthConfig(min_people=2, max_people=3, min_height=0.6)
    image = generate_scene(np.random.default_rng(seed), width, height, config).image  # (H, W, 3)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image[:, :, ::-1]))
    assert ok
    return buf.tobytes()


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def kustomize_tool() -> list[str] | None:
    """`kubectl kustomize` or a standalone `kustomize build`, whichever is installed."""
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    return None


def render(kustomization: str) -> list[dict[str, Any]]:
    """The manifests `kubectl apply -k k8s/<kustomization>` would send."""
    tool = kustomize_tool()
    assert tool is not None
    out = subprocess.run([*tool, str(K8S / kustomization)], capture_output=True, text=True,
                         timeout=60, check=True).stdout  # fmt: skip
    return [doc for doc in yaml.safe_load_all(out) if doc]


def adapter_rule() -> dict[str, Any]:
    rules = load_yaml(ADAPTER_VALUES)["rules"]["custom"]
    assert len(rules) == 1
    return dict(rules[0])


def adapter_query(rule: dict[str, Any], matchers: str, group_by: str) -> str:
    """The rule's metricsQuery with the adapter's template fields filled in, as it would send
    it to Prometheus for one HPA read."""
    series = rule["name"]["as"]
    return (rule["metricsQuery"].replace("<<.Series>>", series)
            .replace("<<.LabelMatchers>>", matchers).replace("<<.GroupBy>>", group_by))  # fmt: skip
