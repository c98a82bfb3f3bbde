"""The index's keyword side: BM25 from saved postings equals FTS5's, damage fails the open."""

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from service.embedding import Embedder
from service.errors import IndexCorrupt
from service.indexing import build_index
from service.store import (
    KEYWORD_TABLES,
    METADATA,
    Index,
    current_version,
    generation_dir,
    keyword_query,
    top_rows,
)
from tests.conftest import WriteFiles

CORPUS = {
    "pumps.md": "# Heat pumps\n\nThe HX-90 pump heats water to 65 degrees. "
    "Service the HX 90 once a year; an HX unit needs a fuse of 32 amps.\n",
    "boilers.md": "# Boilers\n\nA gas boiler needs an annual service by a registered engineer.\n",
    "fans.md": "# Fans\n\nThe fan model 90 runs quietly. Clean the filter every month.\n",
    # Enough other rows that each term above is in fewer than half (FTS5's IDF is floored
    # for the others, which would hide a wrong formula).
    "radiators.md": "# Radiators\n\nBleed each radiator in autumn to let trapped air out.\n",
    "pipes.md": "# Pipes\n\nLag pipes in the loft so they do not freeze in winter.\n",
    "thermostat.md": "# Thermostat\n\nSet the thermostat to 19 degrees in living rooms.\n",
    "tanks.md": "# Tanks\n\nA hot water cylinder keeps water warm for several hours.\n",
    "vents.md": "# Vents\n\nKeep air vents clear of furniture and curtains.\n",
}


@pytest.fixture
def index_dir(write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder) -> Path:
    index_dir = tmp_path / "index"
    build_index(write_corpus(CORPUS), index_dir, embedder)
    return index_dir


def test_index_keyword_scores_equal_fts5_for_phrases_and_blocks(index_dir: Path) -> None:
    # "hx-90" is a phrase: only "HX-90" and "HX 90" match it, not "HX unit" or "model 90".
    terms = ["service", "hx-90", "fuse"]
    folder = generation_dir(index_dir, current_version(index_dir))
    with sqlite3.connect(folder / METADATA) as db:
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


def test_keyword_scores_within_rows_keep_the_whole_index_statistics(index_dir: Path) -> None:
    index = Index.open(index_dir)
    try:
        everywhere = dict(index.keyword_search(["service", "water"], None))
        chunks = index.chunks(list(everywhere))
        pumps = [c.row for c in chunks if c.citation.source == "pumps.md"]
        assert index.keyword_search(["service", "water"], None, pumps) == [
            (row, everywhere[row]) for row in pumps
        ]
        assert index.keyword_search(["service"], None, []) == []
    finally:
        index.close()


@pytest.mark.parametrize(
    ("name", "damage", "message"),
    [
        ("blocks_fts.npz", b"not an archive", "blocks_fts.npz cannot be read"),
        ("chunks_fts.npz", b"", "chunks_fts.npz cannot be read"),
        # Random bytes can look like a pickled array; numpy then suggests unpickling it.
        ("chunks_fts.npz", b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, "
         b"'shape': (1,), }", "chunks_fts.npz cannot be read"),
        (METADATA, b"", f"{METADATA} has no table chunks, documents, files, skipped"),
    ],
)  # fmt: skip
def test_a_damaged_file_fails_the_open_and_the_next_build_starts_afresh(
    index_dir: Path, write_corpus: WriteFiles, embedder: Embedder, name: str, damage: bytes,
    message: str,
) -> None:  # fmt: skip
    version = current_version(index_dir)
    (generation_dir(index_dir, version) / name).write_bytes(damage)
    with pytest.raises(IndexCorrupt) as raised:
        Index.open(index_dir)
    assert str(raised.value) == f"Generation {version} in {index_dir} is damaged: {message}"
    # Nothing of the damaged generation is reused, and the new one serves.
    build = build_index(write_corpus(CORPUS), index_dir, embedder)
    assert build.plan.startswith(f"{len(CORPUS)} added")
    Index.open(index_dir).close()


def test_a_database_damaged_past_its_first_page_is_reported_and_rebuilt(
    index_dir: Path, write_corpus: WriteFiles, embedder: Embedder
) -> None:
    version = current_version(index_dir)
    database = generation_dir(index_dir, version) / METADATA
    database.write_bytes(database.read_bytes()[:4096].ljust(database.stat().st_size, b"\0"))
    with pytest.raises(IndexCorrupt, match=f"Generation {version} in .* is damaged: {METADATA}"):
        Index.open(index_dir).documents()
    # A build reads it whole, finds the damage and plans as if there were no base.
    build = build_index(write_corpus(CORPUS), index_dir, embedder)
    assert build.plan.startswith(f"{len(CORPUS)} added")


def test_top_rows_sorts_best_first_and_breaks_ties_at_the_cut_by_row() -> None:
    scores = np.array([0.0, 2.0, 5.0, 2.0, 0.0, 2.0, 7.0])
    assert top_rows(scores, 3) == [(6, 7.0), (2, 5.0), (1, 2.0)]
    assert top_rows(scores, None) == [(6, 7.0), (2, 5.0), (1, 2.0), (3, 2.0), (5, 2.0)]
    assert top_rows(scores, 9) == top_rows(scores, None)
    assert top_rows(scores, 0) == []
    assert top_rows(np.zeros(3), 2) == []
