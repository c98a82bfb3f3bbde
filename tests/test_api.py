"""The HTTP API through TestClient: answers, documents, health, auth, bad input, widget."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.config import Settings
from service.embedding import Embedder
from service.indexing import build_index
from service.search import Searcher
from tests.conftest import WriteFiles, make_pdf

FILES: dict[str, str | bytes] = {
    "notes.txt": "Tomatoes need six hours of sun.\r\nWater them at the base.\r\n",
    "guide.md": "# Garden guide\n\n## Soil\n\nCompost improves clay soil.\n",
    "page.html": "<title>Pests</title><h1>Aphids</h1><p>Ladybirds eat aphids.</p>",
    "docs/report.pdf": make_pdf(
        [
            [
                "Harvest report for the allotment society.",
                *[f"Plot {n} was dug over." for n in range(30)],
            ],
            ["Yields rose by 12 percent in 2024."],
        ]
    ),
    "broken.txt": "café crème".encode("latin-1"),
}


@pytest.fixture(scope="module")
def garden(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> tuple[Path, Path]:
    """A small corpus of every format and its index: (corpus, index)."""
    root = tmp_path_factory.mktemp("garden")
    corpus, index = root / "corpus", root / "index"
    for name, content in FILES.items():
        path = corpus / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    build_index(corpus, index, embedder)
    return corpus, index


@pytest.fixture(scope="module")
def searcher(garden: tuple[Path, Path], embedder: Embedder) -> Searcher:
    return Searcher.open(embedder, garden[1])


@pytest.fixture
def client(garden: tuple[Path, Path], searcher: Searcher) -> Iterator[TestClient]:
    corpus, index = garden
    with TestClient(create_app(Settings(corpus_dir=corpus, index_dir=index), searcher)) as client:
        yield client


def test_ask_returns_ranked_passages_with_exact_citations(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": "How much did yields grow?", "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert [p["rank"] for p in body["passages"]] == [1, 2, 3]
    first = body["passages"][0]
    assert first["citation"]["document_id"] == "docs/report.pdf"
    assert first["citation"]["page"] == 2 and first["citation"]["page_end"] == 2
    document = client.get("/v1/documents/docs/report.pdf").json()
    start, end = first["citation"]["start"], first["citation"]["end"]
    assert document["text"][start:end] == first["text"]
    assert document["pages"] == 2
    scores = [p["score"] for p in body["passages"]]
    assert scores == sorted(scores, reverse=True)


def test_crlf_document_lines_and_offsets(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": "How should tomatoes be watered?"}).json()
    first = body["passages"][0]
    citation = first["citation"]
    assert citation["document_id"] == "notes.txt"
    assert (citation["start"], citation["line_start"], citation["line_end"]) == (0, 1, 2)
    assert first["text"] == "Tomatoes need six hours of sun.\r\nWater them at the base."


def test_heading_path_in_citation(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": "How can clay soil be improved?"}).json()
    citation = body["passages"][0]["citation"]
    assert (citation["document_id"], citation["heading"]) == (
        "guide.md",
        ["Garden guide", "Soil"],
    )


def test_documents_are_listed_in_pages(client: TestClient) -> None:
    first = client.get("/v1/documents", params={"limit": 2}).json()
    second = client.get("/v1/documents", params={"limit": 2, "offset": 2}).json()
    ids = [d["document_id"] for d in first["documents"] + second["documents"]]
    assert ids == ["docs/report.pdf", "guide.md", "notes.txt", "page.html"]
    assert first["total"] == 4
    assert first["documents"][1]["title"] == "Garden guide"


def test_original_files_come_back_with_their_content_type(client: TestClient) -> None:
    pdf = client.get("/v1/documents/docs/report.pdf/file")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content == FILES["docs/report.pdf"]
    html = client.get("/v1/documents/page.html/file")
    assert html.headers["content-type"] == "text/html; charset=utf-8"


def test_readyz_reports_the_index_and_skipped_files(client: TestClient) -> None:
    body = client.get("/readyz").json()
    assert body["status"] == "ready"
    assert (body["documents"], body["skipped"][0]["source"]) == (4, "broken.txt")
    assert body["skipped"][0]["reason"].startswith("not UTF-8 text")
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"question": ""}, "question is empty"),
        ({"question": " \n\t "}, "question is empty"),
        ({"question": "?!."}, "question has no words (letters or digits): '?!.'"),
        ({"question": "\u0000"}, "question has no words"),
        ({"question": "x" * 2001}, "at most 2000 characters"),
        ({"question": "soil", "k": 0}, "greater than or equal to 1"),
        ({"question": "soil", "k": 51}, "less than or equal to 50"),
        ({"question": "soil", "k": "5"}, "valid integer"),
        ({"question": 42}, "valid string"),
        ({"k": 3}, "Field required"),
        ({"question": "soil", "top": 3}, "Extra inputs are not permitted"),
        (["soil"], "valid dictionary"),
    ],
)
def test_bad_questions_get_422_naming_the_problem(
    client: TestClient, body: object, message: str
) -> None:
    response = client.post("/v1/ask", json=body)
    assert response.status_code == 422
    assert message in response.text


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"question": "soil", "k": NaN}', "valid integer"),
        ('{"question": "soil", "k": 1e400}', "valid integer"),
        ('{"question": "soil", "k": 5, "extra": Infinity}', "Extra inputs are not permitted"),
        ('{"question": "\\ud800"}', "unable to parse raw data as a unicode"),
        ('{"question": "soil", "history": ["\\udfff"]}', "unable to parse raw data as a unicode"),
        ('{"question": "soil", "history": ["a", "b", "c", "d", "e", "f"]}', "at most 5 items"),
    ],
)
def test_json_that_cannot_be_echoed_is_still_a_422(
    client: TestClient, raw: str, message: str
) -> None:
    response = client.post("/v1/ask", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert message in response.text
    assert "input" not in response.json()["detail"][0]


def test_non_json_body_is_a_422(client: TestClient) -> None:
    response = client.post(
        "/v1/ask", content=b"question=soil", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "JSON decode error" in response.text


def test_a_form_body_is_a_415_naming_the_json_header(client: TestClient) -> None:
    # What `curl -d 'question=soil'` sends.
    response = client.post(
        "/v1/ask",
        content=b"question=soil",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (response.status_code, response.json()) == (
        415,
        {
            "detail": "Send the body as JSON with 'Content-Type: application/json', "
            "not 'application/x-www-form-urlencoded'"
        },
    )


def test_unknown_document_is_a_404(client: TestClient) -> None:
    for path in ("/v1/documents/nope.txt", "/v1/documents/nope.txt/file"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json() == {"detail": "No document 'nope.txt' in the index"}


def test_api_key_guards_every_v1_route(garden: tuple[Path, Path], searcher: Searcher) -> None:
    corpus, index = garden
    settings = Settings(corpus_dir=corpus, index_dir=index, api_key="s3cret")
    with TestClient(create_app(settings, searcher)) as client:
        for method, path in [("post", "/v1/ask"), ("get", "/v1/documents")]:
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                response = client.request(method, path, json={"question": "x"}, headers=headers)
                assert response.status_code == 401
                assert "HEREIN_API_KEY" in response.json()["detail"]
        ok = client.post(
            "/v1/ask", json={"question": "soil"}, headers={"Authorization": "Bearer s3cret"}
        )
        assert ok.status_code == 200
        assert client.get("/healthz").status_code == 200


def _readiness_once_loaded(client: TestClient) -> dict[str, object]:
    """/readyz's body once the model has loaded and the index has been looked for."""
    deadline = time.monotonic() + 60
    while (body := client.get("/readyz").json())["status"] == "loading":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return dict(body)


