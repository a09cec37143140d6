"""Markdown alert summaries: escaping, safe links, file names (newsmon.alerts)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsmon.alerts import alert_filename, build_alerts, escape_markdown, markdown_link, render_alert, write_alerts
from newsmon.models import Alert, AlertItem

NOW = datetime(2023, 3, 1, 12, 30, 45, tzinfo=UTC)
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
) -> AlertItem:
    return AlertItem(doc, story, title, source, url, evidence, score, is_new_story)


def alert(topic: str = "central-asia-diplomacy", run_id: str = RUN, markdown: str = "# x\n") -> Alert:
    return Alert("id", run_id, topic, NOW, 1, 1, markdown)


def render_html(markdown: str) -> str:
    markdown_it = pytest.importorskip("markdown_it")
    return str(markdown_it.MarkdownIt("commonmark").render(markdown))


# --- escaping -----------------------------------------------------------------------------


def test_hostile_title_and_evidence_are_escaped() -> None:
    md = render_alert(
        "topic",
        "Topic <b>name</b>",
        RUN,
        NOW,
        [item(title=HOSTILE_TITLE, evidence=HOSTILE_EVIDENCE, source="src <i>", url="https://example.com/a")],
    )
    assert "<img" not in md
    assert "<script" not in md
    assert "<b>" not in md and "<i>" not in md
    assert not re.search(r"(?<!\\)\]\(javascript:", md)
    assert "](javascript:" not in md.replace("\\]", "")
    # the only real link is the item's own
    assert UNESCAPED_LINK.findall(md) == ["]("]
    assert "](https://example.com/a)" in md


def test_hostile_alert_renders_to_harmless_html() -> None:
    md = render_alert("topic", "Topic", RUN, NOW, [item(title=HOSTILE_TITLE, evidence=HOSTILE_EVIDENCE)])
    html = render_html(md)
    assert "<img" not in html
    assert "<script" not in html
    assert re.findall(r'href="([^"]*)"', html) == ["https://example.com/a"]
    assert "<em>" not in html  # *b* stays literal
    assert "<code>c</code>" not in html
    # the text is still there, readable
    assert "onerror=alert(1)" in html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("[x](y)", "\\[x\\](y)"),
        ("*bold* _it_ `code`", "\\*bold\\* \\_it\\_ \\`code\\`"),
        ("![img](u)", "\\!\\[img\\](u)"),
        ("line one\n\n# not a heading\n> not a quote", "line one # not a heading &gt; not a quote"),
        ("plain words", "plain words"),
    ],
)
def test_escape_markdown(text: str, expected: str) -> None:
    assert escape_markdown(text) == expected


def test_newlines_in_titles_cannot_start_new_blocks() -> None:
    md = render_alert("t", "T", RUN, NOW, [item(title="Title\n\n# Injected heading\n\n<img src=x>")])
    assert "\n# Injected" not in md
    assert [ln for ln in md.splitlines() if ln.startswith("# ")] == ["# T (t)"]


# --- links --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://example.com/a", "https://example.com/a?b=c", "HTTPS://EXAMPLE.COM/A", "file:///tmp/seeds/a.txt"],
)
def test_links_for_safe_schemes(url: str) -> None:
    assert markdown_link("Title", url) == f"[Title]({url})"


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "ftp://example.com/a",
        "//evil.example/a",
        "https://example.com/a) [x](javascript:alert(1)",
        "https://example.com/a b",
        "https://example.com/<script>",
        "",
    ],
)
def test_no_link_for_other_schemes_or_unsafe_urls(url: str) -> None:
    assert markdown_link("Title [x]", url) == "Title \\[x\\]"


# --- rendering and building ---------------------------------------------------------------


def test_render_groups_items_by_story_and_counts() -> None:
    items = [
        item("d1", "s1", title="Lead", score=0.9, source="a"),
        item("d2", "s1", title="Copy", score=0.5, source="b"),
        item("d3", "s2", title="Other", score=0.7, is_new_story=False, source="c"),
    ]
    md = render_alert("russia-sanctions", "Russia sanctions", RUN, NOW, items)
    assert md.startswith("# Russia sanctions (russia-sanctions)\n")
    assert "**3 new documents** in 2 stories (1 new)" in md
    assert "2023-03-01 12:30 UTC" in md
    lead = md.index("[Lead](")
    other = md.index("[Other](")
    assert lead < other
    assert "[Copy](" not in md
    assert "sources: a, b" in md
    assert "new copies of a known story" in md


def test_no_alert_for_a_topic_with_no_items() -> None:
    alerts = build_alerts(
        RUN,
        NOW,
        {"quiet-topic": [], "busy-topic": [item("d1", "s1"), item("d2", "s1"), item("d3", "s2")]},
        {"busy-topic": "Busy topic"},
    )
    assert [a.topic for a in alerts] == ["busy-topic"]
    (busy,) = alerts
    assert (busy.document_count, busy.story_count) == (3, 2)
    assert busy.run_id == RUN and busy.created_at == NOW
    assert busy.markdown.startswith("# Busy topic")


def test_no_alerts_at_all() -> None:
    assert build_alerts(RUN, NOW, {}, {}) == []
    assert build_alerts(RUN, NOW, {"a": [], "b": []}, {}) == []


def test_alert_ids_are_stable_and_distinct_per_run_and_topic() -> None:
    items = {"a": [item()], "b": [item()]}
    first = build_alerts(RUN, NOW, items, {})
    assert [a.id for a in first] == [a.id for a in build_alerts(RUN, NOW, items, {})]
    assert len({a.id for a in first}) == 2
    assert {a.id for a in first}.isdisjoint(a.id for a in build_alerts("another-run", NOW, items, {}))


# --- file names and writing ---------------------------------------------------------------


@pytest.mark.parametrize(
    "topic",
    ["../../x", "..", "/etc/passwd", "a/b\\c", "x\x00y", "nul\x00", "C:\\temp\\x", "x" * 500, "", "émoji 🎉 topic"],
)
def test_alert_filename_is_safe(topic: str) -> None:
    name = alert_filename(alert(topic))
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert ".." not in name
    assert not name.startswith(".")
    assert name.endswith(".md")
    assert len(name) <= 120
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", name)


def test_alert_filename_for_a_slug() -> None:
    assert alert_filename(alert("covid-origins")) == "20230301T123045_0f8e2c1a_covid-origins.md"


def test_alert_filenames_are_unique_per_topic() -> None:
    topics = ["x", "../../x", "/x", "x/", "a" * 61 + "1", "a" * 61 + "2", "a b", "a-b", "a/b"]
    names = [alert_filename(alert(t)) for t in topics]
    assert len(set(names)) == len(topics)


def test_alert_filename_with_a_hostile_run_id() -> None:
    name = alert_filename(alert("x", run_id="../../../etc"))
    assert "/" not in name and ".." not in name


def test_write_alerts_stays_inside_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "out" / "alerts"
    alerts = [alert("../../escape", markdown="# one\n"), alert("/abs/path", markdown="# two\n"), alert("ok")]
    paths = write_alerts(alerts, folder)
    assert len(paths) == 3
    for path, written in zip(paths, alerts, strict=True):
        assert path.resolve().parent == folder.resolve()
        assert path.read_text(encoding="utf-8") == written.markdown
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in paths)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["alerts"]


def test_write_alerts_without_alerts_creates_nothing(tmp_path: Path) -> None:
    assert write_alerts([], tmp_path / "alerts") == []
    assert not (tmp_path / "alerts").exists()
