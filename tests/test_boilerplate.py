"""Reprint boilerplate removal and attribution lines (newsmon.boilerplate)."""

from __future__ import annotations

import pytest

from newsmon.boilerplate import is_boilerplate_line, strip_boilerplate

SHARE_PROMPTS = [
    "Spread the love",
    "SPREAD THE LOVE",
    "Share this:",
    "Share this article",
    "Share on Facebook",
    "Click to share on Twitter (Opens in new window)",
    "Facebook",
    "WhatsApp",
    "Like this:",
    "Loading...",
    "- Share this -",
    "  Spread the love  ",
]
FOOTERS = [
    "Source link",
    "source link",
    "Read more",
    "Read more...",
    "Read more here",
    "Read more at Reuters.com",
    "Read the full article here",
    "Continue reading",
    "Related Posts",
    "You may also like",
    "More from Reuters:",
    "Advertisement",
    "Sponsored content",
    "Follow us on Twitter",
    "Follow us on Twitter, Facebook and Instagram",
    "Subscribe",
    "Subscribe to our newsletter",
    "Sign up for our daily briefing!",
    "© 2023 Example News",
    "Copyright © 2023 Example News",
    "Copyright 2023 Foo. All rights reserved.",
    "All rights reserved.",
]
COMMENT_FORMS = [
    "Leave a Reply",
    "Leave a Reply Cancel reply",
    "Leave a comment",
    "Cancel reply",
    "Your email address will not be published.",
    "Your email address will not be published. Required fields are marked *",
    "Required fields are marked *",
    "Comment *",
    "Name *",
    "Website",
    "Save my name, email, and website in this browser for the next time I comment.",
    "Post Comment",
    "Δ",
]
BODY_SENTENCES = [
    "The source link between the two events was unclear, officials said.",
    "Readers may leave a reply in the comments section below the article.",
    "Officials said they would share this information with allies.",
    "Read more about sanctions in our explainer on Russia.",
    "Email was the main channel of communication, officials said.",
    "Subscribe to the idea that sanctions work, and you will be disappointed.",
    "Sign up for military service became mandatory in 2022.",
    "Follow us on this long road to the summit, said the minister.",
    "Read at the ceremony, the statement condemned the sanctions.",
    "Read on the plane the report alarmed him",
    "Copyright law in Kazakhstan was reformed in 2021.",
    "More from the minister is expected later today",
    "Tweet on sanctions sparks anger in Moscow",
    "Print on demand is growing fast in Astana",
    "He asked the delegation to spread the love of peace across the region.",
    "Your email address will not be published, the editors promised readers.",
    "Facebook and Twitter were blocked in the country last year.",
    "By the numbers",
]


@pytest.mark.parametrize("line", SHARE_PROMPTS)
def test_share_prompts_are_boilerplate(line: str) -> None:
    assert is_boilerplate_line(line)


@pytest.mark.parametrize("line", FOOTERS)
def test_aggregator_footers_are_boilerplate(line: str) -> None:
    assert is_boilerplate_line(line)


@pytest.mark.parametrize("line", COMMENT_FORMS)
def test_comment_forms_are_boilerplate(line: str) -> None:
    assert is_boilerplate_line(line)


@pytest.mark.parametrize("line", BODY_SENTENCES)
def test_body_sentences_mentioning_such_words_are_kept(line: str) -> None:
    assert not is_boilerplate_line(line)
    assert strip_boilerplate(f"First paragraph.\n\n{line}\n\nLast paragraph.").body.split("\n\n")[1] == line


@pytest.mark.parametrize("line", ["", "   ", "-", "•"])
def test_blank_or_decoration_only_lines_are_not_counted_as_boilerplate(line: str) -> None:
    assert not is_boilerplate_line(line)


def test_strip_boilerplate_removes_lines_keeps_paragraphs_and_counts() -> None:
    text = (
        "Spread the love\n\n"
        "First paragraph of the article.\n"
        "Share this:\n"
        "Facebook\n"
        "Second paragraph, which mentions a source link.\n\n\n"
        "Source link\n\n"
        "Leave a Reply\n\n"
        "Your email address will not be published. Required fields are marked *\n"
    )
    cleaned = strip_boilerplate(text)
    assert cleaned.body == "First paragraph of the article.\n\nSecond paragraph, which mentions a source link."
    assert cleaned.removed_lines == 6
    assert cleaned.author is None
    assert cleaned.origin is None


def test_text_without_boilerplate_is_unchanged_apart_from_paragraph_spacing() -> None:
    cleaned = strip_boilerplate("  One.  \nTwo.\n\n\n\nThree.")
    assert cleaned.body == "One.\n\nTwo.\n\nThree."
    assert cleaned.removed_lines == 0


