"""Alert digests: when a topic alerts, escaping, safe links, the chart, the page and file names (newsmon.alerts)."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest

from newsmon.alerts import (
    SOURCES_TOPIC,
    TITLE_CHARS,
    AlertRecord,
    StoryLine,
    TopicInput,
    alert_filename,
    build_sources_alert,
    build_topic_alert,
    digest_filename,
    digest_order,
    escape_markdown,
    html_link,
    markdown_link,
    more_stories,
    rank_stories,
    render_digest_page,
    render_run_markdown,
    runs_missing_files,
    stories_wanted,
    svg_chart,
    topic_input,
    write_run_files,
)
from newsmon.models import AlertItem, AlertRule
from newsmon.trends import DayCount, SourceCadence, TrendPoint, assess_series

NOW = datetime(2023, 3, 1, 12, 30, 45, tzinfo=UTC)
TODAY = NOW.date()
RUN = "0f8e2c1a-1111-2222-3333-444455556666"
HOSTILE_TITLE = "Hi <img src=x onerror=alert(1)> [click](javascript:alert(1))"
HOSTILE_EVIDENCE = "See ![pixel](http://evil.example/p.png) <script>alert(2)</script> [x](javascript:alert(3)) *b* `c`"
UNESCAPED_LINK = re.compile(r"(?<!\\)\]\(")


def item(
    doc: str = "d1",
    story: str = "s1",
    title: str = "Blinken visits Astana",
    url: str = "https://example.com/a",
    evidence: str = "Blinken visited Astana.",
    score: float = 0.5,
    is_new_story: bool = True,
    source: str = "wire",
    published_at: datetime | None = None,
) -> AlertItem:
    return AlertItem(doc, story, title, source, url, evidence, score, is_new_story, published_at)


def line(
    story: str = "s1", headline: str = "Blinken visits Astana", url: str = "https://example.com/a", **kw
) -> StoryLine:
    fields = {"documents": 1, "sources": ("wire",), "evidence": "Blinken visited Astana.", "score": 0.5}
    fields.update(kw)
    return StoryLine(story, headline, url, first_seen_at=NOW, **fields)


def trend(*stories: int, end: date = TODAY) -> list[TrendPoint]:
    start = end - timedelta(days=len(stories) - 1)
    return assess_series([DayCount(start + timedelta(days=i), s, s) for i, s in enumerate(stories)])


QUIET = [2, 3, 2, 1, 3, 2, 2, 3, 2, 1, 2, 3, 2, 2, 2]


def topic_alert(
    items: list[AlertItem],
    lines: list[StoryLine] | None = None,
    points: list[TrendPoint] | None = None,
    name: str = "Central Asia diplomacy",
    topic: str = "central-asia-diplomacy",
    spike_alerted: bool = False,
    max_age_days: float = 3.0,
    rule: AlertRule | None = None,
) -> AlertRecord | None:
    stories = lines if lines is not None else [line(i.story_id, i.title, i.url, evidence=i.evidence) for i in items]
    data = TopicInput(topic, name, items, stories, points if points is not None else trend(*QUIET, 2), spike_alerted)
    return build_topic_alert(RUN, NOW, data, max_age_days=max_age_days, rule=rule or AlertRule())


def record(topic: str = "central-asia-diplomacy", run_id: str = RUN, markdown: str = "# x\n", **kw) -> AlertRecord:
    fields = {"kind": "topic", "spike": False, "new_stories": 1, "triggers": {}, "html": ""}
    fields.update(kw)
    return AlertRecord(
        "id-" + topic, run_id, topic, created_at=NOW, day=TODAY, document_count=1, story_count=1, markdown=markdown,
        **fields,
    )  # fmt: skip


def render_html(markdown: str) -> str:
    markdown_it = pytest.importorskip("markdown_it")
    return str(markdown_it.MarkdownIt("commonmark").render(markdown))


# --- when a topic alerts ------------------------------------------------------------------


def test_a_story_new_to_the_topic_alerts() -> None:
    alert = topic_alert([item("d1", "s1"), item("d2", "s1", is_new_story=True), item("d3", "s2", is_new_story=False)])
    assert alert is not None and alert.kind == "topic" and not alert.spike
    assert (alert.document_count, alert.story_count, alert.new_stories) == (3, 2, 1)
    assert alert.triggers["new_copies"] == 1 and alert.triggers["today"]["stories"] == 2
    assert alert.id == topic_alert([item()]).id  # stable per run and topic
    assert alert.title == "newsmon: Central Asia diplomacy — 1 new story"


def test_new_copies_of_known_stories_alone_do_not_alert() -> None:
    assert topic_alert([item("d1", "s1", is_new_story=False), item("d2", "s1", is_new_story=False)]) is None
    assert topic_alert([]) is None


def test_a_backlog_of_old_news_does_not_alert_on_its_own() -> None:
    """A feed added today that carries last winter's items: its stories are new to the topic,
    but none alerts until a story published lately (or a spike) does; then they are listed too,
    and the digest says how many are old."""
    old = NOW - timedelta(days=60)
    backlog = [item("d1", "s1", published_at=old), item("d2", "s2", published_at=old)]
    assert topic_alert(backlog) is None
    alert = topic_alert([*backlog, item("d3", "s3", published_at=NOW - timedelta(hours=5))])
    assert alert is not None and alert.new_stories == 3 and alert.triggers["old_new_stories"] == 2
    assert "2 of them published more than 3 days before" in alert.markdown
    assert topic_alert([item("d4", "s4")]) is not None  # no publication date: as old as its first sighting
    assert topic_alert([item("d5", "s5", published_at=old), item("d6", "s5", published_at=NOW)]) is not None
    assert topic_alert(backlog, max_age_days=90) is not None


def test_a_fresh_spike_alerts_once_per_day() -> None:
    surge = trend(*QUIET, 14)
    alert = topic_alert([], lines=[line("s9", documents=3)], points=surge)
    assert alert is not None and alert.spike and alert.new_stories == 0
    assert alert.triggers["today"]["is_spike"] and alert.triggers["today"]["stories"] == 14
    assert "Spike: 14 unique stories" in alert.markdown
    assert "spike: 14 stories" in alert.title
    assert topic_alert([], points=surge, spike_alerted=True) is None  # already alerted today
    again = topic_alert([item()], points=surge, spike_alerted=True)
    assert again is not None and not again.spike  # new stories still alert, without a second spike
    assert "): a spike, alerted earlier today." in again.markdown  # not "no spike"


def test_a_topic_can_ask_for_several_new_stories_and_no_spike_alerts() -> None:
    """min_new_stories = 3: one or two recent new stories wait (pending) and alert with the
    third; a backlog story does not count towards the three. spikes = false: a spike alone
    makes no alert."""
    rule = AlertRule(min_new_stories=3, spikes=False)
    old = NOW - timedelta(days=60)
    two = [item("d1", "s1"), item("d2", "s2"), item("d3", "s3", published_at=old)]
    assert topic_alert(two, rule=rule) is None
    three = topic_alert([*two, item("d4", "s4")], rule=rule)
    assert three is not None and three.new_stories == 4 and three.triggers["min_new_stories"] == 3
    assert "This topic alerts from 3 new stories." in three.markdown
    surge = trend(*QUIET, 14)
    assert topic_alert([], lines=[line("s9", documents=3)], points=surge) is not None
    assert topic_alert([], lines=[line("s9", documents=3)], points=surge, rule=rule) is None
    no_spike = topic_alert([item("d1", "s1")], points=surge, rule=AlertRule(spikes=False))
    assert (
        no_spike is not None
        and not no_spike.spike
        and no_spike.title == "newsmon: Central Asia diplomacy — 1 new story"
    )
    assert (
        "(expected 2.1; 6.5× expected, score 7.2): a spike, whose alerts are off for this topic." in no_spike.markdown
    )


def test_the_trend_line_names_the_expected_count_its_ratio_is_against() -> None:
    """A quiet topic's baseline is floored at 0.5 a day: the ratio is against that, and the line
    says so rather than seeming to divide by the baseline."""
    alert = topic_alert([item()], points=trend(0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1))
    assert alert is not None
    assert re.search(r"against a baseline of 0\.1 a day \(expected 0\.5; 2\.0× expected, score", alert.markdown)


def test_the_trigger_says_why_with_numbers() -> None:
    alert = topic_alert([item()], points=trend(*QUIET, 14))
    assert alert is not None
    (spike_line,) = [ln for ln in alert.markdown.splitlines() if "Spike" in ln]
    assert "on 2023-03-01" in spike_line and "baseline of 2.1 a day over 14 days" in spike_line
    assert re.search(r"6\.\d× expected, p = \d\.\de-\d\d, score \d+\.\d", spike_line)
    young = topic_alert([item()], points=trend(1, 2, 3, 4))
    assert young is not None and "no baseline yet (2 of the 3 baseline days needed)" in young.markdown


def test_the_trend_says_it_counts_stories_with_a_copy_first_seen_today() -> None:
    """A story new yesterday counts in today's trend when a copy of it arrives today: the line
    must not read as if all seven were first seen today beside six new to the topic."""
    items = [item(f"d{n}", f"s{n}") for n in range(6)] + [item("d6", "s-yesterday", is_new_story=False)]
    alert = topic_alert(items, points=trend(*[5, 6, 7] * 5, 7))
    assert alert is not None
    lines = [ln.removeprefix("- ") for ln in alert.markdown.splitlines() if ln.startswith(("- Trend", "- New"))]
    assert lines[0].startswith("Trend: 7 stories with a copy first seen on 2023-03-01 (today) against a baseline")
    assert lines[1].startswith("New: 6 stories new to this topic")
    assert "Trend: 7 stories with a copy first seen on 2023-03-01 (today)" in alert.html
    young = topic_alert(items, points=trend(1, 7))
    assert young is not None and "Trend: 7 stories with a copy first seen on 2023-03-01 (today); no baseline" in (
        young.markdown
    )
    spike = topic_alert(items, points=trend(*QUIET, 14))
    assert spike is not None
    assert "Spike: 14 unique stories with a copy first seen on 2023-03-01 (today; 14 documents) against" in (
        spike.markdown
    )


def test_stories_wanted_and_topic_input() -> None:
    pending = {"a": [item("d1", "s1"), item("d2", "s2", is_new_story=False)]}
    trends = {"a": trend(*QUIET, 2), "b": trend(*QUIET, 14)}
    wanted = stories_wanted(pending, trends, TODAY, {"a": {"s7"}, "b": {"s8", "s9"}}, spike_alerted=set())
    assert wanted == {("a", "s1"), ("a", "s2"), ("b", "s8"), ("b", "s9")}
    assert stories_wanted(pending, trends, TODAY, {"b": {"s8"}}, spike_alerted={"b"}) == {("a", "s1"), ("a", "s2")}
    lines = {("a", "s1"): line("s1"), ("a", "s2"): line("s2"), ("b", "s8"): line("s8")}
    data = topic_input("a", "A", pending["a"], trends["a"], lines, False)
    assert {(s.story_id, s.is_new, s.new_documents) for s in data.stories} == {("s1", True, 1), ("s2", False, 1)}


def test_top_stories_are_the_most_widely_carried() -> None:
    lines = [
        line("a", "Few", documents=2, sources=("x",)),
        line("b", "Many", documents=9, sources=("x", "y", "z")),
        line("c", "Many too", documents=9, sources=("x",)),
    ]
    assert [s.story_id for s in rank_stories(lines)] == ["b", "c", "a"]
    alert = topic_alert([item("d1", s.story_id) for s in lines], lines=lines)
    assert alert is not None
    md = alert.markdown
    assert md.index("[Many](") < md.index("[Many too](") < md.index("[Few](")
    assert "8 reprints · 3 sources: x, y, z" in md


def test_a_backlog_story_is_listed_after_the_recent_ones() -> None:
    """A story new to the topic whose copies were all published weeks ago (a backlog that came
    with the spike) follows the recent new stories, however widely it was carried."""
    old = NOW - timedelta(days=20)
    backlog = line("b", "Old story", documents=9, sources=("x", "y"))
    backlog = replace(backlog, latest_at=old, published_at=old)
    fresh = replace(line("f", "Fresh story", documents=1), latest_at=NOW - timedelta(hours=2))
    alert = topic_alert([item("d1", "b", published_at=old), item("d2", "f")], lines=[backlog, fresh])
    assert alert is not None
    assert alert.markdown.index("[Fresh story](") < alert.markdown.index("[Old story](")
    assert [s.story_id for s in rank_stories([backlog, fresh])] == ["b", "f"]  # no clock: by copies


def test_stories_new_to_the_topic_are_listed_before_new_copies_of_known_ones() -> None:
    """Known stories that only gained copies, however widely carried, never push a new story
    out of the list: the title's count is what the list shows plus what it says is hidden."""
    new = [item(f"d{n}", f"n{n}", f"New story {n}") for n in range(1, 10)]
    known = [item(f"k{n}", f"k{n}", f"Known story {n}", is_new_story=False) for n in (1, 2)]
    lines = {("t", i.story_id): line(i.story_id, i.title, documents=1) for i in new}
    lines |= {("t", i.story_id): line(i.story_id, i.title, documents=12, sources=("a", "b")) for i in known}
    data = topic_input("t", "T", [*known, *new], trend(*QUIET, 2), lines, False)
    alert = build_topic_alert(RUN, NOW, data)
    assert alert is not None and alert.title == "newsmon: T — 9 new stories"
    listed = re.findall(r"^\d+\. \*\*\[([^\]]+)\]", alert.markdown, re.MULTILINE)
    assert listed == [f"New story {n}" for n in range(1, 9)]
    assert "… and 3 more stories, 1 of them new." in alert.markdown
    assert re.findall(r'nofollow">([^<]+)</a>', alert.html) == listed  # the same order in the HTML section
    assert "<p>… and 3 more stories, 1 of them new.</p>" in alert.html
    ranked = rank_stories(data.stories)
    assert [s.story_id for s in ranked[-2:]] == ["k1", "k2"]  # most copies first within each group
    assert more_stories(ranked[:-2]) == "… and 1 more new story."
    assert more_stories(ranked[:8]) is None
    assert more_stories([*ranked[:7], *ranked[-2:]]) == "… and 1 more story, none of them new."


