"""The rules that say not found whatever the confidence: a price none gives, a year or a
model none names."""

from service.answerable import lacks_asked_price, lacks_named_model, lacks_named_year


def test_a_price_question_needs_an_amount_of_money_or_free() -> None:
    manual = "The X300 stores 10 kilowatt-hours and weighs 95 kilograms."
    asked = [
        lacks_asked_price(question, texts)
        for question, texts in [
            ("What does the X300 cost?", [manual]),
            ("What does the X300 cost?", [manual, "X300 prices\nIt sells for 4,900 euros."]),
            # Another model's price does not answer.
            ("What does the X200 cost?", ["X300 prices\nIt sells for 4,900 euros."]),
            # A model number written another way is the same model; a figure with its unit
            # is no model number ("three-year" answers "3-year").
            ("What does the HX-90 cost?", ["Prices\nThe HX 90 costs 8,000 euros."]),
            ("How much does the 100GB plan cost?", ["The 100 GB plan costs $10."]),
            ("What is the fee for a 3-year warranty?", ["A three-year warranty costs €49."]),
            ("What fee is there for returns?", ["Returns are free within 30 days."]),
            ("What is the visa fee?", ["The fee is €60."]),
            ("What are the prices?", ["Two tickets cost twenty dollars."]),
            # A currency's code before the amount, as price lists write it.
            ("What does the service cost?", ["The service costs EUR 45 per flight."]),
            ("Is the X300 cost-effective?", [manual]),
            ("Are visa fees covered?", ["Visa fees are reimbursed."]),
            ("How heavy is the X300?", [manual]),
            ("What is the fee for the guide?", ["The guide is free-of-charge."]),
            ("What is the fee for ATM withdrawals?", ["ATM withdrawals are fee-free."]),
            # A model number written with a non-breaking hyphen is the same model.
            ("What does the X300 cost?", ["The X\u2011300 costs €5,900."]),
            # "Free" that prices nothing: a compound, or a courtesy.
            ("What does the X300 cost?", ["The X300 runs on lead-free cells."]),
            ("What does the X300 cost?", ["Feel\nfree to ask us about the X300."]),
            ("What does the X300 cost?", ["The X300 is free\u2013standing."]),
            # A code that is no currency's: computer-aided design.
            ("What does the licence cost?", ["The licence covers CAD 2024 modules."]),
            # The year asked and a price in the same text, not one in each.
            ("How much was garage rent in 2023?", ["Garage rent £12.50.", "CPI 2023: 6.7%."]),
            ("How much was garage rent in 2023?", ["Garage rent for 2023 was £11.90."]),
            # "Rent" asks a price only after "how much".
            ("What bank details do I use to pay rent?", ["Sort code 12-34-56."]),
        ]
    ]
    assert asked == [True, False, True] + [False] * 13 + [True] * 5 + [False] * 2


def test_a_question_naming_a_year_needs_a_text_that_names_it() -> None:
    report = "Annual Report 2023\nRevenue rose to 48.2 million euros."
    assert not lacks_named_year("What was the revenue in 2023?", [report])
    assert lacks_named_year("What was the revenue in 2021?", [report])
    # Every year named must appear somewhere; any text may name it.
    assert lacks_named_year("Revenue in 2021 and 2023?", [report])
    assert not lacks_named_year("Revenue in 2021 and 2023?", [report, "In 2021 it was 40."])
    assert not lacks_named_year("What was the revenue last year?", [report])
    # In a text, a year run into a label still counts.
    assert not lacks_named_year("What was revenue in 2024?", ["Revenue in FY2024 was 5m."])
    # A number that is no year, or a year inside a code, asks for no year.
    assert not lacks_named_year("Is the E-2021 error serious?", [report])


def test_a_model_no_text_names_is_missing_when_its_series_titles_the_texts() -> None:
    a7 = ("Aerotherm A7: Manual\nSpecifications", "The A7 weighs 38 kg.")
    asked = [
        lacks_named_model(question, ["\n".join(pair) for pair in texts], [lab for lab, _ in texts])
        for question, texts in [
            ("How heavy is the Aerotherm A9?", [a7]),
            ("How heavy is the A7?", [a7]),
            # Written another way, it is the same model.
            ("How heavy is the a-7?", [a7]),
            # A variant of a titled model is no other model of its series.
            ("How many A7s fit on a pallet?", [a7]),
            # A name no label's series shares: a gene, a part, a spelling the text avoids.
            ("Does IL-33 drive the response?", [a7]),
            # Only labels tell the series: a text merely naming a sibling does not.
            ("Is the B2 quieter?", [("Manual", "Unlike the B1, it has a fan.")]),
            # A sibling the question names itself is no sign of a missing model.
            ("Can an A9 replace the A7?", [a7]),
            # Nor is the asked model written with other digits: padded, or a short year.
            ("How heavy is the A07?", [a7]),
            ("What was revenue in FY23?", [("Annual Report FY2023", "Revenue rose.")]),
            # A version is a model without letters; a changelog's headings name others.
            ("What was fixed in 1.4.0?", [("Changelog\n2.4.0 - 2023-09-05", "Fixed: prune.")]),
            ("What was fixed in 2.4.0?", [("Changelog\n2.4.0 - 2023-09-05", "Fixed: prune.")]),
            # A version is named only as written: 1.20.0 is no 1.2.0.
            ("What was fixed in 1.2.0?", [("Changelog\n1.20.0 - 2024-01-02", "Fixed: B2.")]),
            # Section numbers, dotted dates and addresses are no versions' siblings.
            ("How do I log in at 192.168.1.1?", [("Manual\n4.2.1 Logging in", "Open it.")]),
            ("What was decided on 05.09.2023?", [("Minutes 12.10.2023", "We met.")]),
        ]
    ]
    assert asked == [True] + [False] * 8 + [True, False, True, False, False]
