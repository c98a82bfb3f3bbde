"""The build: one at a time, and a failed build never touches the generation in use."""

from pathlib import Path

import pytest

from service.embedding import Embedder
from service.errors import BuildLocked, IndexCorrupt
from service.indexing import build_index, corpus_changes
from service.search import Searcher
from service.store import METADATA, BuildLock, Index, generation_dir
from tests.conftest import WriteFiles


class _FailingEmbedder(Embedder):
    """The real model, failing when asked to embed: a build dying mid-way."""

    def embed(self, texts: object, batch_size: int = 64, progress: bool = False) -> object:  # type: ignore[override]
        raise RuntimeError("embedding failed")


def test_a_second_build_is_refused_while_one_runs(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    corpus = write_corpus({"a.txt": "Alpha."})
    index = tmp_path / "index"
    with (
        BuildLock(index),
        pytest.raises(BuildLocked, match=r"Another build \(pid \d+\) is running"),
    ):
        build_index(corpus, index, embedder)
    build_index(corpus, index, embedder)  # the lock is released afterwards
    assert Index.open(index).manifest.documents == 1


def test_a_failed_build_leaves_the_current_generation_serving(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    corpus = write_corpus({"a.txt": "Alpha is the first letter."})
    index = tmp_path / "index"
    first = build_index(corpus, index, embedder)
    (corpus / "b.txt").write_text("Beta is the second letter.")
    failing = _FailingEmbedder(embedder.model, embedder.name)
    with pytest.raises(RuntimeError, match="embedding failed"):
        build_index(corpus, index, failing)
    assert (index / "CURRENT").read_text().strip() == first.version
    searcher = Searcher.open(embedder, index)
    assert searcher.search("second letter").passages[0].citation.document_id == "a.txt"
    assert corpus_changes(corpus, searcher.index) == ["+ b.txt"]


def test_corpus_changes_lists_added_changed_and_removed(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    corpus = write_corpus({"keep.txt": "Same.", "edit.txt": "Before.", "gone.txt": "Bye."})
    index = tmp_path / "index"
    build_index(corpus, index, embedder)
    (corpus / "edit.txt").write_text("After, longer.")
    (corpus / "gone.txt").unlink()
    (corpus / "new.md").write_text("# New")
    assert corpus_changes(corpus, Index.open(index)) == ["~ edit.txt", "+ new.md", "- gone.txt"]


def test_a_damaged_generation_is_reported_as_corrupt(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    corpus = write_corpus({"a.txt": "Alpha."})
    index = tmp_path / "index"
    report = build_index(corpus, index, embedder)
    (generation_dir(index, report.version) / METADATA).unlink()
    with pytest.raises(IndexCorrupt, match=f"Generation {report.version} in {index}"):
        Index.open(index)
