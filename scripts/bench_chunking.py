"""Window size: SciFact train nDCG@10 for each chunk size, dense, keyword and hybrid.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/bench_chunking.py ../shared/bench/scifact

Each size builds its own index into the eval cache (about 10 to 15 minutes each on two
cores; later runs reuse them) with the overlap a quarter of the window, as the defaults
have it. Ranking runs without highlights, with every other setting at its default, so
only the window changes. Train only: the default window is chosen here, and the test
split is left to bench_scifact.py.
"""

import argparse
from dataclasses import replace
from pathlib import Path

from service.config import Settings
from service.embedding import Embedder
from service.evaluation import cached_index, evaluate, load_beir
from service.search import Searcher

SIZES = (96, 128, 256)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path, help="BEIR SciFact folder")
    parser.add_argument("--cache", type=Path, default=Path(".bench"))
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES, help="word pieces")
    args = parser.parse_args()
    settings = Settings()
    embedder = Embedder.load(settings.model)
    train = load_beir(args.dataset, "train")
    retrieval = replace(settings.retrieval_options(), highlighted=0)
    print(f"{'window':>8}{'chunks':>8}{'dense':>9}{'keyword':>9}{'hybrid':>9}   (train nDCG@10)")
    for size in args.sizes:
        index_dir = cached_index(
            args.dataset, None, args.cache, embedder, size, size // 4, settings.batch_size,
            log=print,
        )  # fmt: skip
        searcher = Searcher.open(embedder, index_dir, retrieval)
        ndcg = [report.metrics["nDCG@10"] for report in evaluate(searcher, train)]
        chunks = searcher.index.manifest.chunks
        print(f"{size:>8}{chunks:>8}" + "".join(f"{value:>9.4f}" for value in ndcg), flush=True)


if __name__ == "__main__":
    main()
