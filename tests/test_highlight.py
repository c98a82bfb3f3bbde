"""Highlights: the answering sentence (or it and a neighbour), in document offsets."""

from pathlib import Path

from service.embedding import Embedder
from service.highlight import best_sentences
from service.indexing import build_index
from service.search import Searcher
from tests.conftest import WriteFiles

# The answer is the third sentence; the second shares the most words with the question.
CHARGING = (
    "The X-Lite scooter comes with a charger and a wall plug adapter. "
    "The battery charge indicator on the handlebar shows the battery charge level in five bars. "
    "Plugged into a wall socket, an empty pack is full again after about three and a half hours. "
    "Do not leave the scooter charging in direct sunlight.\n"
)
QUESTION = "How long does it take to charge the battery?"
ANSWER = (
    "Plugged into a wall socket, an empty pack is full again after about three and a half hours."
)
WORDIEST = (
    "The battery charge indicator on the handlebar shows the battery charge level in five bars."
)
LAST = "Do not leave the scooter charging in direct sunlight."


def test_best_sentence_is_the_answer_not_the_first_or_the_wordiest(embedder: Embedder) -> None:
    vector = embedder.embed([QUESTION])[0]
    context = "X-Lite manual\nCharging"
    [((start, end), cosine)] = best_sentences(QUESTION, vector, [CHARGING], [context], embedder)
    # The answer, alone or with one neighbour (a pair is scored as one span).
    assert ANSWER in CHARGING[start:end]
    assert CHARGING[start:end] in (ANSWER, f"{WORDIEST} {ANSWER}", f"{ANSWER} {LAST}")
    assert 0 < cosine < 1


def test_an_answer_that_leans_on_its_neighbour_is_highlighted_with_it(
    embedder: Embedder,
) -> None:
    # "It is 60 euros" answers only with the sentence before it; a paragraph break
    # keeps pairs apart.
    text = (
        "Hotels are booked through the travel desk.\n\n"
        "While travelling, employees receive a daily allowance for meals and small expenses. "
        "It is 45 euros at home and 60 euros abroad. "
        "Receipts are not needed for it.\n\n"
        "Flights are booked in economy class."
    )
    question = "What is the daily meal allowance when travelling abroad?"
    vector = embedder.embed([question])[0]
    [((start, end), _)] = best_sentences(question, vector, [text], ["Travel policy"], embedder)
    assert "60 euros abroad" in text[start:end]
    assert "\n" not in text[start:end]
    # A label line between two sentences keeps them apart: a span never skips text.
    labelled = "Employees get a daily allowance while travelling.\nAbroad\nIt is 60 euros a day."
    [((start, end), _)] = best_sentences(question, vector, [labelled], [""], embedder)
    assert "Abroad" not in labelled[start:end]


def test_highlight_offsets_are_document_offsets_inside_the_passage(
    write_corpus: WriteFiles, tmp_path: Path, embedder: Embedder
) -> None:
    text = (
        "# X-Lite manual\n\nRead this manual before the first ride.\n\n## Charging\n\n" + CHARGING
    )
    corpus = write_corpus({"x-lite.md": text})
    build_index(corpus, tmp_path / "index", embedder)
    searcher = Searcher.open(embedder, tmp_path / "index")
    passage = searcher.search(QUESTION, 1).passages[0]
    [highlight] = passage.highlights
    assert passage.citation.start <= highlight.start < highlight.end <= passage.citation.end
    assert ANSWER in text[highlight.start : highlight.end]
    offset = highlight.start - passage.citation.start
    assert (
        passage.text[offset : offset + highlight.end - highlight.start]
        == (text[highlight.start : highlight.end])
    )


def test_a_sentence_naming_the_questions_code_wins_over_a_near_identical_one(
    embedder: Embedder,
) -> None:
    # Embeddings barely tell "E-2010" from "E-2011"; the highlight must not mix them up.
    text = (
        "E-2010 means an ink cartridge is not recognised. "
        "Take it out and push it back until it clicks.\n\n"
        "E-2011 means the print head is too hot. Let the printer rest for ten minutes.\n\n"
        "E-2042 means the waste ink pad is full and must be replaced by a service centre."
    )
    context = "Printer error codes\nInk and heads"
    for question, answer in [
        ("printer shows E-2011", "E-2011 means the print head is too hot."),
        ("What does error 2042 mean?", "E-2042 means the waste ink pad is full"),
    ]:
        vector = embedder.embed([question])[0]
        [((start, end), _)] = best_sentences(question, vector, [text], [context], embedder)
        assert answer in text[start:end], question


