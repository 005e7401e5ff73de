"""Property-based: schemathesis over /openapi.json finds no 5xx and no off-schema response."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.main import create_app
from app.settings import Settings

# A generous time limit (and client timeout, below): this checks what the API answers, and on a
# busy machine the labs' documented examples (a 30-layer network) outlast the production 5 s.
# Training streams for up to a minute per example; its bodies are tested in test_train_api.py.
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(Settings(time_limit=120.0))).exclude(path="/api/labs/train")


@schema.parametrize()
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_api_conforms_to_its_schema(case) -> None:
    # A schema-valid request may still be a wrong expression (unknown name, missing value):
    # that is a documented 400, so "valid data must be accepted" does not apply here.
    case.call_and_validate(excluded_checks=[positive_data_acceptance], timeout=150)
