"""Plain records that flow corpus -> chunks -> vectors -> index -> search -> passages."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Heading:
    """A heading found in a document: where it starts and its path (outermost first)."""

    start: int
    path: tuple[str, ...]


@dataclass(frozen=True)
class Document:
    """A document's text as herein cites it: offsets are code points into `text`."""

    document_id: str
    source: str
    title: str
    text: str
    content_type: str
    sha256: str
    # Only PDFs have pages; their text is the pages' text joined with "\f".
    paged: bool = False
    headings: tuple[Heading, ...] = ()


@dataclass(frozen=True)
class SkippedFile:
    """A corpus file that was not indexed, and why."""

    source: str
    reason: str


@dataclass(frozen=True)
class Chunk:
    """A window of a document; `document.text[start:end] == text` exactly."""

    chunk_id: str
    document_id: str
    text: str
    start: int
    end: int
    line_start: int
    line_end: int
    page: int | None
    page_end: int | None
    heading: tuple[str, ...]
    # What the model embeds: title and heading context, then the text.
    embed_text: str = field(repr=False, default="")


@dataclass(frozen=True)
class Citation:
    """Where a passage comes from, precisely enough to find it again."""

    document_id: str
    source: str
    title: str
    start: int
    end: int
    line_start: int
    line_end: int
    page: int | None
    page_end: int | None
    heading: tuple[str, ...]


@dataclass(frozen=True)
class Passage:
    """One ranked answer: the source text itself, its score and its citation."""

    rank: int
    score: float
    chunk_id: str
    text: str
    citation: Citation


@dataclass(frozen=True)
class SearchResult:
    """What every search returns, for the CLI, the API and eval alike."""

    question: str
    passages: list[Passage]
    index_version: str
    took_ms: float