def test_a_faq_question_is_highlighted_with_the_answer_that_follows_it(
    embedder: Embedder,
) -> None:
    text = (
        "Q: How do I reset my password?\n\n"
        "A: Open Settings, choose Account and press Reset twice.\n\n"
        "Q: How do I change the e-mail address of my account?\n\n"
        "A: Write to the support team from the old address."
    )
    question = "How can I reset my password?"
    vector = embedder.embed([question])[0]
    [((start, end), _)] = best_sentences(question, vector, [text], ["Help\nFAQ"], embedder)
    assert text[start:end] == (
        "Q: How do I reset my password?\n\nA: Open Settings, choose Account and press Reset twice."
    )


def test_when_inside_a_question_sets_a_condition_and_asks_for_no_date(
    embedder: Embedder,
) -> None:
    text = (
        "Meal allowances were last changed on 1 March 2023.\n\n"
        "Staff on a trip outside the country can claim 60 euros for each day away."
    )
    date, allowance = text.split("\n\n")
    for question, answer in [
        ("What is the meal allowance when travelling abroad?", allowance),
        # Opening a clause that a question follows, it is a condition too.
        ("When travelling abroad, what is the meal allowance?", allowance),
        # Opening the question, "when" asks for the date.
        ("When were the meal allowances changed?", date),
    ]:
        vector = embedder.embed([question])[0]
        [((start, end), _)] = best_sentences(question, vector, [text], ["Travel\nMeals"], embedder)
        assert text[start:end] == answer, question


SPEC_LIST = (
    "## Specifications\n\nThe X300 is the heavy-duty sibling of the X200.\n\n"
    "- Weight: 1.9 kg\n- Max torque: 80 Nm\n- Impact rate: 4,000 blows per minute\n"
    "- Battery: 5,000 mAh lithium-ion (BP-50), charges in 90 minutes\n- Chuck: 13 mm keyless"
)
SPEC_TABLE = (
    "| Spec | X200 |\n|---|---|\n| Max torque | 55 Nm |\n| Weight | 1.4 kg |\n"
    "| Chuck | 10 mm keyless |"
)

PLAIN_TABLE = (
    "The two drills compare as follows.\n\n"
    "                X200        X300\n"
    "Max torque      55 Nm       80 Nm\n"
    "Weight          1.4 kg      1.9 kg\n"
    "Chuck           10 mm       13 mm"
)


def test_a_list_item_or_table_row_that_gives_the_value_is_highlighted(
    embedder: Embedder,
) -> None:
    cases = [
        # A short list item is an answer, not a label; the model in the title is named
        # by every line under it, and its number is no quantity ("how heavy").
        ("What is the max torque of the X300?", SPEC_LIST, "- Max torque: 80 Nm"),
        ("How heavy is the X300?", SPEC_LIST, "- Weight: 1.9 kg"),
        # A value run into its unit is still a quantity; a bold label is still a label.
        ("How heavy is the X300?", SPEC_LIST.replace("1.9 kg", "1.9kg"), "- Weight: 1.9kg"),
        (
            "What is the max torque of the X300?",
            SPEC_LIST.replace("- Max torque:", "- **Max torque:**"),
            "- **Max torque:** 80 Nm",
        ),
        # A table's data row, not its header row (which names the model) nor its rule.
        ("What is the max torque of the X200?", SPEC_TABLE, "| Max torque | 55 Nm |"),
        ("Which bits does the X200 chuck accept?", SPEC_TABLE, "| Chuck | 10 mm keyless |"),
        # A plain-text table's row, its columns lined up with spaces.
        ("What does the X200 weigh?", PLAIN_TABLE, "Weight          1.4 kg      1.9 kg"),
        # A numbered heading set with a wide gap is no table row.
        (
            "What are the service intervals?",
            "Servicing the pump\n\n4.2  Service intervals\n"
            "The pump must be serviced by a certified technician every twelve months.",
            "The pump must be serviced by a certified technician every twelve months.",
        ),
    ]
    for question, text, answer in cases:
        vector = embedder.embed([question])[0]
        [((start, end), _)] = best_sentences(
            question, vector, [text], ["X300 and X200 Drills: User Manual\nSpecifications"],
            embedder,
        )  # fmt: skip
        assert text[start:end] == answer, question


def test_a_day_of_the_week_or_a_time_answers_when(embedder: Embedder) -> None:
    # The first sentence is nearer the question; only the second says when.
    text = (
        "Dr Amelia Hart leads the soil ecology course.\n\n"
        "Students can meet her on Tuesdays from 14:00 to 16:00."
    )
    question = "When can I see Dr Hart?"
    vector = embedder.embed([question])[0]
    [((start, end), _)] = best_sentences(question, vector, [text], ["Course guide"], embedder)
    assert text[start:end] == text.split("\n\n")[1]


