"""End to end: a real server picks up uploads, deletes, other processes' builds and
rollbacks without a restart, and survives builds killed at each stage (real model)."""

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from service.embedding import Embedder
from service.indexing import build_index
from service.store import list_generations
from tests.conftest import WriteFiles, running_server

TOKEN = "e2e-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
CORPUS = {
    "otters.md": "# Otters\n\nSea otters hold hands while they sleep so they do not drift apart.",
    "bees.txt": "Honey bees dance in a figure of eight to tell the hive where flowers are.",
}
ZEBRA = "Glimmerfold Station keeps its spare zeppelin batteries in hangar nineteen."
ZEBRA_QUESTION = "Where does Glimmerfold Station keep spare zeppelin batteries?"


def _built(write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder) -> tuple[Path, Path, str]:
    """The test corpus, an index built of it, and that first generation's version."""
    corpus = write_corpus(CORPUS)
    index = tmp_path / "index"
    return corpus, index, build_index(corpus, index, embedder).version


def _wait_until(check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s")
        time.sleep(0.2)


def _version(url: str) -> str:
    return str(httpx.get(f"{url}/readyz").json()["index_version"])


def _top_source(url: str, question: str) -> str:
    response = httpx.post(f"{url}/v1/ask", json={"question": question, "k": 1})
    assert response.status_code == 200, response.text
    return str(response.json()["passages"][0]["citation"]["source"])


def _finished_job(url: str, job_id: str) -> dict[str, object]:
    def done() -> bool:
        state = httpx.get(f"{url}/v1/index/jobs/{job_id}", headers=ADMIN).json()["state"]
        return state in ("succeeded", "failed")

    _wait_until(done, timeout=120)
    job: dict[str, object] = httpx.get(f"{url}/v1/index/jobs/{job_id}", headers=ADMIN).json()
    return job


def _herein(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_upload_ask_delete_and_rollback_without_restart(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    corpus, index, first = _built(write_corpus, tmp_path, embedder)
    with running_server(corpus, index, env={"HEREIN_ADMIN_TOKEN": TOKEN}) as url:
        upload = httpx.post(
            f"{url}/v1/documents",
            files=[("files", ("station.txt", ZEBRA.encode(), "text/plain"))],
            headers=ADMIN,
        )
        assert upload.status_code == 202, upload.text
        assert upload.json()["sources"] == ["station.txt"]
        job = _finished_job(url, upload.json()["job"]["job_id"])
        assert (job["state"], job["plan"]) == (
            "succeeded",
            "1 added, 0 changed, 0 removed, 2 chunks reused, 1 to embed",
        )
        added = str(job["version"])
        _wait_until(lambda: _version(url) == added)
        answer = httpx.post(f"{url}/v1/ask", json={"question": ZEBRA_QUESTION, "k": 1}).json()
        assert answer["index_version"] == added
        passage = answer["passages"][0]
        assert passage["citation"]["source"] == "station.txt"
        assert passage["text"] == ZEBRA
        assert (passage["citation"]["start"], passage["citation"]["end"]) == (0, len(ZEBRA))

        deleted = httpx.delete(f"{url}/v1/documents/station.txt", headers=ADMIN)
        assert deleted.status_code == 202
        assert deleted.json()["sources"] == ["station.txt"]
        removed = str(_finished_job(url, deleted.json()["job"]["job_id"])["version"])
        _wait_until(lambda: _version(url) == removed)
        assert not (corpus / "station.txt").exists()
        assert _top_source(url, ZEBRA_QUESTION) != "station.txt"
        assert httpx.get(f"{url}/v1/documents/station.txt").status_code == 404

        rolled = _herein("rollback", "--index", str(index))
        assert rolled.returncode == 0, rolled.stderr
        _wait_until(lambda: _version(url) == added)
        assert _top_source(url, ZEBRA_QUESTION) == "station.txt"
        assert _herein("rollback", first, "--index", str(index)).returncode == 0
        _wait_until(lambda: _version(url) == first)


def test_a_server_started_on_an_empty_corpus_serves_its_first_upload(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    index = tmp_path / "index"
    with running_server(corpus, index, env={"HEREIN_ADMIN_TOKEN": TOKEN}, ready=False) as url:
        assert httpx.get(f"{url}/readyz").status_code == 503
        upload = httpx.post(
            f"{url}/v1/documents",
            files=[("files", ("station.txt", ZEBRA.encode(), "text/plain"))],
            headers=ADMIN,
        )
        assert upload.status_code == 202, upload.text
        job = _finished_job(url, upload.json()["job"]["job_id"])
        assert job["state"] == "succeeded", job
        _wait_until(lambda: httpx.get(f"{url}/readyz").status_code == 200)
        assert _top_source(url, ZEBRA_QUESTION) == "station.txt"


def test_a_watching_server_indexes_what_changed_while_it_was_down(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    corpus, index, first = _built(write_corpus, tmp_path, embedder)
    (corpus / "station.txt").write_text(ZEBRA)  # no server is watching yet
    with running_server(corpus, index, env={"HEREIN_WATCH": "true"}) as url:
        _wait_until(lambda: _version(url) != first, timeout=120)
        assert _top_source(url, ZEBRA_QUESTION) == "station.txt"


def test_killed_builds_never_disturb_serving_and_overlapping_rebuilds_fail_no_request(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    corpus, index, first = _built(write_corpus, tmp_path, embedder)
    seen: list[tuple[int, str]] = []
    stop = threading.Event()

    def ask_in_a_loop(url: str) -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                response = client.post(f"{url}/v1/ask", json={"question": "otters", "k": 3})
                body = response.json()
                seen.append((response.status_code, str(body.get("index_version"))))
                time.sleep(0.02)  # leave the builds some CPU on a small machine

    with running_server(corpus, index, env={"HEREIN_ADMIN_TOKEN": TOKEN}) as url:
        asker = threading.Thread(target=ask_in_a_loop, args=(url,))
        asker.start()
        try:
            for n, stage in enumerate(("embedding", "writing", "switching")):
                (corpus / f"killed{n}.txt").write_text(f"Build number {n} dies at {stage}.")
                killed = _herein(
                    "build", "--corpus", str(corpus), "--index", str(index),
                    env={"HEREIN_TEST_KILL_AT_STAGE": stage},
                )  # fmt: skip
                assert killed.returncode == -9, killed.stderr
                time.sleep(1.5)  # a swap, had one been possible, would have happened
                assert _version(url) == first

            # Three rebuilds while the client asks: another process, the API, another process.
            built = _herein("build", "--corpus", str(corpus), "--index", str(index))
            assert built.returncode == 0, built.stderr
            assert "3 added, 0 changed, 0 removed" in built.stderr
            (corpus / "extra.txt").write_text(ZEBRA)
            job = httpx.post(f"{url}/v1/index/rebuild", headers=ADMIN).json()
            assert _finished_job(url, job["job_id"])["state"] == "succeeded"
            (corpus / "bees.txt").unlink()
            built = _herein("build", "--corpus", str(corpus), "--index", str(index))
            assert built.returncode == 0, built.stderr
            last = (index / "CURRENT").read_text().strip()
            _wait_until(lambda: _version(url) == last)
            assert _top_source(url, ZEBRA_QUESTION) == "extra.txt"
        finally:
            stop.set()
            asker.join()

    complete = {manifest.version for manifest in list_generations(index)}
    assert len(complete) == 3  # the killed builds' leftovers are gone; pruned to 3
    assert {status for status, _ in seen} == {200}
    versions = {version for _, version in seen}
    assert first in versions and last in versions
    assert versions <= complete | {first}
