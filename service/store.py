"""The index on disk: generations of FAISS vectors plus SQLite metadata, and CURRENT.

Layout under the index root:
    CURRENT                       names the generation being served
    build.lock                    held by the one build allowed at a time; names its
                                  pid and the generation it is writing
    generations/<version>/        index.faiss, meta.sqlite, manifest.json, and the
                                  keyword tables' postings (chunks_fts.npz, blocks_fts.npz)
    vector-cache.sqlite           vectors by model and text hash: those of the kept
                                  generations and of a build under way
A generation is written in full and verified before CURRENT is switched to it (write to
a temp file, then rename), so a reader always sees a complete generation.
"""

import fcntl
import json
import os
import shutil
import sqlite3
import threading
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any

import faiss
import numpy as np

from service.errors import (
    BuildLocked,
    DocumentNotFound,
    GenerationNotFound,
    IndexCorrupt,
    IndexNotFound,
)
from service.models import Chunk, Citation, Document, SkippedFile
from service.postings import TOKENIZE, Postings, QueryTokenizer

CURRENT = "CURRENT"
GENERATIONS = "generations"
MANIFEST = "manifest.json"
VECTORS = "index.faiss"
METADATA = "meta.sqlite"
# The keyword tables, each with its postings beside meta.sqlite as <table>.npz.
KEYWORD_TABLES = ("chunks_fts", "blocks_fts")


@dataclass(frozen=True)
class Manifest:
    """What a generation holds and which model made its vectors."""

    version: str
    created_at: str
    model_name: str
    model_dimension: int
    model_fingerprint: str
    documents: int
    chunks: int
    skipped: int
    chunk_tokens: int
    overlap_tokens: int
    # What the generation's tables hold (see INDEX_FORMAT); 1 before the field existed.
    index_format: int = 1


@dataclass(frozen=True)
class FileState:
    """A corpus file as it was at build time, to tell later whether it changed."""

    source: str
    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class DocumentInfo:
    """A document's metadata as the index holds it."""

    document_id: str
    source: str
    title: str
    content_type: str
    sha256: str
    chunk_count: int
    pages: int | None


@dataclass(frozen=True)
class StoredChunk:
    """A chunk read back from the index, with its full citation."""

    row: int
    chunk_id: str
    text: str
    citation: Citation

    def part(self, start: int, end: int) -> "StoredChunk":
        """This chunk cut to document offsets [start, end), lines and pages recounted."""
        c = self.citation
        head, tail = self.text[: start - c.start], self.text[end - c.start - 1 : -1]
        citation = replace(
            c,
            start=start,
            end=end,
            line_start=c.line_start + head.count("\n"),
            line_end=c.line_end - tail.count("\n"),
            page=None if c.page is None else c.page + head.count("\f"),
            page_end=None if c.page_end is None else c.page_end - tail.count("\f"),
        )
        return replace(self, text=self.text[start - c.start : end - c.start], citation=citation)


