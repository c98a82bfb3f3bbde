"""Eval: metrics arithmetic, the project's QA sets as regression gates, `herein eval`."""

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import main
from service.embedding import Embedder
from service.errors import InvalidDataset
from service.evaluation import (
    Gold,
    Outcome,
    Query,
    calibrate_threshold,
    classified_right,
    evaluate,
    highlight_on_gold,
    load_beir,
    load_qa,
    summarise,
)
from service.indexing import build_index
from service.models import Citation, Highlight, Passage
from service.search import Searcher
from tests.conftest import DATA


def _outcome(gains: list[int], relevant: int = 1, confidence: float = 0.5) -> Outcome:
    query = Query("q", "question?", relevant={f"d{i}": 1 for i in range(relevant)})
    return Outcome(query, gains, confidence, 0.1, True, 12.0)


def test_metrics_of_known_rankings() -> None:
    outcomes = [_outcome([0, 1, 0]), _outcome([1, 0, 1], relevant=2)]
    metrics = summarise(outcomes, threshold=0.3)
    assert metrics["nDCG@10"] == pytest.approx((1 / 1.58496250 + 1.5 / (1 + 1 / 1.58496250)) / 2)
    assert metrics["MRR@10"] == pytest.approx(0.75)
    assert (metrics["hit@1"], metrics["hit@5"], metrics["Recall@10"]) == (0.5, 1.0, 1.0)
    # Each BEIR query also counts as unanswerable with its gold left out (confidence 0.1).
    assert (metrics["not-found precision"], metrics["not-found recall"]) == (1.0, 1.0)
    assert metrics["p50 ms"] == 12.0


def test_a_highlight_is_judged_against_the_gold_snippet_white_space_collapsed() -> None:
    text = "Hotels are booked early.  The limit is\n220 euros in Paris. Taxis are extra."
    citation = Citation("t.md", "t.md", "T", 100, 100 + len(text), 1, 2, None, None, ())
    query = Query("q", "Hotel limit?", gold=(Gold("t.md", "limit is 220 euros"),))

    def judged(start: int, end: int) -> bool | None:
        highlight = (Highlight(100 + start, 100 + end),)
        return highlight_on_gold(query, Passage(1, 1.0, "t#0", text, citation, 0.5, highlight))

    answer = text.index("The limit")
    assert judged(answer, text.index(" Taxis")) is True
    assert judged(0, answer - 2) is False  # the sentence before, up to its full stop
    assert judged(text.index("Taxis"), len(text)) is False
    assert highlight_on_gold(Query("q", "?", gold=(Gold("other.md", "limit"),)), Passage(
        1, 1.0, "t#0", text, citation, 0.5, (Highlight(100, 110),)
    )) is None  # fmt: skip
    outcomes = [replace(_outcome([1]), highlight_on_gold=hit) for hit in (True, False, True, None)]
    assert summarise(outcomes, threshold=0.3)["highlight on gold@1"] == pytest.approx(2 / 3)


def test_a_highlight_on_a_later_copy_of_the_snippet_is_on_gold() -> None:
    # A table repeats "12 months": the highlight may mark either row.
    text = "| Filter | 12 months |\n| Pump | 6 months |\n| Valve | 12 months |"
    citation = Citation("t.md", "t.md", "T", 0, len(text), 1, 3, None, None, ())
    query = Query("q", "Valve interval?", gold=(Gold("t.md", "12 months"),))
    valve = (Highlight(text.index("| Valve"), len(text)),)
    pump = (Highlight(text.index("| Pump"), text.index("| Valve")),)
    judged = [
        highlight_on_gold(query, Passage(1, 1.0, "t#0", text, citation, 0.5, highlight))
        for highlight in (valve, pump)
    ]
    assert judged == [True, False]


def test_calibration_picks_the_threshold_that_separates_best() -> None:
    outcomes = [_outcome([1], confidence=c) for c in (0.6, 0.7)]
    assert calibrate_threshold(outcomes) == pytest.approx(0.1001)
    # Both cases of each query (as retrieved, 0.6 or 0.7; without its gold, 0.1) are
    # decided right by any threshold between: 0.3 as well as the calibrated 0.1001.
    assert classified_right(outcomes, 0.3) == classified_right(outcomes, 0.1001) == 4
    assert classified_right(outcomes, 0.65) == 3


def test_not_found_is_not_measured_on_a_set_without_unanswerable_questions() -> None:
    answered = Outcome(
        Query("a", "Hotel limit?", gold=(Gold("t.md", "x"),)), [1], 0.2, 0.0, False, 9
    )
    metrics = summarise([answered], threshold=0.3)
    assert metrics["hit@1"] == 1.0
    assert "not-found precision" not in metrics and "not-found recall" not in metrics
    unanswerable = Outcome(Query("u", "Dress code?"), [0], 0.1, 0.0, False, 9)
    assert summarise([answered, unanswerable], threshold=0.3)["not-found precision"] == 0.5


