"""The command line: build, ask, serve's checks, and errors that name the bad value."""

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import main
from service.embedding import Embedder
from service.errors import ModelMismatch
from service.search import Searcher
from service.store import Index
from tests.conftest import SEED_CORPUS, WriteFiles


@pytest.fixture(scope="session")
def other_model(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """A copy of the default model with one weight changed: a different model on disk."""
    import torch
    from sentence_transformers import SentenceTransformer

    from service.embedding import resolve_model

    model = SentenceTransformer(resolve_model(embedder.name), device="cpu")
    with torch.no_grad():
        next(model.parameters()).add_(0.01)
    path = tmp_path_factory.mktemp("other-model")
    model.save(str(path))
    return path


def test_build_then_ask_in_process(write_corpus: WriteFiles, tmp_path: Path) -> None:
    corpus = write_corpus(
        {"bees.md": "# Bees\n\nA hive has one queen.\n", "junk.txt": b"\x00\x01", "ok.txt": "Hi."}
    )
    index = tmp_path / "index"
    runner = CliRunner()
    built = runner.invoke(main, ["build", "--corpus", str(corpus), "--index", str(index)])
    assert built.exit_code == 0, built.output
    assert "skipped junk.txt: binary file (contains NUL bytes)" in built.output
    assert "2 documents, 2 chunks, 1 skipped" in built.output
    asked = runner.invoke(
        main, ["ask", "How many queens live in a hive?", "--index", str(index), "--json", "-k", "1"]
    )
    assert asked.exit_code == 0, asked.output
    result = json.loads(asked.stdout)
    [passage] = result["passages"]
    assert passage["text"] == "# Bees\n\nA hive has one queen."
    assert passage["citation"]["heading"] == ["Bees"]
    plain = runner.invoke(main, ["ask", "queen bee", "--index", str(index), "-k", "1"])
    assert (
        "1. [confidence 0." in plain.stdout
        and "bees.md, lines 1-3 § Bees (chars 0-" in plain.stdout
    )


def test_a_dry_run_lists_an_unreadable_file_as_skipped_not_added(
    write_corpus: WriteFiles, tmp_path: Path
) -> None:
    corpus = write_corpus({"bees.md": "# Bees\n\nA hive has one queen.\n", "junk.txt": b"\x00"})
    index = tmp_path / "index"
    result = CliRunner().invoke(
        main, ["build", "--dry-run", "--corpus", str(corpus), "--index", str(index)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "1 added, 0 changed, 0 removed, 0 chunks reused, 1 to embed, 1 skipped",
        "  + bees.md",
        "  ! junk.txt: binary file (contains NUL bytes)",
    ]


def test_ask_without_an_index_says_to_build(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["ask", "anything", "--index", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert f"No index at {tmp_path / 'none'} - run `herein build` first" in result.output
    assert "Loading model" not in result.output  # said at once, not after seconds


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["ask", "  ", "--index", "{seed}"], "question is empty"),
        (["ask", "?!", "--index", "{seed}"], "question has no words (letters or digits): '?!'"),
        (["ask", "x", "-k", "0", "--index", "{seed}"], "0 is not in the range 1<=x<=50"),
        (["ask", "x", "--source", "nosuch/", "--index", "{seed}"], "starts with 'nosuch/'"),
        (["build", "--corpus", "{missing}", "--index", "{seed}"], "Corpus folder not found:"),
        (["serve", "--port", "70000"], "70000 is not in the range 1<=x<=65535"),
    ],
)
def test_bad_values_are_named(
    arguments: list[str], message: str, seed_index: Path, tmp_path: Path
) -> None:
    filled = [a.format(seed=seed_index, missing=tmp_path / "missing") for a in arguments]
    result = CliRunner().invoke(main, filled)
    assert result.exit_code != 0
    assert message in result.output


def test_a_misspelt_setting_is_named_with_the_real_one(tmp_path: Path) -> None:
    result = CliRunner(env={"HEREIN_CORPUS": str(tmp_path), "HEREIN_APIKEY": "x"}).invoke(
        main, ["build", "--index", str(tmp_path / "index")]
    )
    assert result.exit_code == 1
    assert (
        "Unknown setting: HEREIN_APIKEY (did you mean HEREIN_API_KEY?); "
        "HEREIN_CORPUS (did you mean HEREIN_CORPUS_DIR?)"
    ) in result.output
    assert not (tmp_path / "index").exists()


def test_a_missing_corpus_leaves_no_index_folder_behind(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["build", "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "index")]
    )
    assert result.exit_code == 1
    assert f"Corpus folder not found: {tmp_path / 'nope'}" in result.output
    assert not (tmp_path / "index").exists()


def test_serve_on_an_empty_corpus_that_nothing_could_fill_stops_with_the_reason(
    tmp_path: Path,
) -> None:
    # Without uploads (no admin token) or --watch, a server would answer 503 forever.
    (tmp_path / "corpus").mkdir()
    arguments = ["serve", "--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "i")]
    result = CliRunner(env={"HEREIN_ADMIN_TOKEN": None, "HEREIN_WATCH": None}).invoke(
        main, arguments
    )
    assert result.exit_code == 1
    assert "No readable documents in" in result.output


def test_empty_corpus_fails_and_keeps_the_current_index(
    write_corpus: WriteFiles, seed_index: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = (seed_index / "CURRENT").read_text()
    corpus = write_corpus({"binary.txt": b"\x00", "broken.pdf": b"%PDF-1.4\nnot really"})
    pypdf = logging.getLogger("pypdf")
    level = pypdf.level
    try:
        result = CliRunner().invoke(
            main, ["build", "--corpus", str(corpus), "--index", str(seed_index)]
        )
    finally:  # main() quiets pypdf for the process; the other tests keep its level
        pypdf.setLevel(level)
    assert result.exit_code == 1
    assert "skipped broken.pdf: broken PDF: Stream has ended unexpectedly" in result.output
    assert f"No readable documents in {corpus}" in result.output
    assert (seed_index / "CURRENT").read_text() == before
    # The skip says why; pypdf's own warnings ("EOF marker not found") are not shown.
    assert [r.getMessage() for r in caplog.records if r.name.startswith("pypdf")] == []


def test_model_mismatch_is_a_clear_error(seed_index: Path, other_model: Path) -> None:
    runner = CliRunner()
    for command in (["ask", "hello"], ["serve", "--corpus", str(SEED_CORPUS)]):
        result = runner.invoke(
            main, [*command, "--index", str(seed_index), "--model", str(other_model)]
        )
        assert result.exit_code == 1
        assert "was built with model 'sentence-transformers/all-MiniLM-L6-v2'" in result.output
        assert f"but the loaded model is '{other_model}'" in result.output


def test_an_index_of_another_model_is_closed_when_refused(
    seed_index: Path, other_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server whose model mismatches retries every second: nothing may stay open.
    closed: list[Index] = []
    real_close = Index.close
    monkeypatch.setattr(Index, "close", lambda index: (closed.append(index), real_close(index)))
    with pytest.raises(ModelMismatch):
        Searcher.open(Embedder.load(str(other_model)), seed_index)
    assert len(closed) == 1


def test_unknown_model_is_a_clear_error(seed_index: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    result = CliRunner().invoke(
        main, ["ask", "hi", "--index", str(seed_index), "--model", str(missing)]
    )
    assert result.exit_code == 1
    assert f"Cannot load embedding model '{missing}'" in result.output


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("HEREIN_CHUNK_TOKENS", "0", "HEREIN_CHUNK_TOKENS='0': Input should be greater than"),
        ("HEREIN_PORT", "70000", "HEREIN_PORT='70000': Input should be less than or equal"),
        ("HEREIN_API_KEY", "", "HEREIN_API_KEY='': String should have at least 1 character"),
        ("HEREIN_ANSWER_THRESHOLD", "2", "HEREIN_ANSWER_THRESHOLD='2': Input should be less than"),
        (
            "HEREIN_OVERLAP_TOKENS",
            "200",
            "HEREIN_OVERLAP_TOKENS (200) must be below HEREIN_CHUNK_TOKENS (128)",
        ),
    ],
)
def test_bad_settings_from_the_environment_are_named(
    variable: str, value: str, message: str, seed_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(main, ["ask", "hi", "--index", str(seed_index)])
    assert result.exit_code == 1
    assert f"Bad setting: {message}" in result.output


def test_an_empty_question_is_refused_before_the_index_or_the_model_is_loaded(
    tmp_path: Path,
) -> None:
    # No index and no such model: the question is what is reported.
    result = CliRunner().invoke(
        main, ["ask", "  ", "--index", str(tmp_path / "none"), "--model", str(tmp_path / "m")]
    )
    assert (result.exit_code, result.output) == (1, "Error: question is empty\n")
