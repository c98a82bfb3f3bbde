"""Chunks: exact offsets, right lines and pages, never over the model's limit."""

import itertools
import random
import time

import pytest

from service.chunking import chunk_document, split_sentences
from service.documents import load_corpus, load_document
from service.embedding import Embedder
from service.models import Chunk, Document
from tests.conftest import SEED_CORPUS, WriteFiles, make_pdf

WORDS = ["river", "bank", "loan", "interest", "harvest", "orchard", "engine", "piston", "valve"]


def _prose(seed: int, sentences: int) -> str:
    rng = random.Random(seed)
    return " ".join(
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 30))).capitalize() + "."
        for _ in range(sentences)
    )


@pytest.fixture
def documents(write_corpus: WriteFiles) -> list[Document]:
    """One document of every kind herein reads, with the awkward cases."""
    corpus = write_corpus(
        {
            "plain.txt": "\n\n".join(_prose(seed, 12) for seed in range(5)),
            "crlf.txt": "\r\n".join(_prose(seed, 3) for seed in range(30)),
            "bom.txt": b"\xef\xbb\xbf" + _prose(7, 40).encode(),
            "emoji.md": "# Café ☕\n\n"
            + _prose(8, 30).replace(".", " 🎉.")
            + "\n\n## Über\n\nEnd.",
            "page.html": "<h1>Top</h1>" + "".join(f"<p>{_prose(s, 6)}</p>" for s in range(8)),
            "paper.pdf": make_pdf(
                [[_prose(s, 1)[:90] for s in range(p, p + 20)] for p in range(3)]
            ),
            "wall.txt": " ".join(["supercalifragilistic"] * 700),
        }
    )
    loaded = load_corpus(corpus)
    assert loaded.skipped == []
    seed = load_corpus(SEED_CORPUS).documents
    return loaded.documents + seed


def test_every_chunk_is_exact_and_within_the_model_limit(
    documents: list[Document], embedder: Embedder
) -> None:
    tokenizer = embedder.model.tokenizer
    for document in documents:
        text = document.text
        chunks = chunk_document(document, embedder)
        assert chunks, document.document_id
        for number, chunk in enumerate(chunks):
            assert chunk.chunk_id == f"{document.document_id}#{number}"
            assert text[chunk.start : chunk.end] == chunk.text
            assert chunk.line_start == text.count("\n", 0, chunk.start) + 1
            assert chunk.line_end == text.count("\n", 0, chunk.end - 1) + 1
            if document.paged:
                assert chunk.page == text.count("\f", 0, chunk.start) + 1
                assert chunk.page_end == text.count("\f", 0, chunk.end - 1) + 1
            else:
                assert chunk.page is None and chunk.page_end is None
            # Counted as the model counts, special tokens included, truncation off.
            ids = tokenizer(chunk.embed_text, truncation=False)["input_ids"]
            assert len(ids) <= 256, (chunk.chunk_id, len(ids))
            assert chunk.embed_text.endswith(chunk.text)
        _assert_covers_all_text(text, chunks)


def _assert_covers_all_text(text: str, chunks: list[Chunk]) -> None:
    covered = [False] * len(text)
    for chunk in chunks:
        covered[chunk.start : chunk.end] = [True] * (chunk.end - chunk.start)
    missing = [i for i, c in enumerate(text) if not covered[i] and not c.isspace()]
    assert missing == []


def test_pdf_chunks_know_their_pages(documents: list[Document], embedder: Embedder) -> None:
    [paper] = [d for d in documents if d.paged]
    chunks = chunk_document(paper, embedder, max_tokens=64, overlap_tokens=0)
    assert {c.page for c in chunks} == {1, 2, 3}
    # Page breaks cut sections, so every passage cites exactly one page.
    assert all(c.page == c.page_end for c in chunks)


def test_markdown_chunks_carry_heading_path_and_title_context(
    write_corpus: WriteFiles, embedder: Embedder
) -> None:
    corpus = write_corpus({"guide.md": "# Guide\n\nIntro text.\n\n## Setup\n\nInstall it.\n"})
    document = load_document(corpus / "guide.md", "guide.md")
    chunks = chunk_document(document, embedder)
    assert [(c.text, c.heading) for c in chunks] == [
        ("# Guide\n\nIntro text.", ("Guide",)),
        ("## Setup\n\nInstall it.", ("Guide", "Setup")),
    ]
    assert chunks[1].embed_text == "Guide\nSetup\n## Setup\n\nInstall it."


