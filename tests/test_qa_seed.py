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


def test_questions_are_answered_from_six_different_chunks(seed_searcher: Searcher) -> None:
    firsts = {seed_searcher.search(q["question"]).passages[0].chunk_id for q in QUESTIONS}
    assert len(QUESTIONS) >= 12
    assert len(firsts) >= 6


@pytest.mark.parametrize("question", QUESTIONS, ids=[q["id"] for q in QUESTIONS])
def test_gold_passage_ranks_first(seed_searcher: Searcher, question: dict[str, Any]) -> None:
    first = seed_searcher.search(question["question"], k=5).passages[0]
    gold = question["gold"][0]
    assert first.citation.source == gold["source"]
    assert _collapse(gold["snippet"]) in _collapse(first.text)
