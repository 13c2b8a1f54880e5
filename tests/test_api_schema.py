"""Schemathesis against the live API, driven by the schema the server serves.

A stateful run (sequences of calls, each using what earlier answers returned: uploads ->
jobs -> documents -> passages -> similar...) and a run over every operation alone, with
the caller's token; both must meet 0 server errors and 0 answers that break the schema
(status codes, content types, headers and bodies as documented). Values the schema
allows but the core refuses (k=0, an unknown file type) are answered 400 with the
core's message, which the schema documents, so they pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api_server import LiveApi, live_api, wait_for_job
from tests.conftest import sized

pytestmark = [pytest.mark.server, pytest.mark.slow]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
TOKENS: dict[str, dict[str, object]] = {"admin": {"collection": "fuzz", "role": "admin"}}
SETTINGS = hypothesis.settings(
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    derandomize=False,
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    root = tmp_path_factory.mktemp("api-fuzz")
    env = {
        "SEARCHAPP_API_RATE_PER_MINUTE": "0",
        "SEARCHAPP_MAX_FILE_MB": "2",
        "SEARCHAPP_API_MAX_UPLOAD_MB": "4",
    }
    with live_api(root, TOKENS, env=env) as server, httpx.Client(timeout=60) as client:
        text = "# Seed\n\n" + "\n\n".join(f"Paragraph {i} on the otter survey." for i in range(10))
        made = client.post(
            f"{server.api}/documents",
            headers=server.auth("admin"),
            files=[("files", ("seed.md", text.encode()))],
        )
        assert wait_for_job(client, made.json()["status_url"], server.auth("admin"))["state"] == "done"
        yield server


def load(live: LiveApi) -> Any:
    schema = schemathesis.openapi.from_url(f"{live.url}/api/openapi.json")
    # Revoking its own token would end the run early (a 401 afterwards is still documented).
    return schema.exclude(method="DELETE", path_regex="tokens")


def test_stateful_sequences_meet_the_schema(live: LiveApi) -> None:
    machine = load(live).as_state_machine()
    headers = live.auth("admin")

    class Machine(machine):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers, "timeout": 60}

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS)

    settings = hypothesis.settings(
        SETTINGS,
        max_examples=sized(ci=12, full=200, fast=5),
        stateful_step_count=sized(ci=6, full=12, fast=4),
    )
    try:
        Machine.run(settings=settings)
    except hypothesis.errors.FlakyStrategyDefinition:
        # The fuzzer's own bookkeeping, not a finding: schemathesis 4.32 picks stateful links
        # with an untracked random, so a replay against a server whose state moved on can
        # draw differently (fixed upstream in schemathesis#4132). A second run must pass
        # whole; a server error or a schema violation is never caught here.
        Machine.run(settings=settings)


def test_every_operation_alone_meets_the_schema(live: LiveApi) -> None:
    schema = load(live)
    headers = live.auth("admin")
    examples = sized(ci=8, full=100, fast=4)
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(SETTINGS, max_examples=examples)
        def check(case: Any) -> None:
            response = case.call(headers=headers, timeout=60)
            case.validate_response(response, checks=CHECKS)

        check()
        tested += 1
    assert tested >= 15
