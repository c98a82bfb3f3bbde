"""Questions -> keyword terms for the BM25 index: words, lower-cased, stop words dropped."""

import re

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


def query_terms(question: str) -> list[str]:
    """The question's distinct words, lower-cased, in order, without stop words.

    Only when every word is a stop word are they kept, so such a question still matches.
    """
    words = [word.lower() for word in _WORD.findall(question)]
    terms = [word for word in words if word not in STOP_WORDS and word != "_"]
    return list(dict.fromkeys(terms or words))
