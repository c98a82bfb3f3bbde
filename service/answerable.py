"""Passages -> whether they can answer at all, whatever their confidence.

A bi-encoder's cosine tells "on the topic" from "off it", not "answers it": a product
manual without prices is confidently about the product. What the passages lack (the
amount of money a price question asks for, the year or the model a question names)
tells it.
"""

import re
from collections.abc import Sequence

from service.highlight import ASKS_PRICE_PATTERN, MODEL_NUMBER, MONEY_PATTERN
from service.keywords import ANY_YEAR, VERSION, identifier_kind, identifiers, loosely, model_parts
from service.models import Passage

_DOTTED_DATE = re.compile(r"\d{1,2}\.\d{1,2}\.(?:19|20)?\d\d")
# A section's title after its number in a label: "4.2.1 Logging in".
_TITLE_AFTER = re.compile(r"\s+[A-Za-z]")


def lacks_answer(question: str, passages: Sequence[Passage]) -> bool:
    """Whether the passages, however confident, cannot answer: the question asks for a
    price and none names an amount of money (for the model it names), it names a year
    that none names in its text, title or headings, or it names a model that none names
    while they are titled with another of its series. Any of these decides
    `answer_found` regardless of confidence."""
    labels = ["\n".join((p.citation.title, *p.citation.heading)) for p in passages]
    texts = [f"{label}\n{p.text}" for label, p in zip(labels, passages, strict=True)]
    return (
        lacks_asked_price(question, texts)
        or lacks_named_year(question, texts)
        or lacks_named_model(question, texts, labels)
    )


def lacks_named_year(question: str, texts: Sequence[str]) -> bool:
    """Whether the question names a year that none of the texts names.

    "Scope 3 emissions in 2021?" asked of reports on 2022 and 2023 finds their emissions
    passages confidently on topic; embeddings barely tell one year from another.
    Only years: a model number or a figure in a question is often written differently
    in its answer ("5-year" against "five years"), a year hardly ever.
    """
    # In the texts, any year counts, even run into a label ("FY2024").
    named = {year for text in texts for year in ANY_YEAR.findall(text)}
    return not _asked_years(question) <= named


def _asked_years(question: str) -> set[str]:
    'The years the question names standing alone: "E-2021" is an error code, not a year'
    return {word for word in identifiers(question) if identifier_kind(word) == "year"}


def lacks_asked_price(question: str, texts: Sequence[str]) -> bool:
    """Whether the question asks what something costs and none of the texts names an
    amount of money (or says it is free), along with each model number the question
    names: the X300's price does not answer "What does the X200 cost?". A figure with
    its unit ("100GB", "3-year") is no model number: "100 GB" or "three-year" answer it.

    A manual that never gives a price is still about the product, so its passages look
    confident; the missing amount is what tells that they do not answer.
    """
    if not ASKS_PRICE_PATTERN.search(question):
        return False
    models = [loosely(code) for code in MODEL_NUMBER.findall(question)]
    asked_years = _asked_years(question)
    return not any(
        MONEY_PATTERN.search(text)
        and all(model.search(text) for model in models)
        and asked_years <= set(ANY_YEAR.findall(text))
        for text in texts
    )


def lacks_named_model(question: str, texts: Sequence[str], labels: Sequence[str]) -> bool:
    """Whether the question names a model number that none of the texts names, while
    one of their labels (titles and headings) names another model of its series: the
    same letters, other numbers ("A7" for "A9"). A version is a model with no letters:
    "1.4.0" asked of a changelog headed "2.4.0" and "3.0.0".

    "How heavy is the A9?" asked of a catalogue without one finds the A7's manual
    confidently on topic; embeddings barely tell A7 from A9. The sibling in a label is
    what tells that the catalogue is about other models: a model name alone, absent
    from every text, is often a gene, a part or a spelling the texts write otherwise
    (63 of 809 SciFact train claims name one no abstract has; this rule fires on none).
    """
    models = _models(question)
    asked = [model_parts(model) for model in models]
    # The labels' models, less those the question names itself ("Can the X300 replace
    # an X200?" asked of the X300's manual).
    titled = {
        tuple(parts)
        for label in labels
        for parts in (model_parts(model) for model in _models(label, label=True))
        if not any(_same_model(parts, own) for own in asked)
    }
    for model, parts in zip(models, asked, strict=True):
        named = loosely(model)
        if any(named.search(text) for text in texts):
            continue
        if any(_same_series(parts, list(other)) for other in titled):
            return True
    return False


def _models(text: str, label: bool = False) -> list[str]:
    """The model numbers and versions the text names; a dotted date ("12.10.2023") is no
    version, nor in a label a section's number before its title ("4.2.1 Logging in")."""
    versions = [
        match.group()
        for match in VERSION.finditer(text)
        if not _DOTTED_DATE.fullmatch(match.group())
        and not (label and _TITLE_AFTER.match(text, match.end()))
    ]
    return MODEL_NUMBER.findall(text) + versions


def _same_series(asked: list[str], other: list[str]) -> bool:
    """Whether `other` is another model of the asked one's series: the same letters in
    the same order, other numbers, and not the asked model itself written otherwise
    (see _same_model) nor its stem ("Scm3" for "scm3-139", "X300" for "X300s")."""
    if _same_model(asked[: len(other)], other):
        return False
    letters = [p for p in asked if p.isalpha()]
    if not letters and len(asked) != len(other):
        return False  # versions of other lengths: "4.2.1" is no sibling of "10.0.0.1"
    return letters == [p for p in other if p.isalpha()]


def _same_model(one: list[str], other: list[str]) -> bool:
    """Whether two models' parts may name one model: equal letters, and numbers equal
    or one ending the other ("A07" for "A7", "FY2023" for "FY23"). Ending counts too:
    to miss a sibling ("A17" for "A7") only leaves answer_found to the confidence."""
    pairs = zip(one, other, strict=True)
    return len(one) == len(other) and all(
        a == b or (a.isdigit() and b.isdigit() and _ends(a, b)) for a, b in pairs
    )


def _ends(one: str, other: str) -> bool:
    "Whether either number's digits, leading zeros dropped, end the other's"
    return one.endswith(other.lstrip("0")) or other.endswith(one.lstrip("0"))