def test_a_heading_with_no_text_of_its_own_opens_the_next_section(
    write_corpus: WriteFiles, embedder: Embedder
) -> None:
    corpus = write_corpus(
        {
            "report.md": "# Report 2024\n\n## People\n\nWe hired ten people.\n\n"
            "## Money\n\nIt grew.\n"
        }
    )
    document = load_document(corpus / "report.md", "report.md")
    chunks = chunk_document(document, embedder)
    assert [(c.text, c.heading) for c in chunks] == [
        ("# Report 2024\n\n## People\n\nWe hired ten people.", ("Report 2024", "People")),
        ("## Money\n\nIt grew.", ("Report 2024", "Money")),
    ]
    # Only into a section under it: an empty "## A.1" stays out of "# B", and a
    # one-line paragraph before the first heading is not a heading.
    other = write_corpus(
        {"book.md": "One line of intro.\n\n# A\n\nText a.\n\n## A.1\n\n# B\n\nText b.\n"}
    )
    book = chunk_document(load_document(other / "book.md", "book.md"), embedder)
    assert [(c.text, c.heading) for c in book] == [
        ("One line of intro.", ()),
        ("# A\n\nText a.", ("A",)),
        ("## A.1", ("A", "A.1")),
        ("# B\n\nText b.", ("B",)),
    ]
    # A document that is nothing but a heading still has its one passage.
    alone = write_corpus({"title.md": "# Only a title\n"}) / "title.md"
    assert [c.text for c in chunk_document(load_document(alone, "title.md"), embedder)] == [
        "# Only a title"
    ]


def test_a_sentence_longer_than_the_limit_is_hard_split(
    documents: list[Document], embedder: Embedder
) -> None:
    [wall] = [d for d in documents if d.document_id == "wall.txt"]
    chunks = chunk_document(wall, embedder, max_tokens=254, overlap_tokens=0)
    assert len(chunks) > 1
    counts = embedder.count_tokens([c.embed_text for c in chunks])
    # Cut between words, never inside one, and as full as the limit allows.
    assert all(c.text.startswith("supercalifragilistic") for c in chunks)
    assert all(c.text.endswith("supercalifragilistic") for c in chunks)
    assert max(counts) <= 254 and counts[0] > 200


def test_long_paragraphs_overlap_by_whole_sentences(embedder: Embedder) -> None:
    text = _prose(3, 40)
    document = Document("p.txt", "p.txt", "P", text, "text/plain", "x")
    chunks = chunk_document(document, embedder, max_tokens=100, overlap_tokens=30)
    starts = {s for s, _ in split_sentences(text)}
    ends = {e for _, e in split_sentences(text)}
    assert len(chunks) > 2
    overlaps = 0
    for before, after in itertools.pairwise(chunks):
        assert before.start < after.start and before.end < after.end
        assert after.start in starts and before.end in ends
        if after.start < before.end:
            overlaps += 1
            assert embedder.count_tokens([text[after.start : before.end]])[0] <= 30
    assert overlaps >= len(chunks) // 2


def test_sentences_split_on_punctuation_paragraphs_and_lists_not_wrapped_lines() -> None:
    text = "First one. Second, e.g. this\nwrapped line here! Third\n\n- item a\n- item b"
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "First one.",
        "Second, e.g. this\nwrapped line here!",
        "Third",
        "- item a",
        "- item b",
    ]


def test_a_wrapped_line_may_start_with_a_bracket_before_a_lower_case_word() -> None:
    text = "A fence over 1 metre next to a road\n(or the footpath) needs consent.\n(See form B.)"
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "A fence over 1 metre next to a road\n(or the footpath) needs consent.",
        "(See form B.)",
    ]
    # A lettered or roman-numbered list item starts a line of its own.
    items = "The tenant must\n(a) pay the rent\n(b) keep the garden tidy\n(iv) sign"
    assert [items[s:e] for s, e in split_sentences(items)] == items.split("\n")


def test_a_wrapped_line_may_start_with_a_number_unless_it_is_a_list_item() -> None:
    text = "The allowance is up to\n500 euros for a monitor. Steps to claim\n1. Buy it\n2) Send it"
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "The allowance is up to\n500 euros for a monitor.",
        "Steps to claim",
        "1. Buy it",
        "2) Send it",
    ]


