"""Feeds a user adds, checks, resets, lists, removes, imports and exports: the ``newsmon feeds``
commands against real HTTP servers on 127.0.0.1 (serving real feeds) and real DuckDB files, and
the pipeline core (no Prefect) for the runs before and after."""

from __future__ import annotations

import logging
import socket
import tomllib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from support import Newsmon, Route, ScriptedServer, make_database, require_shared

from newsmon.config import load_settings
from newsmon.errors import ConfigError
from newsmon.feedlist import format_duration, load_feeds, parse_duration, read_opml, remove_feed, render_opml
from newsmon.feeds import FeedSpec, parse_feed, plan_poll, record_failure
from newsmon.models import FeedState
from newsmon.pipeline import RunContext, RunSummary, run_once
from newsmon.probe import discover_feeds
from newsmon.topics import load_topics
from storage.store import Store, open_reader

ALLOW = {"NEWSMON_HTTP_ALLOW": "127.0.0.1"}
NO_ALLOW: dict[str, str | None] = {"NEWSMON_HTTP_ALLOW": None}
PAGE = b"""<!doctype html><html><head><title>News</title><base href="/news/">
<link rel="stylesheet" href="/site.css">
<link rel="alternate" type="application/rss+xml" title="All [bold]news[/bold]" href="../feed.rss">
<link rel="alternate feed" type="application/atom+xml; charset=utf-8" href="atom.xml">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
<link rel="alternate" type="application/rss+xml" href="../feed.rss">
<link rel="alternate" type="text/html" hreflang="de" href="/de/">
</head><body><p>Hello</p></body></html>"""


def _rss(*titles: str, language: str = "en-gb", dates: Sequence[datetime] = ()) -> bytes:
    """An RSS 2.0 feed whose items link https://news.example/<title> (items of the same title in
    two feeds are one article); ``dates`` are the items' pubDates, in order (none by default)."""
    when = [f"<pubDate>{format_datetime(d)}</pubDate>" for d in dates] + [""] * len(titles)
    items = "".join(
        f"<item><title>{t}</title><link>https://news.example/{t.replace(' ', '-')}</link>{w}"
        f"<description>{t} body text.</description></item>"
        for t, w in zip(titles, when, strict=False)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire &amp; Co</title>'
        f"<link>https://wire.example/</link><language>{language}</language>{items}</channel></rss>"
    ).encode()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    yield srv
    srv.close()


@pytest.fixture
def guardian(server: ScriptedServer) -> str:
    """The Guardian's real RSS feed, served at /feed.rss; its URL."""
    body = (require_shared() / "feeds" / "rss-parser" / "guardian.rss").read_bytes()
    server.routes["/feed.rss"] = Route(body, {"Content-Type": "application/rss+xml; charset=utf-8"})
    return server.url("/feed.rss")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _feeds(path: Path) -> list[FeedSpec]:
    return load_feeds(path)


def _one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def _run(tmp_path: Path, feeds: Path, db: Path, now: datetime) -> RunSummary:
    """One run of the pipeline core (no Prefect): the due feeds polled, their items stored."""
    seeds = tmp_path / "no-seeds"
    seeds.mkdir(exist_ok=True)
    settings = load_settings(
        None, db=db, seeds=seeds, feeds=feeds, fetch_pages=False, extract_workers=1, http_allow=["127.0.0.1"]
    )
    store = Store.open_writer(db)
    try:
        return run_once(RunContext(settings, store, load_topics(settings.topics_path), now, f"run-{now:%H%M%S}"))
    finally:
        store.close()


def _rows(table: str) -> dict[str, list[str]]:
    """A printed table's rows by their first cell: the other cells, stripped."""
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in table.splitlines() if line.startswith("│")]
    return {row[0]: row[1:] for row in cells}


