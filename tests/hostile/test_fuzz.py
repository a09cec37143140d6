"""Property-based tests (hypothesis) of the parts that meet untrusted text first."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsmon.boilerplate import is_boilerplate_line, strip_boilerplate
from newsmon.dedupe import _TOKEN_FOLD
from newsmon.feeds import parse_feed, plain_paragraphs, plain_text
from newsmon.pagekinds import _CUE_FOLD
from newsmon.text import replace_chars
from newsmon.urls import canonicalize_url, safe_http_url

pytestmark = pytest.mark.hostile("fuzzing")
# CI runs 300 examples per property; a longer hunt: NEWSMON_FUZZ_EXAMPLES=100000 pytest tests/hostile/test_fuzz.py
FAST = settings(
    max_examples=int(os.environ.get("NEWSMON_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

xml_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=300)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@FAST
@given(title=xml_text, link=xml_text, guid=xml_text, description=xml_text)
def test_feed_item_normalizer_never_leaks_markup_or_bad_links(
    title: str, link: str, guid: str, description: str
) -> None:
    body = (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><item>"
        f"<title>{_escape(title)}</title><link>{_escape(link)}</link><guid>{_escape(guid)}</guid>"
        f"<description>{_escape(description)}</description></item></channel></rss>"
    ).encode("utf-8", "surrogatepass")
    for item in parse_feed(body, {}).items:
        assert item.link is None or item.link.startswith(("http://", "https://"))
        assert not re.search(r"<[A-Za-z/!?][^<>]*>", item.title)  # no tag survives (a lone "<" is text)
        assert "\n" not in item.title and len(item.title) <= 1000
        assert item.key


@FAST
@given(data=st.binary(max_size=2000))
def test_feed_parser_survives_any_bytes(data: bytes) -> None:
    parsed = parse_feed(data, {"content-type": "application/xml"})
    assert isinstance(parsed.items, list)


REAL = (
    b"<?xml version='1.0'?><rss version='2.0'><channel><title>W</title>"
    b"<item><title>One &amp; two</title><link>https://a.example/1?utm_source=x</link><guid>1</guid></item>"
    b"<item><title>Three</title><link>https://a.example/3</link><description>&lt;b&gt;x&lt;/b&gt;</description></item>"
    b"</channel></rss>"
)


@FAST
@given(cut=st.integers(0, len(REAL)), junk=st.binary(max_size=40), at=st.integers(0, len(REAL)))
def test_mutated_real_feed_never_crashes(cut: int, junk: bytes, at: int) -> None:
    mutated = REAL[:at] + junk + REAL[at:cut] if at <= cut else REAL[:cut] + junk
    parse_feed(mutated, {})


@FAST
@given(url=st.text(max_size=200))
def test_url_helpers_accept_only_http(url: str) -> None:
    safe = safe_http_url(url)
    if safe is not None:
        assert safe.lower().startswith(("http://", "https://"))
        canonical = canonicalize_url(safe)
        assert canonical.startswith(("http://", "https://")) and "#" not in canonical


@FAST
@given(html=st.text(max_size=500))
def test_plain_text_is_one_line_without_tags(html: str) -> None:
    text = plain_text(html)
    assert "\n" not in text and not re.search(r"<[A-Za-z/][^>]*>", text)


MARKUP_AND_TEXT = st.lists(
    st.sampled_from(["<p>", "</p>", "<br>", "<li>", "<b>", "</b>", "<h2 id='x'>", "\n", " ", "\x01", "&#10;",
                     "&lt;p&gt;", "&amp;lt;br&amp;gt;", "<", ">", "word", "Wörd."]) | st.text(max_size=5),
    max_size=40,
).map("".join)  # fmt: skip


@FAST
@given(html=MARKUP_AND_TEXT)
def test_plain_paragraphs_are_lines_without_tags_or_blanks(html: str) -> None:
    text = plain_paragraphs(html)
    lines = text.split("\n") if text else []
    assert all(line and line == " ".join(line.split()) for line in lines)  # no blank line, no stray space
    assert not re.search(r"<[A-Za-z/][^>]*>|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text)
    assert " ".join(lines) == plain_text(html)


MARKUP = st.lists(
    st.sampled_from(["<", ">", "/", " ", "x", "\n", "script", "SCRIPT", "style", "ſcript", "scrıpt", "scrİpt",
                     "</script>", "</ſcript>", "<script>", "<style a='>'>", "</style >", "<b>", "&lt;", "'", '"',
                     "< ", "<5", "<!--", "?", "<p>", "</li>", "<br/>", "<pre>"]),
    max_size=40,
).map("".join)  # fmt: skip


@FAST
@given(text=MARKUP)
def test_tag_and_script_removal_reads_as_the_plain_patterns_did(text: str) -> None:
    """The linear-time removals give what the patterns they replace gave (``re.sub`` tried at
    every position), also where Unicode case folding makes "ſcript" read as "script"."""
    from newsmon.feeds import _drop_scripts, _strip_tags

    block = re.compile(r"</?(p|li|br|pre)\b")
    gap = lambda tag: "\x00" if block.match(tag.group()) else " "  # noqa: E731
    assert _strip_tags(text) == re.sub(r"<[A-Za-z/!?][^>]*>", gap, text)
    element = re.compile(r"<(script|style)\b[^>]*>.*?(</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
    assert _drop_scripts(text) == element.sub(" ", text)
    plain_text(text)  # never raises


def test_an_item_folding_to_a_script_tag_does_not_stop_its_feed() -> None:
    feed = (
        b"<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>"
        b"<item><title>a &amp;lt;&amp;#383;cript&amp;gt; b</title><link>https://example.org/1</link></item>"
        b"<item><title>second</title><link>https://example.org/2</link></item></channel></rss>"
    )
    assert [item.title for item in parse_feed(feed).items] == ["a", "second"]


@FAST
@given(lines=st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80), max_size=30))
def test_boilerplate_stripper_only_removes_lines(lines: list[str]) -> None:
    text = "\n".join(lines)
    cleaned = strip_boilerplate(text)
    kept = [ln for ln in cleaned.body.split("\n\n") if ln]
    originals = [ln.strip() for ln in text.split("\n")]
    assert all(k in originals for k in kept)  # nothing invented or altered
    assert not any(is_boilerplate_line(k) for k in kept)  # no known boilerplate survives
    assert cleaned.removed_lines + len(kept) <= len([o for o in originals if o])


ITEMS = st.lists(
    st.tuples(
        st.sampled_from(["", "home", "1", "https://site.example/"]),  # few GUIDs: many shared
        st.sampled_from([None, "https://site.example/a", "https://site.example/b"]),
        st.sampled_from(["Alpha", "Beta", "Gamma"]),
    ),
    max_size=12,
)


@FAST
@given(entries=ITEMS, seed=st.randoms(use_true_random=False))
def test_feed_keys_tell_items_apart_and_ignore_order(entries: list[tuple[str, str | None, str]], seed: object) -> None:
    """Items with different content never share a key, and the keys do not depend on the order."""
    xml = [
        f"<item><title>{title}</title>{f'<link>{link}</link>' if link else ''}"
        f"{f'<guid>{guid}</guid>' if guid else ''}</item>"
        for guid, link, title in entries
    ]

    def keyed(parts: list[str]) -> list[tuple[str, str]]:
        body = f"<rss version='2.0'><channel>{''.join(parts)}</channel></rss>".encode()
        return sorted((item.key, item.content_hash) for item in parse_feed(body, {}).items)

    pairs = keyed(xml)
    assert len(pairs) == len(entries)
    contents: dict[str, set[str]] = {}
    for key, content in pairs:
        contents.setdefault(key, set()).add(content)
    assert all(len(c) == 1 for c in contents.values())  # a key is shared only by verbatim repeats
    shuffled = list(xml)
    seed.shuffle(shuffled)  # type: ignore[attr-defined]
    assert keyed(shuffled) == pairs


def test_double_escaped_markup_does_not_come_back() -> None:
    assert plain_text("&amp;lt;img src=x onerror=alert(1)&amp;gt;News <script>evil()</script>") == "News"
    assert plain_text("AT&amp;T says 3 &lt; 5") == "AT&T says 3 < 5"


def test_malformed_hosts_and_ports_are_not_links() -> None:
    assert safe_http_url("https://[a.example/x") is None
    assert safe_http_url("http://a.example:99999/") is None
    assert safe_http_url("http://a.example:80/ok") == "http://a.example:80/ok"


QUERY_ALPHABET = st.sampled_from(
    ["AND", "OR", "NOT", "NEAR/3", "NEAR/", "(", ")", '"', "title:", "body:", "*", "russia*", "sanction",
     "lab leak", "é", " ", "\t", "/", ":", "-", "NEAR/0", "and", "OR OR", "\"x y\"", "\\"]
)  # fmt: skip


@FAST
@given(parts=st.lists(QUERY_ALPHABET, max_size=25), noise=st.text(max_size=20))
def test_topic_query_parser_fails_only_with_a_clear_error(parts: list[str], noise: str) -> None:
    from newsmon.errors import TopicDefinitionError
    from newsmon.query import parse_query

    text = " ".join(parts) + noise
    try:
        query = parse_query(text, "topics.toml: topic 'fuzz'")
    except TopicDefinitionError as err:
        message = str(err)
        assert message.startswith("topics.toml: topic 'fuzz'") and "\n" not in message
    else:
        assert query is not None


_FOLDS = {"dedupe tokens": _TOKEN_FOLD, "page-kind cues": _CUE_FOLD}


@pytest.mark.parametrize("table", _FOLDS.values(), ids=_FOLDS.keys())
def test_each_fold_table_replaces_characters_with_characters_outside_it(table: dict[int, str | None]) -> None:
    """What lets replace_chars replace one character after another: no replacement is replaced again."""
    assert not {ord(c) for value in table.values() for c in value or ""} & table.keys()


@FAST
@given(data=st.data())
def test_replacing_characters_one_by_one_is_translating(data: st.DataObject) -> None:
    table = data.draw(st.sampled_from(list(_FOLDS.values())))
    alphabet = st.sampled_from([*map(chr, table), "a", "é", " ", "'", "е", "\n"]) | st.characters()
    text = data.draw(st.text(alphabet=alphabet, max_size=200))
    assert replace_chars(text, table) == text.translate(table)
