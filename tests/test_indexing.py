"""The build: incremental and one at a time; a failed or killed build never touches the
generation in use; leftovers, generations and rollback (real model)."""

import json
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from service import indexing
from service.cache import CACHE_FILE
from service.cli import main
from service.embedding import Embedder
from service.errors import BuildLocked, IndexCorrupt, UnreadableDocument
from service.indexing import build_index, corpus_changes, plan_build, roll_back
from service.models import Document
from service.search import Searcher
from service.store import (
    CURRENT,
    GENERATIONS,
    INDEX_FORMAT,
    MANIFEST,
    METADATA,
    BuildLock,
    Index,
    current_version,
    generation_dir,
    list_generations,
    outdated_note,
)
from tests.conftest import WriteFiles


class _FailingEmbedder(Embedder):
    """The real model, failing when asked to embed: a build dying mid-way."""

    def embed(self, texts: object, batch_size: int = 64) -> object:  # type: ignore[override]
        raise RuntimeError("embedding failed")


def test_an_index_folder_named_with_uri_characters_builds_and_opens(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    # SQLite reads "#", "?" and "%" in a "file:" URI as a fragment, a query, an escape.
    corpus = write_corpus({"a.txt": "Alpha is the first letter."})
    index = tmp_path / "proj #2 %41?x" / "index"
    build_index(corpus, index, embedder)
    searcher = Searcher.open(embedder, index)
    assert searcher.search("first letter", k=1).passages[0].citation.source == "a.txt"
    searcher.index.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "proj #2 %41?x"]


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


CORPUS = {
    "otters.md": "# Otters\n\nSea otters hold hands while they sleep so they do not drift apart.",
    "bees.txt": "Honey bees dance in a figure of eight to tell the hive where flowers are.",
    "owls.txt": "Barn owls hunt by sound alone and can catch a mouse in total darkness.",
}


def _vectors(index_dir: Path) -> tuple[list[str], np.ndarray]:
    index = Index.open(index_dir)
    try:
        return [chunk.chunk_id for _, chunk, _ in index.stored_chunks()], index.vectors()
    finally:
        index.close()


