"""Admin routes through TestClient: token rules, and bad uploads refused with nothing written."""

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from service.api import create_app
from service.config import Settings
from service.embedding import Embedder
from service.indexing import build_index
from service.search import Searcher

TOKEN = "s3cret-admin"
ADMIN_ROUTES = [
    ("post", "/v1/documents"),
    ("delete", "/v1/documents/a.txt"),
    ("post", "/v1/index/rebuild"),
    ("get", "/v1/index/jobs/abc"),
]


def _client(settings: Settings, searcher: Searcher) -> Iterator[TestClient]:
    with TestClient(create_app(settings, searcher)) as client:
        yield client


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "kept.txt").write_text("Already here.")
    (tmp_path / "outside.txt").write_text("Outside the corpus.")
    (folder / "escape.txt").symlink_to(tmp_path / "outside.txt")
    return folder


@pytest.fixture
def admin(corpus: Path, seed_searcher: Searcher) -> Iterator[TestClient]:
    settings = Settings(
        corpus_dir=corpus, index_dir=seed_searcher.index.root, admin_token=TOKEN,
        max_upload_bytes=100,
    )  # fmt: skip
    yield from _client(settings, seed_searcher)


def test_admin_routes_do_not_exist_without_a_token(seed_searcher: Searcher) -> None:
    for client in _client(Settings(index_dir=seed_searcher.index.root), seed_searcher):
        for method, path in ADMIN_ROUTES:
            response = client.request(method, path, headers={"Authorization": "Bearer x"})
            assert (path, response.status_code) == (path, 404)
        paths = client.get("/openapi.json").json()["paths"]
        assert sorted(paths) == [
            "/healthz",
            "/readyz",
            "/v1/ask",
            "/v1/documents",
            "/v1/documents/{document_id}",
            "/v1/documents/{document_id}/file",
        ]
        assert sorted(paths["/v1/documents"]) == ["get"]


