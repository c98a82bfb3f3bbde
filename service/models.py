"""Plain records that flow corpus -> chunks -> vectors -> index -> search -> passages."""

from dataclasses import dataclass, field
from typing import Literal


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
class Highlight:
    """A span of a document (code point offsets, like a citation's) that answers the question."""

    start: int
    end: int


@dataclass(frozen=True)
class Passage:
    """One ranked answer: the source text itself, its scores, citation and highlights."""

    rank: int
    score: float
    chunk_id: str
    text: str
    citation: Citation
    # Cosine similarity of question and passage: comparable across questions, so it can
    # carry the threshold that decides `answer_found` (a fused rank score cannot).
    confidence: float = 0.0
    highlights: tuple[Highlight, ...] = ()


@dataclass(frozen=True)
class SearchResult:
    """What every search returns, for the CLI, the API and eval alike."""

    question: str
    passages: list[Passage]
    index_version: str
    took_ms: float
    # Whether a highlighted passage's confidence reaches the threshold, and the passages
    # do not lack what the question asks for (see answerable.lacks_answer).
    answer_found: bool = False


Mode = Literal["hybrid", "dense", "keyword"]
Fusion = Literal["weighted", "rrf"]


@dataclass(frozen=True)
class Retrieval:
    """How search ranks and when it says an answer was found."""

    mode: Mode = "hybrid"
    fusion: Fusion = "weighted"
    # Weight of the dense score in weighted fusion; the keyword score gets the rest.
    dense_weight: float = 0.7
    rrf_k: int = 60
    # Hybrid only: share of a passage's keyword score that comes from its block's BM25
    # (its document, or the part of a long one around it; the rest is the passage's
    # own): the words around a passage say what it is about.
    document_weight: float = 0.8
    # Hybrid only: when the question names a year ("at the end of 2024"), passages about
    # it (their deepest heading naming a year, else their title) move up by this share of
    # the fused scores' spread, so the 2024 report beats the 2023 one's outlook for 2024.
    # 0 turns it off.
    year_boost: float = 0.2
    # Hybrid only: likewise for a code or model number the question names ("CS101",
    # "X200"): passages whose title or headings name it move up by this share, so the
    # X200 manual beats the X300's "unlike the X200". 0 turns it off.
    code_boost: float = 0.1
    # Chunks each signal contributes before fusion (at least k).
    candidates: int = 100
    # `answer_found` when a highlighted passage's confidence reaches this (and the
    # passages do not lack what the question asks for).
    answer_threshold: float = 0.3
    # Passages that get a highlight and a sentence-level confidence: those a reader looks
    # at. Each costs one small embedding batch; past them, confidence is the passage's
    # cosine alone. 0 turns highlights off (eval's fast ranking runs).
    highlighted: int = 5
    # Second stage: the first passages (those highlighted) are re-ordered by their score
    # plus this times their best sentence's cosine (which their highlight computes anyway)
    # in units of the first-stage scores' spread: a passage with one sentence that
    # answers moves up. 0 keeps the first-stage order; 0.4 was chosen on SciFact train
    # (scripts/bench_scifact.py).
    rescore_weight: float = 0.4

    def __post_init__(self) -> None:
        if self.mode not in ("hybrid", "dense", "keyword"):
            raise ValueError(f"mode ({self.mode!r}) must be hybrid, dense or keyword")
        if self.fusion not in ("weighted", "rrf"):
            raise ValueError(f"fusion ({self.fusion!r}) must be weighted or rrf")
        if not 0 <= self.dense_weight <= 1:
            raise ValueError(f"dense_weight ({self.dense_weight}) must be between 0 and 1")
        if not 0 <= self.document_weight <= 1:
            raise ValueError(f"document_weight ({self.document_weight}) must be between 0 and 1")
        if self.year_boost < 0:
            raise ValueError(f"year_boost ({self.year_boost}) must not be negative")
        if self.code_boost < 0:
            raise ValueError(f"code_boost ({self.code_boost}) must not be negative")
        if self.highlighted < 0:
            raise ValueError(f"highlighted ({self.highlighted}) must not be negative")
        if self.rescore_weight < 0:
            raise ValueError(f"rescore_weight ({self.rescore_weight}) must not be negative")
        if self.candidates < 1:
            raise ValueError(f"candidates ({self.candidates}) must be at least 1")
