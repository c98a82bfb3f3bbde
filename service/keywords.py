"""Questions -> keyword terms for the BM25 index: words, lower-cased, stop words dropped."""

import re
from collections.abc import Set

# Words so common they carry no topic; matching them only slows BM25 down and adds noise.
_STOP_WORDS = """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your
    yours yourself yourselves
    """
STOP_WORDS = frozenset(_STOP_WORDS.split())

_WORD = re.compile(r"\w+", re.UNICODE)
# A word with its inner hyphens and dots ("E-2011", "v2.3.1"): an identifier when it has a digit.
_JOINED_WORD = r"\w+(?:[-.]\w+)*"
_JOINED = re.compile(_JOINED_WORD)
_SPACED_JOINED = re.compile(rf"\s*({_JOINED_WORD})(?:'s\b)?")
# A version (or section) number of three parts or more: "2.4.0", "4.2.1". Two parts
# ("2.5") may be any decimal figure.
VERSION = re.compile(r"(?<![\w.])\d+(?:\.\d+){2,}(?![\w.]*\d)")
_CODE = re.compile(r"[A-Za-z0-9]+(?:[-.][A-Za-z0-9]+)*")
# British and American spellings of one word end differently ("licence", "license");
# Porter stemming keeps them apart. Pairs of endings, British first, tried both ways.
_SPELLINGS = (
    ("isation", "ization"), ("isations", "izations"), ("ise", "ize"), ("ised", "ized"),
    ("ises", "izes"), ("ising", "izing"), ("yse", "yze"), ("ysed", "yzed"), ("yses", "yzes"),
    ("ysing", "yzing"), ("our", "or"), ("ours", "ors"), ("ence", "ense"), ("ences", "enses"),
    ("ogue", "og"), ("ogues", "ogs"),
)  # fmt: skip
# -tre only becomes -ter: many English words end in -ter ("letter", "filter") and many
# French ones in -tre ("lettre"). -oured is left out: "scoured" is no "scored".
_TO_AMERICAN = (("tre", "ter"), ("tres", "ters"))
# Every (ending, other ending) a word is tried with, built once, not per query word.
_ENDINGS = (
    *_SPELLINGS,
    *((american, british) for british, american in _SPELLINGS),
    *_TO_AMERICAN,
)
# What is left of the word before its ending: shorter stems make other words ("hour",
# "entre"), and so does a stem that ends like the ending begins ("floor" is no "flour").
_MIN_STEM = 3
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
# A year even run into a label or a code: "FY2024", "2023/2024".
ANY_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
# The hyphen and the dashes a word may be joined or a code split with: "-", and
# U+2010 to U+2013 (hyphen, non-breaking hyphen, figure dash, en dash). A character
# class's body, hyphen first so that it stands for itself.
DASHES = "-\u2010-\u2013"


def query_terms(question: str) -> list[str]:
    """The question's distinct words, lower-cased, in order, without stop words; after
    its parts each identifier that joins several ("hx-90"); then each word's other
    British or American spelling ("license" for "licence").

    The tokenizer splits "4.3.1" into 4, 3 and 1, which match nearly every chunk; quoted,
    the whole identifier is a phrase that matches only where they stand together. The
    parts stay too: measured on SciFact train, the phrase alone lost 0.002 nDCG@10.
    Only when every word is a stop word are they kept, so such a question still matches.
    """
    words = [word.lower() for word in _WORD.findall(question)]
    terms = [word for word in words if word not in STOP_WORDS and word != "_"]
    joined = [name for name in identifiers(question) if not name.isalnum()]
    variants = [variant for term in terms for variant in spellings(term)]
    return list(dict.fromkeys((terms or words) + joined + variants))


def spellings(word: str) -> list[str]:
    """The word's other British or American spelling ("licence" -> "license"), when its
    ending has one and the rest of the word is long enough to be a stem."""
    found = []
    for ending, other in _ENDINGS:
        stem = word.removesuffix(ending)
        if stem != word and len(stem) >= _MIN_STEM and stem[-1] != ending[0]:
            found.append(stem + other)
    return [variant for variant in found if variant not in STOP_WORDS]


def identifiers(text: str) -> list[str]:
    """The codes, model numbers and years the text names ("E-2011", "X300", "2024"),
    lower-cased, distinct, in order: words (with inner hyphens and dots) holding a digit."""
    words = (match.group().lower() for match in _JOINED.finditer(text))
    return list(dict.fromkeys(word for word in words if _is_identifier(word)))


def identifier_kind(word: str) -> str | None:
    """ "year" for 1900-2099, "code" for a model number or code (ASCII letters and digits,
    with inner hyphens or dots, a letter first: "X300", "KX-30", "COVID-19") or a version
    ("2.4.0", see VERSION), else None ("3", "2024年", "2.5", and a figure with its unit:
    "100GB", "3-year")."""
    if _YEAR.fullmatch(word):
        return "year"
    if VERSION.fullmatch(word) or (_CODE.fullmatch(word) and word[0].isalpha()):
        return "code" if _is_identifier(word) else None
    return None


def drop_identifiers(text: str, kinds: Set[str], keep: Set[str]) -> str:
    """The text without its identifiers of these kinds (see identifier_kind) that are not
    in `keep` (lower-case), with a possessive 's, white space closed up."""

    def kept(match: re.Match[str]) -> str:
        word = match.group(1)
        if identifier_kind(word) in kinds and word.lower() not in keep:
            return ""
        return match.group()

    # The space before a dropped identifier goes with it: "site B7?" -> "site?".
    return " ".join(_SPACED_JOINED.sub(kept, text).split())


def _is_identifier(word: str) -> bool:
    return any(character.isdigit() for character in word)


def years(text: str) -> set[str]:
    "The years 1900-2099 the text names as whole words"
    return set(_YEAR.findall(text))


def loosely(model: str) -> re.Pattern[str]:
    """A model number as a whole word, any case, with or without its inner separators:
    "HX-90" finds "HX 90", "HX\u201190" (a non-breaking hyphen) and "hx90". A version
    only as written: "1.2.0" is not "1.20.0" nor "120"."""
    if VERSION.fullmatch(model):
        return re.compile(rf"(?<![\w.]){re.escape(model)}(?![\w.]*\d)")
    parts = model_parts(model)
    return re.compile(r"(?<!\w)" + rf"[{DASHES}.\s]?".join(parts) + r"(?!\w)", re.I)


def model_parts(model: str) -> list[str]:
    """A model number's runs of ASCII letters and of digits, lower-cased, separators
    dropped: "HX-90s" -> ["hx", "90", "s"]."""
    return [part.lower() for part in re.findall(r"[A-Za-z]+|\d+", model)]
