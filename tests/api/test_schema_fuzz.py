"""Property test: requests generated from the OpenAPI schema (valid and invalid) never get a
5xx, and answers conform to the documented responses.

Uses schemathesis strategies with `hypothesis.given` rather than `schema.parametrize`, whose
lazy fixture loader does not work with pytest 9.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks

from movierec.api.main import create_app
from movierec.config import ServingSettings


@pytest.fixture
def api_schema(tmp_path: Path, bundles: dict[str, Path]) -> schemathesis.BaseSchema:
    app = create_app(
        ServingSettings(
            model_dir=bundles["embeddings"],
            log_db=tmp_path / "requests.db",
            admin_token="fuzz-token",
        )
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_generated_requests_never_get_a_server_error(
    api_schema: schemathesis.BaseSchema, mode: GenerationMode
) -> None:
    @given(data=st.data())
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    def check(data: st.DataObject) -> None:
        case = data.draw(api_schema.as_strategy(generation_mode=mode))
        response = case.call()
        not_ready = case.path == "/health" and response.status_code == 503
        assert (
            response.status_code < 500 or not_ready
        ), f"{case.method} {case.path} -> {response.status_code}: {response.text}"
        if mode == GenerationMode.POSITIVE:
            # Ids are strict integers: JSON Schema's "integer" admits 5.0, this API refuses it.
            case.validate_response(response, excluded_checks=[checks.positive_data_acceptance])

    check()
