"""Long documents: how far around a passage should its keyword context reach?

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/bench_long_documents.py ../shared/bench/scifact

Hybrid search blends a passage's own BM25 with its surroundings' (Retrieval.document_weight).
SciFact's abstracts are short (median 1,430 characters), so there any context of a few
thousand characters is the whole abstract. To see what long documents do, this joins the
abstracts into pseudo-documents of GROUP abstracts each, either neighbours by topic
(nearest centroids) or at random, writes the service's keyword tables for them with blocks
of a given size (or of whole documents), and scores each chunk's context by its block's
BM25. Each chunk keeps its vector and its own BM25 from the SciFact index that `herein
eval` builds; ranking is the service's weighted fusion, a document's score its best
passage's, and nDCG@10 is judged on the train split against the original abstracts.
service.store.BLOCK_CHARS is the size this chose (best on topic joins, like a real long
document that keeps to its subject; random joins are the worst case).
"""

import argparse
import math
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from service.config import Settings
from service.embedding import Embedder
from service.evaluation import beir_document_id, cached_index, load_beir
from service.fusion import blend, fuse_weighted
from service.keywords import query_terms
from service.models import Retrieval
from service.store import Index, keyword_query, write_keyword_index

GROUP = 15
SIZES = (2000, 4000, 8000)
DEPTH = 300  # candidates per signal, as `herein eval` asks for 300 passages


Context = Callable[[list[str], list[int]], dict[int, float]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="SciFact in BEIR format")
    parser.add_argument("--cache", type=Path, default=Path(".bench"))
    args = parser.parse_args()
    embedder = Embedder.load(Settings().model)
    index = Index.open(cached_index(args.dataset, None, args.cache, embedder, log=print))
    train = load_beir(args.dataset, "train")
    questions = embedder.embed([q.question for q in train.queries])
    vectors = index.vectors()
    stored = [chunk for _, chunk, _ in index.stored_chunks()]
    documents = index.stored_documents()
    position = {d.document_id: i for i, d in enumerate(documents)}
    abstract_of = [beir_document_id(documents[position[c.document_id]].source) for c in stored]
    centroids = np.zeros((len(documents), vectors.shape[1]), dtype=np.float32)
    np.add.at(centroids, [position[c.document_id] for c in stored], vectors)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    retrieval = Retrieval()
    own = [dict(index.keyword_search(query_terms(q.question), None)) for q in train.queries]

    def ndcg(context: Context | None) -> float:
        """Mean nDCG@10 over train with this keyword context (None: the passage's own)."""
        total = 0.0
        for n, (query, vector) in enumerate(zip(train.queries, questions, strict=True)):
            similarity = vectors @ vector
            dense_rows = np.argpartition(-similarity, DEPTH)[:DEPTH].tolist()
            keyword_rows = sorted(own[n], key=lambda row: -own[n][row])[:DEPTH]
            rows = sorted(set(dense_rows) | set(keyword_rows))
            dense = {row: float(similarity[row]) for row in rows}
            keyword = {row: own[n].get(row, 0.0) for row in rows}
            if context is not None:
                terms = query_terms(query.question)
                keyword = blend(keyword, context(terms, rows), retrieval.document_weight)
            fused = fuse_weighted(dense, keyword, retrieval.dense_weight)
            ranked = list(
                dict.fromkeys(abstract_of[row] for row in sorted(fused, key=lambda r: -fused[r]))
            )
            total += _ndcg10(ranked[:10], query.relevant)
        return total / len(train.queries)

    print(f"train: {len(train.queries)} queries; document weight {retrieval.document_weight}")
    print(f"the passage's own keywords only: {ndcg(None):.4f}")
    by_document: dict[str, list[int]] = {}
    for row, chunk in enumerate(stored):
        by_document.setdefault(chunk.document_id, []).append(row)
    rng = np.random.default_rng(0)
    for grouping in ("topic", "random"):
        # Each abstract's title becomes a heading line inside a long document; the first
        # chunk under it starts at it, as a chunk under a heading does.
        long_documents, rows, chunks = [], [], []
        for g, members in enumerate(_groups(centroids, grouping, rng)):
            parts, offset = [], 0
            for member in members:
                document = documents[member]
                shift = offset + len(document.title) + 1
                for n, row in enumerate(by_document.get(document.document_id, [])):
                    c = stored[row]
                    start = offset if n == 0 else c.start + shift
                    rows.append(row)
                    chunks.append(replace(c, document_id=str(g), start=start, end=c.end + shift))
                parts.append(f"{document.title}\n{document.text}")
                offset += len(parts[-1]) + 2
            long_documents.append(
                replace(documents[0], document_id=str(g), title="", text="\n\n".join(parts))
            )
        print(f"{grouping}: {len(long_documents)} long documents of up to {GROUP} abstracts")
        for size in (*SIZES, None):
            # The service's own keyword tables, written for the long documents.
            db = sqlite3.connect(":memory:")
            write_keyword_index(
                db, long_documents, chunks, size or sum(len(d.text) for d in long_documents)
            )
            label = f"blocks of {size} characters" if size else "whole documents"
            print(f"  {label}: {ndcg(_context(db, rows)):.4f}")


def _groups(centroids: np.ndarray, grouping: str, rng: np.random.Generator) -> list[list[int]]:
    """Document positions in groups of GROUP: each a seed and its nearest free neighbours,
    or random ones."""
    free = np.ones(len(centroids), dtype=bool)
    order = rng.permutation(len(centroids))
    groups = []
    for seed in order:
        if not free[seed]:
            continue
        if grouping == "topic":
            similarity = np.where(free, centroids @ centroids[seed], -np.inf)
            members = np.argsort(-similarity)[:GROUP]
            members = members[free[members]]
        else:
            members = np.array([a for a in order if free[a]][:GROUP])
        free[members] = False
        groups.append(members.tolist())
    return groups


def _context(db: sqlite3.Connection, rows: list[int]) -> Context:
    """Each chunk's context score: its block's BM25, as Index.block_keyword_scores gives it.

    `rows[position]` is the SciFact index row of the chunk at that position in the long
    documents."""
    block_of: dict[int, int] = {}
    for block, first, last in db.execute("SELECT rowid, first_row, last_row FROM blocks_fts"):
        block_of.update((rows[position], block) for position in range(first, last + 1))

    def scores(terms: list[str], candidates: list[int]) -> dict[int, float]:
        found = (
            dict(
                db.execute(
                    "SELECT rowid, -bm25(blocks_fts) FROM blocks_fts WHERE blocks_fts MATCH ?",
                    [keyword_query(terms)],
                )
            )
            if terms
            else {}
        )
        return {row: float(found.get(block_of[row], 0.0)) for row in candidates}

    return scores


def _ndcg10(ranked: list[str], relevant: dict[str, int]) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    return dcg / sum(g / math.log2(i + 2) for i, g in enumerate(ideal))


if __name__ == "__main__":
    main()
