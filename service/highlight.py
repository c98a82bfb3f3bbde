"""Passages -> highlights: the sentence in each passage closest in meaning to the question."""

from collections.abc import Sequence

import numpy as np

from service.chunking import split_sentences
from service.embedding import Embedder, Vectors

Span = tuple[int, int]

# Shorter "sentences" (headings, list labels, figure captions) are highlighted only
# when a passage has nothing longer: alone they rarely answer anything.
MIN_WORDS = 4


def best_sentences(
    question_vector: Vectors, texts: Sequence[str], embedder: Embedder
) -> list[tuple[Span, float]]:
    """For each text, the span of its best-answering sentence and that sentence's cosine.

    Spans are offsets into each text. All sentences are embedded in one batch.
    """
    candidates = [_candidates(text) for text in texts]
    if not texts:
        return []
    flat = [text[s:e] for text, spans in zip(texts, candidates, strict=True) for s, e in spans]
    scores = embedder.embed(flat) @ np.asarray(question_vector, dtype=np.float32)
    best: list[tuple[Span, float]] = []
    position = 0
    for spans in candidates:
        window = scores[position : position + len(spans)]
        position += len(spans)
        if not spans:
            best.append(((0, 0), 0.0))
            continue
        index = int(np.argmax(window))
        best.append((spans[index], float(window[index])))
    return best


def _candidates(text: str) -> list[Span]:
    sentences = split_sentences(text)
    long_enough = [(s, e) for s, e in sentences if len(text[s:e].split()) >= MIN_WORDS]
    return long_enough or sentences
