"""Property-based: schemathesis over /openapi.json finds no 5xx and no off-schema response."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from app.main import create_app
from app.settings import Settings

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(Settings()))


@schema.parametrize()
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_api_conforms_to_its_schema(case) -> None:
    case.call_and_validate()
