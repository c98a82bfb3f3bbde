"""Retrieval quality on the default corpus: questions phrased as readers ask them."""

import json
from typing import Any

import pytest

from service.search import Searcher
from tests.conftest import DATA

QUESTIONS: list[dict[str, Any]] = [
    json.loads(line) for line in (DATA / "seed_qa.jsonl").read_text(encoding="utf-8").splitlines()
]


def _collapse(text: str) -> str:
    return " ".join(text.split())


def test_gold_passages_are_spread_over_six_chunks(seed_searcher: Searcher) -> None:
    rows = range(seed_searcher.index.manifest.chunks)
    chunks = seed_searcher.index.chunks(list(rows))
    gold_chunks = {
        chunk.chunk_id
        for question in QUESTIONS
        for chunk in chunks
        if _collapse(question["gold"][0]["snippet"]) in _collapse(chunk.text)
    }
    assert len(QUESTIONS) >= 12
    assert len(gold_chunks) >= 6


@pytest.mark.parametrize("question", QUESTIONS, ids=[q["id"] for q in QUESTIONS])
def test_gold_passage_ranks_first(seed_searcher: Searcher, question: dict[str, Any]) -> None:
    first = seed_searcher.search(question["question"], k=5).passages[0]
    gold = question["gold"][0]
    assert first.citation.source == gold["source"]
    assert _collapse(gold["snippet"]) in _collapse(first.text)
