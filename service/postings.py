"""BM25 scores over a keyword table's postings, computed in numpy.

SQLite FTS5 tokenizes the text and stores it; its bm25() scores every matching row in
SQL, which on SciFact (about 6,700 matches per claim) took 11 ms a question, most of what
hybrid adds to dense search. The same formula over the table's postings, read once into
arrays, takes about 0.5 ms and gives the same scores (tests/test_postings.py).
"""

import sqlite3
import threading
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

# FTS5's tokenizer, shared by the tables and by the query words scored against them.
TOKENIZE = "porter unicode61"
# bm25()'s constants in FTS5.
K1 = 1.2
B = 0.75
# FTS5 gives a term in half the rows or more this IDF, rather than zero or less.
MIN_IDF = 1e-6


@dataclass(frozen=True)
class Postings:
    """Which rows of one FTS5 table hold each token, and how often; each row's length.

    The postings of token i are rows[offsets[i]:offsets[i + 1]] with counts alike;
    `lengths` is indexed by row id, `row_count` is how many rows the table holds.
    """

    tokens: dict[str, int]
    offsets: np.ndarray
    rows: np.ndarray
    counts: np.ndarray
    lengths: np.ndarray
    row_count: int

    @classmethod
    def read(cls, connection: sqlite3.Connection, table: str) -> "Postings":
        """Read the postings of `table`, an FTS5 table with integer row ids."""
        vocabulary = f"temp.{table}_instances"
        connection.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {vocabulary} "
            f"USING fts5vocab(main, {table}, instance)"
        )
        row_count, size = connection.execute(
            f"SELECT COUNT(*), COALESCE(MAX(rowid) + 1, 0) FROM {table}"
        ).fetchone()
        # One record per token, its rows as text: a row per occurrence would cost Python
        # objects for every word of the corpus (1.5 s against 0.3 s on SciFact).
        records = connection.execute(
            f"SELECT CAST(term AS BLOB), group_concat(doc, ' ') FROM {vocabulary} GROUP BY term"
        ).fetchall()
        tokens = {}
        for i, (token, _) in enumerate(records):
            # FTS5 cuts a token at 32 KiB, which can split a character; no question's
            # word is that long, so such a token only counts in its row's length.
            with suppress(UnicodeDecodeError):
                tokens[token.decode("utf-8")] = i
        occurrences = [listed.count(" ") + 1 for _, listed in records]
        rows = np.fromstring(" ".join(listed for _, listed in records), dtype=np.int64, sep=" ")
        ids = np.repeat(np.arange(len(records), dtype=np.int64), occurrences)
        pairs, counts = np.unique(ids * max(size, 1) + rows, return_counts=True)
        offsets = np.searchsorted(pairs // max(size, 1), np.arange(len(records) + 1))
        return cls(
            tokens,
            offsets.astype(np.int64),
            (pairs % max(size, 1)).astype(np.int32),
            counts.astype(np.float64),
            np.bincount(rows, minlength=size).astype(np.float64),
            int(row_count),
        )

    def save(self, path: Path) -> None:
        """Write to one .npz file; tokens joined by newlines (no token holds one)."""
        # By id; "" for a token that is not text, which a question can never hold.
        ordered = [""] * (len(self.offsets) - 1)
        for token, i in self.tokens.items():
            ordered[i] = token
        with path.open("wb") as file:
            np.savez(
                file,
                tokens=np.frombuffer("\n".join(ordered).encode("utf-8"), dtype=np.uint8),
                offsets=self.offsets,
                rows=self.rows,
                counts=self.counts,
                lengths=self.lengths,
                row_count=np.array(self.row_count),
            )

    @classmethod
    def load(cls, path: Path) -> "Postings":
        """What save wrote. A damaged file raises what numpy raises (OSError, ValueError,
        EOFError, zipfile.BadZipFile...), or ValueError when its arrays disagree."""
        with np.load(path, allow_pickle=False) as data:
            # No tokens save as "", which splits into one empty token.
            text = data["tokens"].tobytes().decode("utf-8")
            ordered = text.split("\n") if len(data["offsets"]) > 1 else []
            postings = cls(
                {token: i for i, token in enumerate(ordered) if token},
                data["offsets"],
                data["rows"],
                data["counts"],
                data["lengths"],
                int(data["row_count"]),
            )
        offsets, rows = postings.offsets, postings.rows
        if not (
            len(offsets) == len(ordered) + 1
            and len(rows) == len(postings.counts) == (offsets[-1] if len(offsets) else -1)
            and (not len(rows) or 0 <= rows.min() <= rows.max() < len(postings.lengths))
        ):
            raise ValueError(f"{path.name}: its arrays do not fit together")
        return postings

    @cached_property
    def _norms(self) -> np.ndarray:
        """Each row's length term of BM25, the same for every query."""
        average = self.lengths.sum() / max(self.row_count, 1)
        return K1 * (1 - B + B * self.lengths / max(float(average), 1e-9))

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 of every row for these tokens (one term each, repeats counted again),
        as FTS5's bm25() computes it but positive; 0 where none occurs."""
        scores = np.zeros(len(self.lengths), dtype=np.float64)
        for token in tokens:
            i = self.tokens.get(token)
            if i is None:
                continue
            rows = self.rows[self.offsets[i] : self.offsets[i + 1]]
            counts = self.counts[self.offsets[i] : self.offsets[i + 1]]
            found = len(rows)
            idf = np.log((self.row_count - found + 0.5) / (found + 0.5))
            idf = idf if idf > 0 else MIN_IDF
            scores[rows] += idf * counts * (K1 + 1) / (counts + self._norms[rows])
        return scores


class QueryTokenizer:
    """Query words to the tokens the keyword tables hold, by FTS5's own tokenizer, so
    stemming and case folding match exactly ("Cells" -> "cell", "hx-90" -> "hx", "90")."""

    def __init__(self) -> None:
        self._connection = sqlite3.connect(":memory:", check_same_thread=False)
        self._connection.executescript(
            f"""CREATE VIRTUAL TABLE words USING fts5(word, tokenize = '{TOKENIZE}');
            CREATE VIRTUAL TABLE occurrences USING fts5vocab(words, instance);"""
        )
        # Searches run in several server threads; the scratch table is shared.
        self._lock = threading.Lock()

    def close(self) -> None:
        """Release the scratch table's connection."""
        self._connection.close()

    def tokens(self, words: Sequence[str]) -> list[list[str]]:
        """Each word's tokens, in order (none for a word the tokenizer drops)."""
        with self._lock, self._connection:
            self._connection.execute("DELETE FROM words")
            self._connection.executemany(
                "INSERT INTO words (rowid, word) VALUES (?, ?)", enumerate(words)
            )
            found: list[list[str]] = [[] for _ in words]
            for token, row in self._connection.execute(
                "SELECT term, doc FROM occurrences ORDER BY doc, offset"
            ):
                found[row].append(token)
            return found
