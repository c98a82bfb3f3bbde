"""Follow-up questions: a question that leans on the conversation is searched with it.

"When was it launched?" says nothing about *what* was launched; the question before it
does. Such a question is searched together with the earlier questions it leans on,
while a question that stands on its own is searched alone, so a conversation never
drags a self-contained question off its subject.
"""

import re
from collections.abc import Sequence

from service.errors import InvalidQuery
from service.keywords import drop_identifiers, identifier_kind, identifiers

MAX_HISTORY = 5
MAX_HISTORY_CHARS = 2000
# Context kept in front of the question; the model reads 256 word pieces at most.
MAX_CONTEXT_CHARS = 600
# A question with at most this many content words names too little to stand alone...
SHORT_QUESTION_WORDS = 1
# ...and one that points back (it, they...) leans when it names at most this many.
REFERRING_QUESTION_WORDS = 3


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that point back at something named earlier in the conversation.
_REFERRING = _words(
    "it its it's itself they them their theirs themselves this these those "
    "he him his she her hers there then such same former latter"
)
_FUNCTION_WORDS = _REFERRING | _words(
    "a an the of in on at to for from by with about into over and or but not no "
    "is are was were be been being do does did has have had can could will would "
    "shall should may might must what which who whom whose when where why how "
    "much many any some all each more most other also just only very so than too "
    "i me my we us our you your that as if please tell"
)
# Openings that carry the previous question over to something new ("And the tunnel?").
_CONTINUING = re.compile(r"^\W*(and|also|what about|how about)\b", re.IGNORECASE)
_WORD = re.compile(r"[\w']+")


def validate_history(history: Sequence[str]) -> list[str]:
    """The history as a list; raises InvalidQuery when it is too long."""
    if len(history) > MAX_HISTORY:
        raise InvalidQuery(f"history has {len(history)} questions; the limit is {MAX_HISTORY}")
    for position, question in enumerate(history):
        if len(question) > MAX_HISTORY_CHARS:
            raise InvalidQuery(
                f"history[{position}] is {len(question)} characters long; "
                f"the limit is {MAX_HISTORY_CHARS}"
            )
    return list(history)


def leans_on_history(question: str) -> bool:
    """True when the question points back (it, they, this...) or names too little alone."""
    if _CONTINUING.match(question):
        return True
    words = [word.lower() for word in _WORD.findall(question)]
    content = [word for word in words if word not in _FUNCTION_WORDS]
    if any(word in _REFERRING for word in words):
        return len(content) <= REFERRING_QUESTION_WORDS
    return len(content) <= SHORT_QUESTION_WORDS


def context_of(history: Sequence[str]) -> list[str]:
    """The earlier questions the next one may lean on: back to the newest self-contained one."""
    context: list[str] = []
    for earlier in reversed(history):
        if not earlier.strip():
            continue
        context.insert(0, earlier.strip())
        if not leans_on_history(earlier):
            break
    return context


def search_text(question: str, history: Sequence[str] = ()) -> str:
    """The text to search with: the question, after its context when it leans on one.

    A follow-up that names its own year or code ("And in 2022?", "And the X300?") is
    about that one: the context keeps its words but not its other identifiers of that
    kind, which would otherwise pull the earlier one's passages first. Its identifiers of
    other kinds stay: "And in 2024?" after a question about the X200 is still about it.
    """
    context = " ".join(context_of(history)) if leans_on_history(question) else ""
    own = identifiers(question)
    kinds = {kind for word in own if (kind := identifier_kind(word))}
    if context and kinds:
        context = drop_identifiers(context, kinds, set(own))
    if len(context) > MAX_CONTEXT_CHARS:
        # Keep the newest words; the model reads a few hundred word pieces at most,
        # and the question itself must stay within them.
        context = context[-MAX_CONTEXT_CHARS:].split(" ", 1)[-1]
    return f"{context} {question}" if context else question
