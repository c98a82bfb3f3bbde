"""Passages -> highlights: the sentence (or two neighbours) that best answers the question.

A sentence scores its cosine similarity with the question, embedded with the passage's
title and heading as context (alone, "It takes three hours." is about nothing), plus a
bonus when it holds the kind of thing the question asks for: a duration for "how long",
a date, day or time for "when", a number for "how many" or "how cold", an amount of money
for "what does it cost" or "is there a fee"; and a bonus for naming the question's
identifiers (codes, model numbers, years: "E-2011", "X300") and days or months, which
embeddings barely tell apart ("E-2010" reads as close as "E-2011"). Two neighbouring
sentences of a paragraph compete as one span, scored by their mean vector. Exact, cheap,
no LLM.
"""

import re
from collections.abc import Sequence

import numpy as np

from service.chunking import COLUMN_GAP, PARAGRAPH_BREAK, split_sentences
from service.embedding import Embedder, Vectors
from service.keywords import DASHES, identifiers

Span = tuple[int, int]

# Headings, list labels and captions are highlighted only when a passage has nothing
# else: they name a topic, they rarely answer. Such a line is short and unpunctuated.
MIN_WORDS = 4
_SENTENCE_ENDS = tuple(".!?…:;\"'”’)")

ANSWER_TYPE_BONUS = 0.1
_NUMBER_WORD = r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|thirty|fifty|hundred|thousand|million|half|dozen)\b"  # noqa: E501
_NUMBER = r"\d|" + _NUMBER_WORD
_DURATION = r"\b(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|daily|weekly|monthly|annual(?:ly)?|every)\b"  # noqa: E501
_WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
# The months but May, which is mostly a verb ("May I ...?"): a date counts it apart.
_MONTH = r"january|february|march|april|june|july|august|september|october|november|december"
_DATE = rf"\b(?:1[5-9]\d\d|20\d\d|{_MONTH}|may|spring|summer|autumn|winter)\b"
# "When can I see Dr Hart?" -> "on Tuesdays from 14:00": a day of the week or a time of day.
_DAY_OR_TIME = (
    rf"\b(?:{_WEEKDAY}s?|noon|midnight"
    r"|(?<![\d:])\d{1,2}:[0-5]\d(?![\d:])|\d{1,2}\s?[ap]\.?m\b\.?)"
)
# "Free" as a price ("returns are free", "free of charge", "fee-free"), not in other
# compounds ("gravel-free runways", "free-standing") nor in "feel free to ask".
_DASH = f"[{DASHES}]"
_PRICE_COMPOUND = rf"\b(?:fee|cost|charge|commission|toll|tax|duty|interest){_DASH}free\b"
_FREE_ALONE = rf"(?<!{_DASH})(?<!feel\s)\bfree\b(?!{_DASH}(?!of{_DASH}(?:charge|cost)\b))"
_FREE = f"{_PRICE_COMPOUND}|{_FREE_ALONE}"
# An amount of money, or none asked: "€40", "EUR 45", "1,200 euros", "ten dollars", "free
# of charge". A figure starts where no digit goes before it: scanning from each digit of a
# long run would take quadratic time.
# Codes in capitals only ("cad files" and "CAD 2024" are drawings, so C$ is left out);
# after a figure, the four common ones also in small letters ("45 eur").
_CURRENCY_CODE = r"(?-i:USD|EUR|GBP|CHF|JPY|AUD|NZD|SEK|NOK|DKK|PLN|CZK|INR|CNY)"
_MONEY = (
    rf"[$€£¥]\s?\d|\b{_CURRENCY_CODE}\s?\d|(?:(?<![\d,.])\d[\d,.]*|{_NUMBER_WORD})\s?"
    rf"(?:[$€£¥]|(?:euros?|dollars?|pounds|pence|cents?|usd|eur|gbp|chf|{_CURRENCY_CODE})\b)|"
    + _FREE
    + r"|\bno (?:extra )?(?:cost|charge)\b"
)
# A question asking what something costs; not "Are visa fees covered?", whose answer
# needs no amount, nor "cost-effective".
_ASKS_PRICE = (
    r"\b(?:what|which|how much)\b[^?]*\b(?:costs?|price[sd]?|pricing|fees?)\b(?!-)"
    # Words that are prices only after "how much": "What bank details pay the rent?"
    r"|\bhow much\b[^?]*\b(?:rents?|fares?|charges|tolls?|premiums?)\b"
)
# A yes-or-no question on paying ("Is there a charge for returns?") is answered by the
# amount, or by "free": for the highlight only, as "no" needs no amount to answer it.
_ASKS_WHETHER_PAID = (
    r"\b(?:is|are) there (?:an?|any)\b[^?]*\b(?:charges?|fees?|costs?|fines?|penalty)\b(?!-)"
    r"|\b(?:do(?:es)?|will)\b[^?]*\bcost (?:anything|extra|money)\b"
    r"|(?:^|[.?!]\s+)(?:do|does|will|would|must)\b[^?]*\b(?:have|need)s? to pay\b"
)
# What a question asks for -> what an answering sentence then contains.
_ANSWER_TYPES = [
    (f"{_ASKS_PRICE}|{_ASKS_WHETHER_PAID}", _MONEY),
    (r"\bhow (?:long|often|soon)\b|\bhow much time\b", _DURATION),
    # "When" (or "by when") opening a question, or a sentence of it, asks for a time;
    # inside one ("the allowance when travelling"), or opening a clause that a question
    # follows ("When travelling, what is ...?"), it sets a condition.
    (
        r"(?:^|[.!?;:]\s)\W*(?:(?:and|but|so)\b\W*)?(?:(?:by|until|till|since)\s+)?when\b"
        r"(?![^?]*,\s*(?:what|how|which|who|where|is|are|do|does|did|can|should|must|will)\b)"
        r"|\b(?:what|which) (?:year|date|month|day|time)s?\b(?! zones?)",
        f"{_DATE}|{_DAY_OR_TIME}",
    ),
    (
        r"\bhow (?:many|much|big|heavy|far|fast|large|old|high|low|hot|cold|warm|deep|wide|"
        r"tall|small|hard|loud|thick|close)\b"
        r"|\bwhat (?:percentage|share|number|amount)\b",
        _NUMBER,
    ),
]
_ANSWER_PATTERNS = [(re.compile(a, re.I), re.compile(b, re.I)) for a, b in _ANSWER_TYPES]
# The price pair again by name, for the not-found rules (re caches: the same objects).
ASKS_PRICE_PATTERN, MONEY_PATTERN = re.compile(_ASKS_PRICE, re.I), re.compile(_MONEY, re.I)


