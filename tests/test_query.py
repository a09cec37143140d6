"""The boolean query language of topic definitions (newsmon.query)."""

from __future__ import annotations

import pytest

from newsmon.errors import ConfigError, TopicDefinitionError
from newsmon.query import Query, Unit, parse_query
from newsmon.text import normalize_for_query


def sentence(text: str) -> Unit:
    """A body sentence."""
    return Unit((("body", normalize_for_query(text)),))


def headline(text: str) -> Unit:
    """A title."""
    return Unit((("title", normalize_for_query(text)),))


def document(title: str, body: str) -> Unit:
    """A whole document."""
    return Unit((("title", normalize_for_query(title)), ("body", normalize_for_query(body))))


def q(text: str) -> Query:
    return parse_query(text, "topic 't' query")


def holds(query: str, text: str) -> bool:
    return q(query).holds(sentence(text))


# --- each operator --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("sanctions", "New sanctions were announced.", True),
        ("sanctions", "A sanction was announced.", False),
        ("SANCTIONS", "new sanctions", True),
        ("sanction*", "Washington sanctioned banks.", True),
        ("sanction*", "Unsanctioned criticism.", False),
        ('"lab leak"', "The lab-leak theory.", True),
        ('"lab leak"', "The lab – leak theory.", True),
        ('"lab leak"', "The lab did not leak.", False),
        ('"lab leak"', "The lab\u2010leak theory.", True),  # Unicode hyphen
        ('"lab leak"', "The lab\u2011leak theory.", True),  # non-breaking hyphen
        ('"lab leak"', "The lab\u2212leak theory.", True),  # minus sign
        ('"lab\u2010leak"', "The lab-leak theory.", True),  # a query pasted with a Unicode hyphen
        ("sanktion*", "Neue Sank\u00adtio\u00adnen gegen Russland", True),  # soft hyphens (&shy;)
        ("sanktionen", "Sank\u2060tionen", True),  # word joiner
        ("sanktionen", "Sank\u200btionen", False),  # a zero-width space breaks a word (Thai uses it so)
        ("istanbul", "İSTANBUL PROTESTOSU", True),  # Turkish İ casefolds to i and a dot above
        ("putin", "ERDOĞAN, PUTİN İLE GÖRÜŞTÜ", True),
        ("σύνοδος", "ΣΥΝΟΔΟΣ ΚΟΡΥΦΗΣ ΣΤΙΣ ΒΡΥΞΕΛΛΕΣ", True),  # Greek capitals drop the accent
        ("ایران", "وزير خارجه ايران", True),  # Arabic yeh for the Persian one
        ("سلام", "ســلام", True),  # tatweel
        ("محمد", "مُحَمَّد", True),  # vowel marks
        ("चीन", "चीनी के दाम बढ़े", False),  # "sugar": the vowel sign continues the word
        ("चीन", "चीन ने कहा।", True),
        ("रूस", "क्रूस पर चढ़ाया गया", False),  # "cross": after a virama, inside a word
        ("रूस", "रूस ने बयान जारी किया।", True),
        ("प्रतिबंध*", "नए प्रतिबंधों की घोषणा", True),  # a wildcard runs over vowel signs
        ("รัสเซีย", "สหรัฐคว่ำบาตรรัสเซียเพิ่มเติม", True),  # Thai is written without spaces
        ("“lab leak”", "a lab leak", True),
        ('"export control*"', "new export controls on chips", True),
        ("lab-leak", "the lab leak theory", True),
        ("c5+1", "The C5+1 ministers met.", True),
        ("c5+1", "The C5+10 group met.", False),
        ("russia AND sanctions", "Sanctions on Russia.", True),
        ("russia AND sanctions", "Sanctions on Iran.", False),
        ("russia OR iran", "Sanctions on Iran.", True),
        ("russia OR iran", "Sanctions on Cuba.", False),
        ("sanctions NOT iran", "Sanctions on Russia.", True),
        ("sanctions NOT iran", "Sanctions on Russia and Iran.", False),
        ("sanctions AND NOT iran", "Sanctions on Russia and Iran.", False),
        ("NOT iran AND sanctions", "Sanctions on Russia.", True),
        ("(russia OR moscow) AND sanctions", "Moscow faced sanctions.", True),
        ("(russia OR moscow) AND sanctions", "Moscow faced tariffs.", False),
    ],
)
def test_operators(query: str, text: str, expected: bool) -> None:
    assert holds(query, text) is expected


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("origin NEAR/3 covid", "the origin of covid", True),
        ("origin NEAR/3 covid", "covid and its origin", True),  # either order
        ("origin NEAR/1 covid", "the origin of the covid virus", False),  # 2 words between
        ("origin NEAR/2 covid", "the origin of the covid virus", True),
        ("origin NEAR/0 covid", "covid origin", True),
        ('"lab leak" NEAR/2 covid*', "lab leak and covid-19", True),
        ("(origin OR source) NEAR/2 (covid* OR coronavirus)", "the source of the coronavirus", True),
        ("(origin NEAR/2 covid) NEAR/3 lab", "the origin of covid in a lab", True),
        ("(origin NEAR/2 covid) NEAR/1 lab", "the origin of covid was not in a lab", False),
        ("origin NEAR/3 covid", "The origin is unknown. Covid spread.", True),  # one sentence here
    ],
)
def test_near(query: str, text: str, expected: bool) -> None:
    assert holds(query, text) is expected