def test_a_question_whose_passages_lack_the_asked_answer_is_not_found_at_any_threshold() -> None:
    answered = Outcome(
        Query("a", "Hotel limit?", gold=(Gold("t.md", "x"),)), [1], 0.5, 0.0, True, 9
    )
    unpriced = Outcome(Query("u", "What does it cost?"), [0], 0.7, 0.0, False, 9, lacking=True)
    metrics = summarise([answered, unpriced], threshold=0.3)
    assert (metrics["not-found precision"], metrics["not-found recall"]) == (1.0, 1.0)
    confident = replace(unpriced, lacking=False)
    assert summarise([answered, confident], threshold=0.3)["not-found recall"] == 0.0
    assert calibrate_threshold([answered, unpriced]) == 0.0


# Regression gates: figures measured when the written sets were added (hybrid, defaults):
# seed hit@1 1.0; multidoc hit@1 0.84, hit@5 1.0, not-found recall 4/8 (precision 1.0),
# 5/9 since the set asks for a model its catalogue lacks.
# A drop below these fails the suite.
def test_seed_qa_set_keeps_its_quality(seed_searcher: Searcher) -> None:
    dataset = load_qa(DATA / "seed_hybrid_qa.jsonl")
    [report] = evaluate(seed_searcher, dataset, ["hybrid"], depth=10)
    assert report.metrics["hit@1"] == 1.0
    assert report.metrics["not-found recall"] >= 2 / 3


def test_multidoc_qa_set_keeps_its_quality(multidoc_searcher: Searcher) -> None:
    dataset = load_qa(DATA / "multidoc_qa.jsonl")
    assert sum(not q.answerable for q in dataset.queries) == 9
    [report] = evaluate(multidoc_searcher, dataset, ["hybrid"], depth=10)
    # 23 of 25 since a year or a model in the question lifts the document titled with it.
    assert report.metrics["hit@1"] >= 0.92
    assert report.metrics["hit@5"] == 1.0
    assert report.metrics["highlight on gold@1"] == 1.0  # 23 of 23
    # 5 of 9 since price questions need an amount of money ("What does the X300 cost?")
    # and a model no manual names is missing when its series' manuals answer ("X400").
    assert report.metrics["not-found recall"] >= 5 / 9
    assert report.metrics["not-found precision"] == 1.0


def test_long_document_qa_set_keeps_its_quality(tmp_path: Path, embedder: Embedder) -> None:
    # Five knowledge-base documents of 14,000 to 17,000 characters that share vocabulary
    # and contradict each other on purpose; written by a helper who never saw the code.
    # Figures: hybrid nDCG@10 0.846, hit@1 22/30, hit@5 26/30, highlight on gold 18/22,
    # not-found recall 4/8 (a year, and a model's price, that no passage names);
    # dense nDCG@10 0.781.
    build_index(DATA / "longdocs", tmp_path / "index", embedder)
    dataset = load_qa(DATA / "longdocs_qa.jsonl")
    assert sum(not q.answerable for q in dataset.queries) == 8
    dense, hybrid = evaluate(
        Searcher.open(embedder, tmp_path / "index"), dataset, ["dense", "hybrid"], depth=10
    )
    assert hybrid.metrics["nDCG@10"] >= 0.84 > dense.metrics["nDCG@10"]
    assert hybrid.metrics["hit@1"] >= 22 / 30
    assert hybrid.metrics["hit@5"] >= 26 / 30
    assert hybrid.metrics["highlight on gold@1"] >= 18 / 22
    assert hybrid.metrics["not-found precision"] == 1.0
    assert hybrid.metrics["not-found recall"] >= 4 / 8


def _write_beir(folder: Path) -> None:
    documents = [
        ("d1", "Tulips", "Tulips flower in spring and need cold winters to bloom again."),
        ("d2", "Glaciers", "Glaciers retreat as summers get warmer and winters get shorter."),
        ("d3", "Bread", "Sourdough bread rises slowly because wild yeast works at room heat."),
    ]
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in documents)
    )
    queries = [("q1", "Why do glaciers shrink?"), ("q2", "What makes sourdough rise?")]
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in queries)
    )
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td2\t1\nq2\td3\t1\n")