def test_long_headlines_are_shortened_and_never_repeated_as_evidence() -> None:
    """An 850-character headline was the link text and the evidence quote in full."""
    headline = " ".join(f"Sanctions word{n}" for n in range(60))
    assert len(headline) > 800
    lines = [
        line("s1", headline, evidence=headline),
        line("s2", "Blinken visits Astana", evidence="Blinken visits Astana … He met the ministers."),
        line("s3", "Other headline", evidence="A sentence of the body."),
    ]
    alert = topic_alert([item("d1", "s1"), item("d2", "s2"), item("d3", "s3")], lines=lines)
    assert alert is not None
    (short,) = re.findall(r"^\d\. \*\*\[(Sanctions [^\]]+)\]", alert.markdown, re.MULTILINE)
    assert short.endswith("…") and len(short) <= TITLE_CHARS and headline.startswith(short[:-1] + " ")
    for text in (alert.markdown, alert.html):
        assert "word59" not in text and text.count("word0 ") == 1  # cut, and not quoted again
    quotes = re.findall(r"^   > (.*)$", alert.markdown, re.MULTILINE)
    assert quotes == ["… He met the ministers.", "A sentence of the body."]
    assert re.findall(r"<blockquote>(.*?)</blockquote>", alert.html) == quotes


# --- escaping -----------------------------------------------------------------------------