_WORD = re.compile(r"\w")
# A model number or code: letters, then a digit ("X300", "HX-90", "E27", "BP-50"); not a
# figure with its unit ("1.9kg", "100GB", "3-year").
MODEL_NUMBER = re.compile(r"(?<![\w.-])[A-Za-z][A-Za-z-]*\d[\w-]*")
# "- Max torque: 80 Nm", "Weight: 1.9 kg": a short label, a colon, then a value.
_LABELLED_VALUE = re.compile(r"\s*(?:[-*+]|\d+[.)])?\s*\**\w[^:\n]{0,40}:\**\s+\S")
# The number of a clause or list item opening a sentence: "3.1 A party", "2) Connect".
# Before a word ("3.1 A party", "2.1 Noisy"), not a unit ("1.5 GB", "2.50 EUR").
_OUTLINE_NUMBER = re.compile(r"^\s*(?:\d+(?:\.\d+)+\.?|\d+[.)])\s+(?=[A-Z](?:[a-z]|\s))")
# A table's rule.
_TABLE_RULE = re.compile(r"\s*\|?(?:\s*:?-+:?\s*\|)+\s*:?-*:?\s*")

# A list item's opening: "- ", "* ", "• ", "1. ", "2) ".
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+\u2022]|\d{1,3}[.)])[ \t]")
# The most of a lead-in's list or code a highlight runs on over, in characters.
FOLLOWING_CHARS = 600

