"""Reading corpus files: exact text, headings, pages, and clear reasons for skips."""

import os
import sys
from pathlib import Path

import pytest

from service.documents import check_corpus, load_corpus, markdown_headings, plain_text_headings
from service.errors import CorpusNotFound
from service.models import Heading, SkippedFile
from tests.conftest import WriteFiles, make_pdf, placed_pdf, raw_pdf


def test_txt_text_is_the_file_unchanged_including_crlf(write_corpus: WriteFiles) -> None:
    raw = "Title line\r\n\r\nFirst paragraph.\r\nSecond line — café ☕.\r\n"
    corpus = write_corpus({"notes/crlf.txt": raw})
    [document] = load_corpus(corpus).documents
    assert document.document_id == "notes/crlf.txt"
    assert document.text == raw
    assert document.title == "Crlf"
    assert document.content_type == "text/plain; charset=utf-8"


def test_bom_is_dropped_and_nothing_else(write_corpus: WriteFiles) -> None:
    corpus = write_corpus({"bom.txt": b"\xef\xbb\xbfHello\nworld\n"})
    [document] = load_corpus(corpus).documents
    assert document.text == "Hello\nworld\n"


def test_markdown_headings_make_paths_and_title(write_corpus: WriteFiles) -> None:
    text = (
        "# Guide\n\nIntro.\n\n## Install\n\nSteps.\n\n```\n# not a heading\n```\n\n"
        "### On Linux\n\nApt.\n\nUsage\n-----\n\nRun it.\n"
    )
    corpus = write_corpus({"guide.md": text})
    [document] = load_corpus(corpus).documents
    assert document.title == "Guide"
    assert [(h.start, h.path) for h in document.headings] == [
        (0, ("Guide",)),
        (text.index("## Install"), ("Guide", "Install")),
        (text.index("### On Linux"), ("Guide", "Install", "On Linux")),
        (text.index("Usage"), ("Guide", "Usage")),
    ]


def test_plain_text_headings_are_underlined_or_capitals_or_numbered_lines_alone(
    write_corpus: WriteFiles,
) -> None:
    text = (
        "BURROW REFERENCE\n================\n\nThis guide covers the tool.\n\n"
        "EXIT CODES\n\n  0  Success.\n  11 Wrong password.\n\n"
        "burrow init\n-----------\n\nCreates a repository.\n\n"
        "4.2 Service intervals\n\nEvery twelve months.\n\n"
        # Capitals with a version, a colon or a slash; a question, in capitals or numbered.
        "APPENDIX A.2: BACKUP/RESTORE\n\nSee below.\n\n"
        "WHO CAN RESTORE?\n\nAny admin.\n\n5. How do I restore a file?\n\nRun it.\n\n"
        "IMPORTANT INFORMATION\n\nRead it.\n\nFY 2023/2024 BUDGET\n\nIt grew.\n\n"
        # Not headings: a sentence, a lead-in, a line that runs on, mixed case alone.
        "See the FAQ.\n\nTHE TOOL NEEDS:\n\nBACKUP NOW\nruns at once.\n\nSummary\n\nDone.\n"
    )
    corpus = write_corpus({"ref.txt": text})
    [document] = load_corpus(corpus).documents
    assert document.title == "BURROW REFERENCE"
    assert [(h.start, h.path) for h in document.headings] == [
        (0, ("BURROW REFERENCE",)),
        (text.index("EXIT CODES"), ("BURROW REFERENCE", "EXIT CODES")),
        (text.index("burrow init"), ("BURROW REFERENCE", "burrow init")),
        (text.index("4.2 Service"), ("BURROW REFERENCE", "burrow init", "4.2 Service intervals")),
        (text.index("APPENDIX"), ("BURROW REFERENCE", "APPENDIX A.2: BACKUP/RESTORE")),
        (text.index("WHO CAN"), ("BURROW REFERENCE", "WHO CAN RESTORE?")),
        (text.index("5. How"), ("BURROW REFERENCE", "5. How do I restore a file?")),
        (text.index("IMPORTANT"), ("BURROW REFERENCE", "IMPORTANT INFORMATION")),
        (text.index("FY 2023"), ("BURROW REFERENCE", "FY 2023/2024 BUDGET")),
    ]
    # Numbered sections are siblings whatever their underline.
    numbered = (
        "GUIDE\n=====\n\n3. Stage one\n============\n\nA.\n\n4. Stage two\n------------\n\nB.\n"
    )
    assert [h.path for h in plain_text_headings(numbered)] == [
        ("GUIDE",),
        ("GUIDE", "3. Stage one"),
        ("GUIDE", "4. Stage two"),
    ]
    # A saved page's first line in mixed case is no title; the file name is.
    corpus = write_corpus({"policy.txt": "You are here\n\n\nThe region adopted a plan.\n"})
    assert [d.title for d in load_corpus(corpus).documents] == ["Policy", "BURROW REFERENCE"]
    # Not headings: a list's numbered items, figures with units, a warning, indented code.
    assert (
        plain_text_headings(
            "WARNING: DO NOT EDIT BY HAND\n\nNOTE: KEEP A COPY\n\nREF: HX/2291/24\n\n"
            "TOTAL 45.00\n\nWWW.EXAMPLE.ORG\n\n"
            "To reset it:\n\n1. Unplug it\n\n2. Wait\n\n"
            "3. Plug it in\n\nIt restarts.\n\n2 eggs\n\n1.5 cups flour\n\n10 October 2024\n\n"
            "    SELECT ALL ROWS\n\nDone.\n"
        )
        == []
    )