def test_hostile_title_and_evidence_are_escaped() -> None:
    lines = [line("s1", HOSTILE_TITLE, "https://example.com/a", evidence=HOSTILE_EVIDENCE, sources=("src <i>",))]
    alert = topic_alert([item(title=HOSTILE_TITLE)], lines=lines, name="Topic <b>name</b>", topic="topic")
    assert alert is not None
    for text in (alert.markdown, alert.html):
        assert "<img" not in text and "<script" not in text and "<b>" not in text and "<i>" not in text
    md = alert.markdown
    assert not re.search(r"(?<!\\)\]\(javascript:", md)
    assert UNESCAPED_LINK.findall(md) == ["]("]  # the only real link is the story's own
    assert "](https://example.com/a)" in md
    assert re.findall(r'href="([^"]*)"', alert.html) == ["https://example.com/a"]
    assert "onerror=alert(1)" in alert.html.replace("&lt;", "<")  # still readable, as text


def test_hostile_alert_markdown_renders_to_harmless_html() -> None:
    alert = topic_alert([item()], lines=[line("s1", HOSTILE_TITLE, evidence=HOSTILE_EVIDENCE)])
    assert alert is not None
    html = render_html(alert.markdown)
    assert "<img" not in html and "<script" not in html
    assert re.findall(r'href="([^"]*)"', html) == ["https://example.com/a"]
    assert "<em>" not in html and "<code>c</code>" not in html
    assert "onerror=alert(1)" in html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a < b & c > d", "a &lt; b & c &gt; d"),
        ("AT&T, Q&A", "AT&T, Q&A"),  # read as typed in a piped digest; rendered, the same
        ("&lt;b&gt; &#60; &amp;", "&amp;lt;b&amp;gt; &amp;#60; &amp;amp;"),  # references stay as typed
        ("[x](y)", "\\[x\\](y)"),
        ("*bold* _it_ `code`", "\\*bold\\* \\_it\\_ \\`code\\`"),
        ("![img](u)", "\\!\\[img\\](u)"),
        ("line one\n\n# not a heading\n> not a quote", "line one # not a heading &gt; not a quote"),
        ("plain words", "plain words"),
    ],
)
def test_escape_markdown(text: str, expected: str) -> None:
    assert escape_markdown(text) == expected
    shown = re.sub(r"<[^>]+>", "", render_html(escape_markdown(text))).strip()
    assert html.unescape(shown) == " ".join(text.split()).replace("\n", " ")


