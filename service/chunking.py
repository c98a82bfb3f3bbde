"""Documents -> Chunks: sentence-aware, overlapping windows that fit the model."""

import re
from bisect import bisect_left
from collections.abc import Sequence
from typing import Protocol

from service.models import Chunk, Document

Span = tuple[int, int]


class Tokenizer(Protocol):
    """Counts word pieces the way the embedding model does, without truncation."""

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        "Word pieces in each text, special tokens excluded"

    def token_spans(self, text: str) -> list[Span]:
        "Character spans of the text's word pieces"


# A sentence ends at . ! ? (and closing quotes or brackets) before white space and
# a character that is not a lower-case letter, so "e.g. this" stays one sentence.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+")
_LINE_END = re.compile(r"[\r\n]")
_NEWLINE = re.compile(r"\n")
# A line break before a capital is wrapped prose only after a line at least this long
# that the next line's first word would not have fitted on: headings, short items and
# lines written one per item end on purpose.
MIN_WRAPPED_CHARS = 40
# A line counts as full past this share of the longest: in a proportional font, as PDFs
# are set, the characters that fit a line vary by a word's length or so.
FULL_LINE = 0.9
# Between two columns of a plain-text table: two spaces or more, or a tab.
COLUMN_GAP = re.compile(r" {2,}|\t")
# Such a gap between words: indentation is none.
_COLUMNS = re.compile(rf"\S(?:{COLUMN_GAP.pattern})\S")
# Abbreviations whose full stop ends no sentence, as written (case counts: "Dr." is a
# title, "CA." a state that may end one): always, before a name, before a number.
_BEFORE_ANYTHING = frozenset({"approx", "ca", "cf", "vs", "viz", "e.g", "i.e"})
_BEFORE_NAMES = frozenset(
    {"Dr", "Prof", "Mr", "Mrs", "Ms", "Mx", "Rev", "Gen", "Col", "Capt", "Lt", "Sgt"}
)
_BEFORE_NUMBERS = frozenset(
    {"No", "Nos", "p", "pp", "Fig", "fig", "Figs", "figs", "Vol", "vol", "Eq", "eq", "Eqs"}
    | {"Sec", "sec", "Art", "Ch", "ch", "Ref", "ref"}
)
_LIST_NUMBER = re.compile(r"\d+[.)]\s")
# What may open a word: "(or", "“Tenant”".
_OPENERS = "([\"'“‘"
# A lettered or roman-numbered list item's label: "(a) ", "(iv) ".
_LETTERED_ITEM = re.compile(r"\((?:[a-z]|[ivx]+)\)\s")
_INITIAL = re.compile(r"[A-Z]\.")
PARAGRAPH_BREAK = re.compile(r"\n[ \t\r]*\n\s*|\f\s*")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans of text[start:end], in document offsets, white space trimmed.

    Paragraphs (blank lines, page breaks) always split; a single line break splits
    unless it falls inside wrapped prose (see _line_breaks). A full stop after a title
    or reference abbreviation ("Dr. Hart", "Fig. 3") ends no sentence.
    """
    end = len(text) if end is None else end
    spans: list[Span] = []
    for para_start, para_end in _between(text, start, end, PARAGRAPH_BREAK):
        cut = para_start
        for position in _line_breaks(text, para_start, para_end):
            spans.extend(_sentences_in(text, cut, position))
            cut = position
        spans.extend(_sentences_in(text, cut, para_end))
    return spans


def _between(text: str, start: int, end: int, separator: re.Pattern[str]) -> list[Span]:
    spans, cut = [], start
    for match in separator.finditer(text, start, end):
        spans.append((cut, match.start()))
        cut = match.end()
    spans.append((cut, end))
    return spans


def _line_breaks(text: str, start: int, end: int) -> list[int]:
    """The line breaks of a paragraph that end a line of their own, not wrapped prose.

    A break is wrapped when a word (or comma) comes before it and a lower-case word after
    it. Before a capital it is wrapped only in a paragraph of wrapped prose (its long lines
    go on in lower case at least as often as in capitals: a list written one item a line
    never does) and only when the line is full (see _runs_on): a PDF or hard-wrapped text
    cuts "our Practice Manager, Sarah\nOkafor" mid-name.
    """
    newlines = [m.start() for m in _NEWLINE.finditer(text, start, end)]
    if not newlines:
        return []
    lines = list(zip([start, *(n + 1 for n in newlines)], [*newlines, end], strict=True))
    # Only the characters either side of each break matter; slicing would be quadratic.
    around = [_around(text, position, start, end) for position in newlines]
    sides = [(text[b] if b >= start else "", text[a] if a < end else "") for b, a in around]
    lengths = [len(text[a:b].strip()) for a, b in lines]
    # How the paragraph's long lines of prose (not headings, not table rows) go on.
    prose = [
        after
        for (before, after), length, (a, b) in zip(sides, lengths, lines, strict=False)
        if before.isalnum() and length >= MIN_WRAPPED_CHARS and not _COLUMNS.search(text, a, b)
    ]
    lower = sum(after.islower() for after in prose)
    upper = sum(after.isupper() for after in prose)
    width = max(lengths)
    breaks = []
    for i, (position, (before, after), (_, at)) in enumerate(
        zip(newlines, sides, around, strict=True)
    ):
        if not (before.isalnum() or before == ",") or not after:
            breaks.append(position)
            continue
        # "the fence\n(or the footpath)": a bracket or quote opening a lower-case word too,
        # but not a lettered list item's ("(a) pay the rent", "(iv) sign").
        opens = after in _OPENERS and text[at + 1 : at + 2].islower()
        if after.islower() or (opens and not _LETTERED_ITEM.match(text, at, end)):
            continue
        # "up to\n500 euros": a number carries on a lower-case line, unless it starts a
        # numbered list item ("1. ", "2) ").
        if before.islower() and after.isdigit():
            if not _LIST_NUMBER.match(text, at, end):
                continue
        elif after.isupper() and lower >= upper and _runs_on(text, lines[i], lines[i + 1], width):
            continue
        breaks.append(position)
    return breaks


def _around(text: str, position: int, start: int, end: int) -> tuple[int, int]:
    """Where the characters around a line break are, white space skipped: before it
    (start - 1 at the paragraph's start) and after it (end at its end)."""
    before, after = position - 1, position + 1
    while before >= start and text[before].isspace():
        before -= 1
    while after < end and text[after] in " \t":
        after += 1
    return before, after


def _runs_on(text: str, line: Span, following: Span, width: int) -> bool:
    """Whether a line that a capital follows is wrapped prose: the next line's first word
    would not have fitted on it (the paragraph's longest line is the width, FULL_LINE of
    it counts as full), it is no heading or table row, and neither it nor the next line
    is a row of aligned columns."""
    own = text[line[0] : line[1]].strip()
    next_word = text[following[0] : following[1]].split(maxsplit=1)[:1]
    return (
        len(own) >= MIN_WRAPPED_CHARS
        and len(own) + 1 + len(next_word[0] if next_word else "") > FULL_LINE * width
        and not own.startswith(("#", "|"))
        and _COLUMNS.search(own) is None
        and _COLUMNS.search(text, following[0], following[1]) is None
    )


def _sentences_in(text: str, start: int, end: int) -> list[Span]:
    spans, cut = [], start
    for match in _SENTENCE_END.finditer(text, start, end):
        following = text[match.end() : match.end() + 1]
        if following and following.islower():
            continue  # "e.g. this", "approx. five": not a sentence end
        # Only a short stretch can be a list number; slicing a long one at every skipped
        # full stop ("Fig. 1 and Fig. 2 and ...") would be quadratic.
        if match.end() - cut <= 12 and _LIST_NUMBER.fullmatch(
            text[cut : match.end()].strip() + " "
        ):
            continue  # "1. Buy it": a list item's number, not a sentence
        if _abbreviated(text, cut, match.start(), match.group(), following):
            continue  # "Dr. Hart", "Fig. 3": an abbreviation, not a sentence end
        spans.append(trim(text, cut, match.end()))
        cut = match.end()
    spans.append(trim(text, cut, end))
    return [(s, e) for s, e in spans if e > s]


def _abbreviated(text: str, start: int, stop: int, ending: str, following: str) -> bool:
    """Whether the full stop at `stop` ends an abbreviation that a name or number follows."""
    if ending.rstrip() != ".":
        return False
    word = text[max(start, stop - 12) : stop].split()[-1:]
    if not word:
        return False
    abbreviation = word[0].lstrip(_OPENERS)
    if abbreviation in _BEFORE_ANYTHING:
        return True
    if abbreviation in _BEFORE_NAMES or _initial(text, start, stop, abbreviation):
        return following.isupper()
    return abbreviation in _BEFORE_NUMBERS and following.isdigit()


def _initial(text: str, start: int, stop: int, abbreviation: str) -> bool:
    """Whether the letter before the full stop at `stop` is a name's initial: after a
    title, or next to another initial ("Ms K. Adebayo", "J. R. Hart"); not "Plan B."."""
    if not (len(abbreviation) == 1 and abbreviation.isupper()):
        return False
    before = text[max(start, stop - 16) : stop].split()[-2:-1]
    previous = before[0].lstrip(_OPENERS) if before else ""
    following = text[stop + 1 : stop + 8].split()[:1]
    return previous.rstrip(".") in _BEFORE_NAMES or any(
        _INITIAL.fullmatch(word) for word in [previous, *following]
    )


def trim(text: str, start: int, end: int) -> Span:
    """text[start:end] without its surrounding white space, as a span (empty: start == end)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def embed_prefix(title: str, heading: Sequence[str]) -> str:
    """Context the model sees before a chunk's text: the title, then the heading path."""
    title = title.strip()
    # A document's top heading is usually its title: say it once.
    path = list(heading[1:] if heading and heading[0] == title else heading)
    return "\n".join(part for part in (title, " > ".join(path)) if part)


def chunk_document(
    document: Document,
    tokenizer: Tokenizer,
    max_tokens: int = 128,
    overlap_tokens: int = 32,
    model_max_tokens: int = 254,
) -> list[Chunk]:
    """Overlapping windows of whole sentences, each within the model's token limit.

    Args:
        max_tokens: target window size in word pieces, context prefix included.
        overlap_tokens: how much of a window's tail (whole sentences) the next repeats.
        model_max_tokens: the hard limit: the model's sequence length minus its two
            special tokens. Nothing the model embeds is ever longer.
    """
    if overlap_tokens >= max_tokens:
        raise ValueError(
            f"overlap_tokens ({overlap_tokens}) must be below max_tokens ({max_tokens})"
        )
    text = document.text
    lines = _positions(text, "\n")
    pages = _positions(text, "\f") if document.paged else None
    chunks: list[Chunk] = []
    for (start, end), heading in _sections(document):
        prefix = embed_prefix(document.title, heading)
        prefix_tokens = tokenizer.count_tokens([prefix])[0] if prefix else 0
        budget = min(max_tokens, model_max_tokens) - prefix_tokens
        if budget < 16:
            # A very long title or heading path: keep the text, drop the context.
            prefix, prefix_tokens = "", 0
            budget = min(max_tokens, model_max_tokens)
        sentences, counts = _fit(text, split_sentences(text, start, end), tokenizer, budget)
        ends_paragraph = [
            bool(PARAGRAPH_BREAK.search(text, sentences[i][1], sentences[i + 1][0]))
            for i in range(len(sentences) - 1)
        ] + [True]
        windows = _windows(counts, ends_paragraph, budget, overlap_tokens)
        embed_texts = [_join(prefix, text[sentences[a][0] : sentences[b][1]]) for a, b in windows]
        totals = tokenizer.count_tokens(embed_texts)
        spans: list[Span] = []
        for (first, last), total in zip(windows, totals, strict=True):
            if total <= model_max_tokens:
                spans.append((sentences[first][0], sentences[last][1]))
            else:
                # Word pieces torn by a hard split can re-join into more tokens: never let
                # the model truncate silently; each piece alone is known to fit.
                spans.extend(sentences[first : last + 1])
        for span_start, span_end in spans:
            body = text[span_start:span_end]
            chunks.append(
                Chunk(
                    chunk_id=f"{document.document_id}#{len(chunks)}",
                    document_id=document.document_id,
                    text=body,
                    start=span_start,
                    end=span_end,
                    line_start=bisect_left(lines, span_start) + 1,
                    line_end=bisect_left(lines, span_end - 1) + 1,
                    page=None if pages is None else bisect_left(pages, span_start) + 1,
                    page_end=None if pages is None else bisect_left(pages, span_end - 1) + 1,
                    heading=tuple(heading),
                    embed_text=_join(prefix, body),
                )
            )
    return chunks


def _join(prefix: str, body: str) -> str:
    return f"{prefix}\n{body}" if prefix else body


def _positions(text: str, char: str) -> list[int]:
    return [match.start() for match in re.finditer(re.escape(char), text)]


def _sections(document: Document) -> list[tuple[Span, tuple[str, ...]]]:
    """The document cut at its headings (and PDF page breaks, so a passage cites one
    page), each part with the heading path it sits under."""
    cuts: dict[int, tuple[str, ...]] = {0: ()}
    for heading in document.headings:
        cuts[heading.start] = heading.path
    if document.paged:
        for page_break in _positions(document.text, "\f"):
            cuts.setdefault(page_break + 1, ())
    starts = sorted(cuts)
    sections: list[tuple[Span, tuple[str, ...]]] = []
    path: tuple[str, ...] = ()
    carried: int | None = None
    for start, end in zip(starts, [*starts[1:], len(document.text)], strict=True):
        path = cuts[start] or path  # a page break keeps the heading it falls under
        if _nests(cuts[start], cuts.get(end, ())) and _heading_only(document.text, start, end):
            # "# Report" straight before "## People": a passage of one heading answers
            # nothing, so it opens the section under it instead.
            carried = start if carried is None else carried
            continue
        sections.append(((start if carried is None else carried, end), path))
        carried = None
    return sections


def _nests(outer: tuple[str, ...], inner: tuple[str, ...]) -> bool:
    """Whether heading path `inner` lies under heading path `outer` (both headings)."""
    return bool(outer) and len(inner) > len(outer) and inner[: len(outer)] == outer


def _heading_only(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is one line (the heading) and white space."""
    line_end = _LINE_END.search(text, start, end)
    return line_end is None or not text[line_end.start() : end].strip()


def _fit(
    text: str, sentences: list[Span], tokenizer: Tokenizer, budget: int
) -> tuple[list[Span], list[int]]:
    """The sentences and their token counts, any longer than the budget hard-split."""
    counts = tokenizer.count_tokens([text[s:e] for s, e in sentences])
    # A piece cut inside a word can count more alone than it did in its sentence:
    # recount and split again until every piece fits (pieces only ever shrink).
    while any(count > budget for count in counts):
        fitted: list[Span] = []
        for (start, end), count in zip(sentences, counts, strict=True):
            if count <= budget:
                fitted.append((start, end))
            else:
                fitted.extend(_hard_split(text, start, end, tokenizer, budget))
        sentences = fitted
        counts = tokenizer.count_tokens([text[s:e] for s, e in sentences])
    return sentences, counts


def _hard_split(text: str, start: int, end: int, tokenizer: Tokenizer, budget: int) -> list[Span]:
    """Cut text[start:end] into runs of at most `budget` word pieces, tokenizing it once."""
    tokens = tokenizer.token_spans(text[start:end])
    pieces: list[Span] = []
    first = 0
    while len(tokens) - first > budget:
        cut = first + budget
        # Prefer a cut where a new word begins, so no word is torn into sub-words.
        for index in range(first + budget, first + budget // 2, -1):
            begin = start + tokens[index][0]
            if begin > start and text[begin - 1].isspace():
                cut = index
                break
        pieces.append(trim(text, start + tokens[first][0], start + tokens[cut][0]))
        first = cut
    pieces.append(trim(text, start + tokens[first][0], end))
    return [span for span in pieces if span[1] > span[0]]


def _windows(
    counts: list[int], ends_paragraph: list[bool], budget: int, overlap: int
) -> list[Span]:
    """Greedy windows over sentence token counts: (first, last) sentence indexes.

    A window that would cut a paragraph ends at the last paragraph end inside it when
    that keeps it at least 40% full; only a window cut mid-paragraph overlaps the next.
    """
    windows: list[Span] = []
    first = 0
    while first < len(counts):
        last, used = first, counts[first]
        while last + 1 < len(counts) and used + counts[last + 1] <= budget:
            last += 1
            used += counts[last]
        if not ends_paragraph[last] and last + 1 < len(counts):
            filled = used
            for candidate in range(last - 1, first - 1, -1):
                filled -= counts[candidate + 1]
                if ends_paragraph[candidate] and filled >= 0.4 * budget:
                    last = candidate
                    break
        windows.append((first, last))
        if last == len(counts) - 1:
            break
        next_first = last + 1
        if not ends_paragraph[last]:
            # Step back over whole sentences to repeat up to `overlap` tokens.
            carried = 0
            while next_first - 1 > first and carried + counts[next_first - 1] <= overlap:
                next_first -= 1
                carried += counts[next_first]
            # Never a window that the previous one already covers.
            if sum(counts[next_first : last + 2]) > budget:
                next_first = last + 1
        first = next_first
    return windows