def _query(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = open_reader(db, live=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# -- add ----------------------------------------------------------------------------------------


def test_add_fetches_a_real_feed_and_stores_its_own_title(
    tmp_path: Path, server: ScriptedServer, guardian: str, newsmon: Newsmon
) -> None:
    feeds = tmp_path / "feeds.toml"
    added = newsmon("feeds", "add", guardian, "--interval", "2h", "--feeds", str(feeds), env=ALLOW)
    assert added.exit_code == 0, added.stderr
    assert "added The Guardian" in added.stdout and "rss20" in added.stdout and "language en-GB" in added.stdout
    assert "55 items" in added.stdout and "every 2h" in added.stdout and "7200" not in added.stdout
    assert _feeds(feeds) == [FeedSpec("The Guardian", guardian, 7200.0)]
    assert 'interval = "2h"' in feeds.read_text(encoding="utf-8")
    again = newsmon("feeds", "add", guardian, "--feeds", str(feeds), env=ALLOW)
    assert again.exit_code == 0 and "already" in again.stdout
    server.routes["/copy.rss"] = server.routes["/feed.rss"]
    named = newsmon("feeds", "add", server.url("/copy.rss"), "--name", "Mine", "--feeds", str(feeds), env=ALLOW)
    assert named.exit_code == 0 and [s.name for s in _feeds(feeds)] == ["The Guardian", "Mine"]


def test_add_knows_a_url_written_another_way_and_keeps_names_unique(
    tmp_path: Path, server: ScriptedServer, newsmon: Newsmon
) -> None:
    for path in ("/shy.rss", "/other.rss", "/third.rss"):
        server.routes[path] = Route(_rss("One").replace(b"Wire &amp; Co", b"Shy"))
    feeds = tmp_path / "feeds.toml"
    shy = server.url("/shy.rss")
    assert newsmon("feeds", "add", shy, "--feeds", str(feeds), env=ALLOW).exit_code == 0
    for same in (shy.replace("http://", "HTTP://"), shy + "#x", server.url("/./shy.rss")):
        again = newsmon("feeds", "add", same, "--feeds", str(feeds), env=ALLOW)
        assert again.exit_code == 0 and f"{same} is already in {feeds} as {shy} (Shy)" in again.stdout, again.stdout
    exact = newsmon("feeds", "add", shy, "--feeds", str(feeds), env=ALLOW)
    assert exact.exit_code == 0 and _one_line(exact.stdout) == f"{shy} is already in {feeds}"
    titled = newsmon("feeds", "add", server.url("/other.rss"), "--feeds", str(feeds), env=ALLOW)
    assert titled.exit_code == 0 and "added Shy 2 (" in titled.stdout  # the title is taken: numbered
    for taken in ("Shy", "shy 2"):
        named = newsmon("feeds", "add", server.url("/third.rss"), "--name", taken, "--feeds", str(feeds), env=ALLOW)
        line = _one_line(named.stderr)
        assert named.exit_code == 1 and "has a feed named" in line and "choose another --name" in line
    assert server.hits("/third.rss") == []  # refused before fetching
    assert [(s.name, s.url) for s in _feeds(feeds)] == [("Shy", shy), ("Shy 2", server.url("/other.rss"))]
    removed = newsmon("feeds", "remove", "Shy", "--feeds", str(feeds), env={"NEWSMON_DB": str(tmp_path / "none")})
    assert removed.exit_code == 0 and f"removed Shy ({shy})" in removed.stdout
    unchecked = [newsmon("feeds", "add", server.url(f"/{n}.xml"), "--no-check", "--feeds", str(feeds)) for n in "ab"]
    assert [r.exit_code for r in unchecked] == [0, 0] and "added 127.0.0.1 2 (" in unchecked[1].stdout


def test_add_of_a_web_page_lists_the_feeds_it_links(tmp_path: Path, server: ScriptedServer, newsmon: Newsmon) -> None:
    server.routes["/news/index.html"] = Route(PAGE, {"Content-Type": "text/html; charset=utf-8"})
    server.routes["/feed.rss"] = Route(_rss("One", "Two"))
    feeds = tmp_path / "feeds.toml"
    page = server.url("/news/index.html")
    refused = newsmon("feeds", "add", page, "--feeds", str(feeds), env=ALLOW)
    assert refused.exit_code == 1 and not feeds.exists()
    line = _one_line(refused.stderr)
    assert "is a web page, not a feed" in line and "--first" in line and "2 feeds" in line
    listed = [line.split()[0] for line in refused.stdout.splitlines() if line.startswith("  ")]
    assert listed == [server.url("/feed.rss"), server.url("/news/atom.xml")]  # resolved against <base>, once each
    assert "All [bold]news[/bold]" in refused.stdout  # feed text printed as text, not console markup
    first = newsmon("feeds", "add", page, "--first", "--tag", "wire", "--feeds", str(feeds), env=ALLOW)
    assert first.exit_code == 0, first.stderr
    assert _feeds(feeds) == [FeedSpec("Wire & Co", server.url("/feed.rss"), tags=("wire",))]


def test_discovery_keeps_only_http_feed_links() -> None:
    found = discover_feeds(PAGE, "https://site.example/news/index.html")
    assert [(f.url, f.type) for f in found] == [
        ("https://site.example/feed.rss", "application/rss+xml"),
        ("https://site.example/news/atom.xml", "application/atom+xml"),
    ]
    assert (
        discover_feeds(
            b"<html><link rel=alternate type=application/rss+xml href='file:///etc/passwd'>", "https://a.example/"
        )
        == []
    )
    assert discover_feeds(b"\xff\xfe<\x00h\x00", "https://a.example/") == []


def test_add_of_a_loopback_feed_without_an_allow_list_names_the_setting(
    tmp_path: Path, server: ScriptedServer, guardian: str, newsmon: Newsmon
) -> None:
    feeds = tmp_path / "feeds.toml"
    refused = newsmon("feeds", "add", guardian, "--feeds", str(feeds), env=NO_ALLOW)
    assert refused.exit_code == 1 and not feeds.exists()
    line = _one_line(refused.stderr)
    assert "not added" in line and "blocked-address" in line and "127.0.0.1 is not public" in line
    assert "http_allow" in line and "NEWSMON_HTTP_ALLOW" in line
    assert server.hits("/feed.rss") == []  # refused before connecting
    config = tmp_path / "newsmon.toml"
    config.write_text('http_allow = ["127.0.0.0/8"]\n', encoding="utf-8")
    allowed = newsmon("feeds", "add", guardian, "--feeds", str(feeds), "--config", str(config), env=NO_ALLOW)
    assert allowed.exit_code == 0, allowed.stderr


def test_add_of_a_closed_port_is_refused_and_no_check_adds_it(tmp_path: Path, newsmon: Newsmon) -> None:
    feeds = tmp_path / "feeds.toml"
    url = f"http://127.0.0.1:{_closed_port()}/feed.xml"
    refused = newsmon("feeds", "add", url, "--feeds", str(feeds), env=ALLOW)
    assert refused.exit_code == 1 and not feeds.exists()
    line = _one_line(refused.stderr)
    assert f"not added: {url}: refused:" in line and "nothing listens there" in line and "--no-check" in line
    unchecked = newsmon("feeds", "add", url, "--no-check", "--feeds", str(feeds), env=ALLOW)
    assert unchecked.exit_code == 0 and "not fetched" in unchecked.stdout
    assert _feeds(feeds) == [FeedSpec("127.0.0.1", url)]
    bad = newsmon("feeds", "add", "javascript:alert(1)", "--no-check", "--feeds", str(feeds))
    assert bad.exit_code == 1 and "not an http(s) URL" in _one_line(bad.stderr)


def test_add_of_something_that_is_no_feed_is_refused(tmp_path: Path, server: ScriptedServer, newsmon: Newsmon) -> None:
    server.routes["/plain"] = Route(b"just some text", {"Content-Type": "text/plain"})
    feeds = tmp_path / "feeds.toml"
    refused = newsmon("feeds", "add", server.url("/plain"), "--feeds", str(feeds), env=ALLOW)
    line = _one_line(refused.stderr)
    assert refused.exit_code == 1 and "not-a-feed" in line and "content-type text/plain" in line
    gone = newsmon("feeds", "add", server.url("/missing.rss"), "--feeds", str(feeds), env=ALLOW)
    assert gone.exit_code == 1 and "http-4xx: HTTP 404" in _one_line(gone.stderr)
    assert not feeds.exists()


def test_add_records_details_in_the_database_and_the_first_run_collects_every_item(
    tmp_path: Path, server: ScriptedServer, newsmon: Newsmon
) -> None:
    server.routes["/feed.rss"] = Route(_rss("One", "Two", "Three"), etag='"v1"')
    db, feeds = make_database(tmp_path / "db" / "newsmon.duckdb"), tmp_path / "feeds.toml"
    added = newsmon("feeds", "add", server.url("/feed.rss"), "--tag", "wire", "--feeds", str(feeds), "--db", str(db),
                    env=ALLOW)  # fmt: skip
    assert added.exit_code == 0, added.stderr
    row = _query(db, "SELECT name, title, site_url, language, format, etag, active, tags FROM feeds")
    assert row == [("Wire & Co", "Wire & Co", "https://wire.example/", "en-GB", "rss20", '"v1"', True, ["wire"])]
    _run(tmp_path, feeds, db, datetime.now(UTC))
    assert [h for h in server.hits("/feed.rss") if "if-none-match" in h] == []  # the add's etag was not sent
    assert _query(db, "SELECT count(*) FROM feed_items") == [(3,)]


def test_an_item_rewritten_to_match_a_topic_alerts_for_it(tmp_path: Path, server: ScriptedServer) -> None:
    """A feed item whose text changes so that it now matches a topic is news for that topic: it
    alerts, once; the topics it had before do not alert again."""
    now = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

    def feed(title: str, text: str) -> bytes:
        item = f"<item><guid>g2</guid><title>{title}</title><link>https://news.example/g2</link>"
        return (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title><link>https://wire.example/</link>'
            f"{item}<description>{text}</description><pubDate>{format_datetime(now)}</pubDate></item></channel></rss>"
        ).encode()

    server.routes["/feed.rss"] = Route(feed("Council approves a new bus timetable", "The council voted on it."))
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feeds]]\nname = "Wire"\nurl = "{server.url("/feed.rss")}"\n', encoding="utf-8")
    db = tmp_path / "news.duckdb"
    assert _run(tmp_path, feeds, db, now).alerts == []
    server.routes["/feed.rss"] = Route(
        feed(
            "EU imposes new sanctions on Russian oil exports",
            "The European Union adopted new sanctions against Russian oil exports on Tuesday, officials said.",
        )
    )
    changed = _run(tmp_path, feeds, db, now + timedelta(hours=2))
    assert changed.documents_new == 0 and "russia-sanctions" in changed.alerts
    server.routes["/feed.rss"] = Route(
        feed(
            "EU imposes new sanctions on Russian oil and gas exports",
            "The European Union adopted new sanctions against Russian oil and gas exports on Tuesday, officials said.",
        )
    )
    again = _run(tmp_path, feeds, db, now + timedelta(hours=4))
    assert "russia-sanctions" not in again.alerts  # the topic it already had: alerted once


