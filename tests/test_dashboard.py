"""`newsmon dashboard`: the local web app over the read snapshot.

The database comes from six daily runs of the pipeline core over the seeds, hostile files and
three loopback feeds (``dashboard_data``). Plain HTTP tests talk to the real command
(``python -m cli dashboard``) on loopback or to the app in process; the browser tests drive
Debian's Chromium through Playwright (skipped where either is missing) and save a screenshot of
each page in the system's temporary folder.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from dashboard_data import DAYS, HOSTILE_FILES, IMG, MIRROR_TITLE, SCRIPT, DashboardData, build_dashboard_db
from support import REPO, Newsmon, make_database, python_path

from cli.dashboard import is_loopback
from newsmon.diffs import word_diff
from storage.snapshot import snapshot_path

pytestmark = pytest.mark.xdist_group("dashboard")  # one worker builds the database once for the module

TOPIC_NAMES = ("Central Asia diplomacy", "Russia sanctions", "COVID-19 origins")
IMG_TITLE = HOSTILE_FILES["img.txt"].split("\n", 1)[0]
SCRIPT_TITLE = HOSTILE_FILES["script.txt"].split("\n", 1)[0]
SHOTS = Path(tempfile.gettempdir()) / "newsmon-dashboard-screenshots"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardData]:
    monkeypatch = pytest.MonkeyPatch()
    built = build_dashboard_db(tmp_path_factory.mktemp("dashboard"), monkeypatch)
    try:
        yield built
    finally:
        monkeypatch.undo()
        built.server.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_dashboard(*args: str) -> tuple[subprocess.Popen[str], str]:
    """``python -m cli dashboard ARGS`` in a process of its own; the process and the URL it printed."""
    env = {**os.environ, "PYTHONPATH": python_path(REPO), "COLUMNS": "300"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "dashboard", *args],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"(http://\S+/)", line)
    if not match:
        proc.kill()
        pytest.fail(f"no URL from newsmon dashboard: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    url = match.group(1)
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(url + "static/dashboard.css", timeout=2)
            return proc, url.rstrip("/")
        except httpx.TransportError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("newsmon dashboard did not answer within 20 s")
            time.sleep(0.1)


def stop(proc: subprocess.Popen[str]) -> int:
    """SIGTERM, then the exit code (killed and failed after 15 s)."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("newsmon dashboard did not stop on SIGTERM within 15 s")


@pytest.fixture(scope="module")
def server(data: DashboardData) -> Iterator[str]:
    """The real command on a free loopback port: its base URL."""
    proc, url = start_dashboard("--db", str(data.db), "--port", str(free_port()))
    try:
        yield url
    finally:
        assert stop(proc) == 0


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30) as http:
        yield http


def local_links(page: str) -> list[str]:
    """Every local link and script or stylesheet address of a page (``/…``, not ``//host``)."""
    targets = re.findall(r'(?:href|src)="([^"]*)"', page)
    return sorted({html.unescape(t) for t in targets if t.startswith("/") and not t.startswith("//")})


def story_id_of(page: str, title: str) -> str:
    match = re.search(r'href="/stories/([^"]+)">' + re.escape(html.escape(title, quote=False)) + "<", page)
    assert match, f"no story link titled {title!r}"
    return match.group(1)


# -- the command ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_first_page_names_the_default_topics_and_every_local_link_answers(server: str) -> None:
    first = httpx.get(server + "/", timeout=30)
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/html")
    for name in TOPIC_NAMES:
        assert name in first.text
    links = local_links(first.text)
    assert {"/alerts", "/feeds", "/topics/russia-sanctions"} <= set(links)
    assert any(link.startswith("/stories/") for link in links)
    with httpx.Client(base_url=server, timeout=30) as http:
        answers = {link: http.get(link).status_code for link in links}
    assert answers == dict.fromkeys(links, 200)


