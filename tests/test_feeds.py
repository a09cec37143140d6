"""Feeds: the feed list, OPML, parsing real feeds served over loopback, polling state."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from support import Route, ScriptedServer, require_shared

from newsmon.errors import ConfigError
from newsmon.extract import Extracted, PageText
from newsmon.feeds import (
    CHURN_LIMIT,
    FeedSpec,
    FeedState,
    append_feeds,
    item_document,
    load_feeds,
    new_feed,
    parse_feed,
    parse_opml,
    plain_paragraphs,
    plain_text,
    plan_poll,
    record_failure,
    record_success,
    with_plausible_date,
)
from newsmon.http import FetchRequest, HttpConfig, fetch_all
from newsmon.topics import compile_topic, tag_document

NOW = datetime(2023, 5, 20, 12, 0, tzinfo=UTC)
LOOPBACK = HttpConfig(allow=("127.0.0.0/8",), total_timeout_s=10)
_HEADER = re.compile(rb"^\s*Header:\s*(.+?)\s*$", re.MULTILINE)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    yield srv
    srv.close()


def _feed_files() -> list[Path]:
    data = require_shared() / "feeds"
    files = [p for p in sorted(data.rglob("*")) if p.is_file() and p.suffix in (".xml", ".rss", ".atom")]
    return [p for p in files if "expected" not in p.parts and p.suffix != ".html"]


def _headers_for(body: bytes) -> dict[str, str]:
    """feedparser fixtures name the HTTP header their test server must send."""
    headers = {"content-type": "application/xml"}  # names in lower case: a fixture's header replaces the default
    for match in _HEADER.finditer(body[:2000]):
        name, _, value = match.group(1).decode("ascii", "replace").partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers


def _monitorable_entries(body: bytes, headers: Mapping[str, str]) -> int:
    """Entries a plain feedparser run on the raw body finds with a title, text or http(s) link.

    An independent count: no re-decoding, no newsmon code (entries with none of these carry
    nothing to monitor).
    """

    def has_text(value: object) -> bool:
        return isinstance(value, str) and bool(re.sub(r"<[^>]*>", " ", value).strip())

    raw = feedparser.parse(io.BytesIO(body), response_headers={k.lower(): v for k, v in headers.items()})
    return sum(
        1
        for e in raw.entries
        if has_text(e.get("title"))
        or has_text(e.get("summary"))
        or any(has_text(c.get("value")) for c in e.get("content", []))
        or str(e.get("link") or "").startswith(("http://", "https://"))
    )


@pytest.mark.slow
def test_every_real_feed_is_served_fetched_and_parsed_without_a_crash(server: ScriptedServer) -> None:
    files = _feed_files()
    assert len(files) > 100
    for i, path in enumerate(files):
        body = path.read_bytes()
        server.routes[f"/f{i}"] = Route(body, _headers_for(body))
    results = fetch_all([FetchRequest(server.url(f"/f{i}")) for i in range(len(files))], LOOPBACK)
    counts: dict[Path, int] = {}
    illformed = recovered = reported = 0
    for path, result in zip(files, results, strict=True):
        assert not isinstance(result, Exception), f"{path.name}: {result}"
        parsed = parse_feed(result.body, result.headers)
        if "feedparser-illformed" in path.parts:
            # each ill-formed feed either yields every item it carries or records why not
            illformed += 1
            wanted = _monitorable_entries(path.read_bytes(), _headers_for(path.read_bytes()))
            if parsed.error:
                reported += 1
                assert parsed.error.strip() and "\n" not in parsed.error.strip(), path.name
            else:
                recovered += 1
                assert parsed.is_feed and len(parsed.items) == wanted, (path.name, len(parsed.items), wanted)
        for item in parsed.items:
            assert "\ufffd" not in item.title + item.summary, path.name
            assert item.link is None or item.link.startswith(("http://", "https://"))
            assert not re.search(r"<[A-Za-z/!]", item.title), path.name  # plain text, no markup
        counts[path] = len(parsed.items)
    # Each rss-parser feed yields the items its expected output lists (entries with no title,
    # link or content at all carry nothing to monitor and are dropped).
    expected_dir = require_shared() / "feeds" / "rss-parser" / "expected"
    checked = 0
    for expected in sorted(expected_dir.glob("*.json")):
        raw = expected.read_bytes()
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            data = json.loads(raw.decode("latin-1"))
        wanted = [i for i in data["feed"].get("items", []) if i.get("title") or i.get("link") or i.get("content")]
        source = next(p for p in counts if p.parent.name == "rss-parser" and p.stem == expected.stem)
        assert counts[source] == len(wanted), source.name
        checked += 1
    assert checked == 29
    for path in (require_shared() / "feeds" / "miniflux").glob("*.xml"):
        assert counts[path] > 0, path.name
    assert illformed == 101 and reported >= 10 and recovered >= 80, (illformed, reported, recovered)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("miniflux/encoding_WINDOWS-1251.xml", "Цитата"),
        ("miniflux/encoding_ISO-8859-1.xml", "ü"),
        ("miniflux/no_encoding_ISO-8859-1.xml", "é"),
        ("rss-parser/uolNoticias.rss", "simulações"),
        ("rss-parser/encoding.rss", "Mãe"),
        ("miniflux/encoding/utf8-incorrect-prolog.xml", "Café"),
        ("miniflux/encoding/koi8r.xml", "Первая"),
        ("feedparser-illformed/illformed/chardet/koi8r.xml", "Как"),
        ("miniflux/urdu_UTF8.xml", "امریکی"),
    ],
)
def test_legacy_and_mislabeled_charsets_decode_to_the_right_letters(name: str, expected: str) -> None:
    body = (require_shared() / "feeds" / name).read_bytes()
    parsed = parse_feed(body, {"content-type": "application/xml"})
    text = " ".join(i.title + " " + i.summary for i in parsed.items)
    assert expected in text
    assert "\ufffd" not in text and "Ã" not in text


def test_a_utf8_feed_with_a_stray_byte_keeps_its_letters() -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>Café news one</title><link>https://a.example/1</link>"
        "<description>Zürich – naïve \x96 élan</description></item></channel></rss>"
    ).encode()
    body = body.replace("\x96".encode(), b"\x96")
    (item,) = parse_feed(body, {"content-type": "application/rss+xml; charset=utf-8"}).items
    assert item.title == "Café news one" and "Zürich – naïve – élan" in item.summary


def test_not_a_feed_and_broken_feeds_are_reported_not_raised() -> None:
    assert not parse_feed(b"<html><body><h1>Document moved</h1></body></html>", {"content-type": "text/html"}).is_feed
    assert not parse_feed(b"\x89PNG\r\n\x1a\n" + bytes(200), {"content-type": "image/png"}).is_feed
    assert not parse_feed(b"", {}).is_feed
    broken = parse_feed(
        b"<rss version='2.0'><channel><item><title>kept</title><link>http://a.example/1</link></item>"
        b"<item><title>cut off &bogus; <",
        {},
    )
    assert broken.is_feed and broken.error and [i.title for i in broken.items][:1] == ["kept"]


def test_items_are_untrusted_data() -> None:
    feed = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><title>&lt;img src=x onerror=alert(1)&gt;Breaking &amp; <b>bold</b></title>
      <link>javascript:alert(1)</link><guid>g1</guid><description>&lt;script&gt;x()&lt;/script&gt;text</description></item>
    <item><title>Tracked</title><link>HTTPS://Example.COM:443/a?utm_source=x&amp;id=7#frag</link></item>
    <item><title>Same guid</title><guid>dup</guid></item>
    <item><title>Same guid again</title><guid>dup</guid></item>
    <item><description>no title, no link, no guid</description></item>
    </channel></rss>"""
    items = parse_feed(feed, {}).items
    first = items[0]
    assert "<" not in first.title and "onerror" not in first.title and "Breaking & bold" in first.title
    assert first.link is None and first.key == "g1"
    assert "<script" not in first.summary
    assert items[1].link == "https://example.com/a?id=7" and items[1].key == items[1].link
    assert [i.key for i in items[2:4]] == [f"dup#{items[2].content_hash}", f"dup#{items[3].content_hash}"]
    assert items[4].key == items[4].content_hash and items[4].summary == "no title, no link, no guid"


