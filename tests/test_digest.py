"""The HTML digest in a real browser (headless Chromium), crash-safe alert files, and `newsmon alerts`.

Hostile feed content (an ``<img onerror>`` title, a ``<script>`` summary, ``javascript:`` links)
goes through the whole monitor flow, from a loopback feed to the digest page; Chromium then loads
the page and the test checks what it rendered and that no injected script ran.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from support import NOW, Newsmon, Route, ScriptedServer, store_seeds

from flows.monitor import monitor
from newsmon.alerting import store_alerts
from newsmon.alerts import digest_order, render_digest_page
from newsmon.config import Settings
from newsmon.errors import OutputError, StorageError
from storage.store import Store

PWN = "document.title='PWNED';document.body.setAttribute('data-pwned','1')"
CLOCK = datetime(2023, 5, 19, 22, 0, tzinfo=UTC)


def chromium() -> str:
    """The Chromium binary, or skip (``.ci/run`` installs Debian's ``chromium``)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium is not installed: `apt-get install chromium` (.ci/run installs it when it can)")


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM of ``page`` after Chromium loaded it and ran whatever it would run."""
    args = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
        "--virtual-time-budget=3000", "--dump-dom", page.resolve().as_uri(),
    ]  # fmt: skip
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0 or "<html" not in result.stdout:
        pytest.skip(f"chromium could not render a page here (exit {result.returncode}): {result.stderr[-300:]}")
    return result.stdout


def hostile_feed(base: str) -> bytes:
    """Items whose text carries markup (double-escaped, so it survives the feed parser as text)."""
    img = f'&amp;lt;img src=x onerror="{PWN}"&amp;gt;'
    script = f"&amp;lt;script&amp;gt;{PWN}&amp;lt;/script&amp;gt;"
    items = [
        (
            f"EU agrees new sanctions on Russia over the war {img}",
            "javascript:alert(document.domain)",
            f"Brussels adopted new sanctions against Russia on Friday. {script} [click](javascript:alert(1))",
        ),
        (
            f"Kazakhstan and Uzbekistan foreign ministers hold talks on Central Asia cooperation {img}",
            f"{base}/news/central-asia",
            "The foreign ministers of Kazakhstan and Uzbekistan met in Tashkent for talks on regional cooperation."
            ' &lt;a href="javascript:alert(2)"&gt;read more&lt;/a&gt;',
        ),
        (
            "G7 leaders prepare fresh sanctions against Russia",
            f"{base}/news/g7",
            "Leaders of the Group of Seven prepared new sanctions against Russia's energy and banking sectors.",
        ),
    ]
    entries = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{title[:12]}-{n}</guid>"
        f"<description>{description}</description><pubDate>Fri, 19 May 2023 10:00:00 GMT</pubDate></item>"
        for n, (title, link, description) in enumerate(items)
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>Wire</title>{entries}</channel></rss>".encode()


# Feed text reaches the store as plain text (the feed layer strips markup); files keep their text
# as written, so hostile markup reaches the digest through them.
HOSTILE_FILES = {
    "sanctions.txt": f'EU agrees new sanctions on Russia <img src=x onerror="{PWN}">\n\n'
    f"Brussels adopted new sanctions against Russia on Friday. <script>{PWN}</script> "
    '[click](javascript:alert(1)) <a href="javascript:alert(2)">read more</a>\n',
    "central-asia.txt": f'Kazakhstan and Uzbekistan ministers hold talks <svg onload="{PWN}">\n\n'
    "The foreign ministers of Kazakhstan and Uzbekistan met in Tashkent for talks on regional cooperation. "
    '<iframe src="javascript:alert(3)"></iframe> ![x](http://evil.example/pixel.png)\n',
}


@pytest.fixture(scope="module")
def hostile_digest(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """Run the monitor on the hostile feed; yield the database and the run's HTML digest."""
    tmp = tmp_path_factory.mktemp("digest")
    server = ScriptedServer()
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("NEWSMON_HTTP_ALLOW", "127.0.0.0/8")
    monkeypatch.delenv("NEWSMON_NOTIFY", raising=False)
    try:
        server.routes["/feed.xml"] = Route(hostile_feed(server.base))
        feeds = tmp / "feeds.toml"
        feeds.write_text(f'[[feeds]]\nname = "Wire <b>"\nurl = "{server.url("/feed.xml")}"\n', encoding="utf-8")
        seeds = tmp / "seeds"
        seeds.mkdir()
        for name, text in HOSTILE_FILES.items():
            (seeds / name).write_text(text, encoding="utf-8")
        settings = Settings(
            db=tmp / "n.duckdb", seeds=seeds, feeds=feeds, alerts_dir=tmp / "alerts", fetch_pages=False,
            extract_workers=1,
        )  # fmt: skip
        summary = monitor(settings, now=CLOCK)
        assert {"russia-sanctions", "central-asia-diplomacy"} <= set(summary.alerts), summary.alerts
        pages = sorted(settings.alerts_dir.glob("*_digest.html"))
        assert len(pages) == 1
        yield settings.db, pages[0]
    finally:
        monkeypatch.undo()
        server.close()


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.xdist_group("hostile-digest")
def test_chromium_renders_the_digest_and_runs_no_injected_script(
    hostile_digest: tuple[Path, Path], tmp_path: Path
) -> None:
    db, page = hostile_digest
    dom = dump_dom(page, tmp_path / "profile")
    topics = sorted(str(t) for (t,) in query(db, "SELECT topic FROM alerts WHERE kind = 'topic'"))
    sections = re.findall(r'<section class="topic" id="[^"]+" data-topic="([^"]+)"', dom)
    assert sorted(sections) == topics  # one section per alerting topic
    assert dom.count('<svg class="chart"') == len(topics)  # a chart in each
    assert len(re.findall(r'<rect class="bar', dom)) >= len(topics)
    # nothing injected ran or rendered as markup
    head = dom.split("</head>", 1)[0]
    assert re.findall(r"<title>([^<]*)</title>", head) == ["newsmon digest 2023-05-19 22:00 UTC"]
    assert re.findall(r"<body[^>]*>", dom) == ["<body>"] and not re.search(r"\sdata-pwned=", dom)
    for tag in ("<img", "<script", "<svg onload", "<iframe", '<a href="javascript'):
        assert tag not in dom
    hrefs = re.findall(r'href="([^"]*)"', dom)
    assert hrefs and all(h.startswith(("#", "http://", "https://", "file:")) for h in hrefs), hrefs
    assert not any("javascript" in h.lower() for h in hrefs)
    assert "&lt;img src=x onerror=" in dom  # the hostile text is shown, as text
    assert "evil.example" not in " ".join(re.findall(r'(?:src|href)="([^"]*)"', dom))
    # the check would see a script that ran: the same payload, unescaped, does run
    control = tmp_path / "control.html"
    control.write_text(f'<!DOCTYPE html><html><head><title>t</title></head><body><img src=x onerror="{PWN}">')
    assert "PWNED</title>" in dump_dom(control, tmp_path / "profile2")


@pytest.mark.slow
@pytest.mark.xdist_group("hostile-digest")  # one worker runs the flow once for the three
def test_alert_markdown_of_the_hostile_feed_is_escaped(hostile_digest: tuple[Path, Path]) -> None:
    db, page = hostile_digest
    for markdown, path in query(db, "SELECT markdown, path FROM alerts"):
        assert Path(str(path)).read_text(encoding="utf-8") == markdown
        assert "<img" not in str(markdown) and "<script" not in str(markdown)
        assert "](javascript:" not in str(markdown).replace("\\]", "")
    assert "Wire &lt;b&gt;" in page.read_text(encoding="utf-8")  # feed names too


@pytest.mark.slow
@pytest.mark.xdist_group("hostile-digest")  # one worker runs the flow once for the three
def test_newsmon_alerts_prints_the_latest_digest(hostile_digest: tuple[Path, Path], newsmon: Newsmon) -> None:
    db, page = hostile_digest
    result = newsmon("alerts", "--db", str(db), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.startswith("# newsmon digest: run")
    assert "## Russia sanctions (russia-sanctions)" in out and "## Central Asia diplomacy" in out
    assert "New: " in out and f"HTML digest: {page}" in out
    one = newsmon("alerts", "--db", str(db), "--topic", "russia-sanctions", env={"COLUMNS": "200"})
    assert one.exit_code == 0 and "Russia sanctions" in one.stdout and "Central Asia diplomacy" not in one.stdout


def test_run_now_must_be_an_iso_time(tmp_path: Path, newsmon: Newsmon) -> None:
    result = newsmon("run", "--now", "last tuesday", "--db", str(tmp_path / "x.duckdb"))
    assert result.exit_code == 1 and "--now 'last tuesday' is not an ISO 8601 time" in result.stderr
    assert not (tmp_path / "x.duckdb").exists()


# --- crash-safe files ---------------------------------------------------------------------


def _stage(db: Path, run_id: str, folder: Path, hours: int = 0) -> list[str]:
    store = Store.open_writer(db)
    try:
        return [r.topic for r in store_alerts(store, run_id, NOW + timedelta(hours=hours), folder)]
    finally:
        store.close()


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("NEWSMON_NOTIFY", raising=False)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "n.duckdb"
    store = Store.open_writer(path)
    try:
        store_seeds(store, "ingest")
    finally:
        store.close()
    return path


def test_missing_alert_files_are_rewritten_from_the_rows(seeded: Path, tmp_path: Path) -> None:
    folder = tmp_path / "alerts"
    topics = _stage(seeded, "run-1", folder)
    assert topics
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert len(before) == len(topics) + 1 and sum(n.endswith("_digest.html") for n in before) == 1
    for path in list(folder.iterdir())[:2]:
        path.unlink()
    assert _stage(seeded, "run-2", folder, hours=1) == []  # nothing new: no alert, but the files come back
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert _stage(seeded, "run-3", folder, hours=2) == []
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_alert_files_are_stored_by_absolute_path_and_not_rewritten_from_another_folder(
    seeded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default alerts folder is relative: a run started from another folder must not take
    every earlier alert's files for lost and write them all again there, and a notification
    must name a digest that can be opened from anywhere."""
    first = _stage(seeded, "run-1", Path("alerts"))
    assert first
    stored = query(seeded, "SELECT path, digest_path FROM alerts")
    assert stored and all(Path(p).is_absolute() and Path(d).is_absolute() for p, d in stored)
    assert all(Path(d).parent == tmp_path / "alerts" for _p, d in stored)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert _stage(seeded, "run-2", Path("alerts"), hours=1) == []  # nothing new
    assert list((elsewhere / "alerts").iterdir()) == []  # run-1's files were found where they are


def test_a_crash_after_the_alerts_are_stored_loses_no_file(
    seeded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "alerts"
    import newsmon.alerting

    write = newsmon.alerting.write_missing_files

    def crash(*_args: object, **_kwargs: object) -> None:
        raise OSError("killed while writing")

    monkeypatch.setattr(newsmon.alerting, "write_missing_files", crash)
    with pytest.raises(StorageError, match="the alerts are stored and the next run writes their files"):
        _stage(seeded, "run-1", folder)
    rows = query(seeded, "SELECT run_id, topic, path FROM alerts")
    assert rows and all(path is None for *_x, path in rows)  # stored, not written
    assert list(folder.iterdir()) == []
    monkeypatch.setattr(newsmon.alerting, "write_missing_files", write)
    assert _stage(seeded, "run-2", folder, hours=1) == []  # no second alert for the same news
    written = query(seeded, "SELECT markdown, path, digest_path FROM alerts")
    assert len(written) == len(rows)
    for markdown, path, page in written:
        assert Path(str(path)).read_text(encoding="utf-8") == markdown
        assert Path(str(page)).is_file()
    store = Store.on_connection(duckdb.connect(str(seeded), read_only=True), seeded)
    try:
        records = store.alerts.records_of_runs(["run-1"])
    finally:
        store.con.close()
    page = Path(str(written[0][2]))
    assert page.read_text(encoding="utf-8") == render_digest_page(digest_order(records))


@pytest.mark.parametrize("where", ["a file", "/proc/newsmon-x"])
def test_an_unusable_alerts_folder_fails_before_anything_is_stored(seeded: Path, tmp_path: Path, where: str) -> None:
    """One line naming --alerts-dir (it was a bare OSError: a traceback), before any alert is
    stored; /proc/x passes the run's own checks (its parent is a folder) but cannot be made."""
    folder = tmp_path / "alerts" if where == "a file" else Path(where)
    if where == "a file":
        folder.write_text("not a folder")
    with pytest.raises(OutputError, match=r"cannot make the alerts folder .*--alerts-dir"):
        _stage(seeded, "run-1", folder)
    assert query(seeded, "SELECT count(*) FROM alerts") == [(0,)]
    assert query(seeded, "SELECT count(*) FROM document_topics WHERE alert_id IS NOT NULL") == [(0,)]
