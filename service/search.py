"""Question -> ranked, cited passages. One search serves the CLI, the API and eval.

Dense (FAISS, cosine) and keyword (SQLite FTS5, BM25) candidates are fused into one
ranking; overlapping windows of one document are shown once; each passage carries the
sentence that best answers the question and a confidence that decides `answer_found`.
"""

import re
import time
from collections.abc import Callable, Sequence, Set
from pathlib import Path

import numpy as np

from service.answerable import lacks_answer
from service.chunking import embed_prefix, trim
from service.embedding import Embedder, Vectors
from service.errors import InvalidQuery, ModelMismatch
from service.followup import search_text, validate_history
from service.fusion import blend, boost, fuse_reciprocal_rank, fuse_weighted, spread
from service.highlight import asks_for_a_kind, best_sentences
from service.keywords import identifier_kind, identifiers, loosely, query_terms, years
from service.models import Highlight, Passage, Retrieval, SearchResult
from service.store import Index, StoredChunk, top_rows

MAX_QUESTION_CHARS = 2000
# What the API and the CLI allow; eval asks for more to rank whole documents.
MAX_K = 50
MAX_SEARCH_K = 1000
# A chunk that overlaps passages already shown is shown cut down to its unseen part,
# when at least this share of it is left; a shorter remnant is no passage to read.
MIN_UNSEEN = 0.25


def check_sources(index: Index, sources: Sequence[str]) -> None:
    """Raise InvalidQuery naming each prefix that no document's source starts with.

    A typo in a prefix would otherwise read as "nothing answers this", or silently
    narrow the search to the other prefixes.
    """
    unmatched = index.unmatched_prefixes(sources)
    if unmatched:
        raise InvalidQuery(
            "no document's source starts with "
            + " or ".join(repr(prefix) for prefix in unmatched)
            + " (prefixes are case-sensitive paths relative to the corpus)"
        )