@pytest.mark.slow
def test_dashboard_listens_on_loopback_prints_its_url_and_stops_on_sigterm(data: DashboardData) -> None:
    proc, url = start_dashboard("--db", str(data.db), "--port", "0")
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url) and not url.endswith(":0")
        assert httpx.get(url + "/feeds", timeout=30).status_code == 200
    finally:
        code = stop(proc)
    assert code == 0
    assert proc.stderr is not None and "Traceback" not in proc.stderr.read()


def test_dashboard_without_a_snapshot_is_a_one_line_error(tmp_path: Path, newsmon: Newsmon) -> None:
    result = newsmon("dashboard", "--db", str(tmp_path / "none.duckdb"), "--port", "0")
    assert result.exit_code == 1
    assert result.stderr.startswith("newsmon: error: no database at ") and result.stderr.count("\n") == 1


def test_dashboard_help_has_examples(newsmon: Newsmon) -> None:
    result = newsmon("dashboard", "--help", env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "Examples:" in result.stdout and "newsmon dashboard --db" in result.stdout


def test_loopback_hosts() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.4", "::", "example.org"))


# -- pages, in process --------------------------------------------------------------------------


@pytest.mark.slow
def test_headers_forbid_inline_script_and_eval(client: httpx.Client) -> None:
    response = client.get("/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/stories/none").headers["content-security-policy"] == csp  # error pages too


def test_feed_and_file_text_is_escaped_never_markup(client: httpx.Client) -> None:
    page = client.get("/topics/russia-sanctions").text
    assert html.escape(IMG_TITLE, quote=False) in page and html.escape(SCRIPT_TITLE, quote=False) in page
    assert IMG not in page and "<script>alert" not in page
    assert "Wire &lt;b&gt;" in page and "Wire <b>" not in page
    # every inline script is a JSON data block: nothing executable but the app's own files
    scripts = re.findall(r"<script([^>]*)>", page)
    assert scripts and all('type="application/json"' in s or 'src="/static/' in s for s in scripts)
    story = client.get(f"/stories/{story_id_of(page, IMG_TITLE)}").text
    assert SCRIPT not in story and "javascript:" not in re.findall(r'href="([^"]*)"', story).__str__()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in story  # the body's script, as text in its opening


def test_topic_page_shows_the_spike_and_the_baseline(client: httpx.Client) -> None:
    page = client.get("/topics/russia-sanctions").text
    last = DAYS[-1].isoformat()
    assert re.search(rf"Spikes:</strong>\s*{last} \(9 stories", page)
    spec = re.search(r'<script type="application/json" id="chart-trend">(.*?)</script>', page, re.S)
    assert spec is not None
    import json

    chart = json.loads(spec.group(1))
    values = {v["day"]: v for v in chart["data"]["values"]}
    assert values[last]["marker"] == "spike" and values[last]["stories"] == 9
    assert values[DAYS[-2].isoformat()]["baseline"] == 2.0 and values[DAYS[0].isoformat()]["baseline"] is None
    assert [layer["mark"]["type"] for layer in chart["layer"]] == ["bar", "line", "point"]


def test_rising_lists_only_topics_above_their_expected_count(client: httpx.Client) -> None:
    page = client.get("/").text
    rising = re.search(r'<ol class="rising">(.*?)</ol>', page, re.S)
    assert rising is not None and "Russia sanctions" in rising.group(1)  # the spike on the last day
    ratios = [float(r) for r in re.findall(r"([0-9.]+)× expected", rising.group(1))]
    assert ratios and all(r > 1 for r in ratios)
    assert "COVID" not in rising.group(1)  # nothing new on the last day: not rising


def test_alerts_show_the_window_they_say_they_show(client: httpx.Client) -> None:
    every = client.get(f"/alerts?since={DAYS[0].isoformat()}").text.count('<section class="alert')
    last = client.get(f"/alerts?since={DAYS[-1].isoformat()}").text.count('<section class="alert')
    assert 0 < last < every
    later = (DAYS[-1] + timedelta(days=5)).isoformat()
    page = client.get(f"/?since={later}").text
    assert f"showing {later} – {later}" in page  # never an inverted range


def test_topic_page_shows_its_latest_review_or_how_to_draw_one(client: httpx.Client, data: DashboardData) -> None:
    con = duckdb.connect(str(data.db), read_only=True)
    try:
        (tags,) = con.execute(
            "SELECT count(*) FROM review_items WHERE review_id = 'rv-dashboard' AND stratum = 'tagged'"
        ).fetchone() or (0,)
        (judged,) = con.execute("SELECT count(*) FROM review_items WHERE label IS NOT NULL").fetchone() or (0,)
    finally:
        con.close()
    assert tags >= 9
    page = client.get("/topics/russia-sanctions").text
    found = re.search(r"Measured on this store by a reader: precision (\S+) \[(\S+)–(\S+)\], recall (\S+)", page)
    assert found is not None, page
    assert float(found.group(1)) == pytest.approx((tags - 1) / tags, abs=0.005)
    assert found.group(2) == found.group(1) == found.group(3)  # every document was drawn: exact
    assert found.group(4) == "1.00"  # every untagged document judged not about it
    assert f"({judged} of {judged} drawn documents judged yes or no, review rv-dashboard" in " ".join(page.split())
    other = client.get("/topics/central-asia-diplomacy").text
    assert "Not measured on this store yet: <code>newsmon topics review central-asia-diplomacy</code>" in other


def test_filters_narrow_the_lists_and_are_links(client: httpx.Client) -> None:
    spike_day = DAYS[-1].isoformat()
    day = client.get(f"/topics/russia-sanctions?since={spike_day}&until={spike_day}").text
    assert len(re.findall(r'<tr data-story="', day)) == 9
    quiet = client.get(f"/topics/russia-sanctions?until={DAYS[0].isoformat()}").text
    assert "Treasury sanctions" not in quiet and "Blinken" in quiet
    mirror = client.get("/?source=Mirror").text
    rows = re.findall(r'<tr data-story="[^"]+">(.*?)</tr>', mirror, re.S)
    assert len(rows) == 2 and all("Mirror" in row for row in rows)
    topic_only = client.get("/?topic=covid-origins").text
    assert len(re.findall(r'<tr data-story="', topic_only)) == 1
    # the topic links keep the other filters, so a view is shareable
    assert 'href="/topics/covid-origins?source=Mirror"' in mirror
    assert client.get("/alerts?topic=covid-origins").text.count('<section class="alert') == 1


def test_lists_say_when_they_are_cut_and_cards_count_each_story_once(
    data: DashboardData, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list shorter than the stories the filters give says so; a topic's card counts the
    stories its page lists (a story with copies on several days once)."""
    from starlette.testclient import TestClient

    import web.queries
    from web.app import create_app

    with TestClient(create_app(data.db)) as app:
        overview = app.get("/").text
        slugs = re.findall(r'<section class="card" data-topic="([^"]+)"', overview)
        assert len(slugs) == 3, slugs
        for slug in slugs:
            card = overview.split(f'data-topic="{slug}"', 1)[1].split("</section>", 1)[0]
            listed = len(re.findall(r'<tr data-story="', app.get(f"/topics/{slug}").text))
            assert re.search(rf"<p class=\"numbers\">{listed} stor(y|ies) in the window", card), (slug, listed)
        total = len(re.findall(r'<tr data-story="', overview))
        assert total > 2 and "The newest" not in overview
        monkeypatch.setattr(web.queries, "OVERVIEW_STORIES", 2)
        cut = app.get("/").text
    assert len(re.findall(r'<tr data-story="', cut)) == 2
    assert f"The newest 2 of {total} stories: narrow the dates" in cut


def test_the_header_names_the_latest_run_by_order_not_by_clock(client: httpx.Client, tmp_path: Path) -> None:
    """A retag after replayed runs (whose clocks are in the past) is the latest run."""
    from starlette.testclient import TestClient

    from web.app import create_app

    assert f"snapshot after the monitor run of {DAYS[-1].isoformat()}" in client.get("/").text
    db = make_database(tmp_path / "seeds.duckdb")
    with duckdb.connect(str(snapshot_path(db))) as con:
        con.execute(
            "INSERT INTO runs (id, started_at, finished_at, status, input, kind, seq, newsmon_version)"
            " SELECT 'retag-1', TIMESTAMPTZ '2001-02-03 04:05:00+00', TIMESTAMPTZ '2001-02-03 04:06:00+00',"
            " 'completed', 'retag', 'retag', max(seq) + 1, '0' FROM runs"
        )
    with TestClient(create_app(db)) as app:
        assert "snapshot after the retag run of 2001-02-03 04:05" in app.get("/").text


def test_a_retired_topic_is_said_to_be_retired_not_a_dead_link(
    data: DashboardData, tmp_path: Path, newsmon: Any
) -> None:
    """After the topics file stops defining covid-origins: its alerts stay listed, without a
    link to a topic page that no longer exists; a filter on it says it is retired; so does an
    export of current tags that finds none of its rows."""
    from starlette.testclient import TestClient

    from web.app import create_app

    db = tmp_path / "copy.duckdb"
    shutil.copyfile(data.db, db)
    shutil.copyfile(snapshot_path(data.db), snapshot_path(db))
    for path in (db, snapshot_path(db)):
        with duckdb.connect(str(path)) as con:
            con.execute("UPDATE topic_versions SET is_current = false WHERE topic = 'covid-origins'")
    with TestClient(create_app(db)) as app:
        alerts = app.get("/alerts?topic=covid-origins")
        overview = app.get("/?topic=covid-origins").text
    assert alerts.status_code == 200 and "covid-origins (retired)" in alerts.text
    assert 'href="/topics/covid-origins"' not in alerts.text
    assert "Topic covid-origins is retired: the topics file in force no longer defines it" in overview
    out = tmp_path / "covid.csv"
    result = newsmon("export", "v_topic_documents", "--topic", "covid-origins", "--output", str(out), "--db", str(db))
    assert result.exit_code == 0 and "wrote 0 rows" in result.stdout
    assert "note: topic 'covid-origins' is retired" in result.stderr
    alerts_out = tmp_path / "alerts.csv"
    result = newsmon("export", "v_alerts", "--topic", "covid-origins", "--output", str(alerts_out), "--db", str(db))
    assert result.exit_code == 0 and "retired" not in result.stderr  # rows found: nothing to explain


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/?since=yesterday", 400, "filter since=&#39;yesterday&#39; is not a date: use YYYY-MM-DD"),
        ("/?since=2023-05-19&until=2023-05-01", 400, "since 2023-05-19 is after until 2023-05-01: swap them"),
        ("/?until=0001-01-01", 400, "filter until=&#39;0001-01-01&#39; is out of range: use a date from 1900-01-01"),
        ("/feeds?since=9999-12-31", 400, "filter since=&#39;9999-12-31&#39; is out of range"),
        ("/topics/nothing", 404, "no topic &#39;nothing&#39; in force: use one of central-asia-diplomacy"),
        ("/?topic=nothing", 400, "no topic &#39;nothing&#39;: use one of central-asia-diplomacy"),
        ("/alerts?topic=nothing", 400, "no topic &#39;nothing&#39;: use one of central-asia-diplomacy"),
        ("/stories/abc%3Cb%3E", 404, "no story &#39;abc&lt;b&gt;&#39; in the snapshot"),
        ("/nowhere", 404, "no such page"),
    ],
)
def test_bad_requests_answer_one_line(client: httpx.Client, path: str, status: int, message: str) -> None:
    response = client.get(path)
    assert response.status_code == status and message in response.text


def test_story_page_shows_lineage_diff_and_tag_evidence(client: httpx.Client) -> None:
    page = client.get("/").text
    story = client.get(
        f"/stories/{story_id_of(page, 'In Central Asia, Blinken Will Urge Distance From Russia, and Ukraine War')}"
    )
    text = story.text
    lineage = re.findall(r'<tr class="(canonical|copy)">', text)
    assert lineage == ["canonical", "copy"]
    assert "+14 h 00 min" in text and "Mirror" in text and html.escape(MIRROR_TITLE, quote=False) in text
    assert "<del>Tuesday</del> <ins>Wednesday</ins>" in text
    assert "<ins>republished by Mirror under a syndication agreement.</ins>" in text or "syndication agreement" in text
    assert re.search(r"headline: <del>In Central Asia, Blinken Will Urge", text)
    assert 'class="folded"' in text  # long unchanged stretches are folded
    assert "clause: <code>" in text and '<blockquote class="evidence">' in text
    assert re.search(r'<p class="diff-summary">Against the canonical: \d+ words? added, \d+ removed', text)


def test_a_copy_joined_by_headline_alone_says_so_instead_of_zero_similarity(
    data: DashboardData, tmp_path: Path
) -> None:
    """A copy with no text to compare (a headline-only feed item) has no similarity: its story
    page says "headline only", not "0 %"."""
    from starlette.testclient import TestClient

    from web.app import create_app

    db = tmp_path / "copy.duckdb"
    shutil.copyfile(data.db, db)
    shutil.copyfile(snapshot_path(data.db), snapshot_path(db))
    with duckdb.connect(str(snapshot_path(db))) as con:
        (story_id, copy_id) = con.execute(
            "SELECT story_id, document_id FROM v_reprints WHERE NOT is_canonical AND title = ?", [MIRROR_TITLE]
        ).fetchone() or ("", "")
        con.execute(
            "UPDATE story_members SET method = 'headline', similarity = NULL, containment = NULL, coverage = NULL"
            " WHERE document_id = ?",
            [copy_id],
        )
    with TestClient(create_app(db)) as app:
        page = app.get(f"/stories/{story_id}").text
    row = page.split('<tr class="copy">', 1)[1].split("</tr>", 1)[0]
    assert "headline only" in row and "%" not in row


def test_alerts_and_feeds_pages(client: httpx.Client) -> None:
    alerts = client.get("/alerts?topic=russia-sanctions").text
    assert "spike: 9 stories" in alerts
    assert "Spike: 9 unique stories with a copy first seen on " + DAYS[-1].isoformat() in alerts
    assert alerts.count('class="story-link"') >= 9
    feeds = client.get("/feeds").text
    assert re.search(r'<tr class="status-broken">\s*<td><a href="/\?source=Dead">Dead</a>', feeds)
    assert "http-5xx" in feeds and "the server answered with a server error: retry later" in feeds
    assert client.get("/feeds?source=Mirror").text.count("<tr class=") == 1


def test_an_alert_lists_its_new_stories_first(data: DashboardData, client: httpx.Client) -> None:
    """The stories an alert announced: those new to the topic first, marked, as many as the
    alert counted; then stories that only gained copies, however many copies they have."""
    import json

    from storage.dashboard import alert_stories

    with duckdb.connect(str(data.db), read_only=True) as con:
        alerts = con.execute("SELECT id, topic, triggers FROM alerts WHERE kind = 'topic'").fetchall()
        listed = alert_stories(con, [a for a, _t, _x in alerts])
    by_alert: dict[str, list[Any]] = {}
    for story in listed:
        by_alert.setdefault(story.alert_id, []).append(story)
    for alert_id, _topic, triggers in alerts:
        stories = by_alert.get(alert_id, [])
        assert sum(s.is_new for s in stories) == json.loads(triggers)["new_stories"], alert_id
        flags = [s.is_new for s in stories]
        assert flags == sorted(flags, reverse=True), alert_id  # new ones first
    mixed = [a for a, stories in by_alert.items() if {s.is_new for s in stories} == {True, False}]
    assert mixed, "the dashboard data has no alert announcing both new stories and new copies"
    page = client.get("/alerts").text
    for alert_id in mixed:
        section = page.split(f'data-alert="{alert_id}"', 1)[1].split("</section>", 1)[0]
        items = re.findall(r"<li( class=\"new\")?>", section)
        assert items == sorted(items, reverse=True) and items[0] and not items[-1]
        assert section.count('<span class="badge new">new</span>') == sum(s.is_new for s in by_alert[alert_id])
        assert "new copies of a story the topic had" in section
        assert re.search(r"\d+ documents? now", section)  # today's count, not the alert's


def test_a_story_known_from_a_backfill_is_not_new_on_the_alerts_page(data: DashboardData, tmp_path: Path) -> None:
    """A retag marks the tags it makes 'backfill' (never alerted): a story whose earlier copies
    carry that mark was not new to the topic when a later copy was alerted, as the alert stage
    decided; the page agrees."""
    from storage.dashboard import alert_stories

    db = tmp_path / "copy.duckdb"
    shutil.copyfile(data.db, db)
    with duckdb.connect(str(db)) as con:
        alerts = [a for (a,) in con.execute("SELECT id FROM alerts WHERE kind = 'topic'").fetchall()]
        known = [s for s in alert_stories(con, alerts) if not s.is_new]
        assert known, "no alert in the dashboard data announced new copies of a known story"
        story = known[0]
        con.execute(
            "UPDATE document_topics SET alert_id = 'backfill' WHERE alert_id IS NOT NULL AND alert_id <> ?"
            " AND document_id IN (SELECT document_id FROM story_members WHERE story_id = ?)",
            [story.alert_id, story.story_id],
        )
        again = {(s.alert_id, s.story_id): s.is_new for s in alert_stories(con, alerts)}
    assert again[(story.alert_id, story.story_id)] is False


@pytest.mark.slow
def test_a_new_snapshot_is_read_without_a_restart(data: DashboardData, tmp_path: Path) -> None:
    db = make_database(tmp_path / "seeds.duckdb")  # the seeds only
    proc, url = start_dashboard("--db", str(db), "--port", "0")
    try:
        assert "Wire &lt;b&gt;" not in httpx.get(url + "/", timeout=30).text
        fresh = tmp_path / ".fresh"
        shutil.copyfile(snapshot_path(data.db), fresh)
        os.replace(fresh, snapshot_path(db))  # as a run publishes its snapshot
        assert "Wire &lt;b&gt;" in httpx.get(url + "/", timeout=30).text
    finally:
        assert stop(proc) == 0


def test_word_diff_folds_unchanged_words() -> None:
    base = " ".join(f"w{i}" for i in range(100))
    copy = base.replace("w50", "changed") + " tail"
    diff = word_diff(base, copy, context=3)
    kinds = [s.kind for s in diff.segments]
    assert (diff.added, diff.removed, diff.same) == (2, 1, 99)
    assert kinds == ["folded", "same", "removed", "added", "same", "folded", "same", "added"]
    assert diff.segments[0].text == "47 unchanged words" and diff.segments[2].text == "w50"
    assert word_diff("a b  c", "a b\nc").identical


# -- in Chromium --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed: `apt-get install chromium` (.ci/run installs it when it can)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


class Watched:
    """A page with its console messages, uncaught errors and dialogs recorded."""

    def __init__(self, browser: Any) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        self.page.on(
            "console", lambda m: self.problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def open(self, url: str) -> Any:
        response = self.page.goto(url)
        assert response is not None and response.status == 200, url
        charts = self.page.locator("[data-chart]")
        for n in range(charts.count()):
            charts.nth(n).locator("svg").first.wait_for(timeout=15000)
        return self.page


@pytest.mark.slow
@pytest.mark.browser
def test_every_page_renders_with_charts_and_no_console_errors(server: str, browser: Any, client: httpx.Client) -> None:
    story_path = "/stories/" + story_id_of(
        client.get("/").text, "In Central Asia, Blinken Will Urge Distance From Russia, and Ukraine War"
    )
    SHOTS.mkdir(exist_ok=True)
    watched = Watched(browser)
    expected_charts = {"/": 3, "/topics/russia-sanctions": 1, story_path: 0, "/alerts": 0, "/feeds": 0}
    for path, charts in expected_charts.items():
        page = watched.open(server + path)
        assert page.locator("[data-chart][data-rendered='1'] svg").count() == charts, path
        name = path.strip("/").split("/")[0] or "overview"
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert watched.problems == [] and watched.dialogs == []
    # the spike day is drawn in the spike colour, the baseline as a dashed line
    page = watched.open(server + "/topics/russia-sanctions")
    assert page.locator("svg path[fill='#c7463b']").count() >= 1 or page.locator("svg [fill='#c7463b']").count() >= 1
    assert page.locator("svg [stroke-dasharray='4,3']").count() >= 1


@pytest.mark.slow
@pytest.mark.browser
def test_links_and_filters_work_in_the_browser(server: str, browser: Any) -> None:
    watched = Watched(browser)
    page = watched.open(server + "/")
    page.locator("nav a", has_text="Russia sanctions").click()
    page.wait_for_url("**/topics/russia-sanctions")
    page.locator("select[name=source]").select_option("Mirror")
    page.locator("form.filters button").click()
    page.wait_for_url("**/topics/russia-sanctions?source=Mirror")
    rows = page.locator("table.stories tbody tr")
    assert rows.count() == 2 and all("Mirror" in rows.nth(n).inner_text() for n in range(rows.count()))
    page.locator("a.story-link", has_text="EU agrees new sanctions on Russia").click()
    page.wait_for_url("**/stories/**")
    assert page.locator("h1").inner_text() == "EU agrees new sanctions on Russia"
    assert page.locator("table.lineage tbody tr").count() == 2
    page.goto(server + "/")
    page.locator("input[name=since]").fill(DAYS[-1].isoformat())
    page.locator("select[name=topic]").select_option("central-asia-diplomacy")
    page.locator("form.filters button").click()
    page.wait_for_url(f"**/?topic=central-asia-diplomacy&since={DAYS[-1].isoformat()}")
    assert page.locator("table.stories tbody tr").count() == 1
    assert watched.problems == []


@pytest.mark.slow
@pytest.mark.browser
def test_hostile_headlines_show_as_text_and_run_nothing(server: str, browser: Any) -> None:
    watched = Watched(browser)
    page = watched.open(server + "/topics/russia-sanctions")
    assert page.locator("a.story-link", has_text=IMG_TITLE).inner_text() == IMG_TITLE
    assert page.locator("a.story-link", has_text=SCRIPT_TITLE).inner_text() == SCRIPT_TITLE
    assert page.locator("main img").count() == 0
    assert page.locator("td", has_text="Wire <b>").count() >= 1 and page.locator("main b").count() == 0
    page.locator("a.story-link", has_text=IMG_TITLE).click()
    page.wait_for_url("**/stories/**")
    assert page.locator("h1").inner_text() == IMG_TITLE
    assert page.locator("main img, main a[href^='javascript']").count() == 0
    assert "<script>alert(1)</script>" in page.locator("p.opening").inner_text()
    assert watched.dialogs == [] and watched.problems == []


def test_the_trend_chart_says_which_days_had_no_run() -> None:
    from storage.dashboard import TrendRow
    from web.charts import trend_chart, trend_values

    day = DAYS[0]
    rows = [
        TrendRow(day, "t", 4, 4, 5, 4.0, 1.0, 4.0, 1.0, 0.5, 0.3, False),
        TrendRow(day + timedelta(days=1), "t", 0, 0, 0, None, None, None, None, None, 0.0, False, observed=False),
        TrendRow(day + timedelta(days=2), "t", 9, 9, 5, 4.0, 1.0, 8.0, 1.1, 0.4, 0.4, False, gap_days=1),
    ]
    notes = [v["note"] for v in trend_values(rows)]
    assert notes == [None, "no monitor run that day", "with the news of 1 day without a run"]
    layers = trend_chart(rows, "t")["layer"]
    assert any(t["field"] == "note" for layer in layers for t in layer["encoding"].get("tooltip", []))