# --- attribution --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "origin"),
    [
        ("Source: WeChat official account: X has been authorized to reprint", "WeChat official account: X"),
        ("Source: WeChat official account: Buyidao has been authorized to reprint", "WeChat official account: Buyidao"),
        ("Source: Reuters", "Reuters"),
        ("Via: The Diplomat", "The Diplomat"),
        ("Reprinted from Xinhua with permission.", "Xinhua"),
        ("Originally published by The Diplomat.", "The Diplomat"),
        ("This article was originally published in Foreign Policy.", "Foreign Policy"),
        ("Source - Reuters", "Reuters"),
        ("Source — Associated Press", "Associated Press"),
        ("Source：新华社", "新华社"),
        ("Via Reuters", "Reuters"),
        ("via the Guardian", "the Guardian"),
        ("via reuters.com", "reuters.com"),
        ("Source: U.S. Department of State.", "U.S. Department of State"),
    ],
)
def test_origin_lines_are_lifted(line: str, origin: str) -> None:
    cleaned = strip_boilerplate(f"{line}\n\nThe minister arrived in Astana on Tuesday.")
    assert cleaned.origin == origin
    assert cleaned.body == "The minister arrived in Astana on Tuesday."
    assert cleaned.removed_lines == 1


@pytest.mark.parametrize(
    "line",
    [
        "Sources said the finance minister had resigned.",
        "Source of the leak was never found.",
        "Sourced from three suppliers, the parts arrive next week.",
        "Via Teleconference",  # the heading of a press call's transcript
        "Via Video Link",
        "via the Americas Partnership for Economic Prosperity. They discussed trade.",
        "Via the new rules, officials can freeze assets.",
        "Viable options remain, the minister said.",
        "Source: officials said the talks had failed.",
        "Source: officials said the talks had failed",  # a headline-style line, without its period
        "Source: diplomats told reporters the summit was off",
        "By the numbers",  # lower-case words after "By" name no author
        "By land and by sea, the delegation travelled to Astana.",
        "By 2030, Kazakhstan hopes to double its exports.",
    ],
)
def test_sentences_starting_like_an_attribution_stay_in_the_body(line: str) -> None:
    cleaned = strip_boilerplate(f"{line}\n\nThe prime minister accepted it on Friday.")
    assert cleaned.origin is None and cleaned.author is None
    assert cleaned.body == f"{line}\n\nThe prime minister accepted it on Friday."
    assert cleaned.removed_lines == 0


@pytest.mark.parametrize(
    ("line", "author"),
    [
        ("Writing/Name", "Name"),
        ("Writing/Nine Life Sabre", "Nine Life Sabre"),
        ("Written by: Li Wei", "Li Wei"),
        ("Writing | Li Wei", "Li Wei"),
        ("By Jane Doe", "Jane Doe"),
        ("by Jane Doe", "Jane Doe"),
        ("BY JANE DOE", "JANE DOE"),
    ],
)
def test_author_lines_are_lifted(line: str, author: str) -> None:
    cleaned = strip_boilerplate(f"{line}\n\nThe minister arrived in Astana on Tuesday.")
    assert cleaned.author == author
    assert cleaned.body == "The minister arrived in Astana on Tuesday."


def test_origin_and_author_of_a_reprint_header() -> None:
    text = (
        "Spread the love\n\n"
        "Source: WeChat official account: X has been authorized to reprint\n\n"
        "Writing/Name\n\n"
        "First sentence of the body.\n\nSecond."
    )
    cleaned = strip_boilerplate(text)
    assert (cleaned.origin, cleaned.author) == ("WeChat official account: X", "Name")
    assert cleaned.body == "First sentence of the body.\n\nSecond."
    assert cleaned.removed_lines == 3


def test_attribution_at_the_end_is_lifted() -> None:
    cleaned = strip_boilerplate("The minister arrived.\n\nBy Jane Doe\n\nSource link")
    assert cleaned.author == "Jane Doe"
    assert cleaned.body == "The minister arrived."


def test_only_the_first_origin_and_author_are_taken() -> None:
    cleaned = strip_boilerplate("Source: Reuters\n\nBy Jane Doe\n\nSource: AP\n\nBy John Roe\n\nBody text.")
    assert (cleaned.origin, cleaned.author) == ("Reuters", "Jane Doe")
    assert "Source: AP" in cleaned.body
    assert "By John Roe" in cleaned.body


def test_long_attribution_like_line_is_kept() -> None:
    line = "Source: " + "officials who spoke on condition of anonymity said the talks would go on " * 3
    cleaned = strip_boilerplate(f"{line.strip()}\n\nBody.")
    assert cleaned.origin is None
    assert cleaned.body.startswith("Source: officials")


def test_attribution_line_in_the_middle_of_a_long_body_is_not_lifted() -> None:
    paragraphs = [f"Paragraph {i} of the article, with several words in it." for i in range(30)]
    paragraphs.insert(15, "Source: Reuters")
    paragraphs.insert(16, "By Jane Doe")
    paragraphs.insert(17, "Writing/Someone Else")
    cleaned = strip_boilerplate("\n\n".join(paragraphs))
    assert cleaned.origin is None
    assert cleaned.author is None
    assert cleaned.removed_lines == 0
    body = cleaned.body.split("\n\n")
    assert body[15:18] == ["Source: Reuters", "By Jane Doe", "Writing/Someone Else"]
    assert len(body) == 33


def test_boilerplate_in_the_middle_of_a_long_body_is_still_removed() -> None:
    paragraphs = [f"Paragraph {i} of the article, with several words in it." for i in range(30)]
    paragraphs.insert(15, "Share this:")
    cleaned = strip_boilerplate("\n\n".join(paragraphs))
    assert "Share this:" not in cleaned.body
    assert cleaned.removed_lines == 1