@pytest.mark.parametrize(
    "text", [HOSTILE_TITLE, 'EU leaders <&> "quotes"', "<b>bold</b>", "x <http://evil.example> <&a@b.example> y"]
)
def test_escaped_text_stays_text_through_the_notifications_markdown_to_html(text: str) -> None:
    """Apprise makes HTML of a Markdown notification with Python-Markdown, which does not read
    a backslash before "<" as an escape (``\\<b>`` passes as a tag): "<" and ">" stay entities."""
    conversion = pytest.importorskip("apprise.conversion")
    rendered = conversion.markdown_to_html(escape_markdown(text))
    assert not re.search(r"<(?!/?p>)", rendered)  # no tag, link or mail link but the paragraph
    assert html.unescape(re.sub(r"</?p>", "", rendered)) == text


def test_newlines_in_titles_cannot_start_new_blocks() -> None:
    alert = topic_alert([item()], lines=[line("s1", "Title\n\n# Injected heading\n\n<img src=x>")], name="T", topic="t")
    assert alert is not None
    assert "\n# Injected" not in alert.markdown
    assert [ln for ln in alert.markdown.splitlines() if ln.startswith("# ")] == ["# T (t)"]


# --- links --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://example.com/a", "https://example.com/a?b=c", "HTTPS://EXAMPLE.COM/A", "file:///tmp/seeds/a.txt"],
)
def test_links_for_safe_schemes(url: str) -> None:
    assert markdown_link("Title", url) == f"[Title]({url})"
    assert html_link("Title", url) == f'<a href="{url}" rel="noopener noreferrer nofollow">Title</a>'