def test_near_does_not_cross_fields() -> None:
    query = q("origin NEAR/3 covid")
    assert not query.holds(document("The origin", "covid spread"))
    assert query.holds(document("The origin of covid", "nothing"))


def test_field_scoping() -> None:
    assert q("title:kazakh*").holds(headline("Kazakhstan hosts talks"))
    assert not q("title:kazakh*").holds(sentence("Kazakhstan hosts talks"))
    assert q("body:kazakh*").holds(sentence("Kazakhstan hosts talks"))
    assert not q("body:kazakh*").holds(headline("Kazakhstan hosts talks"))
    both = q("title:(kazakh* OR uzbek*) AND body:summit")
    assert both.holds(document("Uzbekistan news", "The summit opened."))
    assert not both.holds(document("Weather news", "Uzbekistan summit opened."))
    assert q('title:"lab leak"').holds(headline("Lab-leak report"))


# --- precedence -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        # AND binds tighter than OR: a OR (b AND c)
        ("apple OR banana AND cherry", "apple", True),
        ("apple OR banana AND cherry", "banana", False),
        ("(apple OR banana) AND cherry", "apple", False),
        # NOT binds tighter than AND: (NOT a) AND b
        ("NOT apple AND banana", "banana", True),
        ("NOT apple AND banana", "apple banana", False),
        # NOT applies to one operand, not to the rest of the query
        ("NOT apple OR banana", "apple banana", True),
        # NEAR binds tighter than NOT and AND
        ("NOT apple NEAR/1 banana", "apple pie and banana", True),
        ("NOT apple NEAR/1 banana", "apple banana", False),
        ("cherry AND apple NEAR/1 banana", "cherry apple banana", True),
        ("cherry AND apple NEAR/1 banana", "cherry apple x y banana", False),
    ],
)
def test_precedence(query: str, text: str, expected: bool) -> None:
    assert holds(query, text) is expected


def test_canonical_source_shows_the_grouping() -> None:
    assert q("a OR b AND c").root.source == "(a OR (b AND c))"
    assert q("NOT a AND b").root.source == "(NOT a AND b)"
    assert q("a NOT b").root.source == "(a AND NOT b)"


# --- explain: the part that matched -----------------------------------------------------------


def test_explain_shows_only_the_alternatives_that_matched() -> None:
    query = q('(sanction* OR "price cap*" OR embargo) AND (russia* OR kremlin) NOT iran')
    unit = sentence("New sanctions on Russia's banks.")
    memo = query.match(unit)
    assert memo is not None
    assert query.explain(memo, unit) == "sanction* AND russia*"


def test_explain_near_and_fields() -> None:
    query = q("title:(kazakh* OR uzbek*) NEAR/3 (summit OR talks)")
    unit = headline("Uzbekistan summit opens")
    memo = query.match(unit)
    assert memo is not None
    assert query.explain(memo, unit) == "title:uzbek* NEAR/3 summit"  # the field scopes its operand only