class Searcher:
    """A loaded model and index, ready to answer; built once per process."""

    def __init__(
        self, embedder: Embedder, index: Index, retrieval: Retrieval | None = None
    ) -> None:
        check_model(embedder, index)
        self.embedder = embedder
        self.index = index
        self.retrieval = retrieval or Retrieval()

    @classmethod
    def open(
        cls, embedder: Embedder, index_dir: Path, retrieval: Retrieval | None = None
    ) -> "Searcher":
        """Open the current generation under index_dir for this model."""
        index = Index.open(index_dir)
        try:
            return cls(embedder, index, retrieval)
        except BaseException:
            # Built with another model (ModelMismatch): its files are not left open.
            index.close()
            raise

    def search(
        self,
        question: str,
        k: int = 5,
        history: Sequence[str] = (),
        sources: Sequence[str] | None = None,
    ) -> SearchResult:
        """The k best passages for the question, best first, with `answer_found`; fewer
        passages asked for are the first of the same answer.

        A passage's `score` ranks it: the fused score in hybrid mode (0..1 with weighted
        fusion, plus the year and code boosts), the cosine similarity in dense mode, BM25 in keyword
        mode, plus the rescoring lift for highlighted passages (below). Its
        `confidence` is a cosine similarity with the question, of the passage or of its
        best sentence, whichever is higher; `answer_found` says whether the best
        confidence among the highlighted passages (the first `highlighted`, or the first
        one when highlights are off) reaches the threshold, unless they cannot answer
        (see lacks_answer: no price for the model asked, a year or a model none names).
        Highlighted passages carry their best sentence as a highlight, add
        `rescore_weight` times its cosine (in units of the first-stage scores' spread) to
        their score and are re-ordered by it.

        Args:
            history: the conversation's earlier questions, newest last; a follow-up
                that leans on them ("When was it launched?") is searched with them.
            sources: only search documents whose source path starts with one of these;
                InvalidQuery naming each prefix that no document's source starts with.
        """
        started = time.perf_counter()
        question = validate_question(question)
        if not 1 <= k <= MAX_SEARCH_K:
            raise InvalidQuery(f"k must be between 1 and {MAX_SEARCH_K}, got {k}")
        history = validate_history(history)
        if sources is not None:
            check_sources(self.index, sources)
        allowed = None if sources is None else self.index.rows_from(sources)
        text = search_text(question, history)
        vector = self.embedder.embed([text])[0]
        # A follow-up's own year wins over the years its history names ("And in 2022?").
        dated = years(question) or years(text)
        # At least the highlighted passages, whatever k: rescoring re-orders them and
        # answer_found reads them, so the first passages and the flag do not change with k.
        shown_k = max(k, self.retrieval.highlighted)
        ranked, cosines = self._rank(
            text, vector, max(shown_k, self.retrieval.candidates), allowed, dated
        )
        chosen = self._distinct(ranked, shown_k)
        missing = [chunk.row for chunk in chosen if chunk.row not in cosines]
        cosines.update(zip(missing, self.index.similarities(vector, missing), strict=True))
        scores = dict(ranked)
        ranking = [scores[chunk.row] for chunk in chosen]
        confidences = [cosines[chunk.row] for chunk in chosen]
        spans: list[tuple[Highlight, ...]] = [() for _ in chosen]
        shown = chosen[: self.retrieval.highlighted]
        # The rescoring lift is measured in the first stage's own spread, so one weight
        # means the same under weighted fusion (0..1), reciprocal rank (about 0.03),
        # cosine and BM25 scores; over the first `candidates` rows, however many k asks
        # for, so that eval's deep rankings lift as much as an ask's.
        top = ranked[: self.retrieval.candidates]
        lift = self.retrieval.rescore_weight * spread([score for _, score in top])
        for i, (chunk, ((s, e), cosine)) in enumerate(
            zip(shown, self._best_sentences(question, text, vector, shown), strict=True)
        ):
            if e > s:
                spans[i] = (Highlight(chunk.citation.start + s, chunk.citation.start + e),)
            confidences[i] = max(confidences[i], cosine)
            # Only upwards: a highlighted passage never falls below those not highlighted.
            ranking[i] += lift * max(cosine, 0.0)
        order = sorted(range(len(shown)), key=lambda i: -ranking[i]) + list(
            range(len(shown), len(chosen))
        )
        passages = [
            Passage(
                rank, round(ranking[i], 4), chosen[i].chunk_id, chosen[i].text,
                chosen[i].citation, confidence=round(confidences[i], 4), highlights=spans[i],
            )
            for rank, i in enumerate(order, start=1)
        ]  # fmt: skip
        deciding = passages[: max(1, len(shown))]
        passages = passages[:k]
        found = any(
            p.confidence >= self.retrieval.answer_threshold for p in deciding
        ) and not lacks_answer(question, deciding)
        took_ms = (time.perf_counter() - started) * 1000
        return SearchResult(question, passages, self.index.version, round(took_ms, 2), found)

    def _best_sentences(
        self, question: str, text: str, vector: Vectors, chunks: list[StoredChunk]
    ) -> list[tuple[tuple[int, int], float]]:
        """Each chunk's best span for the question; `text` and `vector` are what was
        searched (the question, after its history when it leans on one).

        A follow-up's sentence is sought by its own words as much as by its history's,
        so that "What about upload.concurrency?" after a question on the pack size marks
        the concurrency, not the pack size; and by the kind of answer its history asks
        for when it asks for none itself ("What about the Kestrel probe?" after "When
        was the Aurora launched?" wants a date)."""
        if text != question:
            mixed = vector + self.embedder.embed([question])[0]
            vector = mixed / max(float(np.linalg.norm(mixed)), 1e-9)
            question = question if asks_for_a_kind(question) else text
        contexts = [embed_prefix(c.citation.title, c.citation.heading) for c in chunks]
        texts = [_without_heading_lines(c.text, c.citation.heading) for c in chunks]
        return best_sentences(question, vector, texts, contexts, self.embedder)

    def _rank(
        self,
        question: str,
        vector: Vectors,
        depth: int,
        allowed: list[int] | None,
        dated: Set[str] = frozenset(),
    ) -> tuple[list[tuple[int, float]], dict[int, float]]:
        """Candidate rows best first with their ranking scores, and the cosines known so far.

        `dated`: the years the question names; hybrid ranking lifts passages about one of
        them (see _label_years).
        """
        mode = self.retrieval.mode
        terms = query_terms(question)
        if mode == "keyword" or (mode == "hybrid" and self.index.has_keywords):
            # Every row's score, not the first `depth`: fusion also needs the keyword score
            # of each dense candidate, and scoring every row costs no more than some.
            matched = self.index.keyword_scores(terms, allowed)
            keyword = dict(top_rows(matched, depth))
        else:
            mode, matched, keyword = "dense", np.zeros(0), {}
        if mode == "keyword":
            return _best_first(keyword), {}
        if allowed is None:
            dense = dict(self.index.search(vector, depth))
        else:
            dense = dict(self.index.search_within(vector, depth, allowed))
        if mode == "dense":
            return _best_first(dense), dense
        # Score every candidate on both signals, so fusion never guesses a missing score.
        only_keyword = [row for row in keyword if row not in dense]
        dense.update(zip(only_keyword, self.index.similarities(vector, only_keyword), strict=True))
        keyword = {row: float(matched[row]) for row in dense}
        if self.retrieval.document_weight and self.index.has_block_keywords:
            rows = list(keyword)
            blocks = self.index.block_keyword_scores(terms, rows)
            keyword = blend(
                keyword, dict(zip(rows, blocks, strict=True)), self.retrieval.document_weight
            )
        if self.retrieval.fusion == "rrf":
            fused = fuse_reciprocal_rank(dense, keyword, self.retrieval.rrf_k)
        else:
            fused = fuse_weighted(dense, keyword, self.retrieval.dense_weight)
        # Lifts for passages about what the question names: the years (see _label_years)
        # and the codes (in the title or a heading) it names.
        codes = [loosely(code) for code in identifiers(question) if identifier_kind(code) == "code"]
        lifts: list[tuple[float, Callable[[str], bool]]] = []
        if dated and self.retrieval.year_boost:
            lifts.append(
                (self.retrieval.year_boost, lambda label: bool(dated & _label_years(label)))
            )
        if codes and self.retrieval.code_boost:
            lifts.append(
                (self.retrieval.code_boost, lambda label: any(c.search(label) for c in codes))
            )
        if lifts:
            rows = list(fused)
            labels = self.index.labels(rows)
            for share, about in lifts:
                named = {row for row, label in zip(rows, labels, strict=True) if about(label)}
                fused = boost(fused, named, share)
        return _best_first(fused), dense

    def _distinct(self, ranked: list[tuple[int, float]], k: int) -> list[StoredChunk]:
        """The first k chunks, each cut to what no better-ranked chunk already shows.

        Windows overlap by a few sentences: the reader sees each sentence once, and a
        chunk whose answer lies past the overlap still shows it. A chunk with less than
        MIN_UNSEEN of its text left unseen is dropped.
        """
        chosen: list[StoredChunk] = []
        shown: dict[str, list[tuple[int, int]]] = {}
        batch = 2 * k
        for first in range(0, len(ranked), batch):
            for chunk in self.index.chunks([row for row, _ in ranked[first : first + batch]]):
                spans = shown.setdefault(chunk.citation.document_id, [])
                part = _unseen(chunk, spans)
                if part is None:
                    continue
                spans.append((part.citation.start, part.citation.end))
                chosen.append(part)
                if len(chosen) == k:
                    return chosen
        return chosen