UNSAFE_URLS = [
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "ftp://example.com/a",
    "//evil.example/a",
    'file:///tmp/a" onmouseover="alert(1)',  # a file URL is linked only as it is
    "file:///tmp/a b",
    "",
]


@pytest.mark.parametrize("url", UNSAFE_URLS)
def test_no_link_for_other_schemes_or_unsafe_urls(url: str) -> None:
    assert markdown_link("Title [x]", url) == "Title \\[x\\]"
    assert html_link("Title <x>", url) == "Title &lt;x&gt;"


ENCODED_URLS = [
    ('https://xss.example/a?x=1&y="2"', "https://xss.example/a?x=1&y=%222%22"),
    ("https://example.com/a) [x](javascript:alert(1)", "https://example.com/a%29%20[x]%28javascript:alert%281%29"),
    ('https://example.com/a" onmouseover="alert(1)', "https://example.com/a%22%20onmouseover=%22alert%281%29"),
    ("https://example.com/a'x`y\\z", "https://example.com/a%27x%60y%5Cz"),
    ("http://example.com/a b\u00a0c", "http://example.com/a%20b%C2%A0c"),
    ("https://example.com/<script>", "https://example.com/%3Cscript%3E"),
    ("https://example.com/a\nb", "https://example.com/a%0Ab"),
]


