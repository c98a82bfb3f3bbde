"""The build: corpus -> documents -> chunks -> vectors -> a new generation, then CURRENT.

Builds are incremental: documents whose files did not change keep their chunks and
vectors from the current generation, and a chunk whose exact embed text was embedded
before with this model takes its vector from the cache. Only new text is embedded.
"""

import hashlib
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from service.cache import CACHE_FILE, VectorCache
from service.chunking import chunk_document
from service.documents import CorpusFile, check_corpus, load_document, scan_corpus
from service.embedding import Embedder, Vectors
from service.errors import (
    EmptyCorpus,
    GenerationNotFound,
    IndexCorrupt,
    IndexNotFound,
    UnreadableDocument,
)
from service.models import Chunk, Document, SkippedFile
from service.store import (
    INDEX_FORMAT,
    BuildLock,
    FileState,
    Index,
    Manifest,
    current_version,
    list_generations,
    new_version,
    prune_generations,
    remove_generation,
    switch_current,
    used_vectors,
    verify_generation,
    write_generation,
)

# The stages a build goes through, in order; `progress` hears each one as it starts.
# "switching" starts once the new generation is written and verified, before CURRENT moves.
STAGES = ("scanning", "chunking", "embedding", "writing", "switching")

Progress = Callable[[str, int, int], None]
"""Called with (stage, done, total) as a build moves on."""

# Texts handed to the model at once between two progress reports.
_EMBED_SLICE = 256


@dataclass
class BuildPlan:
    """What a build will do, relative to the generation it starts from."""

    base_version: str | None
    added: list[str]
    changed: list[str]
    removed: list[str]
    documents: list[Document]
    chunks: list[Chunk]
    embed_hashes: list[str]
    skipped: list[SkippedFile]
    files: list[FileState]
    # The files the base generation skipped: a change there needs a new generation too.
    base_skipped: list[SkippedFile] = field(default_factory=list)
    # Vectors already known (from the base generation or the cache), by embed hash.
    known: dict[str, Vectors] = field(repr=False, default_factory=dict)

    @property
    def reused(self) -> int:
        "Chunks whose vector is already known"
        return sum(embed_hash in self.known for embed_hash in self.embed_hashes)

    @property
    def to_embed(self) -> int:
        "Distinct texts the model still has to embed"
        return len({h for h in self.embed_hashes if h not in self.known})

    @property
    def is_empty(self) -> bool:
        "True when the base generation already holds exactly what this build would write"
        return (
            self.base_version is not None
            and not (self.added or self.changed or self.removed)
            and self.to_embed == 0
            and self.skipped == self.base_skipped
        )

    def summary(self) -> str:
        """One line: `3 added, 1 changed, 2 removed, 412 chunks reused, 9 to embed`, then
        `, 1 skipped` when files of the corpus cannot be read (counted there only, unless
        the base generation held the file: then it is removed too)."""
        line = (
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{self.reused} chunks reused, {self.to_embed} to embed"
        )
        return f"{line}, {len(self.skipped)} skipped" if self.skipped else line


@dataclass(frozen=True)
class BuildReport:
    """What a build did: `created` is False when nothing changed and no generation was made."""

    version: str
    documents: int
    chunks: int
    skipped: list[SkippedFile]
    seconds: float
    plan: str
    created: bool