def test_the_day_the_question_names_wins_over_another_day(embedder: Embedder) -> None:
    # Embeddings read "Saturday" as close as "Monday to Friday": the named day tells.
    text = (
        "The clinic is open Monday to Friday from 8:00 am to 6:30 pm.\n\n"
        "On Saturdays we open from 9:00 to 12:00 for urgent appointments only.\n\n"
        "We are closed on Sundays and public holidays."
    )
    question = "Is the clinic open on Saturday?"
    vector = embedder.embed([question])[0]
    [((start, end), _)] = best_sentences(
        question, vector, [text], ["Clinic handbook\nOpening hours"], embedder
    )
    assert text[start:end] == text.split("\n\n")[1]


def test_a_clauses_own_number_is_no_figure_that_answers(embedder: Embedder) -> None:
    # "4.1" labels its clause; "four" is the figure that answers, in the other clause.
    text = (
        "4.1 A household may hold a late party only with an event notice.\n\n"
        "4.2 A household may be given up to four event notices a year."
    )
    question = "How many late parties can a household hold a year?"
    vector = embedder.embed([question])[0]
    [((start, end), _)] = best_sentences(question, vector, [text], ["Noise bylaw"], embedder)
    assert text[start:end] == text.split("\n\n")[1]


def test_whether_one_pays_or_how_cold_asks_for_an_amount(embedder: Embedder) -> None:
    # In each, the first sentence is nearer the question; the second holds the answer.
    cases = [
        (
            "I booked the wrong date. Is there a charge for swapping my tickets?",
            "Tickets bought in error can be exchanged for another performance up to 48 "
            "hours before the show, provided they are unused.",
            "An administration fee of £3 per ticket applies to each exchange.",
            "Box office\nExchanges",
        ),
        (
            "Do I have to pay to renew my library card?",
            "Library cards must be renewed every two years at any branch or online, with "
            "proof of address.",
            "Renewal is free for residents; non-residents pay £12.",
            "Library membership\nRenewing your card",
        ),
        (
            "How cold can it get outside before the heat pump stops working?",
            "The heat pump is designed for outdoor installation and runs in every season "
            "without a separate frost guard.",
            "It keeps heating down to an outdoor temperature of -20 °C, below which the "
            "backup heater takes over.",
            "Installation guide\nOperating limits",
        ),
    ]
    for question, nearer, answer, context in cases:
        text = f"{nearer}\n\n{answer}"
        vector = embedder.embed([question])[0]
        [((start, end), _)] = best_sentences(question, vector, [text], [context], embedder)
        assert text[start:end] == answer, question


def test_a_lead_in_is_highlighted_with_the_list_it_introduces(embedder: Embedder) -> None:
    text = (
        "Send security reports to security@burrow.dev, never to the public tracker.\n\n"
        "A good security report includes:\n\n"
        "- The version of Burrow that is affected.\n- The steps that reproduce the flaw.\n\n"
        "We answer within two working days."
    )
    question = "What should a security report include?"
    vector = embedder.embed([question])[0]
    [((start, end), _)] = best_sentences(question, vector, [text], ["Security policy"], embedder)
    assert text[start:end] == (
        "A good security report includes:\n\n"
        "- The version of Burrow that is affected.\n- The steps that reproduce the flaw."
    )
    # A long block after it: only its first line, so the reader is not handed pages.
    block = "".join(f"key_{n} = {n}  # a setting the file may hold\n" for n in range(20))
    long = f"A minimal configuration file looks like this:\n\n{block}"
    question = "What does a minimal configuration file look like?"
    vector = embedder.embed([question])[0]
    [((start, end), _)] = best_sentences(question, vector, [long], ["Configuration"], embedder)
    assert long[start:end] == (
        "A minimal configuration file looks like this:\n\nkey_0 = 0  # a setting the file may hold"
    )
    # A list whose items are apart by blank lines runs on to its last item; one long line
    # stops at the last word that fits.
    loose = "Before you call, have ready:\n\n- Your account number.\n\n- The error code.\n\nThanks."
    long_line = "Before you call, have ready:\n\n" + "the account number and more " * 40
    question = "What should I have ready before I call?"
    vector = embedder.embed([question])[0]
    spans = best_sentences(question, vector, [loose, long_line], ["Support", "Support"], embedder)
    [((start, end), _), ((long_start, long_end), _)] = spans
    assert loose[start:end] == loose.removesuffix("\n\nThanks.")
    assert 550 < long_end - long_start - len("Before you call, have ready:\n\n") <= 600
    assert long_line[long_end] == " "  # a whole word last
