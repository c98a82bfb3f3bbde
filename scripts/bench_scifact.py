"""SciFact benchmark: tune on the train split, then run the test split once and report both.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/bench_scifact.py /work/shared/bench/scifact

Every choice (fusion method, dense weight, rescoring, answer threshold) is made on qrels/train.tsv;
qrels/test.tsv is run once at the end with what train chose. The index is built by the
same code as `herein eval` (cached in .bench/), and every query goes through
Searcher.search.
"""

import argparse
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from service.config import Settings
from service.embedding import Embedder, Vectors
from service.evaluation import (
    cached_index,
    calibrate_threshold,
    evaluate,
    format_reports,
    load_beir,
    not_found_scores,
)
from service.models import Retrieval
from service.search import Searcher


class RememberingEmbedder(Embedder):
    """Embeds each distinct text once: tuning re-asks the same questions many times.

    Used for tuning only; the final test run uses the plain model, so its latency is real.
    """

    def __init__(self, plain: Embedder) -> None:
        super().__init__(plain.model, plain.name)
        self._known: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> Vectors:
        new = [text for text in dict.fromkeys(texts) if text not in self._known]
        if new:
            self._known.update(zip(new, super().embed(new, batch_size), strict=True))
        return np.vstack([self._known[text] for text in texts]).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path, help="BEIR SciFact folder")
    parser.add_argument("--cache", type=Path, default=Path(".bench"))
    args = parser.parse_args()
    settings = Settings()
    plain = Embedder.load(settings.model)
    index_dir = cached_index(
        args.dataset, None, args.cache, plain, settings.chunk_tokens, settings.overlap_tokens,
        settings.batch_size, log=print,
    )  # fmt: skip
    train, test = load_beir(args.dataset, "train"), load_beir(args.dataset, "test")
    remembering = RememberingEmbedder(plain)
    base = settings.retrieval_options()

    # 1. Fusion, on train.
    choices = [Retrieval(fusion="rrf", rrf_k=60)] + [
        Retrieval(fusion="weighted", dense_weight=w) for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
    ]
    tuned: list[tuple[float, Retrieval]] = []
    for choice in choices:
        started = time.perf_counter()
        [report] = evaluate(Searcher.open(remembering, index_dir, choice), train, ["hybrid"])
        ndcg = report.metrics["nDCG@10"]
        tuned.append((ndcg, choice))
        label = choice.fusion + (
            f" k={choice.rrf_k}" if choice.fusion == "rrf" else f" w={choice.dense_weight}"
        )
        print(
            f"train hybrid {label:<16} nDCG@10 {ndcg:.4f}  ({time.perf_counter() - started:.0f}s)"
        )
    best = max(tuned, key=lambda item: item[0])[1]

    # 2. Second-stage rescoring of the highlighted passages by their best sentence, on train.
    rescored: list[tuple[float, Retrieval]] = [max(tuned, key=lambda item: item[0])]
    for weight in (0.25, 0.5, 1.0):
        choice = replace(best, rescore_weight=weight)
        [report] = evaluate(Searcher.open(remembering, index_dir, choice), train, ["hybrid"])
        rescored.append((report.metrics["nDCG@10"], choice))
        print(f"train hybrid rescore {weight:<8} nDCG@10 {report.metrics['nDCG@10']:.4f}")
    best = max(rescored, key=lambda item: item[0])[1]

    # 3. The answer threshold, on train: each query as asked, and without its gold documents.
    [train_hybrid] = evaluate(Searcher.open(remembering, index_dir, best), train, ["hybrid"])
    threshold = calibrate_threshold(train_hybrid.outcomes)
    chosen = replace(best, answer_threshold=threshold, candidates=base.candidates)
    print(f"chosen on train: {chosen}")

    # 4. Train figures for every mode, then test once, with the plain model.
    reports = {}
    for name, dataset, embedder in (("train", train, remembering), ("test", test, plain)):
        searcher = Searcher.open(embedder, index_dir, chosen)
        reports[name] = evaluate(searcher, dataset)
        print()
        print(format_reports(dataset, reports[name]))
        precision, recall = not_found_scores(reports[name][-1].outcomes, threshold)
        print(
            f"not-found at threshold {threshold:.4f}: precision {precision:.4f} recall {recall:.4f}"
        )
    dense, _, hybrid = reports["test"]
    ratio = hybrid.metrics["p50 ms"] / dense.metrics["p50 ms"]
    print(f"\ntest p50 latency: dense {dense.metrics['p50 ms']:.1f} ms, "
          f"hybrid {hybrid.metrics['p50 ms']:.1f} ms, ratio {ratio:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