def test_explain_near_names_only_the_terms_within_the_distance() -> None:
    query = q('(houthi* OR "red sea") NEAR/3 (ship* OR tanker* OR drone*)')
    unit = sentence(
        "The Red Sea coast was calm on Monday morning, said officials in the port city who watch the"
        " shipping lanes every day, while Houthi rebels fired drones at a ship."
    )
    memo = query.match(unit)
    assert memo is not None
    # "Red Sea" is far from any ship or drone, "shipping" far from Houthi, "ship" 5 words from it
    assert query.explain(memo, unit) == "houthi* NEAR/3 drone*"
    query = q('tanker* NEAR/2 (houthi* OR "red sea")')
    unit = sentence("Houthi rebels said nothing about it on Monday; a tanker in the Red Sea was hit.")
    memo = query.match(unit)
    assert memo is not None
    assert query.explain(memo, unit) == 'tanker* NEAR/2 "red sea"'
    # a NEAR inside a NEAR names its own close terms too
    query = q("(alpha NEAR/3 (beta OR delta)) NEAR/5 gamma")
    unit = sentence("alpha and beta met gamma while delta waited far away from all of them today")
    memo = query.match(unit)
    assert memo is not None
    assert query.explain(memo, unit) == "(alpha NEAR/3 beta) NEAR/5 gamma"


def test_match_returns_none_when_the_query_does_not_hold() -> None:
    assert q("russia").match(sentence("Iran")) is None


# --- errors: topic, position, what was expected --------------------------------------------------


@pytest.mark.parametrize(
    ("query", "position", "expected"),
    [
        ("lab leak", "column 5", "expected AND, OR, NOT, NEAR/n or the end of the query, found 'leak'"),
        ("russia AND", "column 11", "expected a word, a phrase, '(' or NOT, found the end of the query"),
        ("(russia OR moscow", "column 18", "expected ')' or an operator"),
        ("russia)", "column 7", "unbalanced ')'"),
        ("russia and sanctions", "column 8", "operators are upper-case"),
        ("origin NEAR covid", "column 8", "NEAR/n with a distance"),
        ("origin NEAR/99 covid", "column 8", "distance n from 0 to 50"),
        ("origin NEAR/3 (covid AND lab)", "column 15", "NEAR/n joins words, phrases"),
        ("a NEAR/2 b NEAR/2 c", "column 12", "one NEAR/n per group"),
        ("headline:russia", "column 1", "unknown field 'headline'"),
        ('"lab leak', "column 1", "unterminated quoted phrase"),
        ("russia, moscow", "column 7", "unexpected ','"),
        ("*", "column 1", "has no letters to match"),
        ("s*nction", "column 1", "'*' not at a word's end"),
        ("", "column 1", "the query is empty"),
        ("   ", "column 1", "the query is empty"),
        ("()", "column 2", "expected a word, a phrase or '('"),
        ("title:(body:x)", "column 7", "a part has one field"),
        ("russia OR\n  moscow kremlin", "line 2 of the query, column 10", "found 'kremlin'"),
        # a web search engine's syntax would be read as words and mean something else: refused
        ("blinken AND -kazakhstan", "column 13", "to exclude a word, use NOT (a NOT b)"),
        ("blinken !kazakhstan", "column 9", "to exclude a word, use NOT"),
        ("+sanctions russia", "column 1", "to require a word, use AND"),
        ("sanction?", "column 9", "end a word with * for any ending"),
        ("sanction~", "column 9", "end a word with * for any ending"),
        ("'lab leak'", "column 1", "a phrase is quoted with double quotes"),
        ("‘lab leak’ OR x", "column 1", "a phrase is quoted with double quotes"),
        ("--kazakhstan", "column 1", "to exclude a word, use NOT"),
        ("uzbek* –kazakhstan", "column 8", "to exclude a word, use NOT"),  # an en dash, as typed
        # a comment copied from the topics file's style into a query string
        ("russia OR\n  # the capital\n  moscow", "line 2 of the query, column 3", "a comment ('#') cannot sit inside"),
        ("russia OR moscow # the capital", "column 18", "put it on a line of its own, outside the quotes"),
        ("title:NOT x", "column 7", "after title:, found 'NOT' (to leave out a word, write NOT title:word)"),
        ("www.example.com", "column 1", "is a web address, and terms never match inside links"),
        ("russia OR https://example.com/news", "column 11", "'https://example.com/news' is a web address"),
        ("@", "column 1", "has no letters to match"),
        ("russia OR &", "column 11", "has no letters to match"),
        ("colou?r", "column 6", "'?' is not a wildcard here: list the spellings with OR (color OR colour)"),
        ("k?nig AND x", "column 2", "'?' is not a wildcard here"),
        # NOT is no operand of NEAR: said so, not "expected ... or NOT, found 'NOT'"
        (
            "a NEAR/5 NOT b",
            "column 10",
            "NOT cannot be an operand of NEAR/n: to leave a word out, write (a NEAR/n b) NOT c",
        ),
        ("a NEAR/5 )", "column 10", "expected a word, a phrase or '(' after NEAR/n, found ')'"),
        (
            "（台积电 OR 台湾",
            "column 11",
            "expected ')' or an operator, found the end of the query (the '(' at column 1)",
        ),
    ],
)
def test_syntax_errors_name_the_topic_position_and_what_was_expected(query: str, position: str, expected: str) -> None:
    with pytest.raises(TopicDefinitionError) as info:
        parse_query(query, "topics.toml: topic 'sanctions' query")
    message = str(info.value)
    assert message.startswith("topics.toml: topic 'sanctions' query: query error at ")
    assert f"at {position}:" in message
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("«intelligence artificielle»", "L'intelligence artificielle progresse."),
        ("»künstliche Intelligenz« AND gesetz", "Das Gesetz über künstliche Intelligenz."),
        ("« intelligence artificielle »", "L'intelligence artificielle progresse."),
        ("＂AI Act＂", "The EU AI Act was adopted."),
        ("（台积电 OR 台湾） NEAR/3 芯片", "台湾芯片出口增长。"),
        ("「台积电」 OR 『东京』", "台积电宣布新厂。"),
    ],
)
def test_phrase_quotes_and_parentheses_of_other_languages_and_input_methods(query: str, text: str) -> None:
    """French and German quotation marks, corner brackets and full-width quotes and parentheses
    (as a Chinese or Japanese input method types them) are quotes and parentheses, not letters
    of a term that then matches nothing."""
    parsed = parse_query(query, "x")
    assert parsed.holds(sentence(text))
    assert not any(c in term.source for term in parsed.terms for c in "«»「」『』＂（）")