def new_version() -> str:
    """A generation name that sorts by creation time (UTC, microseconds)."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def generation_dir(index_dir: Path, version: str) -> Path:
    "Folder of one generation"
    return index_dir / GENERATIONS / version


def current_version(index_dir: Path) -> str:
    """The version CURRENT names; raises IndexNotFound when there is none."""
    try:
        version = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError as error:
        raise IndexNotFound(f"No index at {index_dir} - run `herein build` first") from error
    if not version:
        raise IndexCorrupt(f"{index_dir / CURRENT} is empty - run `herein build` again")
    return version


def switch_current(index_dir: Path, version: str) -> None:
    """Point CURRENT at a generation atomically: readers see the old or the new, never half."""
    temporary = index_dir / f".{CURRENT}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(version + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, index_dir / CURRENT)


def list_generations(index_dir: Path) -> list[Manifest]:
    """The complete generations (those with a manifest), oldest first."""
    manifests = []
    for folder in sorted((index_dir / GENERATIONS).glob("*")):
        try:
            data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            manifests.append(Manifest(**data))
        except (OSError, ValueError, TypeError):
            continue
    return manifests


def verify_generation(index_dir: Path, version: str) -> Manifest:
    """The generation's manifest once it loads and its vectors match its chunks.

    Raises GenerationNotFound when there is no such folder, IndexCorrupt otherwise.
    """
    if not generation_dir(index_dir, version).is_dir():
        raise GenerationNotFound(f"No generation {version!r} in {index_dir}")
    index = Index.open(index_dir, version)
    try:
        rows = index._query("SELECT COUNT(*) FROM chunks")[0][0]
        if rows != index.manifest.chunks:
            raise IndexCorrupt(
                f"Generation {version} has {rows} chunk rows for {index.manifest.chunks} chunks"
            )
        return index.manifest
    finally:
        index.close()


def remove_generation(index_dir: Path, version: str) -> None:
    """Delete a generation's folder (a server still holding it keeps its open files)."""
    shutil.rmtree(generation_dir(index_dir, version), ignore_errors=True)


def prune_generations(index_dir: Path, keep: int) -> list[str]:
    """Remove all but the newest `keep` complete generations and the current one; the removed."""
    current = current_version(index_dir)
    versions = [m.version for m in list_generations(index_dir)]
    removed = [v for v in versions[: max(0, len(versions) - keep)] if v != current]
    for version in removed:
        remove_generation(index_dir, version)
    return removed


def _read_only(path: Path, check_same_thread: bool = True) -> sqlite3.Connection:
    """A read-only connection to the SQLite file. Its URI is percent-encoded: in a plain
    "file:" URI, a "#", "?" or "%" in the folder's name would cut or garble the path."""
    uri = f"{path.absolute().as_uri()}?mode=ro"
    return sqlite3.connect(uri, uri=True, check_same_thread=check_same_thread)


def used_vectors(index_dir: Path) -> set[tuple[str, str]]:
    """(model fingerprint, embed hash) of every chunk of every complete generation;
    sqlite3.Error when one's metadata cannot be read (then what it uses is unknown)."""
    used: set[tuple[str, str]] = set()
    for manifest in list_generations(index_dir):
        path = generation_dir(index_dir, manifest.version) / METADATA
        connection = _read_only(path)
        try:
            hashes = connection.execute("SELECT DISTINCT embed_hash FROM chunks").fetchall()
        finally:
            connection.close()
        used.update((manifest.model_fingerprint, embed_hash) for (embed_hash,) in hashes)
    return used


def remove_leftovers(index_dir: Path, abandoned: str | None) -> list[str]:
    """Remove what dead builds left behind; BuildLock calls it for every holder.

    That is the generation a dead build's lock record names unless it became current,
    and any generation folder without its manifest (only a lock holder writes one).
    Returns the versions removed.
    """
    try:
        current: str | None = current_version(index_dir)
    except (IndexNotFound, IndexCorrupt):
        current = None
    removed = []
    for folder in sorted((index_dir / GENERATIONS).glob("*")):
        dead = folder.name == abandoned or not (folder / MANIFEST).exists()
        if dead and folder.name != current:
            remove_generation(index_dir, folder.name)
            removed.append(folder.name)
    for temporary in index_dir.glob(f".{CURRENT}.*.tmp"):
        temporary.unlink(missing_ok=True)
    return removed


_SCHEMA = """
CREATE TABLE documents (
    document_id TEXT PRIMARY KEY, source TEXT NOT NULL, title TEXT NOT NULL,
    content_type TEXT NOT NULL, sha256 TEXT NOT NULL, paged INTEGER NOT NULL,
    chunk_count INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL, document_id TEXT NOT NULL,
    text TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    line_start INTEGER NOT NULL, line_end INTEGER NOT NULL, page INTEGER, page_end INTEGER,
    heading TEXT NOT NULL, embed_hash TEXT NOT NULL
);
CREATE INDEX chunks_by_document ON chunks (document_id);
CREATE TABLE skipped (source TEXT PRIMARY KEY, reason TEXT NOT NULL);
CREATE TABLE files (
    source TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
"""