def test_a_run_dates_an_item_of_implausible_date_by_its_first_sighting(tmp_path: Path, server: ScriptedServer) -> None:
    now = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    epoch, soon, fine = datetime(1970, 1, 1, tzinfo=UTC), now + timedelta(hours=20), now - timedelta(hours=2)
    server.routes["/feed.rss"] = Route(
        _rss("Epoch", "Ahead", "Soon", "Fine", dates=[epoch, now + timedelta(days=3), soon, fine])
    )
    feeds, db = tmp_path / "feeds.toml", make_database(tmp_path / "db" / "newsmon.duckdb")
    feeds.write_text(f'[[feeds]]\nname = "Wire"\nurl = "{server.url("/feed.rss")}"\n', encoding="utf-8")
    _run(tmp_path, feeds, db, now)
    sql = "SELECT d.title, d.published_at, s.canonical_at FROM v_documents d JOIN v_stories s USING (story_id)"
    stored = {title: (published, at) for title, published, at in _query(db, sql)}
    assert stored["Epoch"] == (None, now) and stored["Ahead"] == (None, now)  # dated by their first sighting
    assert stored["Soon"] == (soon, soon) and stored["Fine"] == (fine, fine)  # within a day of the poll: kept


# -- check ---------------------------------------------------------------------------------------


