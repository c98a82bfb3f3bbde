"""/v1/ask latency over HTTP next to the in-process floor (encode the question + FAISS search).

    .venv/bin/python scripts/bench_query.py                              # default corpus
    .venv/bin/python scripts/bench_query.py --corpus ../shared/bench/scifact --limit 1000

One client, sequential requests over a kept-alive connection, after a warm-up.
Questions come from tests/data/seed_qa.jsonl, or from a BEIR folder's queries.jsonl.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.beir import write_corpus
from service.config import Settings
from service.embedding import Embedder
from service.evaluation import read_jsonl
from service.indexing import build_index
from service.search import Searcher


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(client: httpx.Client, timeout: float = 120) -> None:
    """Return once /readyz answers 200; fail loudly after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server was not ready within {timeout}s")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of values."""
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--limit", type=int, default=None, help="first N BEIR documents only")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()

    corpus, questions = args.corpus, []
    if (corpus / "queries.jsonl").exists():
        questions = [row["text"] for row in read_jsonl(corpus / "queries.jsonl")]
        suffix = f"-{args.limit}" if args.limit else ""
        corpus = write_corpus(corpus, ROOT / ".bench" / f"{corpus.name}-md{suffix}", args.limit)
    else:
        qa = (ROOT / "tests/data/seed_qa.jsonl").read_text(encoding="utf-8").splitlines()
        questions = [json.loads(line)["question"] for line in qa]

    embedder = Embedder.load(Settings().model)
    index = Path(tempfile.mkdtemp(prefix="herein-bench-"))
    report = build_index(corpus, index, embedder)
    searcher = Searcher.open(embedder, index)
    asked = [questions[i % len(questions)] for i in range(args.requests)]

    for question in asked[: args.warmup]:
        searcher.index.search(embedder.embed([question])[0], 5)
    floor = []
    for question in asked:
        started = time.perf_counter()
        searcher.index.search(embedder.embed([question])[0], 5)
        floor.append((time.perf_counter() - started) * 1000)

    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "service", "serve", "--corpus", str(corpus)]
    server = subprocess.Popen(
        [*command, "--index", str(index), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            wait_ready(client)
            for question in asked[: args.warmup]:
                client.post("/v1/ask", json={"question": question}).raise_for_status()
            http = []
            for question in asked:
                started = time.perf_counter()
                client.post("/v1/ask", json={"question": question}).raise_for_status()
                http.append((time.perf_counter() - started) * 1000)
    finally:
        server.terminate()
        server.wait()
        searcher.index.close()
        shutil.rmtree(index, ignore_errors=True)

    print(f"index: {report.documents} documents, {report.chunks} chunks")
    print(f"{args.requests} requests after {args.warmup} warm-up, one client, k=5")
    for name, values in (("HTTP /v1/ask", http), ("in-process floor", floor)):
        p50, p95 = percentile(values, 50), percentile(values, 95)
        print(f"{name:18} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
    print(f"HTTP / floor p50 ratio: {percentile(http, 50) / percentile(floor, 50):.2f}")


if __name__ == "__main__":
    main()