def plan_build(
    corpus_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    chunk_tokens: int = 128,
    overlap_tokens: int = 32,
    full: bool = False,
    progress: Progress = lambda stage, done, total: None,
    reuse: bool = True,
) -> BuildPlan:
    """Compare the corpus with the current generation; read and chunk only what changed.

    With `full`, nothing is reused: every file is read, chunked and (later) embedded.
    Without `reuse`, the current generation is not even read (as when it is damaged).
    """
    progress("scanning", 0, 0)
    files, skipped = scan_corpus(corpus_dir)
    base = _open_base(index_dir) if reuse else None
    try:
        before = base.files() if base else {}
        # Vectors are found by what was embedded, so any base made by this model lends
        # them; documents and chunks are kept only if they were cut the same way.
        same_model = (
            base is not None
            and not full
            and (base.manifest.model_fingerprint, base.manifest.model_dimension)
            == (embedder.fingerprint, embedder.dimension)
        )
        reusable = (
            base is not None
            and same_model
            and (base.manifest.chunk_tokens, base.manifest.overlap_tokens)
            == (chunk_tokens, overlap_tokens)
            and base.manifest.index_format == INDEX_FORMAT
        )
        status, removed = _compare(files, before)
        if not reusable:  # nothing is reused: every file already known is read again
            status = {
                source: "changed" if what == "same" else what for source, what in status.items()
            }
        added = [source for source, what in status.items() if what == "added"]
        changed = [source for source, what in status.items() if what == "changed"]
        same = {source for source, what in status.items() if what == "same"}
        kept_documents: dict[str, Document] = {}
        kept_chunks: dict[str, list[tuple[Chunk, str]]] = {}
        vectors: dict[str, Vectors] = {}
        if base is not None and same_model:
            if reusable:
                kept_documents = {d.source: d for d in base.stored_documents() if d.source in same}
            ids = {d.document_id for d in kept_documents.values()}
            base_vectors = base.vectors()
            for row, chunk, embed_hash in base.stored_chunks():
                vectors[embed_hash] = base_vectors[row]
                if chunk.document_id in ids:
                    kept_chunks.setdefault(chunk.document_id, []).append((chunk, embed_hash))
        base_version = base.version if base else None
        base_skipped = base.skipped() if base else []
    except IndexCorrupt:
        if not reuse:
            raise
        # Damaged past what opening it reads (a page of meta.sqlite): plan from nothing.
        return plan_build(
            corpus_dir, index_dir, embedder, chunk_tokens, overlap_tokens, full, progress,
            reuse=False,
        )  # fmt: skip
    finally:
        if base is not None:
            base.close()

    documents: list[Document] = []
    chunks: list[Chunk] = []
    hashes: list[str] = []
    fresh = [f for f in files if f.source not in kept_documents]
    skipped_before = {skip.source for skip in base_skipped}
    # A skipped file deleted takes no document out of the index: it is no removal (its
    # leaving the skipped list still makes a new generation).
    removed = [source for source in removed if source not in skipped_before]
    progress("chunking", 0, len(fresh))
    for file in files:
        document = kept_documents.get(file.source)
        if document is not None:
            documents.append(document)
            for chunk, embed_hash in kept_chunks.get(document.document_id, []):
                chunks.append(chunk)
                hashes.append(embed_hash)
            continue
        try:
            document = load_document(file.path, file.source)
        except UnreadableDocument as error:
            # A file that cannot be read counts as skipped, not as added or changed; one
            # the base generation held leaves the index, so it counts as removed too.
            skipped.append(SkippedFile(file.source, str(error)))
            if file.source in changed and file.source not in skipped_before:
                removed.append(file.source)
            for listed in (added, changed):
                if file.source in listed:
                    listed.remove(file.source)
            continue
        if file.source in same:
            # Unchanged, yet not a document of the base: it was skipped and reads now.
            changed.append(file.source)
        documents.append(document)
        for chunk in chunk_document(
            document, embedder, chunk_tokens, overlap_tokens, embedder.max_tokens
        ):
            chunks.append(chunk)
            hashes.append(_embed_hash(chunk.embed_text))
    progress("chunking", len(fresh), len(fresh))
    skipped.sort(key=lambda s: s.source)
    removed.sort()
    hashes_by_document = {d.source: d.sha256 for d in documents}
    states = [
        FileState(f.source, f.size, f.mtime_ns, hashes_by_document.get(f.source) or _file_hash(f))
        for f in files
    ]
    known = {h: vectors[h] for h in hashes if h in vectors}
    if not full:
        missing = [h for h in hashes if h not in known]
        if missing and index_dir.is_dir():
            try:
                cache = VectorCache(index_dir, embedder.fingerprint, embedder.dimension)
                try:
                    known.update(cache.get(missing))
                finally:
                    cache.close()
            except sqlite3.OperationalError:
                # A dry run holds no build lock: a build pruning the cache meanwhile locks
                # it. The plan then counts those chunks as to embed; a real build holds
                # the lock and never meets this.
                pass
    changed.sort()
    return BuildPlan(
        base_version, added, changed, removed, documents, chunks, hashes, skipped, states,
        base_skipped, known,
    )  # fmt: skip


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    chunk_tokens: int = 128,
    overlap_tokens: int = 32,
    batch_size: int = 64,
    full: bool = False,
    keep_generations: int = 3,
    progress: Progress = lambda stage, done, total: None,
    log: Callable[[str], None] = lambda message: None,
) -> BuildReport:
    """Bring the index up to date with the corpus in a new generation and make it current.

    Embeds only text not embedded before (all of it with `full`). When nothing changed,
    no generation is made and the report names the current one. A failure or kill at
    any point leaves the current generation untouched; the next build removes leftovers.
    """
    started = time.perf_counter()
    check_corpus(corpus_dir)  # before the lock creates the index folder
    with BuildLock(index_dir) as lock:
        for version in lock.removed:
            log(f"removed generation {version}, left by a build that did not finish")
        plan = plan_build(
            corpus_dir, index_dir, embedder, chunk_tokens, overlap_tokens, full, progress
        )
        for skip in plan.skipped:
            log(f"skipped {skip.source}: {skip.reason}")
        summary = plan.summary()
        log(summary)
        if not plan.documents:
            raise EmptyCorpus(f"No readable documents in {corpus_dir}")
        # is_empty holds only with a base; the test again is for mypy.
        if plan.is_empty and plan.base_version is not None:
            return BuildReport(
                plan.base_version, len(plan.documents), len(plan.chunks), plan.skipped,
                time.perf_counter() - started, summary, created=False,
            )  # fmt: skip
        vectors = _embed_missing(plan, index_dir, embedder, batch_size, progress)
        manifest = Manifest(
            version=new_version(),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            model_name=embedder.name,
            model_dimension=embedder.dimension,
            model_fingerprint=embedder.fingerprint,
            documents=len(plan.documents),
            chunks=len(plan.chunks),
            skipped=len(plan.skipped),
            chunk_tokens=chunk_tokens,
            overlap_tokens=overlap_tokens,
            index_format=INDEX_FORMAT,
        )
        lock.claim(manifest.version)
        progress("writing", 0, len(plan.chunks))
        try:
            write_generation(
                index_dir, manifest, plan.documents, plan.chunks, plan.embed_hashes, vectors,
                plan.skipped, plan.files,
            )  # fmt: skip
            verify_generation(index_dir, manifest.version)
        except BaseException:
            remove_generation(index_dir, manifest.version)
            raise
        progress("switching", 0, 1)
        switch_current(index_dir, manifest.version)
        progress("switching", 1, 1)
        for version in prune_generations(index_dir, keep_generations):
            log(f"removed old generation {version}")
        _prune_cache(index_dir, embedder, log)
    return BuildReport(
        manifest.version, len(plan.documents), len(plan.chunks), plan.skipped,
        time.perf_counter() - started, summary, created=True,
    )  # fmt: skip