@pytest.mark.parametrize(("url", "target"), ENCODED_URLS)
def test_web_links_keep_their_target_with_unsafe_characters_percent_encoded(url: str, target: str) -> None:
    """A story URL with a quote lost its link; the characters that could end the link are
    percent-encoded instead, and still nothing breaks out of it."""
    assert markdown_link("Title", url) == f"[Title]({target})"
    assert html_link("Title", url) == f'<a href="{html.escape(target)}" rel="noopener noreferrer nofollow">Title</a>'
    alert = topic_alert([item(url=url)], lines=[line("s1", "Title", url)])
    assert alert is not None
    rendered = render_html(alert.markdown)  # its renderer encodes "[" and "]" too: the same target
    assert [unquote(html.unescape(h)) for h in re.findall(r'href="([^"]*)"', rendered)] == [unquote(target)]
    assert [html.unescape(h) for h in re.findall(r'href="([^"]*)"', alert.html)] == [target]
    for page in (rendered, alert.html):
        assert "onmouseover=" not in re.sub(r'href="[^"]*"', "", page) and "<script" not in page


# --- chart, page, sections ----------------------------------------------------------------


def test_svg_chart_has_a_bar_per_day_and_marks_spikes() -> None:
    points = trend(*QUIET, *([2] * 20), 14)
    svg = svg_chart(points, 'Topic "x" <b>')
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('<rect class="bar') == 28  # the last four weeks
    assert svg.count('class="bar spike"') == 1
    assert 'class="baseline"' in svg
    assert "<b>" not in svg and "&lt;b&gt;" in svg
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing to fetch
    assert svg_chart([], "empty") == ""


def test_digest_page_is_self_contained_with_a_section_per_alert() -> None:
    a = topic_alert([item()], lines=[line("s1", HOSTILE_TITLE)], points=trend(*QUIET, 14), topic="a", name="A")
    b = topic_alert([item("d2", "s2")], topic="b", name="B")
    silent = SourceCadence("Feed <x>", "https://f.example/rss", 0, 14, 30.0, 25, 1e-11, True, NOW, "ok", None)
    c = build_sources_alert(RUN, NOW, [silent])
    assert a is not None and b is not None and c is not None
    records = digest_order([c, b, a])
    assert [r.topic for r in records] == ["a", "b", SOURCES_TOPIC]  # spikes, then new stories, then feeds
    page = render_digest_page(records)
    assert page.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert page.count('<section class="topic"') == 2 and page.count('<section class="sources"') == 1
    assert page.count('<svg class="chart"') == 2
    assert "<script" not in page and "<img" not in page and "<link" not in page
    assert "Feed &lt;x&gt;" in page
    assert not re.search(r'(src|href)="(?!#|https://example\.com/a")', page)  # only in-page anchors and the story
    markdown = render_run_markdown(records)
    assert markdown.startswith("# newsmon digest") and markdown.count("\n## ") == 3


