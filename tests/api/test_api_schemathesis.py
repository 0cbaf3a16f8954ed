"""The OpenAPI document says exactly what the service accepts: schemathesis generates requests
from /openapi.json for every route and checks each answer against it (a live server with the
stand-in models; few examples per route, so it stays fast).

`positive_data_acceptance` (a schema-valid request must be accepted) runs on every request
whose body JSON Schema can describe completely: no body, query parameters, raw image bodies
(schemathesis sends a real file of the media type). Not on multipart bodies, video bodies or the
v2 JSON tensor: an image part, a video, or a base64 photo inside a tensor is "any bytes" to JSON
Schema, and a box's x2 > x1 is no JSON Schema constraint, so generated bodies are rightly
refused there (400/415/422); the other five checks still run on them."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import Server
from hypothesis import HealthCheck, given, settings

schemathesis = pytest.importorskip("schemathesis")
checks = schemathesis.checks
FailureGroup = pytest.importorskip("schemathesis.core.failures").FailureGroup

CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.response_schema_conformance, checks.content_type_conformance,
          checks.response_headers_conformance]  # fmt: skip
UNDESCRIBABLE = ("multipart/form-data", "video/", "application/octet-stream")  # see above


def describable(case: Any) -> bool:
    """Whether the case's body (if any) is one JSON Schema describes completely."""
    media = case.media_type or ""
    infer = case.operation.path.endswith("/infer")
    return not infer and not any(media.startswith(m) for m in UNDESCRIBABLE)
EXAMPLES = 8  # per route and generation mode


@pytest.fixture(scope="module")
def api_schema(server: Server) -> Any:
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


def failures_of(operation: Any) -> list[str]:
    """Every distinct failure schemathesis finds on one route (empty: none)."""
    found: list[str] = []

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def run(case: Any) -> None:
        try:
            extra = [checks.positive_data_acceptance] if describable(case) else []
            case.call_and_validate(checks=CHECKS + extra)
        except (Exception, FailureGroup) as exc:  # noqa: BLE001 - a check's failure, named below
            text = f"{operation.label}: {type(exc).__name__}: {str(exc)[:600]}"
            if text not in found:
                found.append(text)

    run()
    return found


def test_every_route_answers_as_documented(api_schema: Any) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert {"POST /v1/poses", "POST /v2/models/{name}/infer", "GET /v2/health/ready"} <= labels
    failures = [f for op in operations for f in failures_of(op)]
    assert not failures, "\n\n".join(failures)