def _prune_cache(index_dir: Path, embedder: Embedder, log: Callable[[str], None]) -> None:
    """Keep in the vector cache only what the kept generations use.

    The new generation is already serving: a cache that cannot be pruned (or a kept
    generation whose chunks cannot be read, so what it uses is unknown) is reported and
    left whole, and the build still succeeds.
    """
    try:
        cache = VectorCache(index_dir, embedder.fingerprint, embedder.dimension)
        try:
            dropped = cache.keep_only(used_vectors(index_dir))
        finally:
            cache.close()
    except sqlite3.Error as error:
        log(f"could not prune the vector cache {index_dir / CACHE_FILE}: {error}")
        return
    if dropped:
        log(f"dropped {dropped} cached vectors that no kept generation uses")


def _embed_missing(
    plan: BuildPlan, index_dir: Path, embedder: Embedder, batch_size: int, progress: Progress
) -> Vectors:
    """Every chunk's vector in chunk order, embedding (and caching) the unknown ones."""
    texts = {
        embed_hash: chunk.embed_text
        for chunk, embed_hash in zip(plan.chunks, plan.embed_hashes, strict=True)
        if embed_hash not in plan.known
    }
    missing = list(texts)
    progress("embedding", 0, len(missing))
    if missing:
        cache = VectorCache(index_dir, embedder.fingerprint, embedder.dimension)
        try:
            for start in range(0, len(missing), _EMBED_SLICE):
                batch = missing[start : start + _EMBED_SLICE]
                embedded = embedder.embed([texts[h] for h in batch], batch_size=batch_size)
                cache.put(batch, embedded)
                plan.known.update(zip(batch, embedded, strict=True))
                progress("embedding", start + len(batch), len(missing))
        finally:
            cache.close()
    if not plan.embed_hashes:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.stack([plan.known[h] for h in plan.embed_hashes]).astype(np.float32, copy=False)