def _without_heading_lines(text: str, heading: Sequence[str]) -> str:
    """The text with the heading lines it opens with blanked (offsets kept): an HTML or
    PDF heading is a plain line of the text, which a highlight would otherwise take for
    a sentence ("I get BRW-E601 although the key is correct.") or run into the next.
    A heading that asks a question stays: a FAQ's, whose answer follows it."""
    titles = {title for title in heading if not title.endswith("?")}
    cut = 0
    for line in text.splitlines(keepends=True):
        if line.strip() and line.strip().lstrip("#").strip() not in titles:
            break
        cut += len(line)
    return re.sub(r"[^\n]", " ", text[:cut]) + text[cut:]


def _unseen(chunk: StoredChunk, shown: list[tuple[int, int]]) -> StoredChunk | None:
    """The chunk's longest stretch outside the shown spans, or None when too little is left."""
    start, end = chunk.citation.start, chunk.citation.end
    covered = sorted(span for span in shown if span[0] < end and start < span[1])
    if not covered:
        return chunk
    gaps, cut = [], start
    for a, b in covered:
        gaps.append((cut, a))
        cut = max(cut, b)
    gaps.append((cut, end))
    # White space is trimmed before the longest is taken, so a blank gap never wins.
    trimmed = [trim(chunk.text, a - start, b - start) for a, b in gaps]
    a, b = max(trimmed, key=lambda gap: gap[1] - gap[0])
    if b - a < MIN_UNSEEN * (end - start):
        return None
    return chunk.part(start + a, start + b)


def _label_years(label: str) -> set[str]:
    """The years a passage is about: those of the most specific line of its label (deepest
    heading first, the title last) that names any. "Outlook for 2025" in the 2024 report
    is about 2025; its "Revenue" section, about 2024."""
    for line in reversed(label.splitlines()):
        named = years(line)
        if named:
            return named
    return set()


def _best_first(scores: dict[int, float]) -> list[tuple[int, float]]:
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def validate_question(question: str) -> str:
    """The question without surrounding white space; raises InvalidQuery when unusable."""
    stripped = question.strip()
    if not stripped:
        raise InvalidQuery("question is empty")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError as error:  # e.g. a lone surrogate from a mis-decoded argument
        raise InvalidQuery("question is not valid Unicode text") from error
    if not any(character.isalnum() for character in stripped):
        # "?!", emoji or a control character: nothing to embed or match but noise.
        raise InvalidQuery(f"question has no words (letters or digits): {stripped[:40]!r}")
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
