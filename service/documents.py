"""Corpus files -> Documents: the exact text herein cites, with headings and pages."""

import codecs
import hashlib
import math
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from io import BytesIO
from itertools import pairwise
from pathlib import Path
from typing import Any

from service.errors import CorpusNotFound, UnreadableDocument
from service.keywords import ANY_YEAR
from service.models import Document, Heading, SkippedFile

CONTENT_TYPES = {
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".markdown": "text/markdown; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".pdf": "application/pdf",
}


@dataclass(frozen=True)
class CorpusFile:
    """A file in the corpus folder; `source` is its path relative to the corpus, with `/`."""

    source: str
    path: Path
    size: int
    mtime_ns: int


def check_corpus(corpus_dir: Path) -> None:
    """Raise CorpusNotFound unless the corpus folder exists."""
    if corpus_dir.exists() and not corpus_dir.is_dir():
        raise CorpusNotFound(f"The corpus must be a folder of documents; {corpus_dir} is a file")
    if not corpus_dir.is_dir():
        raise CorpusNotFound(f"Corpus folder not found: {corpus_dir}")


def scan_corpus(corpus_dir: Path) -> tuple[list[CorpusFile], list[SkippedFile]]:
    """Every visible file under the corpus (sorted), and the links that leave it.

    Hidden files and folders (dot names) are ignored. A link is followed only when
    it points inside the corpus.
    """
    check_corpus(corpus_dir)
    root = corpus_dir.resolve()
    files: list[CorpusFile] = []
    skipped: list[SkippedFile] = []
    for path in _walk(corpus_dir):
        source = path.relative_to(corpus_dir).as_posix()
        if not _is_utf8(source):
            # Sources are stored and served as UTF-8; named by what can be shown.
            shown = source.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            skipped.append(SkippedFile(shown, "file name is not valid UTF-8; rename the file"))
            continue
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            skipped.append(SkippedFile(source, "link points outside the corpus"))
            continue
        if path.is_dir():
            continue  # a link to a folder inside the corpus: its files are already walked
        try:
            stat = path.stat()
        except OSError as error:
            skipped.append(SkippedFile(source, f"cannot read: {error.strerror}"))
            continue
        files.append(CorpusFile(source, path, stat.st_size, stat.st_mtime_ns))
    return files, skipped


def _is_utf8(name: str) -> bool:
    # os.walk hands undecodable bytes of a file name back as lone surrogates.
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _walk(folder: Path) -> Iterator[Path]:
    # os.walk without following links, so a link to a folder cannot loop or escape.
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        names = filenames + [d for d in dirnames if (here / d).is_symlink()]
        for name in sorted(names):
            if not name.startswith("."):
                yield here / name


@dataclass(frozen=True)
class Corpus:
    """A corpus as read: its documents, the files skipped with why, and every file seen."""

    documents: list[Document]
    skipped: list[SkippedFile]
    files: list[CorpusFile]


def load_corpus(corpus_dir: Path) -> Corpus:
    """Read every file of the corpus; unreadable ones are skipped with their reason."""
    files, skipped = scan_corpus(corpus_dir)
    documents: list[Document] = []
    for file in files:
        try:
            documents.append(load_document(file.path, file.source))
        except UnreadableDocument as error:
            skipped.append(SkippedFile(file.source, str(error)))
    skipped.sort(key=lambda s: s.source)
    return Corpus(documents, skipped, files)