def roll_back(index_dir: Path, version: str | None = None) -> str:
    """Make an earlier generation current again (by default the one before the current).

    Returns the version now current; raises GenerationNotFound or IndexCorrupt.
    """
    with BuildLock(index_dir):
        current = current_version(index_dir)
        versions = [manifest.version for manifest in list_generations(index_dir)]
        if version is None:
            older = [v for v in versions if v < current]
            if not older:
                raise GenerationNotFound(f"No generation older than {current} in {index_dir}")
            version = older[-1]
        elif version not in versions:
            raise GenerationNotFound(
                f"No generation {version!r} in {index_dir}; there are: {', '.join(versions)}"
            )
        verify_generation(index_dir, version)
        switch_current(index_dir, version)
    return version


def _open_base(index_dir: Path) -> Index | None:
    # A missing or damaged current generation just means nothing can be reused.
    try:
        return Index.open(index_dir)
    except (IndexNotFound, IndexCorrupt):
        return None


def _unchanged(file: CorpusFile, known: FileState) -> bool:
    if known.size != file.size:
        return False
    return known.mtime_ns == file.mtime_ns or _file_hash(file) == known.sha256


def _embed_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _file_hash(file: CorpusFile) -> str:
    try:
        return hashlib.sha256(file.path.read_bytes()).hexdigest()
    except OSError:
        return ""


def corpus_changes(corpus_dir: Path, index: Index) -> list[str]:
    """Corpus files added, changed or removed since the index was built, as `+ a`, `~ b`, `- c`."""
    files, _ = scan_corpus(corpus_dir)
    status, removed = _compare(files, index.files())
    marks = {"added": "+", "changed": "~"}
    changes = [f"{marks[what]} {source}" for source, what in status.items() if what in marks]
    return changes + [f"- {source}" for source in removed]


def _compare(
    files: list[CorpusFile], before: dict[str, FileState]
) -> tuple[dict[str, str], list[str]]:
    """Each file's status against a build's file states ("added", "changed" or "same", in
    the files' order), and the sources that are gone (sorted)."""
    status: dict[str, str] = {}
    for file in files:
        known = before.get(file.source)
        if known is None:
            status[file.source] = "added"
        else:
            status[file.source] = "same" if _unchanged(file, known) else "changed"
    return status, sorted(set(before) - set(status))