def test_incremental_build_embeds_only_new_text_and_matches_a_full_build(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    corpus = write_corpus(CORPUS)
    index = tmp_path / "index"
    first = build_index(corpus, index, embedder)
    assert first.plan == "3 added, 0 changed, 0 removed, 0 chunks reused, 3 to embed"
    (corpus / "bees.txt").write_text("Bumble bees can fly in the cold because they shiver.")
    (corpus / "owls.txt").unlink()
    (corpus / "cats.txt").write_text("A cat's purr runs at twenty-five to fifty hertz.")
    # The same text under a new name is not embedded again: the cache knows it.
    (corpus / "otters-copy.md").write_text(CORPUS["otters.md"])

    plan = plan_build(corpus, index, embedder)
    assert (plan.added, plan.changed, plan.removed) == (
        ["cats.txt", "otters-copy.md"],
        ["bees.txt"],
        ["owls.txt"],
    )
    assert plan.summary() == "2 added, 1 changed, 1 removed, 2 chunks reused, 2 to embed"
    second = build_index(corpus, index, embedder)
    assert second.created and second.version != first.version
    assert second.plan == plan.summary()

    full = tmp_path / "full"
    build_index(corpus, full, embedder, full=True)
    ids, vectors = _vectors(index)
    full_ids, full_vectors = _vectors(full)
    assert ids == full_ids == ["bees.txt#0", "cats.txt#0", "otters-copy.md#0", "otters.md#0"]
    np.testing.assert_allclose(vectors, full_vectors, atol=1e-5)
    hit = Searcher.open(embedder, index).search("What frequency is a purr?", 1).passages[0]
    assert hit.citation.source == "cats.txt"


def test_a_reused_chunk_keeps_its_title_as_a_keyword(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    # The title is no word of the text: only the embedded context carries it.
    corpus = write_corpus({"zebra-care.txt": "Give them hay twice a day."})
    index_dir = tmp_path / "index"
    build_index(corpus, index_dir, embedder)
    (corpus / "lions.txt").write_text("Lions sleep most of the day.")
    assert build_index(corpus, index_dir, embedder).plan.endswith("1 chunks reused, 1 to embed")
    index = Index.open(index_dir)
    try:
        [(row, _)] = index.keyword_search(["zebra"], None)
        assert index.chunks([row])[0].citation.source == "zebra-care.txt"
    finally:
        index.close()


def test_a_generation_of_an_older_format_is_rebuilt_without_embedding_again(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    corpus = write_corpus(CORPUS)
    index_dir = tmp_path / "index"
    first = build_index(corpus, index_dir, embedder)
    # What a generation written before blocks_fts looks like.
    folder = generation_dir(index_dir, first.version)
    manifest = json.loads((folder / MANIFEST).read_text())
    del manifest["index_format"]
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with sqlite3.connect(folder / METADATA) as db:
        db.execute("DROP TABLE blocks_fts")
    old = Index.open(index_dir)
    try:
        assert "index format 1, now" in (outdated_note(old.manifest) or "")
    finally:
        old.close()
    # The vectors must come from the generation itself, not from the cache beside it.
    (index_dir / CACHE_FILE).unlink()

    second = build_index(corpus, index_dir, embedder)
    assert second.created
    assert second.plan == "0 added, 3 changed, 0 removed, 3 chunks reused, 0 to embed"
    index = Index.open(index_dir)
    try:
        assert index.has_block_keywords
        assert index.manifest.index_format == INDEX_FORMAT
        assert outdated_note(index.manifest) is None
    finally:
        index.close()
    assert not build_index(corpus, index_dir, embedder).created


def test_build_without_changes_makes_no_generation(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    corpus = write_corpus(CORPUS)
    index = tmp_path / "index"
    first = build_index(corpus, index, embedder)
    os.utime(corpus / "bees.txt")  # touched, same bytes: not a change
    again = build_index(corpus, index, embedder)
    assert (again.created, again.version) == (False, first.version)
    assert again.plan == "0 added, 0 changed, 0 removed, 3 chunks reused, 0 to embed"
    assert [m.version for m in list_generations(index)] == [first.version]


def test_next_build_removes_what_dead_builds_left(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    corpus = write_corpus(CORPUS)
    index = tmp_path / "index"
    first = build_index(corpus, index, embedder)
    # A build killed after writing its generation, before switching CURRENT...
    shutil.copytree(generation_dir(index, first.version), generation_dir(index, "20990101T0Z"))
    (index / "build.lock").write_text("999999 20990101T0Z")
    # ...and one killed halfway through writing (no manifest yet).
    half = generation_dir(index, "20990102T0Z")
    shutil.copytree(generation_dir(index, first.version), half)
    (half / MANIFEST).unlink()
    (corpus / "cats.txt").write_text("A cat's purr runs at twenty-five to fifty hertz.")

    assert current_version(index) == first.version
    second = build_index(corpus, index, embedder)
    assert sorted(p.name for p in (index / GENERATIONS).iterdir()) == [
        first.version,
        second.version,
    ]
    assert (index / "build.lock").read_text() == ""


def test_generations_are_pruned_listed_and_rolled_back(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    corpus = write_corpus(CORPUS)
    index = tmp_path / "index"
    versions = []
    for n in range(4):
        (corpus / f"note{n}.txt").write_text(f"Note number {n} is about the number {n}.")
        versions.append(build_index(corpus, index, embedder, keep_generations=3).version)
    assert [m.version for m in list_generations(index)] == versions[1:]

    runner = CliRunner()
    listed = runner.invoke(main, ["generations", "--index", str(index)])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert [(line[0], line[2:].split()[0]) for line in lines] == [
        (" ", versions[1]),
        (" ", versions[2]),
        ("*", versions[3]),
    ]

    rolled = runner.invoke(main, ["rollback", "--index", str(index)])
    assert rolled.exit_code == 0, rolled.output
    assert (index / CURRENT).read_text().strip() == versions[2]
    assert roll_back(index, versions[3]) == versions[3]
    (generation_dir(index, versions[3]) / MANIFEST).write_text("{")
    damaged = runner.invoke(main, ["generations", "--index", str(index)])
    assert damaged.output.splitlines()[-1] == (
        f"* {versions[3]}  damaged or incomplete (no readable manifest): run `herein build`"
    )
    missing = runner.invoke(main, ["rollback", "nope", "--index", str(index)])
    assert missing.exit_code == 1
    assert "No generation 'nope'" in missing.output


def _cached_hashes(index_dir: Path) -> set[str]:
    with sqlite3.connect(index_dir / CACHE_FILE) as db:
        return {embed_hash for (embed_hash,) in db.execute("SELECT embed_hash FROM vectors")}


def _generation_hashes(index_dir: Path, version: str) -> set[str]:
    with sqlite3.connect(generation_dir(index_dir, version) / METADATA) as db:
        return {embed_hash for (embed_hash,) in db.execute("SELECT embed_hash FROM chunks")}


def test_the_vector_cache_keeps_only_what_kept_generations_use(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    corpus = write_corpus({"log.txt": "Day 0: the pump was serviced."})
    index = tmp_path / "index"
    versions = [build_index(corpus, index, embedder, keep_generations=2).version]
    for day in range(1, 4):
        (corpus / "log.txt").write_text(f"Day {day}: the pump was serviced.")
        versions.append(build_index(corpus, index, embedder, keep_generations=2).version)
    kept = _generation_hashes(index, versions[2]) | _generation_hashes(index, versions[3])
    assert len(kept) == 2
    assert _cached_hashes(index) == kept
    # What the cache still holds spares embedding: day 2's text is back.
    (corpus / "log.txt").write_text("Day 2: the pump was serviced.")
    assert build_index(corpus, index, embedder).plan.endswith("1 chunks reused, 0 to embed")


def test_dry_run_prints_the_plan_and_builds_nothing(
    write_corpus: WriteFiles,
    tmp_path: Path,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("service.cli._load_embedder", lambda settings: embedder)
    corpus = write_corpus(CORPUS)
    index = tmp_path / "index"
    first = build_index(corpus, index, embedder).version
    (corpus / "owls.txt").unlink()
    (corpus / "cats.txt").write_text("A cat's purr runs at twenty-five to fifty hertz.")
    result = CliRunner().invoke(
        main, ["build", "--dry-run", "--corpus", str(corpus), "--index", str(index)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "1 added, 0 changed, 1 removed, 2 chunks reused, 1 to embed",
        "  + cats.txt",
        "  - owls.txt",
    ]
    assert [m.version for m in list_generations(index)] == [first]


def test_a_skipped_file_that_reads_now_is_indexed_though_its_mtime_is_the_same(
    write_corpus: WriteFiles,
    tmp_path: Path,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    corpus = write_corpus(CORPUS)
    index = tmp_path / "index"
    real_load = indexing.load_document

    def refuse_owls(path: Path, source: str) -> Document:
        # A reader that could not read owls.txt then (a permission, a missing parser).
        if source == "owls.txt":
            raise UnreadableDocument("cannot read owls.txt for now")
        return real_load(path, source)

    monkeypatch.setattr(indexing, "load_document", refuse_owls)
    first = build_index(corpus, index, embedder)
    assert [s.source for s in first.skipped] == ["owls.txt"]
    assert first.plan == "2 added, 0 changed, 0 removed, 0 chunks reused, 2 to embed, 1 skipped"
    monkeypatch.setattr(indexing, "load_document", real_load)

    plan = plan_build(corpus, index, embedder)
    assert (plan.added, plan.changed, plan.removed, plan.skipped) == ([], ["owls.txt"], [], [])
    second = build_index(corpus, index, embedder)
    assert (second.created, second.documents, second.skipped) == (True, 3, [])
    hit = Searcher.open(embedder, index).search("Which bird hunts by sound?", 1).passages[0]
    assert hit.citation.source == "owls.txt"


def test_a_file_that_can_no_longer_be_read_counts_as_removed_and_skipped(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    corpus = write_corpus(CORPUS)
    index = tmp_path / "index"
    build_index(corpus, index, embedder)
    with open(corpus / "owls.txt", "ab") as handle:
        handle.write(b"Caf\xe9\n")  # Latin-1: no longer UTF-8
    report = build_index(corpus, index, embedder)
    assert report.plan == "0 added, 0 changed, 1 removed, 2 chunks reused, 0 to embed, 1 skipped"
    assert [s.source for s in report.skipped] == ["owls.txt"]
    assert report.documents == 2
    # Still unreadable, and already gone: nothing to remove again, no new generation.
    plan = plan_build(corpus, index, embedder)
    assert (plan.removed, plan.is_empty) == ([], True)
    # Deleted, it was no document of the index: nothing removed, but no longer skipped.
    (corpus / "owls.txt").unlink()
    plan = plan_build(corpus, index, embedder)
    assert (plan.removed, plan.skipped, plan.is_empty) == ([], [], False)
    assert build_index(corpus, index, embedder).skipped == []


def test_a_rollback_removes_what_a_dead_build_left(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    corpus = write_corpus(CORPUS)
    index = tmp_path / "index"
    first = build_index(corpus, index, embedder)
    (corpus / "cats.txt").write_text("A cat's purr runs at twenty-five to fifty hertz.")
    second = build_index(corpus, index, embedder)
    # A build killed after writing its generation, before switching CURRENT.
    shutil.copytree(generation_dir(index, second.version), generation_dir(index, "20990101T0Z"))
    (index / "build.lock").write_text("999999 20990101T0Z")

    assert roll_back(index) == first.version
    assert [m.version for m in list_generations(index)] == [first.version, second.version]
    assert (index / "build.lock").read_text() == ""
