"""Passages -> whether they can answer at all, whatever their confidence.

A bi-encoder's cosine tells "on the topic" from "off it", not "answers it": a product
manual without prices is confidently about the product. What the passages lack (the
amount of money a price question asks for, the year a question names) tells it.
"""

import re
from collections.abc import Sequence

from service.highlight import ASKS_PRICE_PATTERN, MODEL_NUMBER, MONEY_PATTERN
from service.keywords import identifier_kind, identifiers, loosely
from service.models import Passage

_ANY_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")


def lacks_answer(question: str, passages: Sequence[Passage]) -> bool:
    """Whether the passages, however confident, cannot answer: the question asks for a
    price and none names an amount of money (for the model it names), or it names a year
    that none names in its text, title or headings. Either decides `answer_found`
    regardless of confidence."""
    texts = ["\n".join((p.citation.title, *p.citation.heading, p.text)) for p in passages]
    return lacks_asked_price(question, texts) or lacks_named_year(question, texts)


def lacks_named_year(question: str, texts: Sequence[str]) -> bool:
    """Whether the question names a year that none of the texts names.

    "Scope 3 emissions in 2021?" asked of reports on 2022 and 2023 finds their emissions
    passages confidently on topic; embeddings barely tell one year from another.
    Only years: a model number or a figure in a question is often written differently
    in its answer ("5-year" against "five years"), a year hardly ever.
    """
    # Years standing alone: "E-2021" is an error code, not a year.
    asked = {word for word in identifiers(question) if identifier_kind(word) == "year"}
    # In the texts, any year counts, even run into a label ("FY2024").
    named = {year for text in texts for year in _ANY_YEAR.findall(text)}
    return not asked <= named


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
    return not any(
        MONEY_PATTERN.search(text) and all(model.search(text) for model in models) for text in texts
    )
