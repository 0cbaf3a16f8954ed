"""The upload page in headless Chromium (Debian's chromium driven by Playwright's Python package):
choose an image, submit, see the overlay and the JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from api_helpers import Server
from runtime_fakes import SceneData

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="2 upload-page tests skip: /usr/bin/chromium is missing; install Debian's chromium "
    "(apt-get install chromium, as root; .ci/run does it) and run make test again",
)


def test_upload_page_shows_overlay_and_json(
    server: Server, scene: SceneData, tmp_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    image = tmp_path / "scene.png"
    image.write_bytes(scene.png())
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.goto(server.url + "/")
            assert page.title() == "boxpose"
            page.set_input_files("#image", str(image))
            page.click("#submit")
            page.wait_for_function(
                "document.getElementById('overlay').complete"
                " && document.getElementById('overlay').naturalWidth > 0", timeout=20_000,
            )  # fmt: skip
            body = json.loads(page.text_content("#json") or "{}")
            assert len(body["persons"]) == 2
            assert page.evaluate("document.getElementById('overlay').naturalWidth") == 320
            assert "2 person(s)" in (page.text_content("#status") or "")
        finally:
            browser.close()


def test_upload_page_shows_errors(server: Server, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.goto(server.url + "/")
            page.set_input_files("#image", str(bad))
            page.click("#submit")
            page.wait_for_selector("#status.error", timeout=20_000)
            assert "400 invalid_image" in (page.text_content("#status") or "")
        finally:
            browser.close()
