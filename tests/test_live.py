"""The live searcher: swaps to a new CURRENT, never closing a generation still borrowed."""

import sqlite3
from pathlib import Path

import pytest

from service.embedding import Embedder
from service.indexing import build_index
from service.live import LiveSearcher
from service.search import Searcher
from service.store import switch_current
from tests.conftest import WriteFiles


def test_swaps_when_current_changes_and_closes_the_old_one_after_its_last_request(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    corpus = write_corpus({"a.txt": "Sea otters hold hands while they sleep."})
    index = tmp_path / "index"
    first = build_index(corpus, index, embedder).version
    live = LiveSearcher(Searcher.open(embedder, index))
    assert live.refresh() is False
    (corpus / "b.txt").write_text("Honey bees dance to show where flowers are.")
    second = build_index(corpus, index, embedder).version

    with live.borrow() as old:
        assert live.refresh() is True
        assert live.version == second
        # The request in flight finishes on the generation it started with.
        assert old.search("otters", 1).index_version == first
        with live.borrow() as new:
            assert new.search("bees", 1).passages[0].citation.source == "b.txt"
    with pytest.raises(sqlite3.ProgrammingError):
        old.index.documents()

    switch_current(index, "no-such-generation")
    assert live.refresh() is False
    assert live.version == second
    live.close()
