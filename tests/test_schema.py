"""A bounded schemathesis run over the OpenAPI schema: no input makes the API fail with 5xx."""

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from service.api import create_app
from service.config import Settings
from service.embedding import Embedder
from service.search import Searcher
from tests.conftest import SEED_CORPUS


def test_no_input_makes_a_server_error(seed_index: Path, embedder: Embedder) -> None:
    searcher = Searcher.open(embedder, seed_index)
    app = create_app(Settings(corpus_dir=SEED_CORPUS, index_dir=seed_index), searcher)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/ask", "/v1/documents/{document_id}"}
    for operation in operations:
        # Driven through hypothesis directly: the pytest plugin lags pytest releases.
        @given(case=operation.as_strategy())
        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        check()