def test_admin_routes_need_the_right_token(admin: TestClient) -> None:
    for method, path in ADMIN_ROUTES:
        assert admin.request(method, path).status_code == 401
        wrong = admin.request(method, path, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
    right = admin.get("/v1/index/jobs/abc", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 404  # past the token check: no such job
    assert "/v1/index/rebuild" in admin.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize(
    ("files", "query", "status", "message"),
    [
        ([("new.txt", b"fine"), ("photo.png", b"png")], "", 415, "unsupported file type"),
        # Files the build could only skip, with the reason it would give.
        ([("new.txt", b"fine"), ("old.txt", b"Caf\xe9")], "", 422, "'old.txt' cannot be indexed"),
        ([("new.txt", b"fine"), ("fake.pdf", b"not a pdf")], "", 422, "fake.pdf"),
        ([("new.txt", b"fine"), ("empty.md", b"  \n")], "", 422, "cannot be indexed"),
        ([("new.txt", b"fine"), ("big.txt", b"x" * 101)], "", 413, "the cap is 100"),
        ([("new.txt", b"fine"), ("sub/a.txt", b"x")], "", 400, "Bad file name"),
        ([("new.txt", b"fine"), ("a\\b.txt", b"x")], "", 400, "Bad file name"),
        ([("new.txt", b"fine"), ("..txt", b"x")], "", 400, "Bad file name"),
        ([("new.txt", b"fine"), ("..", b"x")], "", 400, "Bad file name"),
        ([("new.txt", b"fine"), (".hidden.txt", b"x")], "", 400, "Bad file name"),
        ([("new.txt", b"fine"), ("escape.txt", b"x")], "?overwrite=true", 400, "outside"),
        ([("new.txt", b"fine"), ("kept.txt", b"x")], "", 409, "already in the corpus"),
        ([("new.txt", b"fine"), ("new.txt", b"again")], "", 400, "more than once"),
        ([("new.txt", b"fine"), ("x" * 252 + ".txt", b"x")], "", 400, "is too long"),
        ([("new.txt", b"fine"), ("é" * 126 + ".txt", b"x")], "", 400, "is too long"),
    ],
)
def test_a_bad_file_refuses_the_whole_batch_with_nothing_written(
    admin: TestClient,
    corpus: Path,
    files: list[tuple[str, bytes]],
    query: str,
    status: int,
    message: str,
) -> None:
    before = {p.name: p.read_bytes() for p in corpus.parent.rglob("*") if p.is_file()}
    response = admin.post(
        f"/v1/documents{query}",
        files=[("files", (name, content, "text/plain")) for name, content in files],
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    after = {p.name: p.read_bytes() for p in corpus.parent.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(os.listdir(corpus)) == ["escape.txt", "kept.txt"]


def test_deleting_a_file_outside_the_corpus_is_refused(admin: TestClient, corpus: Path) -> None:
    for name in ("../outside.txt", "nothing.txt"):
        response = admin.delete(
            f"/v1/documents/{name}", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status_code == 404
    assert (corpus.parent / "outside.txt").exists()


def test_a_second_rebuild_while_one_runs_is_refused_naming_it(
    seed_searcher: Searcher, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in for `herein build` that takes a while, so the first job is still running.
    monkeypatch.setattr(
        "service.api.rebuild_command",
        lambda settings: [sys.executable, "-c", "import time; time.sleep(30)"],
    )
    settings = Settings(corpus_dir=corpus, index_dir=seed_searcher.index.root, admin_token=TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for client in _client(settings, seed_searcher):
        first = client.post("/v1/index/rebuild", headers=headers)
        assert first.status_code == 202
        job = first.json()
        assert (job["state"], job["reason"]) == ("running", "requested")
        second = client.post("/v1/index/rebuild", headers=headers)
        assert second.status_code == 409
        assert job["job_id"] in second.json()["detail"]
        assert (
            client.get(f"/v1/index/jobs/{job['job_id']}", headers=headers).json()["state"]
            == "running"
        )


@pytest.fixture
def forms_parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths whose request body was parsed as a form."""
    parsed: list[str] = []
    parse = Request.form

    def spy(self: Request, **limits: Any) -> Any:
        parsed.append(self.url.path)
        return parse(self, **limits)

    monkeypatch.setattr(Request, "form", spy)
    return parsed


def test_an_upload_is_refused_before_its_body_is_read(
    admin: TestClient, seed_searcher: Searcher, corpus: Path, forms_parsed: list[str]
) -> None:
    files = [("files", ("new.txt", b"fine", "text/plain"))]
    for headers, status in [({}, 401), ({"Authorization": "Bearer nope"}, 403)]:
        assert admin.post("/v1/documents", files=files, headers=headers).status_code == status
    for client in _client(Settings(index_dir=seed_searcher.index.root), seed_searcher):
        assert client.post("/v1/documents", files=files).status_code == 404
    assert forms_parsed == []
    # Over what a whole batch of files at the cap can weigh: refused by its length alone.
    big = [("files", ("big.txt", b"x" * 1_000_000, "text/plain"))]
    response = admin.post("/v1/documents", files=big, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 413
    assert "the cap is 100 bytes" in response.json()["detail"]
    assert forms_parsed == []
    assert sorted(os.listdir(corpus)) == ["escape.txt", "kept.txt"]


def test_only_documents_of_the_current_generation_can_be_deleted(
    admin: TestClient, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "service.api.rebuild_command", lambda settings: [sys.executable, "-c", "pass"]
    )
    indexed = "wallonia-industrial-policy.txt"  # a document of the seed index
    names = [".hidden.txt", "photo.png", ".new.txt.upload", "notindexed.txt", indexed]
    for name in names:
        (corpus / name).write_text("x")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for name in [*names[:-1], "kept.txt", "x" * 300 + ".txt"]:
        response = admin.delete(f"/v1/documents/{name}", headers=headers)
        assert (name, response.status_code) == (name, 404)
    assert admin.delete(f"/v1/documents/{indexed}", headers=headers).status_code == 202
    assert sorted(os.listdir(corpus)) == sorted(["escape.txt", "kept.txt", *names[:-1]])


def test_a_file_the_build_skipped_can_be_deleted(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "service.api.rebuild_command", lambda settings: [sys.executable, "-c", "pass"]
    )
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("Valves are checked every spring by the crew.")
    (corpus / "broken.pdf").write_bytes(b"not a PDF at all")
    build_index(corpus, tmp_path / "index", embedder)
    searcher = Searcher.open(embedder, tmp_path / "index")
    assert [file.source for file in searcher.index.skipped()] == ["broken.pdf"]
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", admin_token=TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for client in _client(settings, searcher):
        deleted = client.delete("/v1/documents/broken.pdf", headers=headers)
        assert deleted.status_code == 202
        assert (deleted.json()["sources"], deleted.json()["job"]["reason"]) == (
            ["broken.pdf"],
            "deleted broken.pdf",
        )
        assert client.delete("/v1/documents/broken.pdf", headers=headers).status_code == 404
        # The last readable file: its rebuild could only fail, and the index keep serving it.
        (corpus / "broken.pdf").write_bytes(b"still not a PDF")  # skipped by the index too
        last = client.delete("/v1/documents/good.txt", headers=headers)
        assert (last.status_code, last.json()["detail"]) == (
            409, "'good.txt' is the corpus's only readable file; upload another first, or "
            "replace it (?overwrite=true)",
        )  # fmt: skip
    assert sorted(os.listdir(corpus)) == ["broken.pdf", "good.txt"]
    searcher.index.close()


def test_a_name_of_the_longest_length_the_filesystem_takes_is_written(
    admin: TestClient, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "service.api.rebuild_command", lambda settings: [sys.executable, "-c", "pass"]
    )
    name = "x" * 251 + ".txt"  # 255 bytes
    response = admin.post(
        "/v1/documents",
        files=[("files", (name, b"long", "text/plain"))],
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 202, response.text
    assert (corpus / name).read_bytes() == b"long"


def test_an_upload_into_a_folder_is_written_there_and_named_by_its_path(
    admin: TestClient, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "service.api.rebuild_command", lambda settings: [sys.executable, "-c", "pass"]
    )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    files = [("files", ("plan.md", b"# Plan\n\nBuild a bridge.", "text/markdown"))]
    response = admin.post("/v1/documents?folder=reports/2024", files=files, headers=headers)
    assert response.status_code == 202, response.text
    assert response.json()["sources"] == ["reports/2024/plan.md"]
    assert (corpus / "reports" / "2024" / "plan.md").read_bytes() == b"# Plan\n\nBuild a bridge."
    refused = admin.post("/v1/documents?folder=../elsewhere", files=files, headers=headers)
    assert refused.status_code == 400
    assert refused.json()["detail"].startswith("Bad folder '../elsewhere'")
