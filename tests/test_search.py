"""Search: overlap dedup, sources scoping, answer_found, safe keyword queries."""

import itertools
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from service.embedding import Embedder
from service.errors import InvalidQuery
from service.indexing import build_index
from service.keywords import query_terms, spellings, years
from service.models import Retrieval
from service.search import Searcher
from service.store import METADATA, generation_dir, keyword_query
from tests.conftest import WriteFiles, marked


def test_query_terms_drop_stop_words_and_quote_for_fts() -> None:
    terms = query_terms('What is "AND" OR NOT the X300\'s (price*)?')
    assert terms == ["x300", "s", "price"]
    assert keyword_query(['say "hi"', "or"]) == '"say ""hi""" OR "or"'


def test_a_version_string_matches_where_its_parts_stand_together(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    # Each release's number holds a 4, a 3 and a 1: only the phrase tells them apart.
    changes = {
        "4.1.3": "Exports to CSV keep the column order of the table on screen.",
        "3.4.1": "The login page remembers the last user name typed on this device.",
        "4.3.1": "Reports open faster because thumbnails are made in the background.",
        "1.3.4": "Printing a report no longer cuts off its last page.",
    }
    corpus = write_corpus(
        {
            f"release-{n}.md": f"# Release notes\n\nVersion {n}. {text}\n"
            for n, text in changes.items()
        }
    )
    build_index(corpus, tmp_path / "index", embedder)
    searcher = Searcher.open(embedder, tmp_path / "index", Retrieval("keyword"))
    passages = searcher.search("What changed in release 4.3.1?", 4).passages
    assert passages[0].citation.source == "release-4.3.1.md"
    assert query_terms("Fixed in v4.3.1?") == ["fixed", "v4", "3", "1", "v4.3.1"]


def test_a_year_in_the_question_prefers_the_document_titled_with_it(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    # Each year's review also looks ahead to the next: only the title says which year
    # a figure is for.
    reviews = {
        2021: "The library had 38 volunteers. In 2022 the library expects to have 45 volunteers.",
        2022: "Volunteer numbers rose to 44 over the year. A second reading room opened.",
    }
    others = {
        "hours.md": "# Opening hours\n\nThe library opens at nine and closes at six.\n",
        "loans.md": "# Loans\n\nBooks may be borrowed for three weeks and renewed twice.\n",
        "events.md": "# Events\n\nA reading club meets on the first Monday of the month.\n",
    }
    corpus = write_corpus(
        {
            f"review-{year}.md": f"# Library review {year}\n\n## Volunteers\n\n{text}\n"
            for year, text in reviews.items()
        }
        | others
    )
    build_index(corpus, tmp_path / "index", embedder)
    question = "How many volunteers did the library have in 2022?"
    first = {}
    for fusion, year_boost in itertools.product(("weighted", "rrf"), (0.0, Retrieval.year_boost)):
        retrieval = Retrieval(fusion=fusion, year_boost=year_boost)
        searcher = Searcher.open(embedder, tmp_path / "index", retrieval)
        lifted = "lifted" if year_boost else "plain"
        first[fusion, lifted] = searcher.search(question, 2).passages[0].citation.source
    assert first == {
        ("weighted", "plain"): "review-2021.md",
        ("weighted", "lifted"): "review-2022.md",
        ("rrf", "plain"): "review-2021.md",
        ("rrf", "lifted"): "review-2022.md",
    }
    assert years("In 2022, not 12022 or 1850.") == {"2022"}


def test_a_code_in_the_question_prefers_the_document_titled_with_it(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    # Two near-identical handbooks; the CS102 one names CS101 as its prerequisite.
    def handbook(code: str, name: str, leader: str, extra: str) -> str:
        return (
            f"# {code} {name}: Course Handbook\n\nNorthbridge University, School of Computing.\n\n"
            f"## Staff\n\nThe course leader is {leader}. {extra}\n\n"
            "## Assessment\n\nThe final exam counts for 60% of the mark.\n"
        )

    corpus = write_corpus(
        {
            "cs101.md": handbook("CS101", "Introduction to Programming", "Dr. Amelia Hart", ""),
            "cs102.md": handbook(
                "CS102",
                "Data Structures",
                "Prof. Rajesh Menon",
                "Students need a pass in CS101 before they enrol.",
            ),
            "library.md": "# Library\n\nThe library opens at nine and closes at six.\n",
            "fees.md": "# Fees\n\nTuition fees are paid in two instalments each year.\n",
            "clubs.md": "# Clubs\n\nThe chess club meets on the first Monday of the month.\n",
        }
    )
    build_index(corpus, tmp_path / "index", embedder)
    first = {}
    # Twice the default: these two handbooks are closer to each other than real ones
    # (on a user's CS101 and CS102 handbooks the default 0.1 picks CS101 for the same
    # question); the test is of the mechanism.
    for code_boost in (0.0, 2 * Retrieval.code_boost):
        searcher = Searcher.open(embedder, tmp_path / "index", Retrieval(code_boost=code_boost))
        passage = searcher.search("Who is the course leader of CS101?", 1).passages[0]
        first["lifted" if code_boost else "plain"] = passage.citation.source
    assert first == {"plain": "cs102.md", "lifted": "cs101.md"}


def test_a_section_about_another_year_is_not_lifted_by_its_reports_title(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    def report(year: int, revenue: str, expected: str) -> str:
        return (
            f"# Northwind Annual Report {year}\n\nNorthwind is a freight company in Ghent.\n\n"
            f"## Revenue\n\nIn {year} revenue reached {revenue} million euros.\n\n"
            f"## Staff\n\nAt the end of {year} Northwind employed {year - 1700} people.\n\n"
            f"## Outlook for {year + 1}\n\n"
            f"For {year + 1} management expects revenue of about {expected} million euros.\n"
        )

    corpus = write_corpus(
        {"report-2023.md": report(2023, "41.2", "44"), "report-2024.md": report(2024, "45.7", "49")}
    )
    build_index(corpus, tmp_path / "index", embedder)
    searcher = Searcher.open(embedder, tmp_path / "index")
    # The 2024 report's outlook is about 2025: its heading, not the title, says so.
    first = searcher.search("What was the revenue in 2024?", 1).passages[0]
    assert first.citation.heading == ("Northwind Annual Report 2024", "Revenue")


def test_a_keyword_finds_its_other_spelling(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    corpus = write_corpus(
        {
            "cars.md": "# Pool cars\n\nDrivers show a valid driving licence at the front desk.\n",
            "keys.md": "# Keys\n\nThe drivers' keys hang in a locked cabinet by the desk.\n",
        }
    )
    build_index(corpus, tmp_path / "index", embedder)
    searcher = Searcher.open(embedder, tmp_path / "index", Retrieval("keyword"))
    # Only the other spelling matches: without it, nothing would.
    passages = searcher.search("Who needs a license?", 2).passages
    assert [p.citation.source for p in passages] == ["cars.md"]
    words = ("organisation", "color", "centre", "letter", "catalog", "hour", "floor", "scored")
    assert [spellings(w) for w in words] == [
        ["organization"], ["colour"], ["center"], [], ["catalogue"], [], [], []
    ]  # fmt: skip


def test_fts_syntax_in_a_question_is_just_words(multidoc_searcher: Searcher) -> None:
    result = multidoc_searcher.search('NEAR(hotel "limit" -paris) AND * OR ^', 3)
    assert result.passages[0].citation.source == "policies/travel.md"


def test_overlapping_windows_never_show_a_sentence_twice(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    # One long paragraph: windows overlap by whole sentences.
    sentences = [
        f"Pump {n} in hall {n % 4} is checked every {n + 2} days by the maintenance crew."
        for n in range(40)
    ]
    corpus = write_corpus({"pumps.txt": " ".join(sentences) + "\n"})
    build_index(corpus, tmp_path / "index", embedder, chunk_tokens=64, overlap_tokens=24)
    searcher = Searcher.open(embedder, tmp_path / "index")
    raw = searcher.index.chunks(list(range(searcher.index.manifest.chunks)))
    assert any(a.citation.end > b.citation.start for a, b in itertools.pairwise(raw))
    passages = searcher.search("How often is pump 12 checked?", 10).passages
    spans = sorted((p.citation.start, p.citation.end) for p in passages)
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))
    assert "Pump 12 in hall 0" in passages[0].text


def test_a_heading_line_is_never_the_highlight_but_a_faq_question_leads_to_its_answer(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    # In HTML a heading is a plain line of the text, a sentence to the splitter.
    page = (
        "<html><body><h1>FAQ</h1><h2>Errors</h2>"
        "<h3>I get error E601 with B2 although the key is correct.</h3>"
        "<p>Keys restricted to one bucket must also allow listBuckets. Create the key "
        "with the listBuckets capability.</p>"
        "<h3>Can I back up to tape?</h3><p>No. Only disks and object stores are supported.</p>"
        "</body></html>"
    )
    build_index(write_corpus({"faq.html": page}), tmp_path / "index", embedder)
    searcher = Searcher.open(embedder, tmp_path / "index")

    def first_marked(question: str) -> str:
        return marked(searcher.search(question, 1).passages[0])

    question = "I get E601 with B2 even though my key is right. How do I fix it?"
    assert "E601" not in first_marked(question)
    assert first_marked("Can I back up to tape?") == (
        "Can I back up to tape?\nNo. Only disks and object stores are supported."
    )
    searcher.index.close()


def test_a_window_past_a_shown_overlap_shows_its_unseen_sentences(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    # A table-like paragraph, one fact a line: windows cut inside it overlap, and a
    # window's facts past the overlap must still be shown, cited to the right lines
    # (a window keeps over half its text unseen when both neighbours are shown).
    lines = [f"Valve V{n} on line {n % 5} opens at {n * 3 + 10} bar." for n in range(40)]
    text = "Valve settings\n\n" + "\n".join(lines) + "\n"
    corpus = write_corpus({"valves.txt": text})
    build_index(corpus, tmp_path / "index", embedder, chunk_tokens=96, overlap_tokens=24)
    searcher = Searcher.open(embedder, tmp_path / "index")
    rows = searcher.index.manifest.chunks
    raw = searcher.index.chunks(list(range(rows)))
    assert any(a.citation.end > b.citation.start for a, b in itertools.pairwise(raw))
    passages = searcher.search("At what pressure does valve V17 open?", rows).passages
    spans = sorted((p.citation.start, p.citation.end) for p in passages)
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))
    for passage in passages:
        c = passage.citation
        assert passage.text == text[c.start : c.end]
        assert (c.line_start, c.line_end) == (
            text.count("\n", 0, c.start) + 1,
            text.count("\n", 0, c.end - 1) + 1,
        )
    shown = "\n".join(p.text for p in passages)
    assert all(shown.count(line) == 1 for line in lines)


def test_sources_limit_the_search_to_those_path_prefixes(multidoc_searcher: Searcher) -> None:
    question = "How long is the warranty?"
    everywhere = {p.citation.source for p in multidoc_searcher.search(question, 10).passages}
    assert {"products/x200-manual.md", "products/x300-manual.md"} <= everywhere
    assert len(everywhere) > 2
    scoped = multidoc_searcher.search(question, 10, sources=["products/x3", "reports/"])
    assert {p.citation.source for p in scoped.passages} <= {
        "products/x300-manual.md",
        "reports/annual-report-2023.md",
        "reports/annual-report-2024.md",
    }
    assert scoped.passages[0].citation.source == "products/x300-manual.md"
    with pytest.raises(InvalidQuery, match="no document's source starts with 'nowhere/'"):
        multidoc_searcher.search(question, 5, sources=["nowhere/"])


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of Australia?",  # off-corpus
        "How do I bake sourdough bread?",  # off-corpus
        "Can I bring my dog to the office?",  # on-topic, not answered
    ],
)
def test_unanswered_questions_say_not_found_but_still_return_passages(
    multidoc_searcher: Searcher, question: str
) -> None:
    result = multidoc_searcher.search(question, 3)
    assert result.answer_found is False
    assert len(result.passages) == 3
    threshold = multidoc_searcher.retrieval.answer_threshold
    assert all(p.confidence < threshold for p in result.passages)


def test_answered_question_says_found(multidoc_searcher: Searcher) -> None:
    result = multidoc_searcher.search("How much can I spend per night on a hotel in Paris?", 3)
    assert result.answer_found is True
    assert result.passages[0].confidence >= multidoc_searcher.retrieval.answer_threshold


def test_a_price_question_is_found_only_where_a_passage_names_an_amount(
    multidoc_searcher: Searcher,
) -> None:
    # The X300 manual is confidently on topic but never gives a price.
    unpriced = multidoc_searcher.search("What does the X300 battery cost?", 3)
    assert unpriced.passages[0].citation.source == "products/x300-manual.md"
    assert unpriced.passages[0].confidence >= multidoc_searcher.retrieval.answer_threshold
    assert unpriced.answer_found is False
    priced = multidoc_searcher.search("What does a hotel night in London cost?", 3)
    assert priced.answer_found is True
    assert "220 euros in London" in priced.passages[0].text


def test_a_question_naming_a_year_is_found_only_where_a_passage_names_it(
    multidoc_searcher: Searcher,
) -> None:
    # The reports cover 2023 and 2024; their revenue passages look just as confident
    # for 2021, which neither covers.
    other_year = multidoc_searcher.search("What was the revenue in 2021?", 3)
    assert other_year.passages[0].confidence >= multidoc_searcher.retrieval.answer_threshold
    assert other_year.answer_found is False
    # The year may stand in the title only: "Revenue rose to 48.2 million euros."
    covered = multidoc_searcher.search("What was the revenue in 2023?", 3)
    assert covered.answer_found is True
    first = covered.passages[0]
    assert "2023" not in first.text and "2023" in first.citation.title


def test_asking_for_fewer_passages_gives_the_first_of_the_same_answer(
    multidoc_searcher: Searcher,
) -> None:
    # Rescoring re-orders these questions' highlighted passages; it must do so whatever k.
    unscored = Searcher(
        multidoc_searcher.embedder,
        multidoc_searcher.index,
        replace(multidoc_searcher.retrieval, rescore_weight=0.0),
    )
    for question in (
        "Can the X200 be installed outside?",
        "How many people worked for the company at the end of 2024?",
    ):
        full = multidoc_searcher.search(question, 5)
        first_stage = unscored.search(question, 5)
        assert [p.chunk_id for p in full.passages] != [p.chunk_id for p in first_stage.passages]
        for k in range(1, 5):
            fewer = multidoc_searcher.search(question, k)
            assert [(p.chunk_id, p.score, p.highlights) for p in fewer.passages] == [
                (p.chunk_id, p.score, p.highlights) for p in full.passages[:k]
            ]
            assert fewer.answer_found == full.answer_found


def test_every_mode_returns_the_same_shape(multidoc_index: Path, embedder: Embedder) -> None:
    for mode in ("dense", "keyword", "hybrid"):
        for fusion in ("weighted", "rrf"):
            searcher = Searcher.open(embedder, multidoc_index, Retrieval(mode, fusion))
            result = searcher.search("daily allowance abroad", 2)
            assert [p.rank for p in result.passages] == [1, 2]
            assert "60 euros per day abroad" in result.passages[0].text


def test_rescoring_reorders_by_score_and_keeps_the_answer_first(
    multidoc_index: Path, embedder: Embedder
) -> None:
    question = "What is the daily allowance abroad?"
    searcher = Searcher.open(embedder, multidoc_index, Retrieval(rescore_weight=0.5))
    passages = searcher.search(question, 5).passages
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    assert "60 euros per day abroad" in passages[0].text
    # Each highlighted passage gains half its best sentence's cosine (at most its
    # confidence) in units of the first stage's spread, which weighted fusion keeps
    # within 0..1 and reciprocal rank fusion within about 0.03 (give or take the
    # rounding of scores and confidences to 4 places).
    for fusion, spread in (("weighted", 1.0), ("rrf", 0.04)):
        first_stage = Searcher.open(
            embedder, multidoc_index, Retrieval(fusion=fusion, rescore_weight=0.0)
        )
        before = {p.chunk_id: p.score for p in first_stage.search(question, 5).passages}
        rescored = Searcher.open(
            embedder, multidoc_index, Retrieval(fusion=fusion, rescore_weight=0.5)
        )
        after = rescored.search(question, 5).passages
        assert {p.chunk_id for p in after} == set(before)
        for p in after:
            assert 0 < p.score - before[p.chunk_id] <= 0.5 * spread * p.confidence + 1e-3


@pytest.mark.parametrize("table", ["chunks_fts", "blocks_fts"])
def test_index_without_a_keyword_table_still_answers(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder, table: str
) -> None:
    # Generations written by older versions lack one or both tables: dense alone, or
    # hybrid on the passages' own keywords.
    corpus = write_corpus(
        {"a.txt": "Tulips flower in spring.\n", "b.txt": "Snow falls in winter.\n"}
    )
    report = build_index(corpus, tmp_path / "index", embedder)
    with sqlite3.connect(generation_dir(tmp_path / "index", report.version) / METADATA) as db:
        db.execute(f"DROP TABLE {table}")
    searcher = Searcher.open(embedder, tmp_path / "index")
    assert searcher.index.has_block_keywords == (table == "chunks_fts")
    assert searcher.search("When do tulips bloom?", 1).passages[0].citation.source == "a.txt"


def test_k_beyond_the_search_limit_is_refused(multidoc_searcher: Searcher) -> None:
    with pytest.raises(InvalidQuery, match="k must be between 1 and 1000, got 1001"):
        multidoc_searcher.search("hotel", 1001)
