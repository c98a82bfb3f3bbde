"""Follow-up questions: which lean on the conversation, and what they are searched with."""

from pathlib import Path

import pytest

from service.embedding import Embedder
from service.errors import InvalidQuery
from service.followup import context_of, leans_on_history, search_text, validate_history
from service.indexing import build_index
from service.search import Searcher
from tests.conftest import DATA, WriteFiles, marked


def test_short_or_pointing_back_questions_lean_on_history() -> None:
    questions = [
        "When was it launched?",
        "Who paid for it?",
        "Until when?",
        "And the Meridian Tunnel?",
        "When was the Lindqvist Bridge opened?",
        "Who designed the Lindqvist Bridge and what did it cost?",
        "Which sectors does the Competitiveness Poles policy target?",
    ]
    assert [leans_on_history(q) for q in questions] == [True, True, True, True, False, False, False]


def test_context_goes_back_to_the_newest_self_contained_question() -> None:
    history = ["What is the Aurora satellite?", "What is the Kestrel probe?", "How heavy is it?"]
    assert context_of(history) == ["What is the Kestrel probe?", "How heavy is it?"]
    assert search_text("Who built it?", history) == (
        "What is the Kestrel probe? How heavy is it? Who built it?"
    )
    assert search_text("Who built the Kestrel probe?", history) == "Who built the Kestrel probe?"
    assert search_text("Who built it?", []) == "Who built it?"


def test_a_follow_up_naming_its_own_year_or_code_drops_the_earlier_ones_of_that_kind() -> None:
    history = ["What warranty does the KX-20 have?"]
    assert search_text("And the KX-30?", history) == "What warranty does the have? And the KX-30?"
    # Only the kind the follow-up switches: the product stays when the year changes.
    assert search_text("And in 2024?", ["What did the X200's battery cost in 2023?"]) == (
        "What did the X200's battery cost in? And in 2024?"
    )
    assert search_text("And the X300?", ["What did the X200's battery cost in 2023?"]) == (
        "What did the battery cost in 2023? And the X300?"
    )
    # A version of three parts is a code; a decimal figure of two is not.
    assert search_text("And in 2.4.0?", ["What was fixed in 2.3.1?"]) == (
        "What was fixed in? And in 2.4.0?"
    )
    assert search_text("And at 2.5 bar?", ["What does the X200 hold?"]) == (
        "What does the X200 hold? And at 2.5 bar?"
    )
    # A figure with its unit is no code: the product stays ("3-year" plans of the X200).
    assert search_text("And for 3-year plans?", ["What does the X200 cost?"]) == (
        "What does the X200 cost? And for 3-year plans?"
    )
    # Named again, an identifier stays; a bare number or a follow-up naming none keeps all.
    assert search_text("And the KX-20 battery?", history) == (
        "What warranty does the KX-20 have? And the KX-20 battery?"
    )
    assert (
        search_text("And the top 3?", history)
        == "What warranty does the KX-20 have? And the top 3?"
    )
    assert (
        search_text("What about it?", history)
        == "What warranty does the KX-20 have? What about it?"
    )


def test_long_context_is_cut_to_its_newest_words() -> None:
    history = ["What is " + "the very long name of " * 60 + "the Aurora satellite?"]
    text = search_text("When was it launched?", history)
    assert text.endswith("the Aurora satellite? When was it launched?")
    assert len(text) <= 600 + len(" When was it launched?")


def test_history_over_the_limits_is_refused() -> None:
    assert validate_history(["a"] * 5) == ["a"] * 5
    with pytest.raises(InvalidQuery, match="history has 6 questions; the limit is 5"):
        validate_history(["a"] * 6)
    with pytest.raises(InvalidQuery, match=r"history\[1\] is 2001 characters long"):
        validate_history(["a", "b" * 2001])


@pytest.fixture(scope="module")
def followup_searcher(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Searcher:
    index = tmp_path_factory.mktemp("followup-index")
    build_index(DATA / "followups", index, embedder)
    return Searcher.open(embedder, index)


def first_source(searcher: Searcher, question: str, history: list[str]) -> str:
    return searcher.search(question, 1, history).passages[0].citation.source


def test_history_decides_what_an_ambiguous_follow_up_finds(followup_searcher: Searcher) -> None:
    firsts = [
        first_source(followup_searcher, "When was it launched?", [topic])
        for topic in ["What is the Aurora satellite?", "What is the Kestrel probe?"]
    ]
    assert firsts == ["aurora-satellite.txt", "kestrel-probe.txt"]
    passage = followup_searcher.search("When was it launched?", 1, ["What is the Kestrel probe?"])
    assert "Kestrel was launched on 2 October 2021" in passage.passages[0].text


def test_a_follow_ups_highlight_answers_it_not_the_earlier_question(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    table = (
        "# Configuration\n\n## Upload settings\n\n| Key | Default | Meaning |\n|---|---|---|\n"
        "| `pack_size` | `16MiB` | Target size of a pack file. Was `4MiB` in 2.x. |\n"
        "| `concurrency` | `8` | Pack files uploaded in parallel. Was `4` in 2.x. |\n"
        "| `retries` | `5` | Attempts before an upload fails. |\n"
    )
    build_index(write_corpus({"configuration.md": table}), tmp_path / "index", embedder)
    searcher = Searcher.open(embedder, tmp_path / "index")
    history = ["What was the default pack size in 2.x?"]
    [passage] = searcher.search("What about upload concurrency?", 1, history).passages
    assert marked(passage).startswith("| `concurrency` |")
    searcher.index.close()


def test_a_follow_up_asking_no_kind_of_answer_seeks_its_historys(
    followup_searcher: Searcher,
) -> None:
    history = ["When was the Aurora satellite launched?"]
    [passage] = followup_searcher.search("What about the Kestrel probe?", 1, history).passages
    assert "2 October 2021" in marked(passage)


def test_self_contained_question_is_not_dragged_off_by_history(
    followup_searcher: Searcher,
) -> None:
    question = "How long is the Meridian Tunnel?"
    alone = followup_searcher.search(question, 3)
    along = followup_searcher.search(question, 3, ["What is the Aurora satellite?"])
    assert [p.chunk_id for p in along.passages] == [p.chunk_id for p in alone.passages]
    assert "14.6 kilometres" in along.passages[0].text


def test_eval_cases_corpus_exists() -> None:
    assert sorted(p.name for p in Path(DATA / "followups").iterdir()) == [
        "aurora-satellite.txt",
        "kestrel-probe.txt",
        "lindqvist-bridge.txt",
        "meridian-tunnel.txt",
        "wallonia-industrial-policy.txt",
    ]


@pytest.mark.parametrize(("asked", "then"), [("X200", "X300"), ("X300", "X200")])
def test_a_follow_up_about_another_model_finds_that_models_passage(
    multidoc_searcher: Searcher, asked: str, then: str
) -> None:
    history = [f"How much energy does the {asked} store?"]
    passage = multidoc_searcher.search(f"And the {then}?", 1, history).passages[0]
    assert (passage.citation.source, passage.citation.heading) == (
        f"products/{then.lower()}-manual.md",
        (f"{then} Home Battery: User Manual", "Specifications"),
    )
