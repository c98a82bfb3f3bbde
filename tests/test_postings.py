"""BM25 from postings arrays: the same scores as FTS5's own bm25(), saved and reloaded."""

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from service.embedding import Embedder
from service.indexing import build_index
from service.postings import TOKENIZE, Postings, Tokenizer
from service.store import (
    KEYWORD_TABLES,
    Index,
    current_version,
    generation_dir,
    keyword_query,
    top_rows,
)
from tests.conftest import WriteFiles

ROWS = [
    "Cells divide when the cell cycle allows it.",
    "The cell wall of plants is rigid; plant cells keep their shape.",
    "Mitochondria make energy for the cell.",
    "Nothing about biology here, only the weather and the wind.",
    "",  # a row with no words still counts in N and in the average length
    "Cells, cells and more cells: a long row repeats its word many times over.",
]


@pytest.fixture
def table() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.execute(f"CREATE VIRTUAL TABLE t USING fts5(text, tokenize = '{TOKENIZE}')")
    connection.executemany("INSERT INTO t (rowid, text) VALUES (?, ?)", enumerate(ROWS))
    return connection


def _fts5_scores(connection: sqlite3.Connection, words: list[str]) -> dict[int, float]:
    return dict(
        connection.execute(
            "SELECT rowid, -bm25(t) FROM t WHERE t MATCH ?", [keyword_query(words)]
        ).fetchall()
    )


def _scores(postings: Postings, words: list[str]) -> dict[int, float]:
    tokens = [token for found in Tokenizer().tokens(words) for token in found]
    scores = postings.scores(tokens)
    return {row: float(scores[row]) for row in scores.nonzero()[0]}


@pytest.mark.parametrize(
    "words",
    [
        ["cell"],
        ["cells", "plant"],
        ["cell", "cells"],  # one token, two words: counted twice, as FTS5 does
        ["mitochondria", "weather"],
        ["cell", "the"],  # "the" is in most rows: FTS5 floors its IDF, it does not drop it
        ["unknown"],
    ],
)
def test_scores_equal_fts5_bm25(table: sqlite3.Connection, words: list[str]) -> None:
    postings = Postings.read(table, "t")
    assert _scores(postings, words) == pytest.approx(_fts5_scores(table, words), rel=1e-12)


def test_saved_postings_load_unchanged(table: sqlite3.Connection, tmp_path: Path) -> None:
    postings = Postings.read(table, "t")
    postings.save(tmp_path / "t.npz")
    loaded = Postings.load(tmp_path / "t.npz")
    assert loaded.tokens == postings.tokens
    assert _scores(loaded, ["cells", "wind"]) == _scores(postings, ["cells", "wind"])


def test_an_empty_table_has_no_scores(tmp_path: Path) -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute(f"CREATE VIRTUAL TABLE t USING fts5(text, tokenize = '{TOKENIZE}')")
    Postings.read(connection, "t").save(tmp_path / "t.npz")
    loaded = Postings.load(tmp_path / "t.npz")
    assert (loaded.tokens, loaded.scores(["cell"]).tolist()) == ({}, [])


def test_the_tokenizer_stems_folds_and_splits_like_the_tables() -> None:
    assert Tokenizer().tokens(["Cells", "hx-90", "_", "Café", "4.3.1"]) == [
        ["cell"], ["hx", "90"], [], ["cafe"], ["4", "3", "1"]
    ]  # fmt: skip


CORPUS = {
    "pumps.md": "# Heat pumps\n\nThe HX-90 pump heats water to 65 degrees. "
    "Service the HX 90 once a year; an HX unit needs a fuse of 32 amps.\n",
    "boilers.md": "# Boilers\n\nA gas boiler needs an annual service by a registered engineer.\n",
    "fans.md": "# Fans\n\nThe fan model 90 runs quietly. Clean the filter every month.\n",
}


def test_index_keyword_scores_equal_fts5_for_phrases_and_blocks(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    index_dir = tmp_path / "index"
    build_index(write_corpus(CORPUS), index_dir, embedder)
    # "hx-90" is a phrase: only "HX-90" and "HX 90" match it, not "HX unit" or "model 90".
    terms = ["service", "hx-90", "fuse"]
    folder = generation_dir(index_dir, current_version(index_dir))
    with sqlite3.connect(folder / "meta.sqlite") as db:
        fts5 = {
            table: dict(
                db.execute(
                    f"SELECT rowid, -bm25({table}) FROM {table} WHERE {table} MATCH ?",
                    [keyword_query(terms)],
                ).fetchall()
            )
            for table in KEYWORD_TABLES
        }
    saved = _index_scores(index_dir, terms)
    assert saved[0] == pytest.approx(fts5["chunks_fts"], rel=1e-12)
    assert saved[1] == pytest.approx(fts5["blocks_fts"], rel=1e-12)
    # A generation written before postings were saved reads them from its tables.
    for table in KEYWORD_TABLES:
        (folder / f"{table}.npz").unlink()
    assert _index_scores(index_dir, terms) == saved


def _index_scores(index_dir: Path, terms: list[str]) -> tuple[dict[int, float], dict[int, float]]:
    index = Index.open(index_dir)
    try:
        chunks = dict(index.keyword_search(terms, None))
        blocks = index._bm25("blocks_fts", terms)
        return chunks, {int(b): float(blocks[b]) for b in blocks.nonzero()[0]}
    finally:
        index.close()


def test_top_rows_sorts_best_first_and_breaks_ties_at_the_cut_by_row() -> None:
    scores = np.array([0.0, 2.0, 5.0, 2.0, 0.0, 2.0, 7.0])
    assert top_rows(scores, 3) == [(6, 7.0), (2, 5.0), (1, 2.0)]
    assert top_rows(scores, None) == [(6, 7.0), (2, 5.0), (1, 2.0), (3, 2.0), (5, 2.0)]
    assert top_rows(np.zeros(3), 2) == []