# A day of the week or a month named: "Sunday", "Saturdays", "March".
_DAY_NAME = re.compile(rf"\b({_WEEKDAY}|{_MONTH})s?\b", re.I)
# Shared by a span holding every identifier the question names (a part for a part).
IDENTIFIER_BONUS = 0.1


def best_sentences(
    question: str,
    question_vector: Vectors,
    texts: Sequence[str],
    contexts: Sequence[str],
    embedder: Embedder,
) -> list[tuple[Span, float]]:
    """For each text, the span that best answers and its best sentence's cosine.

    The span is the best sentence, joined by the sentence right before or after it in
    its paragraph when the two score higher together: an answer often sits next to the
    sentence that names its topic ("Employees receive a daily allowance." "It is 60
    euros abroad."). Spans are offsets into each text; `contexts` (title, heading) go
    before each sentence when it is embedded. All sentences are embedded in one batch;
    a pair is scored by the mean of its sentences' vectors, for free. A span that ends
    in a question mark runs on to the end of the next sentence, even past a paragraph
    break: in a FAQ, the question matches best and the answer follows it.
    """
    if not texts:
        return []
    candidates = [_candidates(text) for text in texts]
    flat = [
        f"{context}\n{text[s:e]}" if context else text[s:e]
        for text, context, spans in zip(texts, contexts, candidates, strict=True)
        for s, e in spans
    ]
    vectors = embedder.embed(flat)
    question_vector = np.asarray(question_vector, dtype=np.float32)
    wanted = [answer for asks, answer in _ANSWER_PATTERNS if asks.search(question)]
    names = _identifiers(question)

    def score(text: str, context: str, span: Span, cosine: float) -> float:
        sentence = text[span[0] : span[1]]
        # An identifier in the title or heading is named by every sentence under it: the
        # X300's spec list need not repeat "X300" on each line.
        named = (
            sum(bool(name.search(sentence) or name.search(context)) for name in names) / len(names)
            if names
            else 0
        )
        return (
            cosine
            + ANSWER_TYPE_BONUS * any(w.search(_without_labels(sentence)) for w in wanted)
            + IDENTIFIER_BONUS * named
        )

    best: list[tuple[Span, float]] = []
    position = 0
    for text, context, spans in zip(texts, contexts, candidates, strict=True):
        window = vectors[position : position + len(spans)]
        position += len(spans)
        if not spans:
            best.append(((0, 0), 0.0))
            continue
        cosines = (window @ question_vector).tolist()
        scores = [score(text, context, span, c) for span, c in zip(spans, cosines, strict=True)]
        i = int(np.argmax(scores))
        chosen, top = spans[i], scores[i]
        for j in (i - 1, i + 1):
            if 0 <= j < len(spans) and _neighbours(text, spans[min(i, j)], spans[max(i, j)]):
                pair = window[i] + window[j]
                cosine = float(pair @ question_vector) / max(float(np.linalg.norm(pair)), 1e-9)
                span = (spans[min(i, j)][0], spans[max(i, j)][1])
                pair_score = score(text, context, span, cosine)
                if pair_score > top:
                    chosen, top = span, pair_score
        later = [end for start, end in spans if start >= chosen[1]]
        ending = text[chosen[0] : chosen[1]].rstrip()
        if ending.endswith("?") and later:
            # A question restates what was asked (a FAQ's entry): its answer comes next.
            chosen = (chosen[0], later[0])
        elif ending.endswith(":"):
            # A lead-in ("A good report includes:") names what answers: the list, table
            # or code that follows it.
            chosen = (chosen[0], _end_of_what_follows(text, chosen[1]))
        best.append((chosen, cosines[i]))
    return best


def asks_for_a_kind(question: str) -> bool:
    "Whether the question asks for a kind of answer: a price, a duration, a date, a number"
    return any(asks.search(question) for asks, _ in _ANSWER_PATTERNS)