def test_markdown_headings_ignore_fenced_code() -> None:
    assert markdown_headings("```\n# code\n```\n# Real\n") == [Heading(15, ("Real",))]


def test_html_keeps_visible_text_with_blocks_on_their_own_lines(write_corpus: WriteFiles) -> None:
    html = (
        "<html><head><title>Plant  guide</title><style>p{color:red}</style></head><body>"
        "<script>alert('x')</script><h1>Watering</h1><p>Water   <b>weekly</b>.</p>"
        "<ul><li>Morning</li><li>Evening &amp; night</li></ul><h2>Light</h2><p>Bright.</p>"
        "</body></html>"
    )
    corpus = write_corpus({"plants.html": html})
    [document] = load_corpus(corpus).documents
    assert document.text == "Watering\nWater weekly.\nMorning\nEvening & night\nLight\nBright."
    assert document.title == "Plant guide"
    assert [(h.start, h.path) for h in document.headings] == [
        (0, ("Watering",)),
        (document.text.index("Light"), ("Watering", "Light")),
    ]


def test_html_table_cells_are_apart_by_a_tab_and_rows_on_lines(write_corpus: WriteFiles) -> None:
    html = (
        "<table><tr><th>Item</th> <th>Price</th></tr>\n"
        "<tr><td>Croissant</td><td> 2.10 &euro; </td></tr>"
        "<tr><td>Flat white</td><td></td></tr></table><p>Open daily.</p>"
    )
    [document] = load_corpus(write_corpus({"menu.html": html})).documents
    assert document.text == "Item\tPrice\nCroissant\t2.10 €\nFlat white\t\nOpen daily."


def test_html_drops_the_pages_menus_header_and_footer_but_not_an_articles(
    write_corpus: WriteFiles,
) -> None:
    html = (
        "<body><header><a href='/'>Home</a> | <a href='/dl'>Download</a></header>"
        "<nav><ul><li>Docs</li><li>Blog</li></ul></nav>"
        "<article><header><h1>Release notes</h1></header><p>Version 2 adds search.</p>"
        "<footer>By the docs team.</footer></article>"
        "<footer>&copy; 2026 Example</footer></body>"
    )
    corpus = write_corpus({"notes.html": html})
    [document] = load_corpus(corpus).documents
    assert document.text == "Release notes\nVersion 2 adds search.\nBy the docs team."


def test_pdf_pages_are_joined_with_form_feeds(write_corpus: WriteFiles) -> None:
    pdf = make_pdf([["Page one text."], ["Page two text."], ["Page three."]], title="Report")
    corpus = write_corpus({"reports/plan.pdf": pdf})
    [document] = load_corpus(corpus).documents
    assert document.document_id == "reports/plan.pdf"
    assert document.paged
    assert document.title == "Report"
    assert document.text.split("\f") == ["Page one text.", "Page two text.", "Page three."]