def test_herein_eval_reads_beir_and_reuses_its_cached_index(tmp_path: Path) -> None:
    dataset = tmp_path / "tiny-beir"
    _write_beir(dataset)
    assert [q.relevant for q in load_beir(dataset).queries] == [{"d2": 1}, {"d3": 1}]
    cache = tmp_path / "cache"
    runner = CliRunner()
    first = runner.invoke(main, ["eval", str(dataset), "--cache", str(cache)])
    assert first.exit_code == 0, first.output
    lines = {line.split()[0]: line.split()[1:] for line in first.stdout.splitlines() if line}
    assert lines["nDCG@10"] == ["1.0000", "1.0000", "1.0000"]
    assert first.stdout.splitlines()[0].split()[-3:] == ["dense", "keyword", "hybrid"]
    second = runner.invoke(main, ["eval", str(dataset), "--cache", str(cache), "--modes", "dense"])
    assert second.exit_code == 0, second.output
    assert "Reusing the index" in second.stderr


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "qrels" / "test.tsv").rename(d / "qrels" / "dev.tsv"),
         "qrels/test.tsv is missing: the splits of .*tiny-beir are dev"),
        (lambda d: (d / "corpus.jsonl").unlink(),
         "tiny-beir has no corpus.jsonl or corpus.jsonl.gz"),
        (lambda d: (d / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1 d2 1\n"),
         r"test.tsv:2: expected a query id, a document id and a whole-number score .* 'q1 d2 1'"),
        (lambda d: (d / "queries.jsonl").write_text('{"_id": "q1"}\n'),
         r'queries.jsonl:1: expected an object with "_id" and "text"'),
        (lambda d: (d / "queries.jsonl").write_bytes(b"\xff\xfe"), "queries.jsonl is not UTF-8"),
        (lambda d: (d / "qrels" / "test.tsv").write_text("q7\td1\t1\n"),
         "no query of queries.jsonl is judged in"),
    ],
)  # fmt: skip
def test_a_bad_beir_folder_is_refused_naming_its_file_and_line(
    tmp_path: Path, damage: Callable[[Path], object], message: str
) -> None:
    dataset = tmp_path / "tiny-beir"
    _write_beir(dataset)
    damage(dataset)
    with pytest.raises(InvalidDataset, match=message):
        load_beir(dataset)
    # Said on the command line before the model loads, as one line.
    result = CliRunner().invoke(main, ["eval", str(dataset), "--cache", str(tmp_path / "c")])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1


def test_herein_eval_refuses_unknown_modes(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["eval", str(DATA / "multidoc_qa.jsonl"), "--modes", "bm42"])
    assert result.exit_code == 2
    assert "choose from dense, keyword, hybrid" in result.output


GOOD = '{"id": "q1", "question": "Hotel limit?", "gold": [{"source": "t.md", "snippet": "220"}]}'


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([GOOD, "{not json"], r"qa.jsonl:2: not JSON \(Expecting property name"),
        ([GOOD, "[1, 2]"], r'qa.jsonl:2: expected an object with "id", "question" and "gold"'),
        (['{"id": 7, "question": " ", "gold": []}'], r"qa.jsonl:1: id 7: question is empty"),
        (['{"id": 7, "question": 12, "gold": []}'], r'qa.jsonl:1: "question" must be text, got 12'),
        (
            ['{"id": "a", "question": "Why?", "gold": "t.md"}'],
            r'qa.jsonl:1: "gold" must be a list of .* got "t.md"',
        ),
        ([GOOD, "", GOOD], r"qa.jsonl:3: id 'q1' is already used on line 1"),
        (["", "  "], r"qa.jsonl holds no questions"),
    ],
)
def test_a_bad_qa_file_is_refused_naming_its_line(
    tmp_path: Path, lines: list[str], message: str
) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InvalidDataset, match=message):
        load_qa(path)


def test_herein_eval_refuses_a_gold_source_missing_from_the_corpus(tmp_path: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    gold = [{"source": "policies/travel.md", "snippet": "160 euros"}]
    records = [
        {"id": "a", "question": "Hotel limit?", "gold": gold},
        {"id": "b", "question": "Car rental?", "gold": [{"source": "cars.md", "snippet": "x"}]},
    ]
    qa.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    arguments = ["eval", str(qa), "--corpus", str(DATA / "multidoc"), "--cache", str(tmp_path)]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: qa: gold source is no document of the corpus (sources are paths relative to "
        "the corpus folder): b ('cars.md')"
    )
    folder = CliRunner().invoke(main, ["eval", str(tmp_path)])
    assert (folder.exit_code, folder.stderr.splitlines()[-1]) == (
        1, f"Error: {tmp_path} is a folder without queries.jsonl: not a BEIR folder"
    )  # fmt: skip


def test_herein_eval_refuses_a_gold_snippet_its_source_does_not_hold(tmp_path: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    records = [
        # Line breaks and runs of spaces in a snippet are white space like any other.
        {"id": "a", "question": "Hotel limit?", "gold": [{"source": "policies/travel.md",
         "snippet": "The nightly limit is\n160   euros"}]},
        {"id": "b", "question": "Hotel limit?", "gold": [{"source": "policies/travel.md",
         "snippet": "The nightly limit is 150 euros"}]},
    ]  # fmt: skip
    qa.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    arguments = ["eval", str(qa), "--corpus", str(DATA / "multidoc"), "--cache", str(tmp_path)]
    result = CliRunner().invoke(main, arguments)
    assert (result.exit_code, result.stderr.splitlines()[-1]) == (
        1,
        "Error: qa: gold snippet not in its source's text, white space collapsed: "
        "b ('The nightly limit is 150 euros' in 'policies/travel.md')",
    )