def test_a_less_than_sign_that_starts_no_tag_is_text() -> None:
    # a tag starts with "<" and a letter, "/", "!" or "?": the text between "<" and a later ">" stays
    assert plain_text("S&amp;P &lt; 4000 as Dow &gt; 33000") == "S&P < 4000 as Dow > 33000"
    assert (
        plain_text("Label any dataset with &lt;5 lines of code.&lt;p&gt;We’re eager for feedback&lt;/p&gt;")
        == "Label any dataset with <5 lines of code. We’re eager for feedback"
    )
    assert plain_text("a <!-- note --> b <?php x ?> c </i> d <B class='x'>e") == "a b c d e"


def test_control_characters_are_dropped_from_feed_text() -> None:
    feed = b"""<rss version='2.0'><channel><title>Breaking &#1;news&#27;</title>
    <item><title>Bell&#7; rings</title><description>&lt;p&gt;one&amp;#8;&lt;/p&gt;two&#127;</description>
      <author>A&#31;uthor</author></item></channel></rss>"""
    parsed = parse_feed(feed, {})
    assert parsed.title == "Breaking news"
    item = parsed.items[0]
    assert (item.title, item.summary, item.author) == ("Bell rings", "one\ntwo", "Author")


def test_a_summary_keeps_its_blocks_as_lines_so_that_list_items_are_sentences_of_their_own() -> None:
    summary = (
        "&lt;ul&gt;&lt;li&gt;EU agrees new sanctions on Iran&lt;/li&gt;"
        "&lt;li&gt;Russia reports record wheat harvest&lt;/li&gt;&lt;/ul&gt;"
    )
    feed = _rss_items(f"<item><title>World briefing</title><description>{summary}</description></item>")
    (item,) = parse_feed(feed, {}).items
    document = item_document("https://wire.example/rss", "Wire", item, None, NOW)
    assert document.body == "EU agrees new sanctions on Iran\nRussia reports record wheat harvest"
    topic = compile_topic("russia-sanctions", {"query": "russia* AND sanction*"}, "test")
    assert tag_document(document, [topic]) == []  # the two items are two sentences: neither holds both words
    # paragraphs, line breaks, headings and rows end a line; inline markup and the source's own
    # line breaks do not; no line is blank; titles stay one line
    html = "<p>One\n <b>two</b></p>\n\n<p>Three<br/>Four<br><br>Five</p><h2>Head</h2><table><tr><td>a<td>b</table>"
    assert plain_paragraphs(html) == "One two\nThree\nFour\nFive\nHead\na b"
    assert plain_text(html) == "One two Three Four Five Head a b"
    untitled = item_document("https://wire.example/rss", "Wire", replace(item, title=""), None, NOW)
    assert untitled.title == "EU agrees new sanctions on Iran Russia reports record wheat harvest"