def test_check_reports_new_items_and_never_makes_the_next_run_skip_them(
    tmp_path: Path, server: ScriptedServer, newsmon: Newsmon
) -> None:
    route = Route(_rss("One", "Two"), etag='"v1"')
    server.routes["/feed.rss"] = route
    dead = f"http://127.0.0.1:{_closed_port()}/dead.xml"
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(
        f'[[feeds]]\nname = "Wire"\nurl = "{server.url("/feed.rss")}"\n\n[[feeds]]\nname = "Dead"\nurl = "{dead}"\n',
        encoding="utf-8",
    )
    db = make_database(tmp_path / "newsmon.duckdb")
    start = datetime.now(UTC) - timedelta(hours=1)
    _run(tmp_path, feeds, db, start)
    assert _query(db, "SELECT count(*) FROM feed_items") == [(2,)]
    route.body, route.etag = _rss("One", "Two", "Three"), '"v2"'  # a new item
    checked = newsmon("feeds", "check", "--all", "--feeds", str(feeds), "--db", str(db), env=ALLOW)
    assert checked.exit_code == 1  # a feed failed
    rows = _rows(checked.stdout)
    assert rows["Wire"][:4] == ["ok", "3", "1", "next run"]  # status, items, new (not stored yet), next poll
    assert rows["Dead"][0] == "refused"
    assert "Dead: refused:" in checked.stdout and "nothing listens there" in checked.stdout
    assert "1 of 2 feeds failed the check" in _one_line(checked.stderr)
    health = dict(
        (name, rest)
        for name, *rest in _query(
            db, "SELECT name, etag, consecutive_failures, last_error_kind, next_poll_at <= now(), title FROM feeds"
        )
    )
    assert health["Wire"] == ['"v1"', 0, None, True, "Wire & Co"]  # validators untouched, due now
    assert health["Dead"][1:3] == [2, "refused"]  # the run's failure and the check's
    _run(tmp_path, feeds, db, datetime.now(UTC))
    assert _query(db, "SELECT count(*) FROM feed_items") == [(3,)]  # the next run collected the new item
    only = newsmon("feeds", "check", "wire", "--feeds", str(feeds), "--db", str(db), env=ALLOW)
    assert only.exit_code == 0 and "Dead" not in only.stdout
    unknown = newsmon("feeds", "check", "nope", "--feeds", str(feeds), "--db", str(db), env=ALLOW)
    assert unknown.exit_code == 1 and "no feed named 'nope'" in _one_line(unknown.stderr)


def test_check_without_a_database_only_prints(tmp_path: Path, guardian: str, newsmon: Newsmon) -> None:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feeds]]\nname = "G"\nurl = "{guardian}"\n', encoding="utf-8")
    db = tmp_path / "none.duckdb"
    checked = newsmon("feeds", "check", "G", "--feeds", str(feeds), env={**ALLOW, "NEWSMON_DB": str(db)})
    assert checked.exit_code == 0, checked.stderr
    assert _rows(checked.stdout)["G"][:4] == ["ok", "55", "55", "next run"]
    assert not db.exists()


