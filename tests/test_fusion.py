"""Fusion: exact arithmetic on fixed scores, and hybrid order on a small real corpus."""

from pathlib import Path

import pytest

from service.embedding import Embedder
from service.fusion import blend, boost, fuse_reciprocal_rank, fuse_weighted
from service.indexing import build_index
from service.models import Chunk, Retrieval
from service.search import Searcher
from service.store import BLOCK_CHARS, Block, Index, keyword_blocks
from tests.conftest import WriteFiles


def test_weighted_fusion_scales_each_signal_to_unit_range() -> None:
    dense = {1: 0.9, 2: 0.5, 3: 0.1}
    keyword = {1: 0.0, 2: 10.0, 3: 5.0}
    fused = fuse_weighted(dense, keyword, dense_weight=0.75)
    assert fused == pytest.approx({1: 0.75, 2: 0.375 + 0.25, 3: 0.125})


def test_weighted_fusion_gives_a_missing_row_the_lowest_score() -> None:
    assert fuse_weighted({1: 0.8, 2: 0.4}, {2: 3.0}, 0.5) == pytest.approx({1: 0.5, 2: 0.5})


def test_weighted_fusion_rejects_weights_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match=r"dense_weight \(1.5\)"):
        fuse_weighted({1: 1.0}, {1: 1.0}, 1.5)


def test_reciprocal_rank_fusion_sums_one_over_k_plus_rank() -> None:
    fused = fuse_reciprocal_rank({1: 0.9, 2: 0.8}, {2: 7.0, 3: 1.0}, k=60)
    assert fused == pytest.approx({1: 1 / 61, 2: 1 / 62 + 1 / 61, 3: 1 / 62})


def test_boost_lifts_rows_by_a_share_of_the_spread() -> None:
    rrf = {1: 0.033, 2: 0.03, 3: 0.013}
    assert boost(rrf, {3}, 0.1) == pytest.approx({1: 0.033, 2: 0.03, 3: 0.015})
    # Equal scores: the lift is a share of the scores themselves.
    assert boost({1: 0.5, 2: 0.5}, {2}, 0.1) == pytest.approx({1: 0.5, 2: 0.55})
    with pytest.raises(ValueError, match=r"share \(-0.1\)"):
        boost(rrf, {1}, -0.1)


FLEET = {
    "fleet/servicing.md": "# Vehicle servicing\n\n"
    "Company vans are serviced every twelve months at the approved garage. "
    "Drivers book the appointment themselves and keep the invoice in the glovebox.\n",
    "fleet/fuel-cards.md": "# Fuel cards\n\n"
    "Each van has a fuel card with PIN 4471-K for the driver. "
    "Lost fuel cards are blocked by calling the fleet desk.\n",
    "fleet/accidents.md": "# Accidents\n\n"
    "After an accident, drivers photograph the damage and fill in the claim form. "
    "The insurer needs the form within five days.\n",
}


@pytest.fixture
def fleet_index(write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder) -> Path:
    index_dir = tmp_path / "index"
    build_index(write_corpus(FLEET), index_dir, embedder)
    return index_dir


def test_hybrid_puts_the_rare_keyword_first_and_keeps_meaning_matches(
    fleet_index: Path, embedder: Embedder
) -> None:
    hybrid = Searcher.open(embedder, fleet_index, Retrieval(mode="hybrid"))
    keyword = Searcher.open(embedder, fleet_index, Retrieval(mode="keyword"))
    question = "Which card uses 4471-K?"
    assert [p.citation.source for p in hybrid.search(question, 3).passages] == [
        "fleet/fuel-cards.md",
        "fleet/accidents.md",
        "fleet/servicing.md",
    ]
    # Keyword search alone finds only passages sharing a word with the question.
    assert [p.citation.source for p in keyword.search(question, 3).passages] == [
        "fleet/fuel-cards.md"
    ]
    meaning = "How often does a van go to the mechanic?"
    assert hybrid.search(meaning, 1).passages[0].citation.source == "fleet/servicing.md"


def test_blend_mixes_scaled_passage_and_document_scores() -> None:
    passage = {1: 4.0, 2: 2.0, 3: 0.0}
    document = {1: 1.0, 2: 3.0, 3: 3.0}
    blended = blend(passage, document, document_weight=0.25)
    assert blended == pytest.approx({1: 0.75, 2: 0.375 + 0.25, 3: 0.25})


