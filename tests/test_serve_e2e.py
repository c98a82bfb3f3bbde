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


def test_serve_a_mixed_corpus_with_skips_and_ask_cli(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import make_pdf

    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "crlf.txt").write_bytes(b"Line one about ferries.\r\nLine two about tides.\r\n")
    (corpus / "bom.md").write_bytes("\ufeff# Harbour\n\nThe harbour opens at dawn.\n".encode())
    (corpus / "sub/page.html").write_text("<h1>Lighthouse</h1><p>The lamp turns every 10 s.</p>")
    (corpus / "sub/tides.pdf").write_bytes(make_pdf([["Intro page."], ["High tide is at noon."]]))
    (corpus / "latin1.txt").write_bytes("Caf\xe9".encode("latin-1"))
    (tmp_path / "outside.txt").write_text("Private notes.")
    os.symlink(tmp_path / "outside.txt", corpus / "outside.txt")
    index = tmp_path / "index"
    with running_server(corpus, index) as url:
        ready = httpx.get(f"{url}/readyz").json()
        assert ready["documents"] == 4
        assert [s["source"] for s in ready["skipped"]] == ["latin1.txt", "outside.txt"]
        expected = {
            "When does the harbour open?": ("bom.md", 0, None),
            "How often does the lamp turn?": ("sub/page.html", 0, None),
            "When is high tide?": ("sub/tides.pdf", 12, 2),
            "What is line two about?": ("crlf.txt", 0, None),
        }
        for question, (document_id, start, page) in expected.items():
            first = httpx.post(f"{url}/v1/ask", json={"question": question}).json()["passages"][0]
            citation = first["citation"]
            assert (citation["document_id"], citation["start"], citation["page"]) == (
                document_id,
                start,
                page,
            )
            text = httpx.get(f"{url}/v1/documents/{document_id}").json()["text"]
            assert text[citation["start"] : citation["end"]] == first["text"]
        bad = httpx.post(f"{url}/v1/ask", json={"question": "tides", "k": 99})
        assert bad.status_code == 422
    asked = subprocess.run(
        [sys.executable, "-m", "service", "ask", "When is high tide?", "--index", str(index)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert asked.stdout.startswith("1. [")
    assert "sub/tides.pdf, page 2 (chars 12-33)" in asked.stdout
    assert "High tide is at noon." in asked.stdout