def test_a_pdf_writers_placeholder_title_gives_way_to_the_file_name(
    write_corpus: WriteFiles,
) -> None:
    # reportlab, like many writers, stores "untitled" when the author set no title; Word
    # stores "Microsoft Word - <file name>".
    corpus = write_corpus(
        {
            "hosted-plans.pdf": make_pdf([["Plans and prices."]]),
            "price-list.pdf": make_pdf([["Prices."]], title="Microsoft Word - prices.docx"),
            # reportlab's page templates store "(anonymous)".
            "terms.pdf": make_pdf([["Terms."]], title="(anonymous)"),
        }
    )
    titles = [d.title for d in load_corpus(corpus).documents]
    assert titles == ["Hosted plans", "Price list", "Terms"]


def test_unreadable_files_are_skipped_with_reasons(write_corpus: WriteFiles) -> None:
    corpus = write_corpus(
        {
            "good.txt": "Readable.",
            "latin1.txt": "café".encode("latin-1"),
            "binary.txt": b"\x00\x01\x02\x03",
            "broken.pdf": b"%PDF-1.4\nthis is not really a pdf",
            "scanned.pdf": make_pdf([[], []]),
            "empty.md": "  \n",
            "sheet.xlsx": b"PK\x03\x04",
        }
    )
    loaded = load_corpus(corpus)
    assert [d.document_id for d in loaded.documents] == ["good.txt"]
    reasons = {s.source: s.reason for s in loaded.skipped}
    assert set(reasons) == {
        "latin1.txt", "binary.txt", "broken.pdf", "scanned.pdf", "empty.md", "sheet.xlsx"
    }  # fmt: skip
    assert reasons["latin1.txt"] == ("not UTF-8 text (byte 0xe9 at offset 3); re-save it as UTF-8")
    assert reasons["binary.txt"] == "binary file (contains NUL bytes)"
    assert reasons["broken.pdf"].startswith("broken PDF: ")
    assert reasons["scanned.pdf"] == "PDF has no extractable text (scanned images?)"
    assert reasons["empty.md"] == "no text in this file"
    assert reasons["sheet.xlsx"] == "unsupported file type '.xlsx'"


def test_links_outside_the_corpus_are_skipped_inside_followed(
    write_corpus: WriteFiles, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("Top secret.")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "more.txt").write_text("More secrets.")
    corpus = write_corpus({"real.txt": "Public text.", ".hidden.txt": "Ignored."})
    os.symlink(outside, corpus / "leak.txt")
    os.symlink(tmp_path / "elsewhere", corpus / "leakdir")
    os.symlink(corpus / "real.txt", corpus / "alias.txt")
    loaded = load_corpus(corpus)
    assert [d.document_id for d in loaded.documents] == ["alias.txt", "real.txt"]
    assert loaded.skipped == [
        SkippedFile("leak.txt", "link points outside the corpus"),
        SkippedFile("leakdir", "link points outside the corpus"),
    ]


@pytest.mark.skipif(sys.platform == "darwin", reason="APFS refuses names that are not UTF-8")
def test_a_file_name_that_is_not_utf8_is_skipped_by_a_printable_name(
    write_corpus: WriteFiles,
) -> None:
    corpus = write_corpus({"real.txt": "Public text."})
    # A Latin-1 "café.md", as a file copied from an old system is named.
    with open(os.fsencode(corpus) + b"/caf\xe9.md", "w") as file:
        file.write("# Menu\n\nCoffee.")
    loaded = load_corpus(corpus)
    assert [d.document_id for d in loaded.documents] == ["real.txt"]
    assert loaded.skipped == [
        SkippedFile("caf\ufffd.md", "file name is not valid UTF-8; rename the file")
    ]


