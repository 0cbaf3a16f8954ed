"""k8s/: the base and both overlays render (kustomize), every manifest of a Kubernetes kind passes
the Kubernetes JSON schemas (kubernetes-validate, strict: unknown fields are errors), and the
pieces agree with each other and with the service: probes, drain timing, settings, selectors,
autoscaling on the exported queue depth. The ServiceMonitor (a Prometheus Operator CRD) and the
prometheus-adapter rule (Helm values) have no schema here: they are checked field by field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from deploy_helpers import KUSTOMIZATIONS, adapter_query, adapter_rule, kustomize_tool, render

from deploy.dashboard import exported_names, metric_names
from service.config import Settings
from service.metrics import Metrics

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate not installed (pip extra dev)"
)
pytestmark = pytest.mark.skipif(kustomize_tool() is None,
                                reason="neither kubectl nor kustomize is installed")  # fmt: skip

K8S_VERSIONS = ("1.29.0", "1.37.0")  # oldest and newest checked
CRD_KINDS = {"ServiceMonitor"}
Doc = dict[str, Any]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Doc]]:
    return {name: render(name) for name in KUSTOMIZATIONS}


def one(docs: list[Doc], kind: str) -> Doc:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


def container(docs: list[Doc]) -> Doc:
    (main,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return dict(main)


def settings_of(docs: list[Doc]) -> dict[str, str]:
    return dict(one(docs, "ConfigMap")["data"])


def test_every_kubernetes_manifest_passes_the_schemas(rendered: dict[str, list[Doc]]) -> None:
    unchecked: set[str] = set()
    seen: list[Doc] = []
    for docs in rendered.values():
        assert {d["kind"] for d in docs} == {"ConfigMap", "Deployment", "Service", "NetworkPolicy",
                                             "HorizontalPodAutoscaler", "PodDisruptionBudget",
                                             "ServiceMonitor"}  # fmt: skip
        for doc in (d for d in docs if d not in seen):
            seen.append(doc)
            for version in K8S_VERSIONS:
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                except kubernetes_validate.SchemaNotFoundError:
                    unchecked.add(doc["kind"])
    assert unchecked == CRD_KINDS
    broken = one(rendered["overlays/cpu"], "Deployment")
    broken = {**broken, "spec": {**broken["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_selectors_name_the_pods(rendered: dict[str, list[Doc]], name: str) -> None:
    docs = rendered[name]
    deployment = one(docs, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selects: Callable[[dict[str, str]], bool] = lambda s: s.items() <= pod_labels.items()  # noqa: E731
    assert selects(deployment["spec"]["selector"]["matchLabels"])
    assert selects(one(docs, "Service")["spec"]["selector"])
    assert selects(one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"])
    assert selects(one(docs, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"])
    target = one(docs, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    refs = [e["configMapRef"]["name"] for e in container(docs)["envFrom"]]
    assert refs == [one(docs, "ConfigMap")["metadata"]["name"]]  # the hashed name


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_probes_and_drain_fit_the_service(rendered: dict[str, list[Doc]], name: str) -> None:
    docs, main = rendered[name], container(rendered[name])
    probes = {kind: main[kind]["httpGet"] for kind in
              ("startupProbe", "readinessProbe", "livenessProbe")}  # fmt: skip
    assert {k: p["path"] for k, p in probes.items()} == {
        "startupProbe": "/readyz",
        "readinessProbe": "/readyz",
        "livenessProbe": "/healthz",
    }
    assert {p["port"] for p in probes.values()} == {"http"}
    env = {e["name"]: e.get("value") for e in main["env"]}
    assert main["ports"] == [{"name": "http", "containerPort": int(env["BOXPOSE_PORT"])}]
    settings = settings_of(docs)
    pre_stop = int(main["lifecycle"]["preStop"]["exec"]["command"][-1])
    drain = (pre_stop + float(settings["BOXPOSE_SHUTDOWN_DELAY_S"])
             + float(settings["BOXPOSE_DRAIN_TIMEOUT_S"]))  # fmt: skip
    grace = one(docs, "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= drain + 5
    assert float(settings["BOXPOSE_DEADLINE_S"]) <= float(settings["BOXPOSE_DRAIN_TIMEOUT_S"])
    assert {"cpu", "memory"} <= set(main["resources"]["requests"])


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_settings_are_valid_boxpose_settings(rendered: dict[str, list[Doc]], name: str) -> None:
    data = settings_of(rendered[name])
    fields = {key.removeprefix("BOXPOSE_").lower(): value for key, value in data.items()}
    assert all(key.startswith("BOXPOSE_") for key in data)
    assert set(fields) <= set(Settings.model_fields)
    Settings.model_validate(fields)  # raises on a value the service would refuse


def test_overlays_differ_where_the_device_does(rendered: dict[str, list[Doc]]) -> None:
    cpu, gpu = rendered["overlays/cpu"], rendered["overlays/gpu"]
    assert settings_of(cpu)["BOXPOSE_DEVICE"] == "cpu"
    assert settings_of(gpu)["BOXPOSE_DEVICE"] == "cuda"
    assert container(cpu)["image"] == "boxpose:cpu" and container(gpu)["image"] == "boxpose:gpu"
    assert "nvidia.com/gpu" not in container(cpu)["resources"].get("limits", {})
    assert container(gpu)["resources"]["limits"]["nvidia.com/gpu"] == 1
    toleration = one(gpu, "Deployment")["spec"]["template"]["spec"]["tolerations"]
    assert {t["key"] for t in toleration} == {"nvidia.com/gpu"}
    for docs in (cpu, gpu):  # torch's threads match the CPU request
        env = {e["name"]: e.get("value") for e in container(docs)["env"]}
        assert env["OMP_NUM_THREADS"] == str(container(docs)["resources"]["requests"]["cpu"])


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_autoscaler_on_queue_depth_with_cpu_fallback(
    rendered: dict[str, list[Doc]], name: str
) -> None:
    docs = rendered[name]
    hpa = one(docs, "HorizontalPodAutoscaler")["spec"]
    by_type = {m["type"]: m for m in hpa["metrics"]}
    assert set(by_type) == {"Pods", "Resource"}
    assert by_type["Pods"]["pods"]["metric"]["name"] == adapter_rule()["name"]["as"]
    assert by_type["Resource"]["resource"]["name"] == "cpu"
    assert hpa["minReplicas"] > one(docs, "PodDisruptionBudget")["spec"]["minAvailable"]
    assert hpa["maxReplicas"] > hpa["minReplicas"]


def test_adapter_rule_reads_an_exported_gauge() -> None:
    rule = adapter_rule()
    exported = exported_names(Metrics().render()[0].decode())
    assert metric_names(rule["seriesQuery"]) == {"boxpose_queue_depth"} <= exported
    assert set(rule["resources"]["overrides"]) == {"namespace", "pod"}
    query = adapter_query(rule, 'namespace="ml",pod=~"boxpose-.*"', "pod")
    assert metric_names(query) == {"boxpose_queue_depth"}  # parses once filled in


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_network_policy_admits_only_ingress_and_prometheus(
    rendered: dict[str, list[Doc]], name: str
) -> None:
    spec = one(rendered[name], "NetworkPolicy")["spec"]
    assert spec["policyTypes"] == ["Ingress"] and "egress" not in spec
    peers = [peer for rule in spec["ingress"] for peer in rule["from"]]
    names = {p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in peers}
    assert names == {"ingress-nginx", "prometheus"}
    assert all("namespaceSelector" in p for p in peers)  # no "any pod in the namespace"
    assert {port["port"] for rule in spec["ingress"] for port in rule["ports"]} == {"http"}


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_service_monitor_scrapes_the_service_metrics_port(
    rendered: dict[str, list[Doc]], name: str
) -> None:
    docs = rendered[name]
    monitor, service = one(docs, "ServiceMonitor"), one(docs, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"][
        "labels"].items()  # fmt: skip
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