def test_sources_alert_lists_the_silent_feeds() -> None:
    assert build_sources_alert(RUN, NOW, []) is None
    silent = SourceCadence(
        "Wire | news", "https://w.example/rss", 1, 14, 48.2, 25, 1e-9, True, NOW, "failing", "http-5xx"
    )
    alert = build_sources_alert(RUN, NOW, [silent])
    assert alert is not None and alert.kind == "sources" and alert.topic == SOURCES_TOPIC
    assert "| Wire \\| news | 1 | 25 | 48.2 |" in alert.markdown
    assert "failing (http-5xx)" in alert.markdown
    assert alert.triggers["silent"][0]["quietest"] == 25


# --- file names and writing ---------------------------------------------------------------


@pytest.mark.parametrize(
    "topic",
    ["../../x", "..", "/etc/passwd", "a/b\\c", "x\x00y", "nul\x00", "C:\\temp\\x", "x" * 500, "", "émoji 🎉 topic"],
)
def test_alert_filename_is_safe(topic: str) -> None:
    name = alert_filename(record(topic))
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert ".." not in name
    assert not name.startswith(".")
    assert name.endswith(".md")
    assert len(name) <= 120
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", name)


def test_alert_filename_for_a_slug() -> None:
    assert alert_filename(record("covid-origins")) == "20230301T123045_0f8e2c1a_covid-origins.md"
    assert digest_filename(RUN, NOW) == "20230301T123045_0f8e2c1a_digest.html"
    assert alert_filename(record(SOURCES_TOPIC)).startswith("20230301T123045_0f8e2c1a_sources-silent-")


def test_alert_filenames_are_unique_per_topic() -> None:
    topics = ["x", "../../x", "/x", "x/", "a" * 61 + "1", "a" * 61 + "2", "a b", "a-b", "a/b", "digest"]
    names = [alert_filename(record(t)) for t in topics]
    assert len(set(names)) == len(topics)
    assert digest_filename(RUN, NOW) not in names


def test_alert_filename_with_a_hostile_run_id() -> None:
    name = alert_filename(record("x", run_id="../../../etc"))
    assert "/" not in name and ".." not in name
    assert "/" not in digest_filename("../../../etc", NOW)


def test_write_run_files_stays_inside_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "out" / "alerts"
    records = [record("../../escape", markdown="# one\n"), record("/abs/path", markdown="# two\n"), record("ok")]
    paths, page = write_run_files(records, folder)
    assert len(paths) == 3
    for written in records:
        path = paths[written.id]
        assert path.resolve().parent == folder.resolve()
        assert path.read_text(encoding="utf-8") == written.markdown
    assert page.parent == folder and page.read_text(encoding="utf-8") == render_digest_page(records)
    assert sorted(p.name for p in folder.iterdir()) == sorted([*(p.name for p in paths.values()), page.name])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["alerts"]
    with pytest.raises(ValueError, match="no alerts"):
        write_run_files([], folder)


def test_runs_missing_files(tmp_path: Path) -> None:
    present = tmp_path / "a.md"
    present.write_text("x")
    index = [
        ("1", "run-ok", str(present), str(present)),
        ("2", "run-lost", str(tmp_path / "gone.md"), str(present)),
        ("3", "run-new", None, None),
        ("4", "run-page", str(present), None),
    ]
    assert runs_missing_files(index) == ["run-lost", "run-new", "run-page"]


def test_records_compare_by_content() -> None:
    one = record("t")
    assert replace(one, title="other") != one and replace(one) == one
