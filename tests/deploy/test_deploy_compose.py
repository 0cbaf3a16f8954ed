"""docker-compose.yml: valid against the compose specification's JSON schema (and `docker compose
config` where that CLI exists), the files it mounts exist, Prometheus and Grafana provisioning
agree with it."""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib import resources
from typing import Any

import jsonschema
import pytest
from deploy_helpers import ROOT, load_yaml

COMPOSE = ROOT / "docker-compose.yml"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA = ROOT / "deploy" / "grafana"


def compose_schema() -> dict[str, Any] | None:
    """The compose-spec schema that check-jsonschema (dev extra) ships; None without it."""
    try:
        files = resources.files("check_jsonschema")
    except ModuleNotFoundError:
        return None
    path = files.joinpath("builtin_schemas/vendor/compose-spec.json")
    return dict(json.loads(path.read_text())) if path.is_file() else None


def docker_compose_works() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(load_yaml(COMPOSE))


@pytest.mark.skipif(
    compose_schema() is None,
    reason="no compose-spec schema: check-jsonschema (pip extra dev) missing or moved it",
)
def test_compose_file_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = compose_schema()
    assert schema is not None
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert [e.message for e in validator.iter_errors(compose)] == []
    broken = {
        **compose,
        "services": {
            **compose["services"],
            "boxpose": {
                **compose["services"]["boxpose"],
                "stop_grace_period": 40,
                "restart": "sometimes",
            },
        },
    }
    assert len(list(validator.iter_errors(broken))) >= 1  # the schema does bite


@pytest.mark.skipif(
    not docker_compose_works(), reason="no `docker compose` CLI plugin on this machine"
)
def test_docker_compose_config_accepts_the_file() -> None:
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "--profile", "gpu", "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_service_prometheus_grafana_and_a_gpu_profile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"boxpose", "boxpose-gpu", "prometheus", "grafana"} <= set(services)
    cpu, gpu = services["boxpose"], services["boxpose-gpu"]
    assert "profiles" not in cpu and gpu["profiles"] == ["gpu"]
    assert (cpu["build"]["args"]["DEVICE"], gpu["build"]["args"]["DEVICE"]) == ("cpu", "cuda")
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert gpu["environment"]["BOXPOSE_DEVICE"] == "cuda"
    dockerfile = (ROOT / "Dockerfile").read_text()
    for service in (cpu, gpu):  # each DEVICE names a base stage of the Dockerfile
        assert f"AS base-{service['build']['args']['DEVICE']}" in dockerfile
        # The drain fits in the stop grace period.
        grace_s = int(service["stop_grace_period"].rstrip("s"))
        assert grace_s > float(service["environment"]["BOXPOSE_DRAIN_TIMEOUT_S"])


def test_every_mounted_file_exists(compose: dict[str, Any]) -> None:
    mounts = [volume.split(":")[0] for service in compose["services"].values()
              for volume in service.get("volumes", []) if volume.startswith("./")]  # fmt: skip
    assert len(mounts) == 3
    assert [m for m in mounts if not (ROOT / m).exists()] == []


def test_prometheus_scrapes_the_compose_services_on_the_service_port(
    compose: dict[str, Any],
) -> None:
    config = load_yaml(PROMETHEUS)
    (job,) = config["scrape_configs"]
    (dns,) = job["dns_sd_configs"]
    assert set(dns["names"]) == {"boxpose", "boxpose-gpu"} <= set(compose["services"])
    assert dns["port"] == 8000 and job["metrics_path"] == "/metrics"
    assert compose["services"]["boxpose"]["ports"] == ["8000:8000"]


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not installed (Debian package prometheus)"
)
def test_promtool_accepts_the_prometheus_config() -> None:
    result = subprocess.run(["promtool", "check", "config", str(PROMETHEUS)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_provisioning_matches_the_mounts_and_the_dashboard(
    compose: dict[str, Any],
) -> None:
    volumes = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"])
    (source,) = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")[
        "datasources"]  # fmt: skip
    assert source["url"] == "http://prometheus:9090" and source["type"] == "prometheus"
    (provider,) = load_yaml(GRAFANA / "provisioning" / "dashboards" / "boxpose.yml")["providers"]
    assert volumes["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert volumes["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    dashboard = json.loads((GRAFANA / "dashboards" / "boxpose.json").read_text())
    uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]}
    assert uids == {source["uid"]}