def test_blend_rejects_weights_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match=r"document_weight \(-0.1\)"):
        blend({1: 1.0}, {1: 1.0}, -0.1)


HARBOUR = {
    "harbour.md": "# Harbour guide\n\n"
    "Every berth in the marina is numbered, and the berth list hangs in the harbour office. "
    "A new berth plan is published each spring, after the winter storms have been counted "
    "and the pontoons repaired by the volunteers of the marina association. Visitors who "
    "stay longer than three nights report to the office with the papers of their boat, "
    "and the office tells them where to moor and how the electricity posts work.\n\n"
    "Showers and washing machines are in the low building behind the fuel station. Tokens "
    "for them are sold in the shop, which opens at eight in the morning and closes at six "
    "in the evening from April to October, and at four in the afternoon in winter. The "
    "laundry room has two dryers, a table for folding clothes and a notice board where "
    "sailors leave messages, sell old sails and look for crew for the summer races.\n",
    "club.md": "The sailing club meets on Thursdays. Members may ask for a berth once a year.\n",
    "weather.md": "Gale warnings are posted on the board next to the crane.\n",
    "tides.md": "High tide comes about fifty minutes later each day.\n",
    "safety.md": "Life jackets are worn by every child on the pontoons.\n",
}


def test_document_weight_lets_a_passage_borrow_its_documents_keywords(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    index_dir = tmp_path / "index"
    build_index(write_corpus(HARBOUR), index_dir, embedder)
    # Dense weight 0: the order is the keyword score alone, so exact.
    passage_only = Searcher.open(
        embedder, index_dir, Retrieval(dense_weight=0.0, document_weight=0.0)
    )
    with_document = Searcher.open(
        embedder, index_dir, Retrieval(dense_weight=0.0, document_weight=1.0)
    )
    showers = [p for p in passage_only.search("marina berth", 10).passages if "Showers" in p.text]
    assert (
        len(showers) == 1 and "berth" not in showers[0].text and "marina" not in showers[0].text
    )  # a passage of its own

    def order(searcher: Searcher) -> list[str]:
        return [
            "showers" if "Showers" in p.text else p.citation.source
            for p in searcher.search("marina berth", 10).passages
        ]

    # On its own words the showers passage matches nothing; its document is all about berths.
    assert order(passage_only).index("club.md") < order(passage_only).index("showers")
    assert order(with_document).index("showers") < order(with_document).index("club.md")


def test_a_passage_borrows_keywords_from_its_neighbours_not_from_far_away(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    # One long document: berths are named at its start only, the showers at both ends.
    filler = "".join(
        f"On day {n} the wind came from the west and the boats stayed in.\n\n"
        for n in range(BLOCK_CHARS // 40)
    )
    text = (
        "Berths in the marina are let by the year.\n\nThe showers are by the gate.\n\n"
        f"{filler}The showers are by the crane.\n"
    )
    index_dir = tmp_path / "index"
    build_index(write_corpus({"harbour.md": text}), index_dir, embedder)
    index = Index.open(index_dir)
    try:
        rows = [row for row, _ in index.keyword_search(["showers"], None)]
        by_place = {
            "gate" if "gate" in chunk.text else "crane": chunk.row for chunk in index.chunks(rows)
        }
        near, far = index.block_keyword_scores(["berths"], [by_place["gate"], by_place["crane"]])
        assert near > 0 and far == 0
    finally:
        index.close()


def _chunk(document_id: str, start: int, end: int) -> Chunk:
    return Chunk(
        f"{document_id}#{start}", document_id, "x" * (end - start), start, end, 1, 1, None, None, ()
    )


def test_blocks_are_runs_of_one_document_within_the_limit() -> None:
    chunks = [
        _chunk("a", 0, 40), _chunk("a", 30, 70), _chunk("a", 60, 120),
        _chunk("b", 0, 30),
        # A window split to fit the model: the second piece starts before the first ends.
        _chunk("c", 50, 90), _chunk("c", 10, 60),
    ]  # fmt: skip
    assert keyword_blocks(chunks, limit=100) == [
        Block(0, 1, 0, 70), Block(2, 2, 60, 120), Block(3, 3, 0, 30), Block(4, 5, 10, 90)
    ]  # fmt: skip