def test_implausible_dates_are_no_publication_time() -> None:
    feed = _rss_items(
        "<item><title>epoch seconds</title><pubDate>1704103200</pubDate></item>",
        "<item><title>epoch zero</title><pubDate>Thu, 01 Jan 1970 00:00:00 +0000</pubDate></item>",
        "<item><title>fine</title><pubDate>Mon, 01 Jan 2024 10:00:00 +0000</pubDate></item>",
    )
    assert [i.published_at for i in parse_feed(feed, {}).items] == [None, None, datetime(2024, 1, 1, 10, tzinfo=UTC)]
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><title>a</title><id>a</id>
      <published>1970-01-01T00:00:00Z</published><updated>2024-01-02T03:04:05Z</updated></entry></feed>"""
    assert parse_feed(atom, {}).items[0].published_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)  # the update's


def test_a_date_more_than_a_day_after_the_poll_is_dropped_for_the_first_sighting() -> None:
    (item,) = parse_feed(_rss_items("<item><title>a</title><link>https://x.example/a</link></item>"), {}).items
    ahead = replace(item, published_at=NOW + timedelta(days=2))
    assert with_plausible_date(ahead, NOW).published_at is None
    assert with_plausible_date(replace(item, published_at=NOW + timedelta(hours=23)), NOW).published_at is not None
    document = item_document("https://x.example/rss", "X", ahead, None, NOW)
    assert document.published_at is None and document.first_seen_at == NOW
    page = PageText(Extracted("A", "Text. " * 100, None, datetime(1970, 1, 1, tzinfo=UTC), None, None), "article")
    assert item_document("https://x.example/rss", "X", item, page, NOW).published_at is None  # a page's date too


@pytest.mark.parametrize(
    ("written", "utc"),
    [("Mon, 01 Jan 2024 10:00:00 CEST", "2024-01-01 08:00"), ("Mon, 01 Jan 2024 10:00:00 MSK", "2024-01-01 07:00"),
     ("Mon, 01 Jan 2024 10:00:00 cet", "2024-01-01 09:00"), ("01 Jan 2024 10:00 JST", "2024-01-01 01:00"),
     ("Mon, 01 Jan 2024 10:00:00 AEDT", "2023-12-31 23:00"), ("Mon, 01 Jan 2024 10:00:00 EST", "2024-01-01 15:00"),
     ("Mon, 01 Jan 2024 10:00:00 GMT", "2024-01-01 10:00"), ("Mon, 01 Jan 2024 10:00:00 +0530", "2024-01-01 04:30")],
)  # fmt: skip
def test_common_zone_names_are_read_with_their_offsets(written: str, utc: str) -> None:
    (item,) = parse_feed(_rss_items(f"<item><title>a</title><pubDate>{written}</pubDate></item>"), {}).items
    assert item.published_at is not None and f"{item.published_at:%Y-%m-%d %H:%M}" == utc


def _rss_items(*items: str) -> bytes:
    return f"<rss version='2.0'><channel><title>t</title>{''.join(items)}</channel></rss>".encode()


def test_shared_guids_get_keys_of_their_own_that_do_not_depend_on_order() -> None:
    a = "<item><title>A</title><link>https://x.example/a</link><guid>home</guid></item>"
    b = "<item><title>B</title><link>https://x.example/b?utm_source=rss</link><guid>home</guid></item>"
    c = "<item><title>C</title><guid>home</guid></item>"  # no link: keyed by its content
    unique = "<item><title>U</title><link>https://x.example/u</link><guid>u-1</guid></item>"
    keys = {i.title: i.key for i in parse_feed(_rss_items(a, b, c, unique), {}).items}
    assert keys["A"] == "home#https://x.example/a" and keys["B"] == "home#https://x.example/b"
    assert keys["C"].startswith("home#") and len(keys["C"]) == len("home#") + 64
    assert keys["U"] == "u-1"  # a GUID used once keeps its plain key
    shuffled = {i.title: i.key for i in parse_feed(_rss_items(c, unique, b, a), {}).items}
    assert shuffled == keys
    edited = a.replace("<title>A</title>", "<title>A, corrected</title>")
    assert parse_feed(_rss_items(edited, b), {}).items[0].key == keys["A"]  # keyed by its link: stable


def test_items_repeated_verbatim_share_one_key_and_same_link_items_are_told_apart() -> None:
    a = "<item><title>A</title><link>https://x.example/a</link><guid>g</guid></item>"
    items = parse_feed(_rss_items(a, a), {}).items
    assert [i.key for i in items] == ["g", "g"]  # one item listed twice
    other = a.replace("<title>A</title>", "<title>A2</title>")  # same GUID and link, other text
    items = parse_feed(_rss_items(a, other), {}).items
    assert len({i.key for i in items}) == 2
    assert all(i.key == f"g#{i.content_hash}" for i in items)


def test_feeds_file_round_trip_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "feeds.toml"
    added = append_feeds(path, [FeedSpec('A "quoted"', "https://a.example/rss", 900, ("world", "ü"))])
    assert len(added) == 1
    assert append_feeds(path, [FeedSpec("again", "https://a.example/rss")]) == []
    assert load_feeds(path) == [FeedSpec('A "quoted"', "https://a.example/rss", 900.0, ("world", "ü"))]
    path.write_text('[[feeds]]\nurl = "file:///etc/passwd"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="not http"):
        load_feeds(path)
    path.write_text('[[feeds]]\nurl = "https://a.example/"\ninterval = "5s"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="below one minute"):
        load_feeds(path)


def test_feeds_file_refuses_an_unknown_top_level_key(tmp_path: Path) -> None:
    """A typo in the table name ([[feed]]) is an error, not an empty feed list (as in the topics file)."""
    path = tmp_path / "feeds.toml"
    path.write_text('[[feed]]\nname = "Wire"\nurl = "https://wire.example/rss"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown top-level key\(s\) \['feed'\]: use \[\[feeds\]\]"):
        load_feeds(path)
    path.write_text('interval = "15m"\n[[feeds]]\nurl = "https://wire.example/rss"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown top-level key\(s\) \['interval'\]"):
        load_feeds(path)
    path.write_text("# no feeds yet\n", encoding="utf-8")
    assert load_feeds(path) == []


def test_appending_skips_a_url_written_another_way_and_numbers_a_name_in_use(tmp_path: Path) -> None:
    path = tmp_path / "feeds.toml"
    path.write_text('[[feeds]]\nname = "Shy"\nurl = "http://shy.example/shy.rss"\n', encoding="utf-8")
    again = [FeedSpec("Shy", u) for u in ("HTTP://Shy.example:80/shy.rss", "http://shy.example/./shy.rss#x")]
    assert append_feeds(path, again) == []
    added = append_feeds(path, [FeedSpec("Shy", "http://shy.example/other.rss"), FeedSpec("shy", "http://b.example/"),
                                FeedSpec("B", "http://B.example")])  # fmt: skip
    assert added == [FeedSpec("Shy 2", "http://shy.example/other.rss"), FeedSpec("shy 3", "http://b.example/")]
    assert [(s.name, s.url) for s in load_feeds(path)] == [
        ("Shy", "http://shy.example/shy.rss"), ("Shy 2", "http://shy.example/other.rss"), ("shy 3", "http://b.example/"),
    ]  # fmt: skip


def test_new_feed_from_user_input() -> None:
    assert new_feed(" https://news.example/rss ") == FeedSpec("news.example", "https://news.example/rss", 1800.0)
    assert new_feed("https://a.example/rss", "A", "15m", ["world"]) == FeedSpec(
        "A", "https://a.example/rss", 900.0, ("world",)
    )
    with pytest.raises(ConfigError, match="'file:///etc/passwd' is not an http"):
        new_feed("file:///etc/passwd")
    with pytest.raises(ConfigError, match="--interval: interval '20s' is below one minute"):
        new_feed("https://a.example/rss", interval="20s")


def test_opml_import_with_folders() -> None:
    opml = b"""<?xml version="1.0"?><opml version="2.0"><body>
      <outline text="News"><outline text="Guardian" type="rss" xmlUrl="https://g.example/rss"/>
        <outline text="Local" type="rss" xmlUrl="file:///etc/passwd"/></outline>
      <outline title="Loose" xmlUrl="http://l.example/atom"/></body></opml>"""
    specs = parse_opml(opml)
    assert [(s.name, s.url, s.tags) for s in specs] == [
        ("Guardian", "https://g.example/rss", ("News",)),
        ("Loose", "http://l.example/atom", ()),
    ]
    with pytest.raises(ConfigError, match="DOCTYPE"):
        parse_opml(b'<!DOCTYPE x [<!ENTITY a "b">]><opml/>')


def test_xml_that_is_not_opml_is_refused_and_an_empty_opml_file_is_not() -> None:
    with pytest.raises(ConfigError, match=r"^OPML file is not OPML \(its root element is <feed>, not <opml>\)"):
        parse_opml(b'<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title></feed>')
    assert parse_opml(b'<?xml version="1.0"?><opml version="1.0"><head/><body/></opml>') == []
    assert parse_opml(b'<OPML version="2.0"><body><outline xmlUrl="https://a.example/rss"/></body></OPML>') == [
        FeedSpec("a.example", "https://a.example/rss")
    ]


def _state(**kw: object) -> FeedState:
    base: dict[str, object] = {"url": "https://a.example/rss", "name": "a", "interval_s": 900.0}
    base.update(kw)
    return FeedState(**base)  # type: ignore[arg-type]


def test_backoff_grows_is_capped_and_honours_retry_after() -> None:
    state = _state()
    delays = []
    for _ in range(12):
        state = record_failure(state, NOW, "http-5xx", "boom", jitter=0.5, status=503)
        delays.append((state.next_poll_at - NOW).total_seconds())
    assert delays == sorted(delays) and delays[0] == 900 and delays[-1] == 86400
    assert state.consecutive_failures == 12 and state.last_error_kind == "http-5xx"
    slow = record_failure(_state(), NOW, "http-4xx", "429", jitter=0.5, status=429, retry_after_s=7200)
    assert slow.next_poll_at - NOW == timedelta(seconds=7200)
    healed = record_success(state, plan_poll(state), NOW, 200, "e1", None, "h1", 3)
    assert healed.consecutive_failures == 0 and healed.next_poll_at == NOW + timedelta(seconds=900)


def test_lying_validators_fall_back_to_full_gets(server: ScriptedServer) -> None:
    """A server answering 304 while its content changed is caught by the periodic full GET."""
    route = Route(b"<rss version='2.0'><channel><item><title>one</title></item></channel></rss>", etag='"v1"')
    server.routes["/liar"] = route
    state = _state(url=server.url("/liar"))
    from newsmon.text import sha256_hex

    def poll(s: FeedState) -> FeedState:
        plan = plan_poll(s, verify_every=3)
        result = fetch_all([FetchRequest(plan.url, plan.etag, plan.last_modified)], LOOPBACK)[0]
        assert not isinstance(result, Exception)
        return record_success(
            s, plan, NOW, result.status, result.etag, result.last_modified, sha256_hex(result.body), 0
        )

    state = poll(state)  # full GET, validators stored
    assert state.etag == '"v1"' and state.validators_trusted
    route.body = route.body.replace(b"one", b"two")  # content changes, the ETag does not: a lie
    state = poll(state)
    assert state.last_status == 304 and server.hits("/liar")[-1].get("if-none-match") == '"v1"'
    state = poll(state)
    assert state.last_status == 304 and state.validators_trusted  # still fooled
    state = poll(state)  # the periodic full GET (every 3rd poll here) sees the change under the same ETag
    assert "if-none-match" not in server.hits("/liar")[-1]
    assert not state.validators_trusted
    state = poll(state)
    assert "if-none-match" not in server.hits("/liar")[-1] and state.last_status == 200


def test_churning_validators_are_dropped() -> None:
    state = _state(etag='"0"', last_body_hash="same")
    for i in range(1, CHURN_LIMIT + 1):
        state = record_success(state, plan_poll(state), NOW, 200, f'"{i}"', None, "same", 0)
    assert not state.validators_trusted
    assert plan_poll(state).etag is None
