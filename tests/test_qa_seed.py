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


# Known regressions of the default hybrid ranking, kept visible rather than rephrased away:
# strict, so a fix that makes one pass turns the run red until its entry is removed.
KNOWN_MISSES = {
    "seed-03": "hybrid: BM25 on a six-chunk corpus puts all its weight on the one chunk that "
    "shares 'internationally' (stemmed); dense alone ranks the gold passage first",
}


def _marked(question: dict[str, Any]) -> Any:
    reason = KNOWN_MISSES.get(question["id"])
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(question, id=question["id"], marks=marks)


@pytest.mark.parametrize("question", [_marked(q) for q in QUESTIONS])
def test_gold_passage_ranks_first(seed_searcher: Searcher, question: dict[str, Any]) -> None:
    first = seed_searcher.search(question["question"], k=5).passages[0]
    gold = question["gold"][0]
    assert first.citation.source == gold["source"]
    assert _collapse(gold["snippet"]) in _collapse(first.text)
