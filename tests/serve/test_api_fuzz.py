"""Fuzz the OpenAPI spec with schemathesis (bounded, deterministic): no 5xx on any endpoint.

Every operation gets 20 generated requests (``derandomize``: the same ones every run), sent
in process over ASGI to the app on the seeded city, once with an admin token (every
admin-readable endpoint answers with data) and once with a reviewer's (the review actions get
past the role check). Logout is left out: it would revoke the token the rest of the run uses.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.serve.api_seed import bearer, client, empty, seed

BOUNDED = settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@pytest.fixture(scope="session")
def mlflow_dir(tmp_path_factory):
    """One (empty) MLflow store for both backends: creating it takes seconds."""
    return tmp_path_factory.mktemp("mlflow")


@pytest.fixture(scope="module")
def fuzzed(migrated_url, mlflow_dir):
    empty(migrated_url)
    s = seed(migrated_url)
    with client(migrated_url, mlflow_dir) as c:
        schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", c.app)
        yield schema, s
    empty(migrated_url)


def operations(schema):
    ops = [result.ok() for result in schema.get_all_operations()]
    # logout and renewal revoke the token the fuzzer runs with
    revoking = ("/auth/logout", "/auth/tokens/renew")
    return [op for op in ops if not op.path.endswith(revoking)]


@pytest.mark.parametrize("who", ["adm", "rev"])
def test_no_server_error_on_any_endpoint(fuzzed, who):
    schema, s = fuzzed
    ops = operations(schema)
    assert len(ops) == 34  # every route but logout and token renewal

    for op in ops:

        @given(case=op.as_strategy())
        @BOUNDED
        def run(case):
            case.call_and_validate(headers=bearer(s.tokens[who]), checks=[not_a_server_error])

        run()