def test_readyz_is_503_until_an_index_loads(tmp_path: Path) -> None:
    settings = Settings(corpus_dir=tmp_path, index_dir=tmp_path / "missing")
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 503
        assert client.post("/v1/ask", json={"question": "soil"}).status_code == 503
        body = _readiness_once_loaded(client)
        assert body["status"] == "error"
        assert "run `herein build` first" in body["detail"]


def test_readyz_on_an_empty_corpus_says_how_to_add_the_first_documents(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    settings = Settings(
        corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", admin_token="s", watch=True
    )
    with TestClient(create_app(settings)) as client:
        assert _readiness_once_loaded(client) == {
            "status": "waiting",
            "detail": "No documents indexed yet: upload one (POST /v1/documents) or drop "
            f"files into {tmp_path / 'corpus'}, and the index is built then",
        }
        asked = client.post("/v1/ask", json={"question": "soil"})
        assert asked.status_code == 503
        assert asked.json()["detail"].startswith("No documents indexed yet")
    # A corpus with files has its index built before serving: none means a wrong or
    # removed index folder, which no upload fixes.
    (tmp_path / "corpus" / "notes.md").write_text("Some notes.")
    with TestClient(create_app(settings)) as client:
        body = _readiness_once_loaded(client)
        assert body["status"] == "error"
        assert "run `herein build` first" in body["detail"]


def test_a_server_started_before_the_first_build_serves_it_once_it_appears(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("service.api.Embedder.load", lambda model: embedder)
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "soil.txt").write_text("Compost improves clay soil.")
    settings = Settings(corpus_dir=corpus, index_dir=index, reload_seconds=0.1)
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 10
        while client.get("/readyz").json()["status"] == "loading":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.get("/readyz").json()["status"] == "error"
        version = build_index(corpus, index, embedder).version
        deadline = time.monotonic() + 10
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, client.get("/readyz").json()
            time.sleep(0.05)
        assert client.get("/readyz").json()["index_version"] == version


# The widget's side of the API: history, CORS, static pages.

QUESTION = "When did Wallonia adopt the Marshall Plan?"
SITE = "https://docs.example.org"


def client_with(searcher: Searcher, **settings: str) -> TestClient:
    """A client of an app over this searcher, with these settings."""
    return TestClient(create_app(Settings(**settings), searcher))  # type: ignore[arg-type]


def test_ask_takes_a_history_of_at_most_five_questions_of_2000_chars(
    seed_searcher: Searcher,
) -> None:
    api = client_with(seed_searcher)
    ok = api.post("/v1/ask", json={"question": QUESTION, "history": ["What is Wallonia?"] * 5})
    assert ok.status_code == 200
    too_many = api.post("/v1/ask", json={"question": QUESTION, "history": ["Why?"] * 6})
    too_long = api.post("/v1/ask", json={"question": QUESTION, "history": ["x" * 2001]})
    not_text = api.post("/v1/ask", json={"question": QUESTION, "history": [3]})
    assert [r.status_code for r in (too_many, too_long, not_text)] == [422, 422, 422]
    assert too_many.json()["detail"][0]["loc"] == ["body", "history"]


def test_follow_up_with_history_finds_what_it_refers_to(seed_searcher: Searcher) -> None:
    body = {"question": "When was it launched?", "k": 1}
    history = ["What is the Creative Wallonia Action Plan?"]
    answer = client_with(seed_searcher).post("/v1/ask", json={**body, "history": history}).json()
    assert "Creative Wallonia Action Plan (2010)" in answer["passages"][0]["text"]
    assert answer["question"] == "When was it launched?"


def test_cors_allows_configured_origins_only(seed_searcher: Searcher) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    allowed = client_with(seed_searcher, cors_origins=f"{SITE}/, https://other.example")
    answer = allowed.options("/v1/ask", headers={"Origin": SITE, **preflight})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == SITE
    assert "authorization" in answer.headers["access-control-allow-headers"].lower()
    posted = allowed.post("/v1/ask", json={"question": QUESTION}, headers={"Origin": SITE})
    assert posted.headers["access-control-allow-origin"] == SITE

    by_default = client_with(seed_searcher)
    refused = by_default.options("/v1/ask", headers={"Origin": SITE, **preflight})
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    posted = by_default.post("/v1/ask", json={"question": QUESTION}, headers={"Origin": SITE})
    assert "access-control-allow-origin" not in posted.headers


def test_demo_page_escapes_titles_and_counts_the_rest(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    files = {f"note-{n:02}.md": f"# Note {n}\n\nShelf {n} holds maps.\n" for n in range(11)}
    files["a.md"] = "# <img src=x onerror=alert(1)> {{HEREIN_URL}}\n\nA hostile title.\n"
    build_index(write_corpus(files), tmp_path / "index", embedder)
    searcher = Searcher.open(embedder, tmp_path / "index")
    page = client_with(searcher).get("/").text
    searcher.index.close()
    assert "This service answers from 12 documents:" in page
    assert "<li>&lt;img src=x onerror=alert(1)&gt; {{HEREIN_URL}}</li>" in page
    assert "<li>Note 8</li><li>and 2 more</li>" in page
    assert "<img" not in page


def test_widget_demo_and_viewer_are_served(seed_searcher: Searcher) -> None:
    api = client_with(seed_searcher)
    widget = api.get("/widget.js")
    assert widget.status_code == 200
    assert widget.headers["content-type"].startswith("text/javascript")
    assert 'customElements.define("herein-chat"' in widget.text

    demo = api.get("/")
    snippet = (
        '&lt;script src="http://testserver/widget.js" data-herein-url="http://testserver" '
        "defer&gt;&lt;/script&gt;"
    )
    assert snippet in demo.text
    assert '<script src="/widget.js" data-herein-url="http://testserver" defer>' in demo.text
    assert "script-src" not in demo.headers["content-security-policy"]
    assert demo.headers["content-security-policy"].startswith("default-src 'self'")
    # The page names what this index holds, not a corpus it was written for.
    assert "This service answers from 1 document:" in demo.text
    assert "<li>Wallonia industrial policy</li>" in demo.text
    keyed = client_with(seed_searcher, api_key="s3cret").get("/")
    assert keyed.status_code == 200
    assert "Wallonia" not in keyed.text

    viewer = api.get("/view/wallonia-industrial-policy.txt")
    assert viewer.status_code == 200
    assert '<script src="/static/viewer.js" defer></script>' in viewer.text
    missing = api.get("/view/nope.txt")
    assert (missing.status_code, missing.text) == (404, viewer.text)
    keyed_missing = client_with(seed_searcher, api_key="s3cret").get("/view/nope.txt")
    assert keyed_missing.status_code == 200
    assert api.get("/static/viewer.js").headers["content-type"].startswith("text/javascript")
    assert api.get("/static/demo.html").status_code == 404
    assert "/widget.js" not in api.get("/openapi.json").json()["paths"]
