"""Shutdown: SIGTERM -> /readyz 503 -> requests still answered -> in-flight drained -> exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from api_helpers import Hooks, Server, free_port
from runtime_fakes import SceneData

REPO = Path(__file__).resolve().parents[2]


def post(url: str, scene: SceneData) -> httpx.Response:
    files = {"image": ("scene.png", scene.png(), "image/png")}
    return httpx.post(f"{url}/v1/poses", files=files, timeout=30)


def test_readiness_drops_while_in_flight_requests_complete(
    make_server: Callable[..., Server], scene: SceneData, store: Path
) -> None:
    hooks = Hooks(store, gate=True)
    server = make_server(factory=hooks.factory, shutdown_delay_s=2.0, max_wait_ms=0)
    hooks.armed.set()
    with ThreadPoolExecutor(2) as pool:
        in_flight = pool.submit(post, server.url, scene)
        assert hooks.entered.wait(10)
        server.server.handle_exit(signal.SIGTERM, None)  # what uvicorn calls on SIGTERM
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 503 and ready.json()["error"]["code"] == "not_ready"
        assert "draining" in ready.json()["error"]["message"]
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        late = pool.submit(post, server.url, scene)  # still accepted during the delay
        time.sleep(0.2)
        hooks.release.set()
        assert in_flight.result().status_code == 200
        assert late.result().status_code == 200
    server.thread.join(15)
    assert not server.thread.is_alive()  # the server exited after draining
    assert server.runtime.state == "stopped"


def test_sigterm_on_boxpose_serve(store: Path, scene: SceneData) -> None:
    port = free_port()
    env = {**os.environ, "BOXPOSE_MODEL_STORE": str(store), "BOXPOSE_POSE_MODEL": "pose-fixed",
           "BOXPOSE_DETECTOR_MODEL": "detector-fixed", "BOXPOSE_PORT": str(port),
           "BOXPOSE_DEVICE": "cpu", "BOXPOSE_SHUTDOWN_DELAY_S": "2.0"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--log-level", "warning"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        with ThreadPoolExecutor(4) as pool:
            before = [pool.submit(post, url, scene) for _ in range(4)]
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.1)
            assert httpx.get(f"{url}/readyz").status_code == 503
            during = post(url, scene)
            results = [f.result() for f in before] + [during]
        assert [r.status_code for r in results] == [200] * 5
        assert len(results[0].json()["persons"]) == 2
        # a drained SIGTERM is a clean exit (uvicorn alone would re-raise it: -15)
        assert proc.wait(20) == 0
        log = proc.stdout.read().decode() if proc.stdout else ""
        assert "Traceback" not in log, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("boxpose serve did not become ready")