# -- reset, list, remove ------------------------------------------------------------------------------


def _failing_database(tmp_path: Path, feeds: Path, failures: int) -> tuple[Path, datetime]:
    """A database where every feed of ``feeds`` failed ``failures`` times ('refused'), backed off."""
    db = make_database(tmp_path / "newsmon.duckdb")
    now = datetime.now(UTC)
    store = Store.open_writer(db)
    try:
        specs = load_feeds(feeds)
        store.feeds.sync(specs, now, "run-x")
        states = []
        for state in store.feeds.states():
            for _ in range(failures):
                state = record_failure(state, now, "refused", "connection refused", 0.5)
            states.append(state)
        store.feeds.save_states(states)
    finally:
        store.close()
    return db, now


def test_reset_clears_the_backoff(tmp_path: Path, newsmon: Newsmon) -> None:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text('[[feeds]]\nname = "Wire"\nurl = "https://wire.example/rss"\n', encoding="utf-8")
    db, _ = _failing_database(tmp_path, feeds, 4)
    assert _query(db, "SELECT consecutive_failures, next_poll_at > now() + INTERVAL 1 HOUR FROM feeds") == [(4, True)]
    reset = newsmon("feeds", "reset", "Wire", "--feeds", str(feeds), "--db", str(db))
    assert reset.exit_code == 0 and "reset Wire: failures cleared" in reset.stdout
    assert _query(db, "SELECT consecutive_failures, next_poll_at <= now(), last_error_kind FROM feeds") == [
        (0, True, "refused")
    ]
    assert _query(db, "SELECT status FROM v_feed_health") == [("new",)]
    nodb = newsmon("feeds", "reset", "Wire", "--feeds", str(feeds), env={"NEWSMON_DB": str(tmp_path / "x.duckdb")})
    assert nodb.exit_code == 0 and "no database" in nodb.stdout


def test_list_shows_health_and_failing_filters(tmp_path: Path, server: ScriptedServer, newsmon: Newsmon) -> None:
    server.routes["/feed.rss"] = Route(_rss("One", "Two"))
    dead = f"http://127.0.0.1:{_closed_port()}/dead.xml"
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(
        f'[[feeds]]\nname = "Wire"\nurl = "{server.url("/feed.rss")}"\ninterval = "2h"\n\n'
        f'[[feeds]]\nname = "Dead"\nurl = "{dead}"\n\n[[feeds]]\nname = "Later"\nurl = "https://later.example/"\n',
        encoding="utf-8",
    )
    db = make_database(tmp_path / "newsmon.duckdb")
    polled = tmp_path / "polled.toml"  # the feeds file of the run: without the feed added later
    polled.write_text(feeds.read_text(encoding="utf-8").split('[[feeds]]\nname = "Later"')[0], encoding="utf-8")
    _run(tmp_path, polled, db, datetime.now(UTC))
    listed = newsmon("feeds", "list", "--feeds", str(feeds), "--db", str(db))
    assert listed.exit_code == 0, listed.stderr
    rows = _rows(listed.stdout)
    assert rows["Wire"][0] == "2h" and rows["Wire"][1] == "ok" and rows["Wire"][5] == "2"  # 2 undated items, one day
    assert rows["Dead"][0] == "30m" and rows["Dead"][1] == "failing" and rows["Dead"][3].endswith("refused")
    assert rows["Later"][1] == "not polled yet"
    failing = newsmon("feeds", "list", "--failing", "--feeds", str(feeds), "--db", str(db))
    assert list(_rows(failing.stdout)) == ["Dead"] and "1 failing of 3 feeds" in failing.stdout
    missing = newsmon("feeds", "list", "--feeds", str(feeds), "--db", str(tmp_path / "missing.duckdb"))
    assert missing.exit_code == 1 and "no database at" in _one_line(missing.stderr)


