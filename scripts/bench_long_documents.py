"""Long documents: how far around a passage should its keyword context reach?

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/bench_long_documents.py ../shared/bench/scifact

Hybrid search blends a passage's own BM25 with its surroundings' (Retrieval.document_weight).
SciFact's abstracts are short (median 1,430 characters), so there any context of a few
thousand characters is the whole abstract. To see what long documents do, this joins the
abstracts into pseudo-documents of GROUP abstracts each, either neighbours by topic
(nearest centroids) or at random, and scores each chunk's context by BM25 over either its
whole pseudo-document or its block (service.store.keyword_blocks at a given size). Each
chunk keeps its vector and its own BM25 from the SciFact index that `herein eval` builds;
ranking is the service's weighted fusion, a document's score its best passage's, and
nDCG@10 is judged on the train split against the original abstracts. The block size in
service.store.BLOCK_CHARS is the best on topic joins (a real long document keeps to its
subject); random joins are the worst case.
"""

import argparse
import math
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from service.config import Settings
from service.embedding import Embedder
from service.evaluation import beir_document_id, cached_index, load_beir
from service.fusion import blend, fuse_weighted
from service.keywords import query_terms
from service.models import Retrieval
from service.store import Index, keyword_blocks, keyword_query

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
        texts, placed = [], []  # each long document's text; (row, chunk moved into it)
        for g, members in enumerate(_groups(centroids, grouping, rng)):
            parts, offset = [], 0
            for member in members:
                document = documents[member]
                shift = offset + len(document.title) + 1
                for row in by_document.get(document.document_id, []):
                    c = stored[row]
                    moved = replace(c, document_id=str(g), start=c.start + shift, end=c.end + shift)
                    placed.append((row, moved))
                parts.append(f"{document.title}\n{document.text}")
                offset += len(parts[-1]) + 2
            texts.append("\n\n".join(parts))
        print(f"{grouping}: {len(texts)} long documents of up to {GROUP} abstracts")
        whole = {row: int(chunk.document_id) for row, chunk in placed}
        print(f"  whole document: {ndcg(_context(list(enumerate(texts)), whole)):.4f}")
        chunks = [chunk for _, chunk in placed]
        for size in SIZES:
            blocks = keyword_blocks(chunks, size)
            block_texts, block_of = [], {}
            for b, (first, last) in enumerate(blocks):
                text = texts[int(chunks[first].document_id)]
                block_texts.append((b, text[chunks[first].start : chunks[last].end]))
                block_of.update((row, b) for row, _ in placed[first : last + 1])
            figure = ndcg(_context(block_texts, block_of))
            print(f"  blocks of {size} characters ({len(blocks)}): {figure:.4f}")


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


def _context(units: Sequence[tuple[int, str]], unit_of: dict[int, int]) -> Context:
    """Each chunk's context score: BM25 over the text of the unit (document or block) it lies in."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(text, tokenize = 'porter unicode61')")
    db.executemany("INSERT INTO t (rowid, text) VALUES (?, ?)", units)

    def scores(terms: list[str], rows: list[int]) -> dict[int, float]:
        found = (
            dict(
                db.execute("SELECT rowid, -bm25(t) FROM t WHERE t MATCH ?", [keyword_query(terms)])
            )
            if terms
            else {}
        )
        return {row: float(found.get(unit_of[row], 0.0)) for row in rows}

    return scores


def _ndcg10(ranked: list[str], relevant: dict[str, int]) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    return dcg / sum(g / math.log2(i + 2) for i, g in enumerate(ideal))


if __name__ == "__main__":
    main()
