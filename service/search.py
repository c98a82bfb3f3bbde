"""Question -> ranked, cited passages. One search serves the CLI, the API and eval."""

import time
from collections.abc import Sequence
from pathlib import Path

from service.embedding import Embedder
from service.errors import InvalidQuery, ModelMismatch
from service.followup import search_text, validate_history
from service.models import Passage, SearchResult
from service.store import Index

MAX_QUESTION_CHARS = 2000
MAX_K = 50


class Searcher:
    """A loaded model and index, ready to answer; built once per process."""

    def __init__(self, embedder: Embedder, index: Index) -> None:
        check_model(embedder, index)
        self.embedder = embedder
        self.index = index

    @classmethod
    def open(cls, embedder: Embedder, index_dir: Path) -> "Searcher":
        """Open the current generation under index_dir for this model."""
        return cls(embedder, Index.open(index_dir))

    def search(self, question: str, k: int = 5, history: Sequence[str] = ()) -> SearchResult:
        """The k passages closest in meaning to the question, best first.

        A passage's score is the cosine similarity between the question's and the
        passage's embeddings: 1 is identical meaning, around 0 unrelated.

        Args:
            history: the conversation's earlier questions, newest last; a follow-up
                that leans on them ("When was it launched?") is searched with them.
        """
        started = time.perf_counter()
        question = validate_question(question)
        if not 1 <= k <= MAX_K:
            raise InvalidQuery(f"k must be between 1 and {MAX_K}, got {k}")
        history = validate_history(history)
        vector = self.embedder.embed([search_text(question, history)])[0]
        hits = self.index.search(vector, k)
        scores = dict(hits)
        stored = self.index.chunks([row for row, _ in hits])
        passages = [
            Passage(rank, round(scores[chunk.row], 4), chunk.chunk_id, chunk.text, chunk.citation)
            for rank, chunk in enumerate(stored, start=1)
        ]
        took_ms = (time.perf_counter() - started) * 1000
        return SearchResult(question, passages, self.index.version, round(took_ms, 2))


def validate_question(question: str) -> str:
    """The question without surrounding white space; raises InvalidQuery when unusable."""
    stripped = question.strip()
    if not stripped:
        raise InvalidQuery("question is empty")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError as error:  # e.g. a lone surrogate from a mis-decoded argument
        raise InvalidQuery("question is not valid Unicode text") from error
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQuery(
            f"question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}"
        )
    return stripped


def check_model(embedder: Embedder, index: Index) -> None:
    """Raise ModelMismatch unless the index was built with this very model."""
    manifest = index.manifest
    if (manifest.model_fingerprint, manifest.model_dimension) != (
        embedder.fingerprint,
        embedder.dimension,
    ):
        raise ModelMismatch(
            f"Index {index.version} was built with model {manifest.model_name!r} "
            f"({manifest.model_dimension} dimensions, weights {manifest.model_fingerprint[:12]}), "
            f"but the loaded model is {embedder.name!r} ({embedder.dimension} dimensions, "
            f"weights {embedder.fingerprint[:12]}). Rebuild with `herein build` or set "
            "HEREIN_MODEL to the index's model."
        )
