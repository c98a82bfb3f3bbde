"""End to end: a real `herein serve` process over the default corpus, asked over HTTP."""

from pathlib import Path

import httpx

from tests.conftest import SEED_CORPUS, running_server


def test_serve_builds_missing_index_and_answers_with_exact_citation(tmp_path: Path) -> None:
    index = tmp_path / "index"
    with running_server(SEED_CORPUS, index) as url:
        response = httpx.post(
            f"{url}/v1/ask", json={"question": "When did Wallonia adopt the Marshall Plan?"}
        )
        assert response.status_code == 200
        body = response.json()
        first = body["passages"][0]
        citation = first["citation"]
        text = (SEED_CORPUS / citation["source"]).read_bytes().decode("utf-8")
        assert "In 2005, the Walloon Government adopted" in first["text"]
        assert text[citation["start"] : citation["end"]] == first["text"]
        assert citation["line_start"] == text.count("\n", 0, citation["start"]) + 1
        assert body["index_version"] == (index / "CURRENT").read_text().strip()
        document = httpx.get(f"{url}/v1/documents/{citation['document_id']}").json()
        assert document["text"] == text