def test_html_without_head_end_and_stray_titles(write_corpus: WriteFiles) -> None:
    corpus = write_corpus(
        {
            "no-head-end.html": "<html><head><title>T</title><body><p>Hello world.</p>",
            "svg.html": "<title>Real</title><p>Body text.</p><svg><title>Close icon</title></svg>",
            "breaks.html": "<pre>a  b\n  c</pre><p>x&nbsp;&amp;<br>y</p>",
        }
    )
    documents = {d.document_id: d for d in load_corpus(corpus).documents}
    assert (documents["no-head-end.html"].text, documents["no-head-end.html"].title) == (
        "Hello world.",
        "T",
    )
    assert (documents["svg.html"].text, documents["svg.html"].title) == ("Body text.", "Real")
    assert documents["breaks.html"].text == "a  b\n  c\nx &\ny"


def test_markdown_front_matter_and_fences_of_other_markers() -> None:
    front = "---\ntitle: Notes\ndate: 2024\n---\n\n# Heading one\n"
    assert markdown_headings(front) == [Heading(front.index("# Heading"), ("Heading one",))]
    assert markdown_headings("```\n~~~\n```\n# Real\n") == [Heading(12, ("Real",))]
    assert markdown_headings("~~~\n```\n# Not a heading\n~~~\n") == []


def test_a_corpus_that_is_a_file_is_named_as_one(tmp_path: Path) -> None:
    single = tmp_path / "notes.txt"
    single.write_text("Text.")
    with pytest.raises(CorpusNotFound, match=r"must be a folder of documents; .*notes\.txt is a"):
        check_corpus(single)
    with pytest.raises(CorpusNotFound, match="Corpus folder not found"):
        check_corpus(tmp_path / "missing")


def test_pdf_headings_are_the_lines_set_larger_than_the_text(write_corpus: WriteFiles) -> None:
    pdf = make_pdf(
        [
            [(20, "Annual Report 2024"), "Revenue reached 231 million euros.", "Costs rose less."],
            [
                (15, "Outlook for 2025"),
                "We expect revenue growth of 8 percent.",
                (14, "2.1 Risks"),
                "Supply risk remains.",
                # Larger, but a sentence: emphasis, not a heading.
                (15, "This warning is set large."),
            ],
        ]
    )
    plain = make_pdf([["Intro.", "Body text."]])  # one size throughout: no headings
    loaded = load_corpus(write_corpus({"report.pdf": pdf, "plain.pdf": plain})).documents
    documents = {d.document_id: d for d in loaded}
    document = documents["report.pdf"]
    found = [
        (document.text[h.start : h.start + len(h.path[-1])], h.path) for h in document.headings
    ]
    assert found == [
        ("Annual Report 2024", ("Annual Report 2024",)),
        ("Outlook for 2025", ("Annual Report 2024", "Outlook for 2025")),
        ("2.1 Risks", ("Annual Report 2024", "Outlook for 2025", "2.1 Risks")),
    ]
    assert documents["plain.pdf"].headings == ()


def test_pdf_running_headers_and_footers_are_dropped_page_numbers_aside(
    write_corpus: WriteFiles,
) -> None:
    def page(number: int) -> list[str | tuple[float, str]]:
        body = [f"Clause {number}.{n} of the tenancy sets a rule for tenants." for n in range(6)]
        heading = (18.0, f"Part {number}")  # headings are found in the text left
        return [f"Millbrook Homes | Tenancy agreement | Page {number}", heading, *body, "MB1"]

    corpus = write_corpus({"agreement.pdf": make_pdf([page(1), page(2)])})
    [document] = load_corpus(corpus).documents
    pages = document.text.split("\f")
    assert [p.split("\n") for p in pages] == [
        ["Part 1", *page(1)[2:-1]],
        ["Part 2", *page(2)[2:-1]],
    ]
    assert [(document.text[h.start : h.start + 6], h.path) for h in document.headings] == [
        ("Part 1", ("Part 1",)),
        ("Part 2", ("Part 2",)),
    ]


