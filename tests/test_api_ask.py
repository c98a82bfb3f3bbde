"""Route-level tests of /v1/ask's retrieval: sources, highlights, confidence, answer_found."""

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.config import Settings
from service.search import Searcher
from tests.conftest import MULTIDOC_CORPUS


@pytest.fixture
def client(multidoc_searcher: Searcher) -> TestClient:
    settings = Settings(corpus_dir=MULTIDOC_CORPUS)
    return TestClient(create_app(settings, multidoc_searcher))


def test_ask_returns_highlights_confidence_and_answer_found(client: TestClient) -> None:
    body = client.post(
        "/v1/ask", json={"question": "How much can I spend per night on a hotel in Paris?"}
    ).json()
    assert body["answer_found"] is True
    first = body["passages"][0]
    citation = first["citation"]
    text = (MULTIDOC_CORPUS / citation["source"]).read_text(encoding="utf-8")
    [highlight] = first["highlights"]
    assert citation["start"] <= highlight["start"] < highlight["end"] <= citation["end"]
    assert "220 euros in London, Paris" in text[highlight["start"] : highlight["end"]]
    assert 0 < first["confidence"] <= 1


def test_ask_with_sources_searches_only_those_documents(client: TestClient) -> None:
    response = client.post(
        "/v1/ask", json={"question": "What is the warranty?", "k": 5, "sources": ["products/x2"]}
    )
    assert response.status_code == 200
    assert {p["citation"]["source"] for p in response.json()["passages"]} == {
        "products/x200-manual.md"
    }


def test_off_corpus_question_is_not_found_but_still_answered(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": "Who painted the Mona Lisa?"}).json()
    assert body["answer_found"] is False
    assert len(body["passages"]) == 5


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ([], "at least 1 item"),
        ([""], "at least 1 character"),
        (["reports/", 3], "valid string"),
        ("reports/", "valid list"),
        (["nosuch/", "./products"], "no document's source starts with 'nosuch/' or './products'"),
        (["reports/", "report/"], "no document's source starts with 'report/' (prefixes"),
    ],
)
def test_bad_sources_are_refused_with_a_message(
    client: TestClient, sources: object, message: str
) -> None:
    response = client.post("/v1/ask", json={"question": "Revenue?", "sources": sources})
    assert response.status_code == 422
    assert message in response.text