def _end_of_what_follows(text: str, end: int) -> int:
    """Where the block after `end` ends: at the next paragraph break (or the text's end),
    past the items of a list whose items are apart by blank lines; within FOLLOWING_CHARS
    (else at the first line's end, or the last word that fits)."""
    start = len(text) - len(text[end:].lstrip())
    if start == len(text):
        return end
    listed = bool(_LIST_ITEM.match(text, start))  # then later items run on too
    stop, block = start, start  # the end so far, and where the next block starts
    while True:
        following = PARAGRAPH_BREAK.search(text, block)
        block_end = following.start() if following else len(text)
        if block_end - start > FOLLOWING_CHARS:
            if stop == start:  # the first block alone is too long: its first line or words
                first_line = text.find("\n", start, start + FOLLOWING_CHARS)
                space = text.rfind(" ", start, start + FOLLOWING_CHARS)
                stop = first_line if first_line != -1 else max(space, start + FOLLOWING_CHARS)
            break
        stop = block_end
        if not (listed and following and _LIST_ITEM.match(text, following.end())):
            break
        block = following.end()
    return len(text[:stop].rstrip())


def _without_labels(sentence: str) -> str:
    """The sentence without its model numbers and codes, nor the number of its clause or
    list item, for what kind of answer it holds: "X300" is no quantity, "E-2011" no year,
    "3.1 A party may go on" no figure; "1.9kg" and "80Nm" stay."""
    return MODEL_NUMBER.sub("", _OUTLINE_NUMBER.sub("", sentence, count=1))


def _identifiers(question: str) -> list[re.Pattern[str]]:
    """Patterns finding each identifier the question names, as a whole word, any case;
    and each day of the week or month, which embeddings tell apart as little ("Sunday"
    reads as close as "Monday"), also in the plural ("on Saturdays")."""
    named = [re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.I) for name in identifiers(question)]
    days = [
        re.compile(rf"\b{re.escape(day)}s?\b", re.I)
        for day in dict.fromkeys(match.group(1).lower() for match in _DAY_NAME.finditer(question))
    ]
    return named + days


def _neighbours(text: str, first: Span, second: Span) -> bool:
    """Whether nothing but white space, and no paragraph break, lies between the two."""
    between = text[first[1] : second[0]]
    return not between.strip() and not PARAGRAPH_BREAK.search(between)


def _candidates(text: str) -> list[Span]:
    spans = split_sentences(text)
    # A table's header row is the line just above its rule: it names columns, not facts.
    headers = {spans[i] for i, (s, e) in enumerate(spans[1:]) if _TABLE_RULE.fullmatch(text[s:e])}
    # A table's rule ("|---|---|") holds no words: never a highlight.
    sentences = [(s, e) for s, e in spans if _WORD.search(text[s:e])]
    # A plain-text table's row: aligned columns, on a line next to another such line (one
    # alone, "4.2  Service intervals", is a heading with a wide gap, as PDFs set them).
    columned = [_cells(text[s:e]) >= 2 for s, e in sentences]
    rows = {
        span
        for i, span in enumerate(sentences)
        if columned[i] and any(columned[j] for j in (i - 1, i + 1) if 0 <= j < len(sentences))
    }
    prose = [
        span
        for span in sentences
        if span not in headers and (span in rows or _is_prose(text[span[0] : span[1]]))
    ]
    return prose or sentences


def _cells(line: str) -> int:
    """Cells holding words in a line of a plain-text table (columns apart by two spaces
    or more, or a tab): 1 for any other line."""
    return sum(bool(_WORD.search(cell)) for cell in COLUMN_GAP.split(line.strip()))


def _is_table_row(line: str) -> bool:
    """A Markdown table row (opening with "|") with at least two cells holding words."""
    cells = line.strip().strip("|").split("|")
    return line.lstrip().startswith("|") and sum(bool(_WORD.search(c)) for c in cells) >= 2


def _is_prose(sentence: str) -> bool:
    """Whether the sentence can state an answer: a sentence of prose, a list item or line
    that gives a value ("- Max torque: 80 Nm"), or a Markdown table's row; not a heading
    or label."""
    if sentence.startswith("#"):
        return False  # a Markdown heading
    if _LABELLED_VALUE.match(sentence) or _is_table_row(sentence):
        return True
    words = len(sentence.split())
    return words >= 2 * MIN_WORDS or (words >= MIN_WORDS and sentence.endswith(_SENTENCE_ENDS))