def test_remove_by_name_and_by_url_keeps_the_rest_of_the_file(tmp_path: Path, newsmon: Newsmon) -> None:
    feeds = tmp_path / "feeds.toml"
    text = (
        '# my feeds\n\n# the wire\n[[feeds]]\nname = "Wire"\nurl = "https://wire.example/rss"\n\n'
        '[[feeds]] # kept\nname = "Blog"\nurl = "https://blog.example/atom"\ninterval = 3600  # hourly\n\n'
        '[[feeds]]\nname = "Other"\nurl = "https://other.example/rss"\ntags = ["x"]\n'
    )
    feeds.write_text(text, encoding="utf-8")
    db, _ = _failing_database(tmp_path, feeds, 1)
    by_name = newsmon("feeds", "remove", "wire", "--feeds", str(feeds), "--db", str(db))
    assert by_name.exit_code == 0 and "removed Wire" in by_name.stdout and "marked inactive" in by_name.stdout
    left = feeds.read_text(encoding="utf-8")
    assert "# the wire" not in left and "# my feeds" in left and "interval = 3600  # hourly" in left
    by_url = newsmon("feeds", "remove", "https://other.example/rss", "--feeds", str(feeds), "--db", str(db))
    assert by_url.exit_code == 0
    assert [s.name for s in load_feeds(feeds)] == ["Blog"]
    assert sorted(_query(db, "SELECT name, active FROM feeds")) == [("Blog", True), ("Other", False), ("Wire", False)]
    assert _query(db, "SELECT count(*) FROM v_feed_health WHERE NOT active") == [(2,)]  # the history stays
    again = newsmon("feeds", "remove", "Wire", "--feeds", str(feeds), "--db", str(db))
    assert again.exit_code == 1 and "no feed named 'Wire'" in _one_line(again.stderr)
    other_way = newsmon(
        "feeds", "remove", "HTTPS://Blog.example:443/./atom#top", "--feeds", str(feeds), "--db", str(db)
    )
    assert other_way.exit_code == 0, other_way.stderr  # its URL written another way, as `feeds add` knows it
    assert load_feeds(feeds) == []


def test_a_feeds_file_with_a_misspelt_table_name_is_an_error(tmp_path: Path, newsmon: Newsmon) -> None:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text('[[feed]]\nname = "Wire"\nurl = "https://wire.example/rss"\n', encoding="utf-8")
    listed = newsmon("feeds", "list", "--feeds", str(feeds), env={"NEWSMON_DB": str(tmp_path / "none.duckdb")})
    assert listed.exit_code == 1 and "0 feeds" not in listed.stdout
    assert f"feeds file {feeds}: unknown top-level key(s) ['feed']: use [[feeds]]" in _one_line(listed.stderr)
    added = newsmon("feeds", "add", "https://other.example/rss", "--no-check", "--feeds", str(feeds))
    assert added.exit_code == 1 and "[[feeds]]" not in feeds.read_text(encoding="utf-8")