# What every generation's meta.sqlite holds, whichever herein wrote it.
_TABLES = frozenset({"documents", "chunks", "skipped", "files"})

# The keyword index: FTS5's BM25 over what the model embeds (title, headings, text),
# rowid = the chunk's row. Porter stemming so "measured" finds "measurement".
# blocks_fts holds each chunk's surroundings, the block of its document it lies in (see
# keyword_blocks), with the title: a passage whose neighbours name the question's terms
# is likelier to answer it than one sharing a word by chance (Retrieval.document_weight).
_KEYWORD_SCHEMA = f"""
CREATE VIRTUAL TABLE chunks_fts USING fts5(embed_text, tokenize = '{TOKENIZE}');
CREATE VIRTUAL TABLE blocks_fts USING fts5(
    text, first_row UNINDEXED, last_row UNINDEXED, tokenize = '{TOKENIZE}'
);
"""

# Bumped when what a generation holds changes (tables, chunking): a build on a base of
# another format reads and chunks every file again, its vectors still come from the
# cache. 2: blocks_fts replaced whole-document keywords. 3: the keyword tables' postings
# are saved, and HTML table cells are apart (a generation of format 2 reads its postings
# from its tables, and keeps its run-together cells until rebuilt). 4: PDFs have headings
# (their larger lines), which cut and label their chunks. 5: sentences run on over a
# wrapped line that a capital starts, and past "Dr." or "Fig.", which moves chunk edges.
# 6: plain text has headings (underlined, or in capitals or numbered, standing alone).
# 7: a PDF's running headers and footers are dropped from its text. 8: a PDF's text is
# laid out as on the page, a table row on one line; plain-text headings in capitals
# may hold ".", ":" or "/", and one may ask a question; a wrapped line may open with
# "(" and a name's initial ends no sentence, which moves chunk edges.
INDEX_FORMAT = 8

# A block: consecutive chunks of one document spanning at most this many characters.
# On SciFact's abstracts (median 1,430 characters) a block is the whole abstract. Joined
# by topic into long documents (scripts/bench_long_documents.py, train nDCG@10), blocks
# of 4,000 scored 0.749 against 0.740 for whole documents (2,000: 0.746, 8,000: 0.746);
# joined at random, 0.744 against 0.731 (2,000: 0.742, 8,000: 0.741).
BLOCK_CHARS = 4000


def outdated_note(manifest: Manifest) -> str | None:
    """What to tell someone served a generation that an older herein wrote; None if current."""
    if manifest.index_format >= INDEX_FORMAT:
        return None
    return (
        f"Generation {manifest.version} was written by an older herein (index format "
        f"{manifest.index_format}, now {INDEX_FORMAT}): hybrid search runs without some of "
        "what newer builds add. Run `herein build` to bring it up to date (text embedded "
        "before is not embedded again)."
    )