def load_document(path: Path, source: str) -> Document:
    """Read one file as a Document; raises UnreadableDocument with the reason."""
    suffix = path.suffix.lower()
    if suffix not in CONTENT_TYPES:
        raise UnreadableDocument(f"unsupported file type '{suffix or path.name}'")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UnreadableDocument(f"cannot read: {error.strerror}") from error
    sha256 = hashlib.sha256(data).hexdigest()
    content_type = CONTENT_TYPES[suffix]
    fallback_title = title_from_name(path)
    if suffix == ".pdf":
        text, title, outline = _read_pdf(data)
        return Document(
            source, source, title or fallback_title, text, content_type, sha256, True, outline
        )
    if suffix in (".html", ".htm"):
        parser = _HTMLText()
        parser.feed(decode_text(data))
        parser.close()
        text, headings = parser.result()
        title = parser.title or (headings[0].path[-1] if headings else "") or fallback_title
        _require_text(text)
        return Document(source, source, title, text, content_type, sha256, headings=tuple(headings))
    text = decode_text(data)
    _require_text(text)
    if suffix in (".md", ".markdown"):
        headings = markdown_headings(text)
        title = next((h.path[0] for h in headings if len(h.path) == 1), fallback_title)
        return Document(source, source, title, text, content_type, sha256, headings=tuple(headings))
    headings = plain_text_headings(text)
    # The first line, when it is a heading, is the title ("BURROW COMMAND-LINE REFERENCE").
    opening = bool(headings) and not text[: headings[0].start].strip()
    title = headings[0].path[0] if opening else fallback_title
    return Document(source, source, title, text, content_type, sha256, headings=tuple(headings))


def title_from_name(path: Path) -> str:
    """A readable title from a file name: `industrial-policy.txt` -> `Industrial policy`."""
    words = re.sub(r"[-_]+", " ", path.stem).strip()
    return words[:1].upper() + words[1:] if words else path.name


def decode_text(data: bytes) -> str:
    """The file's text, unchanged but for a dropped byte-order mark.

    No newline translation: offsets must count the file's own characters.
    """
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(codec)
            except UnicodeDecodeError as error:
                raise UnreadableDocument(f"not valid UTF-16 text: {error.reason}") from error
    if b"\x00" in data:
        raise UnreadableDocument("binary file (contains NUL bytes)")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableDocument(
            f"not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
            "re-save it as UTF-8"
        ) from error


def _require_text(text: str) -> None:
    if not text.strip():
        raise UnreadableDocument("no text in this file")


# Titles PDF writers put in when the author gave none (reportlab's canvas and its page
# templates, LaTeX, printers); Word writes "Microsoft Word - <file name>".
_PLACEHOLDER_TITLES = frozenset({"untitled", "untitled document", "document", "(anonymous)"})