def test_a_url_listed_twice_however_written_is_polled_once_and_a_shared_name_is_warned_of(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from newsmon.feedlist import parse_feeds_text

    text = (
        '[[feeds]]\nname = "A"\nurl = "https://a.example/rss"\n[[feeds]]\nname = "a"\nurl = "https://b.example/rss"\n'
        '[[feeds]]\nname = "C"\nurl = "HTTPS://A.example:443/rss#top"\n'
    )
    with caplog.at_level(logging.WARNING, logger="newsmon.feedlist"):
        specs = parse_feeds_text(text, "feeds.toml")
    assert [s.name for s in specs] == ["A", "a"]
    said = " ".join(caplog.messages)
    assert "feed 3: HTTPS://A.example:443/rss#top is feed 1's URL, listed twice; polling it once" in said
    assert "feed 2: name 'a' is feed 1's too (names are compared ignoring case): rename one" in said


def test_remove_refuses_a_name_shared_by_two_feeds(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(
        '[[feeds]]\nname = "A"\nurl = "https://a.example/1"\n[[feeds]]\nname = "A"\nurl = "https://a.example/2"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"2 feeds in .* are named 'A': give the feed's URL"):
        remove_feed(feeds, "A")
    assert remove_feed(feeds, "https://a.example/2").url == "https://a.example/2"
    assert tomllib.loads(feeds.read_text(encoding="utf-8"))["feeds"] == [{"name": "A", "url": "https://a.example/1"}]


# -- OPML -----------------------------------------------------------------------------------------


def test_export_and_import_round_trip_with_tags(tmp_path: Path, newsmon: Newsmon) -> None:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(
        '[[feeds]]\nname = "Wire <&> \\"Co\\""\nurl = "https://wire.example/rss?a=1&b=2"\ntags = ["world", "uk"]\n\n'
        '[[feeds]]\nname = "Loose"\nurl = "https://loose.example/atom"\n\n'
        '[[feeds]]\nname = "Tech"\nurl = "https://tech.example/rss"\ntags = ["tech"]\n',
        encoding="utf-8",
    )
    opml = tmp_path / "subs.opml"
    exported = newsmon("feeds", "export", "--output", str(opml), "--feeds", str(feeds),
                       env={"NEWSMON_DB": str(tmp_path / "none.duckdb")})  # fmt: skip
    assert exported.exit_code == 0 and "exported 3 feeds" in exported.stdout
    data = opml.read_bytes()
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    assert read_opml(data).feeds == load_feeds(feeds)
    copy = tmp_path / "copy.toml"
    imported = newsmon("feeds", "import", str(opml), "--feeds", str(copy))
    assert imported.exit_code == 0 and "imported 3 new feeds of 3" in imported.stdout
    assert load_feeds(copy) == load_feeds(feeds)
    stdout = newsmon("feeds", "export", "--feeds", str(feeds), env={"NEWSMON_DB": str(tmp_path / "none.duckdb")})
    assert stdout.stdout == data.decode()
    before = feeds.read_bytes()
    over = newsmon("feeds", "export", "--output", str(feeds), "--feeds", str(feeds),
                   env={"NEWSMON_DB": str(tmp_path / "none.duckdb")})  # fmt: skip
    assert over.exit_code == 1 and f"--output {feeds} is newsmon's feeds file" in _one_line(over.stderr)
    assert feeds.read_bytes() == before


def test_import_refuses_outlines_that_are_not_http_and_counts_them(tmp_path: Path, newsmon: Newsmon) -> None:
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body><outline text="News">'
        '<outline text="Wire" xmlUrl="https://wire.example/feed"/>'
        '<outline text="Evil" xmlUrl="javascript:alert(1)"/><outline text="Local" xmlUrl="file:///etc/passwd"/>'
        "</outline></body></opml>",
        encoding="utf-8",
    )
    feeds = tmp_path / "feeds.toml"
    imported = newsmon("feeds", "import", str(opml), "--feeds", str(feeds))
    assert imported.exit_code == 0
    assert "imported 1 new feeds of 1" in imported.stdout and "refused 2 outline(s)" in imported.stdout
    assert load_feeds(feeds) == [FeedSpec("Wire", "https://wire.example/feed", tags=("News",))]


def test_import_skips_feeds_listed_under_another_spelling_and_numbers_names_in_use(
    tmp_path: Path, newsmon: Newsmon
) -> None:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text('[[feeds]]\nname = "Shy"\nurl = "https://shy.example/shy.rss"\n', encoding="utf-8")
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body>'
        '<outline text="Shy" xmlUrl="HTTPS://shy.example:443/./shy.rss#top"/>'
        '<outline text="Shy" xmlUrl="https://shy.example/other.rss"/>'
        '<outline text="shy" xmlUrl="https://b.example/rss"/><outline text="B" xmlUrl="https://B.example/rss"/>'
        "</body></opml>",
        encoding="utf-8",
    )
    imported = newsmon("feeds", "import", str(opml), "--feeds", str(feeds))
    assert imported.exit_code == 0 and "imported 2 new feeds of 4" in imported.stdout
    assert [(s.name, s.url) for s in load_feeds(feeds)] == [
        ("Shy", "https://shy.example/shy.rss"), ("Shy 2", "https://shy.example/other.rss"),
        ("shy 3", "https://b.example/rss"),
    ]  # fmt: skip


def test_import_of_a_feed_instead_of_an_opml_file_is_an_error(tmp_path: Path, newsmon: Newsmon) -> None:
    rss = tmp_path / "x.rss"
    rss.write_text('<rss version="2.0"><channel><title>x</title></channel></rss>', encoding="utf-8")
    feeds = tmp_path / "feeds.toml"
    imported = newsmon("feeds", "import", str(rss), "--feeds", str(feeds))
    line = _one_line(imported.stderr)
    assert imported.exit_code == 1 and "imported" not in imported.stdout and not feeds.exists()
    assert f"OPML file {rss} is not OPML (its root element is <rss>, not <opml>)" in line and "feeds add" in line
    empty = tmp_path / "empty.opml"
    empty.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head><body/></opml>', encoding="utf-8"
    )
    nothing = newsmon("feeds", "import", str(empty), "--feeds", str(feeds))
    assert nothing.exit_code == 0 and "imported 0 new feeds of 0" in nothing.stdout


def test_opml_export_puts_each_feed_in_its_first_tags_folder() -> None:
    specs = [FeedSpec("A", "https://a.example/", tags=("x", "y")), FeedSpec("B", "https://b.example/")]
    text = render_opml(specs, "t", {"https://a.example/": "https://a.example/home"})
    assert '<outline text="x" title="x">' in text and 'htmlUrl="https://a.example/home"' in text
    assert 'category="x,y"' in text
    assert read_opml(text.encode()).feeds == specs


# -- details, views --------------------------------------------------------------------------------


def test_real_feeds_give_their_language_format_and_site() -> None:
    shared = require_shared() / "feeds"
    cases = {
        "rss-parser/guardian.rss": ("The Guardian", "https://www.theguardian.com/us", "en-GB", "rss20"),
        "miniflux/small_atom.xml": ("Recent Commits to v2:main", "https://github.com/miniflux/v2/commits/main",
                                    "en-US", "atom10"),
        "rss-parser/craigslist.rss": ("craigslist SF bay area | apts/housing for rent search", "https://sfbay.craigslist.org/search/apa",
                                      "en-US", "rss10"),
        "miniflux/encoding_WINDOWS-1251.xml": ("iBash.Org.Ru", "http://ibash.org.ru/", "ru", "rss20"),
    }  # fmt: skip
    for name, expected in cases.items():
        feed = parse_feed((shared / name).read_bytes())
        assert (feed.title, feed.site_url, feed.language, feed.format) == expected, name