def write_generation(
    index_dir: Path,
    manifest: Manifest,
    documents: Sequence[Document],
    chunks: Sequence[Chunk],
    embed_hashes: Sequence[str],
    vectors: np.ndarray,
    skipped: Iterable[SkippedFile],
    files: Iterable[FileState],
) -> Path:
    """Write one complete generation folder; the manifest goes last, as its seal."""
    if len(chunks) != len(vectors) or len(chunks) != len(embed_hashes):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    folder = generation_dir(index_dir, manifest.version)
    folder.mkdir(parents=True, exist_ok=False)
    # Inner product equals cosine on normalised vectors.
    flat = faiss.IndexFlatIP(manifest.model_dimension)
    if len(vectors):
        flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
    faiss.write_index(flat, str(folder / VECTORS))
    counts: dict[str, int] = {}
    for chunk in chunks:
        counts[chunk.document_id] = counts.get(chunk.document_id, 0) + 1
    connection = sqlite3.connect(folder / METADATA)
    try:
        with connection:
            connection.executescript(_SCHEMA)
            connection.executemany(
                "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (d.document_id, d.source, d.title, d.content_type, d.sha256, int(d.paged),
                     counts.get(d.document_id, 0), d.text)
                    for d in documents
                ),
            )  # fmt: skip
            connection.executemany(
                "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (row, c.chunk_id, c.document_id, c.text, c.start, c.end, c.line_start,
                     c.line_end, c.page, c.page_end, json.dumps(list(c.heading)), embed_hash)
                    for row, (c, embed_hash) in enumerate(zip(chunks, embed_hashes, strict=True))
                ),
            )  # fmt: skip
            write_keyword_index(connection, documents, chunks)
            connection.executemany(
                "INSERT INTO skipped VALUES (?, ?)", ((s.source, s.reason) for s in skipped)
            )
            connection.executemany(
                "INSERT INTO files VALUES (?, ?, ?, ?)",
                ((f.source, f.size, f.mtime_ns, f.sha256) for f in files),
            )
        for table in KEYWORD_TABLES:
            Postings.read(connection, table).save(folder / f"{table}.npz")
    finally:
        connection.close()
    manifest_path = folder / MANIFEST
    manifest_path.write_text(json.dumps(asdict(manifest), indent=2) + "\n", encoding="utf-8")
    return folder


def write_keyword_index(
    connection: sqlite3.Connection,
    documents: Sequence[Document],
    chunks: Sequence[Chunk],
    block_chars: int = BLOCK_CHARS,
) -> None:
    """Create and fill the BM25 keyword tables; chunk rows match the vectors'."""
    connection.executescript(_KEYWORD_SCHEMA)
    connection.executemany(
        "INSERT INTO chunks_fts (rowid, embed_text) VALUES (?, ?)",
        ((row, chunk.embed_text or chunk.text) for row, chunk in enumerate(chunks)),
    )
    by_id = {document.document_id: document for document in documents}
    connection.executemany(
        "INSERT INTO blocks_fts (rowid, text, first_row, last_row) VALUES (?, ?, ?, ?)",
        (
            (
                b,
                f"{document.title}\n{document.text[block.start : block.end]}",
                block.first,
                block.last,
            )
            for b, block in enumerate(keyword_blocks(chunks, block_chars))
            for document in [by_id[chunks[block.first].document_id]]
        ),
    )


@dataclass(frozen=True)
class Block:
    """Chunks first..last (positions) of one document, covering its text start..end."""

    first: int
    last: int
    start: int
    end: int


def keyword_blocks(chunks: Sequence[Chunk], limit: int = BLOCK_CHARS) -> list[Block]:
    """Runs of consecutive chunks of one document whose text spans at most `limit`
    characters (a longer chunk is a block of its own)."""
    blocks: list[Block] = []
    for position, chunk in enumerate(chunks):
        if blocks and chunks[blocks[-1].first].document_id == chunk.document_id:
            # Spans, not the first start and last end: a window split to fit the model
            # can start before the piece ahead of it ends.
            block = blocks[-1]
            start, end = min(block.start, chunk.start), max(block.end, chunk.end)
            if end - start <= limit:
                blocks[-1] = Block(block.first, position, start, end)
                continue
        blocks.append(Block(position, position, chunk.start, chunk.end))
    return blocks


