"""The build: corpus -> documents -> chunks -> vectors -> a new generation, then CURRENT."""

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from service.chunking import chunk_document
from service.documents import Corpus, load_corpus, scan_corpus
from service.embedding import Embedder
from service.errors import EmptyCorpus
from service.models import SkippedFile
from service.store import (
    BuildLock,
    FileState,
    Index,
    Manifest,
    new_version,
    switch_current,
    write_generation,
)


@dataclass(frozen=True)
class BuildReport:
    """What a build made."""

    version: str
    documents: int
    chunks: int
    skipped: list[SkippedFile]
    seconds: float


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    chunk_tokens: int = 128,
    overlap_tokens: int = 32,
    batch_size: int = 64,
    progress: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> BuildReport:
    """Index the corpus into a new generation and make it current.

    A failure at any point leaves the current generation untouched.
    """
    started = time.perf_counter()
    with BuildLock(index_dir):
        corpus = load_corpus(corpus_dir)
        documents, skipped = corpus.documents, corpus.skipped
        for skip in skipped:
            log(f"skipped {skip.source}: {skip.reason}")
        if not documents:
            raise EmptyCorpus(f"No readable documents in {corpus_dir}")
        chunks = [
            chunk
            for document in documents
            for chunk in chunk_document(
                document, embedder, chunk_tokens, overlap_tokens, embedder.max_tokens
            )
        ]
        log(f"{len(documents)} documents, {len(chunks)} chunks; embedding")
        embed_texts = [chunk.embed_text for chunk in chunks]
        vectors = embedder.embed(embed_texts, batch_size=batch_size, progress=progress)
        manifest = Manifest(
            version=new_version(),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            model_name=embedder.name,
            model_dimension=embedder.dimension,
            model_fingerprint=embedder.fingerprint,
            documents=len(documents),
            chunks=len(chunks),
            skipped=len(skipped),
            chunk_tokens=chunk_tokens,
            overlap_tokens=overlap_tokens,
        )
        hashes = [hashlib.sha256(text.encode()).hexdigest() for text in embed_texts]
        write_generation(
            index_dir, manifest, documents, chunks, hashes, vectors, skipped,
            snapshot_corpus(corpus),
        )  # fmt: skip
        switch_current(index_dir, manifest.version)
    return BuildReport(
        manifest.version, len(documents), len(chunks), skipped, time.perf_counter() - started
    )


def snapshot_corpus(corpus: Corpus) -> list[FileState]:
    """Size, modification time and content hash of every corpus file, as read."""
    hashes = {document.source: document.sha256 for document in corpus.documents}
    return [
        FileState(f.source, f.size, f.mtime_ns, hashes.get(f.source) or _file_hash(f.path))
        for f in corpus.files
    ]


def _file_hash(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def corpus_changes(corpus_dir: Path, index: Index) -> list[str]:
    """Corpus files added, changed or removed since the index was built, as `+ a`, `~ b`, `- c`."""
    before = index.files()
    files, _ = scan_corpus(corpus_dir)
    changes: list[str] = []
    for file in files:
        known = before.pop(file.source, None)
        if known is None:
            changes.append(f"+ {file.source}")
        elif known.size != file.size or (
            known.mtime_ns != file.mtime_ns and _file_hash(file.path) != known.sha256
        ):
            changes.append(f"~ {file.source}")
    changes.extend(f"- {source}" for source in sorted(before))
    return changes