def test_intervals_are_written_as_durations_that_read_back() -> None:
    seconds = (60, 90, 1800, 3600, 5400, 7200, 86400, 90000)
    written = [format_duration(s) for s in seconds]
    assert written == ["1m", "1m30s", "30m", "1h", "1h30m", "2h", "1d", "1d1h"]
    assert [parse_duration(w, "feed 1") for w in written] == [float(s) for s in seconds]
    assert parse_duration("1.5h", "feed 1") == parse_duration("1h 30m", "feed 1") == 5400.0
    for bad in ("1h30", "30mm", "h", "-5m"):
        with pytest.raises(ConfigError, match=r"is not a duration: use e\.g\. 900, '30m', '2h', '1h30m'"):
            parse_duration(bad, "feed 1")


def test_a_feed_added_with_a_compound_interval_is_read_back(tmp_path: Path, newsmon: Newsmon) -> None:
    """``--interval 1.5h`` is written as ``1h30m``, which the feeds file must read back."""
    feeds = tmp_path / "feeds.toml"
    added = newsmon("feeds", "add", "https://wire.example/rss", "--no-check", "--interval", "1.5h",
                    "--feeds", str(feeds))  # fmt: skip
    assert added.exit_code == 0, added.stderr
    assert 'interval = "1h30m"' in feeds.read_text(encoding="utf-8")
    assert [s.interval_s for s in load_feeds(feeds)] == [5400.0]


def test_validators_from_outside_a_run_never_make_a_conditional_get() -> None:
    added = FeedState("https://a.example/", "a", 1800.0, etag='"x"', last_modified="Mon")
    assert not plan_poll(added).conditional
    polled = FeedState("https://a.example/", "a", 1800.0, etag='"x"', last_body_hash="h", polls_since_full_get=1)
    assert plan_poll(polled).conditional


def test_views_show_feed_tags_and_language(tmp_path: Path, server: ScriptedServer) -> None:
    server.routes["/a.rss"] = Route(_rss("Alpha story", "Shared story", language="de-DE"))
    server.routes["/b.rss"] = Route(_rss("Beta story", "Shared story", language="en"))
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(
        f'[[feeds]]\nname = "A"\nurl = "{server.url("/a.rss")}"\ntags = ["world", "de"]\n\n'
        f'[[feeds]]\nname = "B"\nurl = "{server.url("/b.rss")}"\ntags = ["world", "tech"]\n',
        encoding="utf-8",
    )
    db = make_database(tmp_path / "newsmon.duckdb")
    _run(tmp_path, feeds, db, datetime.now(UTC))
    docs = dict(
        (title, (language, tags))
        for title, language, tags in _query(db, "SELECT title, language, tags FROM v_documents")
    )
    assert docs["Alpha story"] == ("de", ["de", "world"])
    assert docs["Beta story"] == ("en", ["tech", "world"])
    assert docs["Shared story"] == ("de", ["de", "tech", "world"])  # one article, delivered by both feeds
    files = [row for row in _query(db, "SELECT tags, language FROM v_documents WHERE source_kind <> 'feed'")]
    assert files and all(tags == [] for tags, _ in files)
    health = _query(
        db, "SELECT name, tags, language, title, site_url, format, items_per_day FROM v_feed_health ORDER BY 1"
    )
    assert health == [
        ("A", ["world", "de"], "de-DE", "Wire & Co", "https://wire.example/", "rss20", 2.0),
        ("B", ["world", "tech"], "en", "Wire & Co", "https://wire.example/", "rss20", 2.0),
    ]  # undated items first seen today: 2 items over (at least) one day


def test_items_per_day_counts_over_the_days_a_new_feed_covers(tmp_path: Path, server: ScriptedServer) -> None:
    """A feed added now that lists 3 items of the last 25 hours posts about 2.9 a day (not 3/7);
    one that lists 2 items of the last week and one of a month ago, 2/7."""
    now = datetime.now(UTC)
    hours = [now - timedelta(hours=h) for h in (1, 13, 25)]
    server.routes["/busy.rss"] = Route(_rss("Busy one", "Busy two", "Busy three", dates=hours))
    weeks = [now - timedelta(days=d) for d in (2, 5, 30)]
    server.routes["/slow.rss"] = Route(_rss("Slow one", "Slow two", "Slow three", dates=weeks))
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(
        f'[[feeds]]\nname = "busy"\nurl = "{server.url("/busy.rss")}"\n\n'
        f'[[feeds]]\nname = "slow"\nurl = "{server.url("/slow.rss")}"\n',
        encoding="utf-8",
    )
    db = make_database(tmp_path / "newsmon.duckdb")
    _run(tmp_path, feeds, db, now)
    rates = dict(_query(db, "SELECT name, items_per_day FROM v_feed_health"))
    assert rates["busy"] == pytest.approx(3 / (25 / 24), abs=0.02)
    assert rates["slow"] == pytest.approx(2 / 7, abs=0.01)
