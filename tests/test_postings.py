"""BM25 from postings arrays: the same scores as FTS5's own bm25(), saved and reloaded."""

import sqlite3
from pathlib import Path

import pytest

from service.postings import TOKENIZE, Postings, QueryTokenizer
from service.store import keyword_query

ROWS = [
    "Cells divide when the cell cycle allows it.",
    "The cell wall of plants is rigid; plant cells keep their shape.",
    "Mitochondria make energy for the cell.",
    "Nothing about biology here, only the weather and the wind.",
    "",  # a row with no words still counts in N and in the average length
    "Cells, cells and more cells: a long row repeats its word many times over.",
]


def _table(rows: dict[int, str]) -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.execute(f"CREATE VIRTUAL TABLE t USING fts5(text, tokenize = '{TOKENIZE}')")
    connection.executemany("INSERT INTO t (rowid, text) VALUES (?, ?)", rows.items())
    return connection


@pytest.fixture
def table() -> sqlite3.Connection:
    return _table(dict(enumerate(ROWS)))


def _fts5_scores(connection: sqlite3.Connection, words: list[str]) -> dict[int, float]:
    return dict(
        connection.execute(
            "SELECT rowid, -bm25(t) FROM t WHERE t MATCH ?", [keyword_query(words)]
        ).fetchall()
    )


def _scores(postings: Postings, words: list[str]) -> dict[int, float]:
    tokens = [token for found in QueryTokenizer().tokens(words) for token in found]
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


def test_rows_with_gaps_in_their_ids_score_as_in_fts5() -> None:
    connection = _table({0: ROWS[0], 3: ROWS[1], 7: ROWS[3], 9: ROWS[5]})
    postings = Postings.read(connection, "t")
    words = ["cells", "wind"]
    assert _scores(postings, words) == pytest.approx(_fts5_scores(connection, words), rel=1e-12)


def test_a_token_cut_inside_a_character_still_counts_in_its_rows_length(tmp_path: Path) -> None:
    # FTS5 keeps 32 KiB of a token: 10,923 three-byte characters and a broken one.
    connection = _table({0: "가" * 11000 + " cells", 1: "cells and cells", 2: "wind"})
    postings = Postings.read(connection, "t")
    postings.save(tmp_path / "t.npz")
    loaded = Postings.load(tmp_path / "t.npz")
    assert postings.lengths.tolist() == loaded.lengths.tolist() == [2.0, 3.0, 1.0]
    assert _scores(loaded, ["cells"]) == pytest.approx(_fts5_scores(connection, ["cells"]))


def test_an_empty_table_has_no_scores(tmp_path: Path) -> None:
    connection = _table({})
    Postings.read(connection, "t").save(tmp_path / "t.npz")
    loaded = Postings.load(tmp_path / "t.npz")
    assert (loaded.tokens, loaded.scores(["cell"]).tolist()) == ({}, [])


def test_the_tokenizer_stems_folds_and_splits_like_the_tables() -> None:
    assert QueryTokenizer().tokens(["Cells", "hx-90", "_", "Café", "4.3.1"]) == [
        ["cell"], ["hx", "90"], [], ["cafe"], ["4", "3", "1"]
    ]  # fmt: skip