def test_a_pdf_table_keeps_its_rows_and_two_columns_of_prose_their_order(
    write_corpus: WriteFiles,
) -> None:
    rows = [("Scheme", "Bedrooms", "Weekly rent"), ("Weaver Court", "1", "£101.06")]
    rows += [("Riverside Mews", "3", "£138.49")]
    table = [(72.0, 720.0, "Weekly rents by scheme, from April 2025.")] + [
        (x, 690.0 - 18 * i, cell)
        for i, row in enumerate(rows)
        for x, cell in zip((72.0, 220.0, 340.0), row, strict=True)
    ]
    # Each column's lines are drawn in reading order: left column first. The right one
    # is short, as a page's last column often is.
    left = [
        "The committee met on 3 March",
        "and approved the new depot",
        "at a cost of four million.",
        *(f"Line {n} of the minutes goes on here." for n in range(9)),
    ]
    right = [
        "Residents asked whether the",
        "depot would raise traffic on",
        "the ring road at night.",
    ]
    columns = [(72.0, 700.0 - 16 * i, line) for i, line in enumerate(left)]
    columns += [(320.0, 700.0 - 16 * i, line) for i, line in enumerate(right)]
    # A table of two columns whose wordy rows look like prose side by side: plain reads
    # their cells across, not down, so the rows stay.
    terms = [("Rent", "Monthly"), ("Deposit", "Five weeks")]
    terms += [("Fixed term of the tenancy", "The first twelve months of it")]
    terms += [("Periodic tenancy after that", "A rolling month by month term")]
    two_cells = [
        (x, 700.0 - 18 * i, cell)
        for i, row in enumerate(terms)
        for x, cell in zip((72.0, 320.0), row, strict=True)
    ]
    corpus = write_corpus(
        {
            "rents.pdf": placed_pdf([table]),
            "minutes.pdf": placed_pdf([columns]),
            "terms.pdf": placed_pdf([two_cells]),
        }
    )
    documents = {d.document_id: d for d in load_corpus(corpus).documents}
    # A row is one line, its cells apart by spaces (plain extraction gives a cell a line).
    rents = documents["rents.pdf"].text.split("\n")
    assert [line.split("  ")[0] for line in rents[1:]] == [
        "Scheme",
        "Weaver Court",
        "Riverside Mews",
    ]
    assert " ".join(rents[3].split()) == "Riverside Mews 3 £138.49"
    # Laid out, prose side by side would interleave: its text stays in reading order.
    assert documents["minutes.pdf"].text.split("\n") == left + right
    rows = documents["terms.pdf"].text.split("\n")
    assert [" ".join(row.split()) for row in rows] == [" ".join(row) for row in terms]


def test_pdf_headings_never_cost_a_page_and_skip_running_headers(write_corpus: WriteFiles) -> None:
    text = b"BT /F1 12 Tf 72 700 Td (Page one has text) Tj ET"
    # An inline image with no end, on a page without text: the plain extraction skips it.
    broken = b"q 100 0 0 100 72 500 cm BI /W 4 /H 4 /BPC 8 /CS /G ID \x00\x01\x02\x03"
    # A negative size with a flipped matrix sets the text upright, at 10 and 16 points.
    flipped = (
        b"BT /F1 -16 Tf -1 0 0 -1 300 700 Tm (Price List) Tj ET "
        b"BT /F1 -10 Tf -1 0 0 -1 300 650 Tm (Widgets cost ten euros each) Tj ET "
        b"BT /F1 -10 Tf -1 0 0 -1 300 630 Tm (Gadgets cost five euros each) Tj ET"
    )
    header = (16, "Widget Corp Confidential")
    body = "Sales grew in every month of the quarter, led by the new cordless range."
    pages = [[header, (18, f"Region {i}"), body, body] for i in range(3)]
    corpus = write_corpus(
        {
            "broken.pdf": raw_pdf([text, broken]),
            "flipped.pdf": raw_pdf([flipped]),
            "running.pdf": make_pdf(pages),
        }
    )
    documents = {d.document_id: d for d in load_corpus(corpus).documents}
    assert documents["broken.pdf"].text == "Page one has text\f"
    assert [h.path for h in documents["flipped.pdf"].headings] == [("Price List",)]
    assert [h.path for h in documents["running.pdf"].headings] == [
        ("Region 0",),
        ("Region 1",),
        ("Region 2",),
    ]
