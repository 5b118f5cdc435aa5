"""The HTTP interface fuzzed from its own OpenAPI description: no input gives a 5xx.

Schemathesis generates requests for every operation, both ones that fit the schema
(positive) and ones that break it (negative: wrong types, missing fields, bad paths),
and each is sent over real HTTP to a member's app on a real Redis. A bounded number of
examples per operation keeps the run short.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis.openapi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Ok

from jarvis.api import ApiContext, create_app

EXAMPLES_PER_OPERATION = 25


# Schemathesis draws from the `random` module inside its strategies, which Hypothesis
# deprecates; that is the library's business, not a defect of ours.
@pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module:hypothesis.errors.HypothesisDeprecationWarning"
)
def test_no_generated_request_gets_a_server_error(
    context: ApiContext, client: httpx.Client
) -> None:
    schema = schemathesis.openapi.from_dict(create_app(context).openapi())
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the schema of every operation is valid
        operations.append(result.ok())
    assert len(operations) >= 10
    base_url = str(client.base_url)
    failures: list[str] = []
    sent = 0

    for operation in operations:
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def send(case: Case[Any]) -> None:
            nonlocal sent
            kwargs = case.as_transport_kwargs(base_url=base_url)
            # an event stream never ends: its status is judged from the headers
            with client.stream(
                kwargs["method"],
                kwargs["url"],
                params=kwargs.get("params"),
                headers={k: str(v) for k, v in (kwargs.get("headers") or {}).items()},
                content=kwargs.get("data") if isinstance(kwargs.get("data"), bytes) else None,
                json=kwargs.get("json"),
            ) as answer:
                status = answer.status_code
            sent += 1
            if status >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {status}")

        send()
    assert sent >= len(operations) * 5
    assert failures == []