def test_a_wrapped_line_may_start_with_a_capital_after_a_full_width_line() -> None:
    # How PDF text and hard-wrapped files come: every line but a paragraph's last runs
    # to the same width, whatever word comes next.
    text = (
        "Opening hours\n"
        "Complaints about our service should be sent to the practice\n"
        "manager in writing, or given to our Practice Manager, Sarah\n"
        "Okafor, at the desk. Food waste caddies are collected weekly on\n"
        "Tuesdays, and garden waste every other week, from the kerb\n"
        "outside your house.\n"
        "Fees\n"
        "Rabies vaccine (three doses)      EUR 70 per dose at our clinic\n"
        "Typhoid vaccine                   EUR 40, valid three years"
    )
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "Opening hours",
        "Complaints about our service should be sent to the practice\n"
        "manager in writing, or given to our Practice Manager, Sarah\nOkafor, at the desk.",
        "Food waste caddies are collected weekly on\n"
        "Tuesdays, and garden waste every other week, from the kerb\noutside your house.",
        "Fees",
        "Rabies vaccine (three doses)      EUR 70 per dose at our clinic",
        "Typhoid vaccine                   EUR 40, valid three years",
    ]


def test_lines_written_one_per_item_stay_apart() -> None:
    # Long lines a capital follows, but the next line's first word would have fitted.
    for text in (
        "Install the package from the internal mirror server first\n"
        "Configure the service with the admin token you were given\n"
        "Restart the service and check that readyz returns ready",
        "Q: How do I reset the password of my account on the portal\n"
        "A: Use the Forgot password link on the sign-in page and follow the mail\n"
        "Q: Who do I call when the portal is down for longer than an hour",
    ):
        assert [text[s:e] for s, e in split_sentences(text)] == text.split("\n")


def test_a_title_or_reference_abbreviation_ends_no_sentence() -> None:
    text = (
        "The course leader is Dr. Amelia Hart. See Fig. 3 and No. 12 below. "
        "It takes approx. Two hours. The answer is no. 3 parts are missing. "
        "Requests time out after 500 ms. Retries follow. It opens in Sacramento, CA. "
        "It is on Main St. The owner agrees, as Smith et al. We repeat it. "
        "Ask the clerk (Ms K. Adebayo) or J. R. Hart. Plan B. It failed. Mr. J. Smith agreed."
    )
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "The course leader is Dr. Amelia Hart.",
        "See Fig. 3 and No. 12 below.",
        "It takes approx. Two hours.",
        "The answer is no.",
        "3 parts are missing.",
        "Requests time out after 500 ms.",
        "Retries follow.",
        "It opens in Sacramento, CA.",
        "It is on Main St.",
        "The owner agrees, as Smith et al.",
        "We repeat it.",
        "Ask the clerk (Ms K. Adebayo) or J. R. Hart.",
        "Plan B.",
        "It failed.",
        "Mr. J. Smith agreed.",
    ]


def test_many_abbreviations_in_one_sentence_split_in_linear_time() -> None:
    text = "see Fig. 1 and " * 100_000
    started = time.perf_counter()
    [(start, end)] = split_sentences(text)
    # Before: over 10 s; now about 0.15 s. A generous bound, to fail only when quadratic.
    assert time.perf_counter() - started < 3
    assert (start, end) == (0, len(text) - 1)


def test_overlap_must_be_smaller_than_window(embedder: Embedder) -> None:
    document = Document("p.txt", "p.txt", "P", "Text.", "text/plain", "x")
    with pytest.raises(ValueError, match=r"overlap_tokens \(64\) must be below max_tokens \(64\)"):
        chunk_document(document, embedder, max_tokens=64, overlap_tokens=64)


def test_a_huge_unpunctuated_text_is_split_in_one_pass(embedder: Embedder) -> None:
    # 20,000 wrapped lower-case lines make one "sentence"; splitting must stay linear.
    text = "\n".join(f"log line {n} went fine" for n in range(20_000))
    document = Document("log.txt", "log.txt", "Log", text, "text/plain", "x")
    chunks = chunk_document(document, embedder, max_tokens=254, overlap_tokens=0)
    counts = embedder.count_tokens([c.embed_text for c in chunks])
    assert max(counts) <= 254
    _assert_covers_all_text(text, chunks)