def keyword_query(terms: Sequence[str]) -> str:
    """An FTS5 query matching any of the terms, each quoted so nothing is read as syntax."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _load_postings(path: Path) -> Postings:
    """The saved postings; ValueError naming the file when it cannot be read."""
    try:
        return Postings.load(path)
    except (
        OSError,
        ValueError,
        KeyError,
        EOFError,
        TypeError,
        AttributeError,
        zipfile.BadZipFile,
    ) as error:
        # Not numpy's own words: for some damage they suggest loading with pickles.
        raise ValueError(f"{path.name} cannot be read") from error


def top_rows(scores: np.ndarray, k: int | None) -> list[tuple[int, float]]:
    """The k rows with the highest non-zero scores (all of them when k is None):
    (row, score), best first, ties by row."""
    rows = np.flatnonzero(scores)
    if k is not None and 0 < k < len(rows):
        # Only the k best are sorted: every row tied with the k-th is kept for the tie rule.
        kth = np.partition(scores[rows], len(rows) - k)[len(rows) - k]
        rows = rows[scores[rows] >= kth]
    best = rows[np.lexsort((rows, -scores[rows]))][:k]
    return [(int(row), float(score)) for row, score in zip(best, scores[best], strict=True)]


class Index:
    """One generation opened for reading: vectors in memory, metadata in SQLite."""

    def __init__(self, folder: Path, manifest: Manifest, vectors: Any) -> None:
        self.folder = folder
        self.manifest = manifest
        self._vectors = vectors
        self._connection = _read_only(folder / METADATA, check_same_thread=False)
        # One connection shared by the server's worker threads.
        self._lock = threading.Lock()
        try:
            tables = {name for (name,) in self._query("SELECT name FROM sqlite_master")}
            missing = sorted(_TABLES - tables)
            if missing:
                raise ValueError(f"{METADATA} has no table {', '.join(missing)}")
            # Loaded here, so a damaged file fails the open (and a swap to it), not a search.
            self._postings = {
                table: _load_postings(folder / f"{table}.npz")
                for table in KEYWORD_TABLES
                if table in tables and (folder / f"{table}.npz").exists()
            }
        except (sqlite3.Error, ValueError, IndexCorrupt):
            self._connection.close()
            raise
        # Generations written by older versions lack one or both keyword tables.
        self.has_keywords = "chunks_fts" in tables
        self.has_block_keywords = "blocks_fts" in tables
        self._tokenizer = QueryTokenizer()

    @classmethod
    def open(cls, index_dir: Path, version: str | None = None) -> "Index":
        """The generation CURRENT names (or `version`); raises IndexNotFound/IndexCorrupt."""
        version = version or current_version(index_dir)
        folder = generation_dir(index_dir, version)
        try:
            manifest = Manifest(**json.loads((folder / MANIFEST).read_text(encoding="utf-8")))
            vectors = faiss.read_index(str(folder / VECTORS))
        except FileNotFoundError as error:
            raise IndexCorrupt(f"Generation {version} in {index_dir} is incomplete") from error
        except (ValueError, TypeError, RuntimeError) as error:
            raise IndexCorrupt(
                f"Generation {version} in {index_dir} is damaged: {error}"
            ) from error
        if vectors.ntotal != manifest.chunks:
            raise IndexCorrupt(
                f"Generation {version} has {vectors.ntotal} vectors for {manifest.chunks} chunks"
            )
        try:
            return cls(folder, manifest, vectors)
        except (sqlite3.Error, ValueError) as error:
            raise IndexCorrupt(
                f"Generation {version} in {index_dir} is damaged: {error}"
            ) from error

    @property
    def version(self) -> str:
        "The generation's version"
        return self.manifest.version

    @property
    def root(self) -> Path:
        "The index root this generation belongs to"
        return self.folder.parent.parent

    def close(self) -> None:
        """Release the SQLite connections."""
        self._connection.close()
        self._tokenizer.close()

    def _query(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._damage_reported():
            return self._connection.execute(sql, parameters).fetchall()

    @contextmanager
    def _damage_reported(self) -> Iterator[None]:
        """SQLite's errors on a generation's own tables as IndexCorrupt: a page damaged
        past the first is only found when a query reads it."""
        try:
            yield
        except sqlite3.ProgrammingError:  # a closed index, not a damaged one
            raise
        except sqlite3.DatabaseError as error:
            raise IndexCorrupt(
                f"Generation {self.version} in {self.root} is damaged: {METADATA}: {error}"
            ) from error

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k nearest chunks by inner product: (row, score), best first."""
        if self._vectors.ntotal == 0:
            return []
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        scores, rows = self._vectors.search(query, min(k, self._vectors.ntotal))
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]

    def search_within(
        self, vector: np.ndarray, k: int, rows: Sequence[int]
    ) -> list[tuple[int, float]]:
        """The k nearest chunks among `rows` only: (row, score), best first."""
        if not rows:
            return []
        selector = faiss.IDSelectorBatch(np.asarray(rows, dtype=np.int64))
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        parameters = faiss.SearchParameters()
        parameters.sel = selector
        scores, found = self._vectors.search(query, min(k, len(rows)), params=parameters)
        return [(int(r), float(s)) for r, s in zip(found[0], scores[0], strict=True) if r >= 0]

    def similarities(self, vector: np.ndarray, rows: Sequence[int]) -> list[float]:
        """Inner product of the vector with each of these rows' vectors, in order."""
        if not rows:
            return []
        stored = np.vstack([self._vectors.reconstruct(int(row)) for row in rows])
        return [float(score) for score in stored @ vector.astype(np.float32)]

    def keyword_search(
        self, terms: Sequence[str], k: int | None, rows: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """The k best chunks (every match when k is None) by BM25 for any of the terms:
        (row, score), best first, ties by row. See keyword_scores."""
        return top_rows(self.keyword_scores(terms, rows), k)

    def keyword_scores(self, terms: Sequence[str], rows: Sequence[int] | None = None) -> np.ndarray:
        """Every chunk's BM25 for any of the terms, by row; 0 where none matches.

        Scores are positive, higher is better, as FTS5's bm25() computes them (negated).
        With `rows`, the other chunks score 0; statistics are still the whole index's.
        """
        if not self.has_keywords or not terms or (rows is not None and not rows):
            return np.zeros(self.manifest.chunks)
        scores = self._bm25("chunks_fts", terms)
        if rows is not None:
            kept = np.zeros(len(scores), dtype=bool)
            kept[np.asarray(rows, dtype=np.int64)] = True
            scores[~kept] = 0.0
        return scores

    def block_keyword_scores(self, terms: Sequence[str], rows: Sequence[int]) -> list[float]:
        """For each chunk row, its block's BM25 for any of the terms (0: no match)."""
        if not self.has_block_keywords or not terms or not rows:
            return [0.0] * len(rows)
        scores = self._bm25("blocks_fts", terms)
        blocks = self._chunk_blocks[np.asarray(rows, dtype=np.int64)]
        return [float(scores[b]) if b >= 0 else 0.0 for b in blocks]

    def _bm25(self, table: str, terms: Sequence[str]) -> np.ndarray:
        """Every row's BM25 in `table` for the query terms, each one phrase as in an FTS5
        query: single tokens from the postings, longer phrases ("hx-90" is "hx 90") by
        FTS5 itself, which knows their positions. BM25 is a sum over phrases."""
        tokens = self._tokenizer.tokens(terms)
        scores = self._table_postings(table).scores(
            [found[0] for found in tokens if len(found) == 1]
        )
        for term, found in zip(terms, tokens, strict=True):
            if len(found) > 1:
                for row, score in self._query(
                    f"SELECT rowid, -bm25({table}) FROM {table} WHERE {table} MATCH ?",
                    [keyword_query([term])],
                ):
                    scores[row] += score
        return scores

    def _table_postings(self, table: str) -> Postings:
        """The table's postings; a generation written before they were saved reads them
        from the table on its first search (about a second for SciFact's 5,183 abstracts)."""
        with self._lock, self._damage_reported():
            if table not in self._postings:
                self._postings[table] = Postings.read(self._connection, table)
            return self._postings[table]

    @cached_property
    def _chunk_blocks(self) -> np.ndarray:
        """Each chunk row's block; read on the first search that needs it, not on every
        open (builds, rollbacks and listings open generations too)."""
        blocks = np.full(self.manifest.chunks, -1, dtype=np.int64)
        for block, first, last in self._query("SELECT rowid, first_row, last_row FROM blocks_fts"):
            blocks[first : last + 1] = block
        return blocks

    def rows_from(self, prefixes: Sequence[str]) -> list[int]:
        """Rows of every chunk whose document's source starts with one of the prefixes."""
        if not prefixes:
            return []
        where = " OR ".join("substr(d.source, 1, ?) = ?" for _ in prefixes)
        parameters = [value for prefix in prefixes for value in (len(prefix), prefix)]
        records = self._query(
            f"SELECT c.row FROM chunks c JOIN documents d USING (document_id) WHERE {where} "
            "ORDER BY c.row",
            parameters,
        )
        return [int(record[0]) for record in records]

    def sources(self) -> set[str]:
        "Every document's source path"
        return {str(record[0]) for record in self._query("SELECT source FROM documents")}

    def unmatched_prefixes(self, prefixes: Sequence[str]) -> list[str]:
        """The prefixes that no document's source starts with, in the order given."""
        return [
            prefix
            for prefix in prefixes
            if not self._query(
                "SELECT 1 FROM documents WHERE substr(source, 1, ?) = ? LIMIT 1",
                (len(prefix), prefix),
            )
        ]

    def chunks(self, rows: Sequence[int]) -> list[StoredChunk]:
        """The chunks at these rows, in the order asked."""
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        found = {
            record[0]: _stored_chunk(record)
            for record in self._query(
                f"""SELECT c.row, c.chunk_id, c.text, c.document_id, d.source, d.title,
                    c.start, c."end", c.line_start, c.line_end, c.page, c.page_end, c.heading
                    FROM chunks c JOIN documents d USING (document_id)
                    WHERE c.row IN ({marks})""",
                list(rows),
            )
        }
        return [found[row] for row in rows if row in found]

    def labels(self, rows: Sequence[int]) -> list[str]:
        """Each chunk's title and heading path, one line each: what the passage is about
        ("" for a row the index does not hold)."""
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        found = {
            row: "\n".join([title, *json.loads(heading)])
            for row, title, heading in self._query(
                f"""SELECT c.row, d.title, c.heading FROM chunks c JOIN documents d
                    USING (document_id) WHERE c.row IN ({marks})""",
                list(rows),
            )
        }
        return [found.get(row, "") for row in rows]

    def documents(self, offset: int = 0, limit: int = 50) -> tuple[list[DocumentInfo], int]:
        """A page of documents sorted by id, and how many there are in all."""
        total = self._query("SELECT COUNT(*) FROM documents")[0][0]
        records = self._query(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents ORDER BY document_id LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [_document_info(record) for record in records], int(total)

    def document(self, document_id: str) -> tuple[DocumentInfo, str]:
        """A document's metadata and text; raises DocumentNotFound."""
        records = self._query(
            f"SELECT {_DOCUMENT_COLUMNS}, text FROM documents WHERE document_id = ?",
            (document_id,),
        )
        if not records:
            raise DocumentNotFound(f"No document {document_id!r} in the index")
        return _document_info(records[0][:-1]), str(records[0][-1])

    def skipped(self) -> list[SkippedFile]:
        """Files the build could not index, with the reason."""
        return [
            SkippedFile(source, reason)
            for source, reason in self._query("SELECT source, reason FROM skipped ORDER BY source")
        ]

    def files(self) -> dict[str, FileState]:
        """Every corpus file the build saw, by source."""
        return {
            record[0]: FileState(*record)
            for record in self._query("SELECT source, size, mtime_ns, sha256 FROM files")
        }

    def vectors(self) -> np.ndarray:
        """Every chunk's vector, in row order."""
        if self._vectors.ntotal == 0:
            return np.zeros((0, self.manifest.model_dimension), dtype=np.float32)
        return np.asarray(self._vectors.reconstruct_n(0, self._vectors.ntotal), dtype=np.float32)

    def stored_documents(self) -> list[Document]:
        """Every document as it was indexed (without headings: its chunks already carry them)."""
        return [
            Document(document_id, source, title, text, content_type, sha256, bool(paged))
            for document_id, source, title, text, content_type, sha256, paged in self._query(
                "SELECT document_id, source, title, text, content_type, sha256, paged "
                "FROM documents ORDER BY document_id"
            )
        ]

    def stored_chunks(self) -> list[tuple[int, Chunk, str]]:
        """Every chunk as (row, chunk, embed hash), in row order.

        The embed text comes back from the keyword index (empty in generations without
        one), so a chunk a build reuses keeps its title and headings as keywords.
        """
        embed_text = "f.embed_text" if self.has_keywords else "''"
        join = "LEFT JOIN chunks_fts f ON f.rowid = c.row" if self.has_keywords else ""
        return [
            (row, Chunk(chunk_id, document_id, text, start, end, line_start, line_end, page,
                        page_end, tuple(json.loads(heading)), embed_text or ""), embed_hash)
            for (row, chunk_id, document_id, text, start, end, line_start, line_end, page,
                 page_end, heading, embed_hash, embed_text) in self._query(
                f"""SELECT c.row, c.chunk_id, c.document_id, c.text, c.start, c."end",
                c.line_start, c.line_end, c.page, c.page_end, c.heading, c.embed_hash,
                {embed_text} FROM chunks c {join} ORDER BY c.row"""
            )
        ]  # fmt: skip


_DOCUMENT_COLUMNS = (
    "document_id, source, title, content_type, sha256, chunk_count, "
    "CASE WHEN paged THEN length(text) - length(replace(text, char(12), '')) + 1 END"
)


def _document_info(record: Sequence[Any]) -> DocumentInfo:
    return DocumentInfo(*record)


def _stored_chunk(record: Sequence[Any]) -> StoredChunk:
    row, chunk_id, text, document_id, source, title, start, end = record[:8]
    line_start, line_end, page, page_end, heading = record[8:]
    citation = Citation(
        document_id, source, title, start, end, line_start, line_end, page, page_end,
        tuple(json.loads(heading)),
    )  # fmt: skip
    return StoredChunk(row, chunk_id, text, citation)


class BuildLock:
    """An exclusive lock on an index root; the OS drops it if the build dies.

    The lock file holds `<pid> [<version>]`: the holder and the generation it is writing.
    A clean exit empties it, so a record found on entry was left by a dead build. Every
    holder (a build, a rollback) removes that build's leftovers on entry, before its own
    record replaces the dead one; `removed` lists the versions removed.
    """

    def __init__(self, index_dir: Path) -> None:
        self.path = index_dir / "build.lock"
        self.removed: list[str] = []
        self._handle: Any = None

    def __enter__(self) -> "BuildLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            handle.seek(0)
            holder = (handle.read().split() or ["unknown"])[0]
            handle.close()
            raise BuildLocked(
                f"Another build (pid {holder}) is running on {self.path.parent}"
            ) from error
        self._handle = handle
        try:
            handle.seek(0)
            record = handle.read().split()
            # Cleaned up before the record is overwritten: a holder killed meanwhile
            # leaves the record for the next one.
            self.removed = remove_leftovers(self.path.parent, record[1] if record[1:] else None)
            self._record(str(os.getpid()))
        except BaseException:
            # Released with the dead record kept, for the next holder to clean up.
            self._handle = None
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
            raise
        return self

    def claim(self, version: str) -> None:
        """Record the generation this build is about to write, before writing it."""
        self._record(f"{os.getpid()} {version}")

    def _record(self, text: str) -> None:
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(text)
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            self._handle.truncate(0)
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
