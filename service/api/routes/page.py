"""GET / -> the upload page (photo, video and webcam modes); GET /sample.jpg -> its sample photo.

The sample is scikit-image's astronaut (Eileen Collins, NASA Great Images; public domain, "no
known copyright restrictions"), the photo the tests already read: shipped as a 512 x 512 JPEG.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

STATIC = Path(__file__).resolve().parents[1] / "static"
PAGE = STATIC / "index.html"
SAMPLE = STATIC / "sample.jpg"

router = APIRouter(tags=["page"])


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index() -> HTMLResponse:
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))


@router.get("/sample.jpg", response_class=FileResponse, include_in_schema=False)
async def sample() -> FileResponse:
    return FileResponse(SAMPLE, media_type="image/jpeg",
                        headers={"Cache-Control": "public, max-age=86400"})  # fmt: skip
