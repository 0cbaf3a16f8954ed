"""GET the loaded models (name, version, kind, skeleton, stride, device, sha256) and the parser."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import Authorised, ServingRuntime
from service.api.schemas import ERROR_RESPONSES, ModelsResponse, describe

router = APIRouter(prefix="/v1", tags=["models"], dependencies=[Authorised])


@router.get("/models", response_model=ModelsResponse, responses=ERROR_RESPONSES,
            summary="The loaded models")  # fmt: skip
async def models(runtime: ServingRuntime) -> ModelsResponse:
    pipeline = runtime.pipeline
    return ModelsResponse(models=[describe(m) for m in pipeline.models],
                          parser=pipeline.config.parser_name)