def _read_pdf(data: bytes) -> tuple[str, str, tuple[Heading, ...]]:
    # pypdf raises many exception types for broken files; any of them means "skip".
    from pypdf import PdfReader

    try:
        reader = PdfReader(BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument("encrypted PDF")
        pages, sizes, characters = [], [], Counter[float]()
        for page in reader.pages:
            text, lines, counted = _page_text(page)
            pages.append(text)
            sizes.append(lines)
            characters.update(counted)
        title = str(reader.metadata.get("/Title") or "").strip() if reader.metadata else ""
        if title.lower() in _PLACEHOLDER_TITLES or title.lower().startswith("microsoft word - "):
            title = ""  # a PDF tool's default, not the author's: the file name says more
    except UnreadableDocument:
        raise
    except Exception as error:
        raise UnreadableDocument(f"broken PDF: {error}") from error
    pages = _without_running_lines(pages)
    text = "\f".join(pages)
    if not text.strip():
        raise UnreadableDocument("PDF has no extractable text (scanned images?)")
    try:
        headings = pdf_headings(pages, sizes, characters)
    except Exception:  # headings are a help: a PDF they fail on is still read
        headings = ()
    return text, title, headings


# A page's first and last lines that may be its running header and footer; on pages of
# fewer lines, the body itself could repeat there.
_EDGE_LINES = 2
_MIN_PAGE_LINES = 7


def _without_running_lines(pages: list[str]) -> list[str]:
    """The pages without their running headers and footers: a line among the first or
    last two of most pages (two at least), the same on each; or the first or last line
    but for the page's own number ("Page 2 of 5"). Left in, they make passages of their
    own, and highlights of an address or a title."""
    if len(pages) < 2:
        return pages

    def keys(number: int, lines: list[str]) -> dict[int, str]:
        """Each edge line's key: its words, and for the outermost two the page's number
        replaced (as "#")."""
        filled = [i for i, line in enumerate(lines) if line.strip()]
        if len(filled) < _MIN_PAGE_LINES:
            return {}
        found = {
            i: " ".join(lines[i].split()) for i in filled[:_EDGE_LINES] + filled[-_EDGE_LINES:]
        }
        for i in (filled[0], filled[-1]):
            found[i] = re.sub(rf"(?<![\w.]){number}(?![\w.])", "#", found[i])
        return found

    split = [page.split("\n") for page in pages]
    edges = [keys(number, lines) for number, lines in enumerate(split, start=1)]
    counts = Counter(key for page in edges for key in set(page.values()))
    running = {key for key, n in counts.items() if n >= max(2, len(pages) / 2)}
    kept = []
    for lines, keyed in zip(split, edges, strict=True):
        dropped = {i for i, key in keyed.items() if key in running}
        kept.append("\n".join(line for i, line in enumerate(lines) if i not in dropped))
    return kept


# A PDF line set this much larger than most of the text is a heading; a longer line, or
# one that ends a sentence, is emphasised text.
HEADING_SCALE = 1.15
_HEADING_MAX_CHARS = 120


def _page_text(page: Any) -> tuple[str, dict[str, float], Counter[float]]:
    """A PDF page's text; the size each of its lines is set in (the largest of its
    characters'), by the line's words; and how many characters are set in each size.

    The text is pypdf's layout extraction, as the page sets it out (see _laid_out). The
    sizes come from a second pass with a visitor, only on a page that has text (the
    visitor makes pypdf parse every page, which is slow on drawings and fails on some
    streams the plain pass skips); a page whose second pass fails has no sizes, so no
    headings.
    """
    text = _laid_out(page, (page.extract_text() or "").replace("\f", "\n").rstrip())
    if not text.strip():
        return text, {}, Counter()
    try:
        return text, *_line_sizes(page)
    except Exception:  # pypdf's many errors: headings are a help, never a failure
        return text, {}, Counter()


# Prose side by side on one line, as a page of columns is laid out: four words or more,
# a wide gap, four words or more. Exact counts: open ones backtrack on long lines.
_SIDE_BY_SIDE = re.compile(r"(?<!\S)\S+(?: \S+){3} {4,}\S+(?: \S+){3}")
_WIDE_GAP = re.compile(r" {4,}")


def _laid_out(page: Any, plain: str) -> str:
    """The page's text as it is laid out, each table row on one line with its cells
    apart by spaces (plain extraction gives a cell per line, so the reader, the
    chunker and the highlight lose which figure is in which row); else `plain`.

    A line that plain extraction gives whole too (prose, a list item) keeps plain's
    single spaces: loosely justified words are no table's columns. Plain stays for a
    page laid out with prose side by side that plain reads down, not across as a
    table row's cells (columns: two such lines of two parts, or a third of the page),
    for a page whose layout loses any character (rotated text is left out), and for a
    page layout extraction fails on."""
    try:
        laid = page.extract_text(extraction_mode="layout", layout_mode_space_vertically=False) or ""
    except Exception:  # pypdf's many errors: the plain text is still the page's text
        return plain
    read = [" ".join(line.split()) for line in plain.split("\n")]
    whole, across = set(read), set(pairwise(read))
    lines = []
    for line in laid.replace("\f", "\n").split("\n"):
        words = " ".join(line.split())
        lines.append(words if words in whole else line.rstrip())
    filled = [line for line in lines if line]
    # Prose side by side that plain reads down, not across as a table row's cells.
    columns = [
        parts
        for parts in (
            _WIDE_GAP.split(line.strip()) for line in filled if _SIDE_BY_SIDE.search(line)
        )
        if not all(pair in across for pair in pairwise(parts))
    ]
    text = "\n".join(lines).strip("\n")
    if (
        not filled
        or sum(len(parts) == 2 for parts in columns) >= 2
        or len(columns) > len(filled) / 3
        or _non_space(plain) - _non_space(text)
    ):
        return plain
    return text


def _non_space(text: str) -> Counter[str]:
    return Counter(character for character in text if not character.isspace())


def _line_sizes(page: Any) -> tuple[dict[str, float], Counter[float]]:
    fragments: list[tuple[str, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        # The size on the page: the font size through the text and the page matrices.
        try:
            determinant = (tm[0] * tm[3] - tm[1] * tm[2]) * (cm[0] * cm[3] - cm[1] * cm[2])
            # abs: a size may be negative, set with a flipped matrix.
            scaled = abs(float(size)) * math.sqrt(abs(determinant))
            fragments.append((str(text), round(scaled, 1)))
        except (TypeError, ValueError, IndexError):
            fragments.append((str(text), 0.0))  # a size pypdf could not give: no heading

    page.extract_text(visitor_text=visit)
    lines: dict[str, float] = {}
    characters: Counter[float] = Counter()
    line, size = "", 0.0
    for fragment, fragment_size in [*fragments, ("\n", 0.0)]:
        characters[fragment_size] += len(fragment.strip())
        for i, part in enumerate(fragment.split("\n")):
            if i and line.strip():
                key = " ".join(line.split())
                lines[key] = max(lines.get(key, 0.0), size)
            if i:
                line, size = "", 0.0
            line += part
            if part.strip():
                size = max(size, fragment_size)
    return lines, characters


def pdf_headings(
    pages: Sequence[str], sizes: Sequence[dict[str, float]], characters: Counter[float]
) -> tuple[Heading, ...]:
    """The headings of a PDF's text (its pages joined with "\f"): lines set at least
    HEADING_SCALE times larger than most of its characters, short and not ending a
    sentence; the larger the size, the higher the level."""
    body = characters.most_common(1)[0][0] if characters else 0.0
    if body <= 0:
        return ()
    # A line on most pages (three at least) is a running header, not a section's start.
    on_pages = Counter(line for page in sizes for line in page)
    running = {line for line, n in on_pages.items() if n >= max(3, len(pages) / 2)}

    def is_heading(line: str, size: float) -> bool:
        return (
            size >= HEADING_SCALE * body
            and line not in running
            and len(line) <= _HEADING_MAX_CHARS
            and any(c.isalpha() for c in line)
            and not line.endswith((".", ",", ";"))
        )

    levels = sorted(
        {s for page in sizes for line, s in page.items() if is_heading(line, s)}, reverse=True
    )
    headings: list[Heading] = []
    stack: list[tuple[int, str]] = []
    offset = 0
    for text, page in zip(pages, sizes, strict=True):
        for line in text.split("\n"):
            title = " ".join(line.split())  # as the sizes' keys: a layout's gaps closed
            size = page.get(title, 0.0)
            if title and is_heading(title, size):
                start = offset + len(line) - len(line.lstrip())
                headings.append(Heading(start, nest(stack, levels.index(size) + 1, title)))
            offset += len(line) + 1  # and its "\n", or the page's "\f"
    return tuple(headings)


_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n.*?^(?:---|\.\.\.)[ \t]*$\r?\n?", re.S | re.M)


def nest(stack: list[tuple[int, str]], level: int, title: str) -> tuple[str, ...]:
    """The heading path of a heading of this level: the stack of open headings, cut to
    those of a higher level, then this one (the stack is updated in place)."""
    while stack and stack[-1][0] >= level:
        stack.pop()
    stack.append((level, title))
    return tuple(t for _, t in stack)


def markdown_headings(text: str) -> list[Heading]:
    """ATX (`# Title`) and setext (underlined) headings, with their full paths.

    Fenced code and a leading YAML front-matter block hold no headings.
    """
    headings: list[Heading] = []
    stack: list[tuple[int, str]] = []
    fence = ""  # the marker of the open code fence, if any
    front_matter = _FRONT_MATTER.match(text)
    offset = front_matter.end() if front_matter else 0
    previous: tuple[int, str] | None = None  # (offset, text) of the last plain line
    for line in text[offset:].splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        level, title, start = 0, "", offset
        if marker := _FENCE.match(bare):
            opening = marker.group(1)
            if not fence:
                fence = opening
            elif opening[0] == fence[0] and len(opening) >= len(fence):
                fence = ""
        elif not fence and (atx := _ATX.match(bare)):
            level, title = len(atx.group(1)), atx.group(2).strip()
        elif not fence and previous and (setext := _SETEXT.match(bare)):
            level = 1 if setext.group(1).startswith("=") else 2
            start, title = previous
        if level:
            headings.append(Heading(start, nest(stack, level, title)))
            previous = None
        else:
            plain = bare.strip() and not fence and not _FENCE.match(bare)
            previous = (offset, bare.strip()) if plain else None
        offset += len(line)
    return headings


# A plain-text heading standing alone between blank lines: in capitals ("EXIT CODES",
# "APPENDIX A.2: FEES", "WHO CAN APPLY?": letters, digits and a few marks, no code's
# signs), or numbered as a section ("Part 3. Parties", "4.2 Service intervals", "1.
# Introduction"), and short, not ending as a sentence or a lead-in does. Group "number"
# is a section number.
_CAPITALS = re.compile(r"(?=.*[A-Z]{3})[A-Z0-9][A-Z0-9 ,.:/&'()\u2013-]{3,79}\??")
_NUMBERED = re.compile(
    r"(?:(?i:part|chapter|section|article|appendix|annex|schedule) [0-9IVXLC]+[.:]?"
    r"|(?P<number>\d{1,2}(?:\.\d{1,2}){1,3}\.?|\d{1,2}[.)])) +[A-Z].{0,70}"
)
# A line ending so runs on, or is a sentence; one ending in "?" may head a FAQ's answer.
_UNFINISHED = tuple(".,;:!")
# A label and its value are no section: "WARNING: DO NOT EDIT", "REF: HX/2291" (one
# word before a colon), "TOTAL 45.00" (too few letters), "WWW.EXAMPLE.ORG" (one word
# with "." or "/").
_LABEL = re.compile(r"[A-Z]+ ?:")
_MIN_LETTERS = 0.6


def _is_capitals_heading(line: str) -> bool:
    """Whether a line standing alone is a heading in capitals (see _CAPITALS and _LABEL);
    a year counts as a word ("FY 2023/2024 BUDGET")."""
    wordy = ANY_YEAR.sub("", line).replace(" ", "")
    letters = sum(character.isalpha() for character in wordy)
    return (
        bool(_CAPITALS.fullmatch(line))
        and not _LABEL.match(line)
        and (" " in line or not any(mark in line for mark in "./"))
        and letters >= _MIN_LETTERS * len(wordy)
    )


def _section_depth(line: str) -> int:
    """How deep a numbered section's line is ("Part 3" and "4." 1, "4.2" 2); 0 for a line
    that is no numbered section."""
    numbered = _NUMBERED.fullmatch(line)
    if not numbered:
        return 0
    return len(re.findall(r"\d+", numbered.group("number") or "1"))


def plain_text_headings(text: str) -> list[Heading]:
    """Headings of plain text, by the conventions text files keep: a flush-left line
    underlined with === or --- (level 1 or 2, as in Markdown), or one standing alone
    between blank lines that is in capitals (level 2) or numbered as a section (level 2,
    and one more for each level of its number: "4.2" is 3), and ends no sentence but
    may ask a question (a FAQ's). The first line, when it is a heading, is the
    document's title (level 1).

    Mixed-case lines never count ("You are here" atop a saved web page is no title), nor
    numbered lines next to another of the same depth: a list's items ("1. Unplug it").
    """
    lines = text.splitlines(keepends=True)
    bare = [line.strip() for line in lines]
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    filled = [i for i, line in enumerate(bare) if line]
    levels: dict[int, int] = {}
    depths: dict[int, int] = {}  # numbered lines' depths, to tell a list from sections
    for i in filled:
        line = bare[i]
        alone = i == 0 or not bare[i - 1]
        if not alone or lines[i][:1].isspace() or len(line) > 100:
            continue
        below = bare[i + 1] if i + 1 < len(bare) else ""
        depth = _section_depth(line)
        if (underline := _SETEXT.match(below)) and len(below) >= 3:
            # A section's number says its level better than its underline: writers
            # underline siblings alike no more than they must ("3." with ===, "4." with ---).
            if depth:
                levels[i] = 1 + depth
            else:
                levels[i] = 1 if underline.group(1).startswith("=") else 2
        elif not below and not line.endswith(_UNFINISHED):
            if depth:
                depths[i] = depth
                levels[i] = 1 + depth
            elif _is_capitals_heading(line):
                levels[i] = 2
    for before, i, after in zip([-1, *filled[:-1]], filled, [*filled[1:], -1], strict=True):
        if i in depths and depths[i] in (depths.get(before, 0), depths.get(after, 0)):
            del levels[i]  # a list item: its neighbour is numbered as deep
    headings: list[Heading] = []
    stack: list[tuple[int, str]] = []
    for i, level in sorted(levels.items()):
        level = 1 if i == filled[0] else level
        start = starts[i] + len(lines[i]) - len(lines[i].lstrip())
        headings.append(Heading(start, nest(stack, level, bare[i])))
    return headings


_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
        "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p",
        "pre", "section", "summary", "table", "tbody", "thead", "tfoot", "tr", "ul",
    }
)  # fmt: skip
# Not "head": its end tag is optional, and a page without one would lose all its text.
_HIDDEN_TAGS = frozenset(
    {"title", "script", "style", "noscript", "template", "svg", "iframe", "object", "nav"}
)
# A page's own header and footer are site chrome (logo, menu, copyright) that would
# otherwise be indexed as a passage; inside an article or main they are content.
_CHROME_TAGS = frozenset({"header", "footer"})
_CONTENT_TAGS = frozenset({"article", "main"})
_HEADING_TAGS = {f"h{n}": n for n in range(1, 7)}


class _HTMLText(HTMLParser):
    """The visible text of a page: hidden elements dropped, blocks on their own lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.length = 0
        self.hidden = 0
        self.pre = 0
        self.title = ""
        self.in_title = False
        self.heading: tuple[int, int, list[str]] | None = None  # level, start, words
        self.stack: list[tuple[int, str]] = []
        self.headings: list[Heading] = []
        self.content = 0  # open <article> and <main> elements
        self.chrome: list[bool] = []  # per open header/footer: whether it hides its text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # The page's own <title>, not one inside an <svg>.
        self.in_title = tag == "title" and not self.hidden and not self.title
        if tag in _HIDDEN_TAGS:
            self.hidden += 1
        if tag in _CONTENT_TAGS:
            self.content += 1
        if tag in _CHROME_TAGS:
            self.chrome.append(not self.content)
            self.hidden += not self.content
        if tag in _BLOCK_TAGS:
            self._newline()
        if tag in ("td", "th"):
            self._break("\t")
        if tag == "pre":
            self.pre += 1
        if tag in _HEADING_TAGS and not self.hidden:
            self.heading = (_HEADING_TAGS[tag], self.length, [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in _HIDDEN_TAGS:
            self.hidden = max(0, self.hidden - 1)
        if tag in _CONTENT_TAGS:
            self.content = max(0, self.content - 1)
        if tag in _CHROME_TAGS and self.chrome:
            self.hidden = max(0, self.hidden - self.chrome.pop())
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        if tag in _HEADING_TAGS and self.heading:
            level, start, words = self.heading
            title = " ".join(" ".join(words).split())
            if title:
                self.headings.append(Heading(start, nest(self.stack, level, title)))
            self.heading = None
        if tag in _BLOCK_TAGS:
            self._newline()

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title = " ".join((self.title + " " + data).split())
        if self.hidden:
            return
        if not self.pre:
            # Browsers collapse runs of white space outside <pre>.
            data = re.sub(r"\s+", " ", data)
            if not self.parts or self.parts[-1].endswith(("\n", "\t")):
                data = data.lstrip(" ")
        if not data:
            return
        if self.heading:
            self.heading[2].append(data)
        self._emit(data)

    def _newline(self) -> None:
        self._break("\n")

    def _break(self, separator: str) -> None:
        """End the line, or (with a tab) the table cell, unless nothing stands before it.

        Cells are apart as in a browser's innerText: "Croissant\t2.10 €", not
        "Croissant2.10 €", which no question's words would match.
        """
        if self.parts and not self.parts[-1].endswith(("\n", separator)):
            last = self.parts[-1]
            self.parts[-1] = last.rstrip(" ")
            self.length -= len(last) - len(self.parts[-1])
            self._emit(separator)

    def _emit(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def result(self) -> tuple[str, list[Heading]]:
        text = "".join(self.parts).rstrip()
        return text, self.headings