@pytest.mark.parametrize(
    "query",
    ["C++ OR F#", '"-x" OR y', "covid-19 AND wuhan", "AT&T", "U.S. AND sanction*", "'ndrangheta OR 'ndrina",
     "'s-Hertogenbosch", "rock'n'roll AND '90s", "xi's", '"Xi\'s visit"', "#kazakhstan OR #astana"],
)  # fmt: skip
def test_words_with_signs_inside_or_quoted_are_still_words(query: str) -> None:
    assert parse_query(query, "x").terms


@pytest.mark.parametrize(
    "query", ["(" * 400 + "arctic" + ")" * 400, "NOT " * 3000 + "arctic", "arctic AND " + "NOT " * 600 + "ice"]
)
def test_a_query_nested_too_deeply_is_a_one_line_error(query: str) -> None:
    with pytest.raises(TopicDefinitionError, match="nested more than 100 levels deep") as info:
        parse_query(query, "topics.toml: topic 'x' query")
    assert "\n" not in str(info.value)


def test_a_query_nested_as_deep_as_allowed_is_matched() -> None:
    """The bound on nesting keeps matching (two frames a level) far from Python's stack limit."""
    assert q("arctic AND " + "NOT " * 99 + "ice").holds(sentence("Arctic shipping"))
    assert q("(" * 100 + "arctic" + ")" * 100).holds(sentence("Arctic shipping"))


def test_query_must_be_text() -> None:
    with pytest.raises(TopicDefinitionError, match="must be a query string"):
        parse_query(["russia"], "topic 'x' query")  # type: ignore[arg-type]


def test_errors_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        parse_query("a AND", "x")
