"""What hybrid ranking adds to dense-only query time, in process, at the API's k.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/bench_hybrid_latency.py ../shared/bench/scifact

Each question goes through Searcher.search at k=5, with highlights off (retrieval alone:
embedding, FAISS, BM25, fusion) and on (the default, which embeds each shown passage's
sentences). The modes alternate per question, so machine noise falls on both alike.
`herein eval` measures at its own depth; this is what an asker of /v1/ask waits for.
"""

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

from service.config import Settings
from service.embedding import Embedder
from service.evaluation import cached_index, load_beir
from service.search import Searcher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path, help="BEIR folder")
    parser.add_argument("--split", default="test")
    parser.add_argument("--cache", type=Path, default=Path(".bench"))
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    settings = Settings()
    embedder = Embedder.load(settings.model)
    index_dir = cached_index(
        args.dataset, None, args.cache, embedder, settings.chunk_tokens,
        settings.overlap_tokens, settings.batch_size, log=print,
    )  # fmt: skip
    questions = [query.question for query in load_beir(args.dataset, args.split).queries]
    for highlighted in (0, settings.highlighted):
        searchers = {
            mode: Searcher.open(
                embedder,
                index_dir,
                replace(settings.retrieval_options(), mode=mode, highlighted=highlighted),
            )
            for mode in ("dense", "hybrid")
        }
        times: dict[str, list[float]] = {mode: [] for mode in searchers}
        for searcher in searchers.values():
            searcher.search(questions[0], args.k)  # first-search loading is not a query
        for question in questions:
            for mode, searcher in searchers.items():
                started = time.perf_counter()
                searcher.search(question, args.k)
                times[mode].append((time.perf_counter() - started) * 1000)
        for searcher in searchers.values():
            searcher.index.close()
        dense, hybrid = (statistics.median(times[mode]) for mode in ("dense", "hybrid"))
        print(
            f"k={args.k}, {highlighted} highlighted, {len(questions)} questions: p50 dense "
            f"{dense:.1f} ms, hybrid {hybrid:.1f} ms, ratio {hybrid / dense:.2f}"
        )


if __name__ == "__main__":
    main()
