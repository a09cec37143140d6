"""Article pages fetched in chunks and extracted while the next chunk downloads (newsmon.pages),
and feeds parsed in a process pool (newsmon.feeds.parse_feeds)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import Route, ScriptedServer

from newsmon import feeds, pages
from newsmon.errors import FetchError
from newsmon.extract import PageText
from newsmon.http import FetchResult, HttpConfig

PARAGRAPH = (
    "The foreign ministers of the five Central Asian states met their counterpart in Astana on Tuesday"
    " to discuss trade, water and security along the region's borders, officials said. "
)


def article(n: int) -> bytes:
    body = "".join(f"<p>{PARAGRAPH}Paragraph {k} of article {n}.</p>" for k in range(8))
    head = f"<html><head><title>Article {n}</title></head>"
    return f"{head}<body><article><h1>Article {n}</h1>{body}</article></body></html>".encode()


@pytest.fixture
def site() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    for n in range(7):
        server.routes[f"/a/{n}"] = Route(article(n), {"Content-Type": "text/html; charset=utf-8"})
    server.routes["/image"] = Route(b"\x89PNG\r\n", {"Content-Type": "image/png"})
    yield server
    server.close()


@pytest.fixture
def http() -> HttpConfig:
    return HttpConfig.from_env(["127.0.0.0/8"])


def test_a_utf8_page_with_a_stray_byte_keeps_its_letters() -> None:
    """A UTF-8 page with one windows-1252 dash is read as UTF-8, not as a code page throughout."""
    from newsmon.extract import extract_page

    paragraph = "Le président a présenté la réforme des retraites à l’Assemblée nationale mercredi soir. "
    body = "".join(f"<p>{paragraph}Élément {k}.</p>" for k in range(6))
    html = f"<html><head><meta charset='utf-8'><title>Réforme</title></head><body><article><h1>Réforme</h1>{body}"
    page = html.encode() + b"<p>Fin \x96 du texte, d\xe9cid\xe9e.</p></article></body></html>"
    text = extract_page(page, "https://a.example/reforme")
    assert text.extracted is not None
    assert "Le président a présenté la réforme" in text.extracted.text and "Ã" not in text.extracted.text


def test_sort_fetched_settles_failures_and_non_html() -> None:
    ok = FetchResult("u1", "u1-final", 200, {"content-type": "text/html"}, b"<p>x</p>", None, None, False, 0.1, 0)
    png = FetchResult("u2", "u2", 200, {"content-type": "image/png"}, b"png", None, None, False, 0.1, 0)
    err = FetchError("timeout", "u3", "no complete response within 20 s")
    out = pages.sort_fetched(["u1", "u2", "u3"], [ok, png, err], undated={"u1"})
    assert out.pages == [(b"<p>x</p>", "u1-final")] and out.urls == ["u1"] and out.with_metadata == [True]
    assert out.settled["u2"].page_kind == "not-article" and "image/png" in (out.settled["u2"].error or "")
    assert out.settled["u3"].page_kind == "unavailable" and out.failed == 1


def test_fetch_and_extract_in_chunks_with_progress(site: ScriptedServer, http: HttpConfig) -> None:
    urls = [site.url(f"/a/{n}") for n in range(7)] + [site.url("/image"), site.url("/missing")]
    seen: list[tuple[int, int]] = []
    outcome = pages.fetch_and_extract(urls, set(), http, 2, lambda d, t: seen.append((d, t)), chunk_size=3)
    assert set(outcome.texts) == set(urls)
    for n in range(7):
        text = outcome.texts[site.url(f"/a/{n}")]
        assert text.page_kind == "article" and text.extracted is not None
        assert f"Paragraph 7 of article {n}." in text.extracted.text
    assert outcome.texts[site.url("/image")].page_kind == "not-article"
    assert outcome.texts[site.url("/missing")].page_kind == "unavailable"
    assert (outcome.fetched, outcome.failed) == (7, 1)
    assert [t for _, t in seen] == [9, 9, 9] and [d for d, _ in seen] == [3, 6, 9]  # one line per chunk
    assert len(site.requests) == 9  # every page fetched once


def test_an_unreachable_site_costs_one_try_not_one_per_page(
    site: ScriptedServer, http: HttpConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """A site that refuses connections is down for the rest of the run: its later pages are
    settled at once with that failure (not tried), while a site that answers 404 stays up."""
    with socket.socket() as probe:  # a loopback port where nothing listens
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    dead = [f"http://127.0.0.1:{dead_port}/story/{n}" for n in range(6)]
    good = [site.url(f"/a/{n}") for n in range(6)]
    missing = [site.url(f"/gone/{n}") for n in range(3)]
    urls = [u for pair in zip(good, dead, strict=True) for u in pair] + missing
    with caplog.at_level(logging.WARNING, logger="newsmon.pages"):
        outcome = pages.fetch_and_extract(urls, set(), http, 1, chunk_size=3)
    tried = [u for u in dead if not (outcome.texts[u].error or "").startswith("not tried")]
    assert len(tried) == 1 and outcome.texts[tried[0]].failure == "refused"
    for url in set(dead) - set(tried):
        text = outcome.texts[url]
        assert text.page_kind == "unavailable" and text.failure == "refused"
        assert (text.error or "").startswith(f"not tried: 127.0.0.1:{dead_port} failed earlier in this run (")
    assert all(outcome.texts[u].page_kind == "article" for u in good)
    assert sum(path.startswith("/gone/") for path, _ in site.requests) == 3  # a 404 takes no site down
    assert outcome.failed == 6 + 3
    assert any("5 pages of 1 unreachable sites not tried" in m for m in caplog.messages)


def test_a_site_down_costs_one_try_on_a_task_runner_too(site: ScriptedServer, http: HttpConfig) -> None:
    """With extraction sent to a task runner (Dask's path: pieces submitted as tasks), a site that
    refuses connections is tried once as well, its other pages settled at once, and the pages
    of the site that is up are extracted by the submitted pieces."""
    from concurrent.futures import ThreadPoolExecutor

    from newsmon.harvest import fetch_and_extract_distributed
    from newsmon.steps import Steps

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    dead = [f"http://127.0.0.1:{dead_port}/story/{n}" for n in range(6)]
    good = [site.url(f"/a/{n}") for n in range(6)]
    submitted: list[str] = []
    with ThreadPoolExecutor(2) as runner:

        def submit(step: str, **kwargs: Any) -> Any:
            submitted.append(step)
            return runner.submit(getattr(Steps(), step), **kwargs)

        steps = Steps(submit=submit)
        outcome = fetch_and_extract_distributed(steps, [*good, *dead], set(), http, 1, None, chunk_size=3)
    tried = [u for u in dead if not (outcome.texts[u].error or "").startswith("not tried")]
    assert len(tried) == 1 and all(outcome.texts[u].failure == "refused" for u in dead)
    assert all(outcome.texts[u].page_kind == "article" for u in good) and outcome.fetched == 6
    assert submitted and set(submitted) == {"extract_chunk"}


def test_a_redirect_to_an_unreachable_site_takes_no_site_down(site: ScriptedServer, http: HttpConfig) -> None:
    """A page that redirects to a dead publisher (as a feed's tracking links do) fails alone: the
    site that redirected keeps serving its other pages."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    site.routes["/out"] = Route(b"", {"Location": f"http://127.0.0.1:{dead_port}/story", "Content-Length": "0"}, 302)
    urls = [site.url("/out"), *(site.url(f"/a/{n}") for n in range(4))]
    outcome = pages.fetch_and_extract(urls, set(), http, 1, chunk_size=1)
    assert outcome.texts[site.url("/out")].failure == "refused"
    assert all(outcome.texts[site.url(f"/a/{n}")].page_kind == "article" for n in range(4))


def test_a_host_whose_connections_break_now_and_then_is_down_only_after_three() -> None:
    health = pages.HostHealth()
    urls = [f"https://flaky.example/{n}" for n in range(5)]
    for n in range(3):
        fetched = pages.FetchedPages(
            settled={urls[n]: PageText(None, "unavailable", "connection reset", failure="connect")},
            failed=1,
            host_failures=[(urls[n], "connect")],
        )
        health.note(fetched)
        assert (n == 2) == ("flaky.example:443" in health.down)
    to_fetch, settled = health.split(urls[3:])
    assert to_fetch == [] and settled[urls[4]].failure == "connect"
    # the same endpoint however the URL spells it; plain http is another endpoint, still tried
    spelled = ["https://FLAKY.example:443/5", "https://user@flaky.example/6", "http://flaky.example/7"]
    to_fetch, settled = health.split(spelled)
    assert to_fetch == ["http://flaky.example/7"] and set(settled) == set(spelled[:2])


def test_pooled_parse_equals_parse_in_process(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = shared_data / "feeds" / "rss-parser"
    bodies = [(p.read_bytes(), {"content-type": "application/xml"}) for p in sorted(folder.glob("*.rss"))[:12]]
    alone = feeds.parse_feeds(bodies, workers=1)
    monkeypatch.setattr(feeds, "POOL_PARSE_BYTES", 0)
    pooled = feeds.parse_feeds(bodies, workers=2)
    assert pooled == alone and sum(len(p.items) for p in alone) > 100


def test_chunks_span_hosts_and_the_first_is_small() -> None:
    urls = [f"http://a.example/{n}" for n in range(4)] + [f"http://b.example/{n}" for n in range(2)]
    urls += ["http://C.example/0"]
    order = pages.interleave_hosts(urls)
    assert order == [
        "http://a.example/0", "http://b.example/0", "http://C.example/0",
        "http://a.example/1", "http://b.example/1", "http://a.example/2", "http://a.example/3",
    ]  # fmt: skip
    assert sorted(order) == sorted(urls)
    assert pages.chunked(order, 3, first=1) == [order[:1], order[1:4], order[4:7]]
    assert pages.chunked(order, 3) == [order[:3], order[3:6], order[6:]]
    assert pages.chunked([], 3, first=1) == [] and pages.interleave_hosts([]) == []


def test_batches_queued_ahead_give_what_each_batch_alone_gives() -> None:
    from newsmon.extract import PagePool, extract_page

    batches = [[(article(n), f"https://x.example/{n}") for n in range(k, k + 3)] for k in (0, 3)]
    batches.append([(b"<html><body>Subscribe to read</body></html>", "https://x.example/wall")])
    with PagePool(2) as pool:
        queued = [pool.submit(b, [False] * len(b)) for b in batches]  # all queued before any is collected
        texts = [pool.collect(q) for q in queued]
    for batch, got in zip(batches, texts, strict=True):
        assert got == [extract_page(html, url, False) for html, url in batch]
    assert [t.page_kind for t in texts[0] + texts[1]] == ["article"] * 6 and texts[2][0].page_kind != "article"


def test_a_worker_killed_under_queued_batches_loses_no_page() -> None:
    """A worker dies while two batches are queued: both come out whole (the pages of the batch
    that was queued behind it go again together, on the new pool)."""
    import os
    import signal
    from concurrent.futures.process import BrokenProcessPool

    from newsmon.extract import PagePool, extract_page

    batches = [[(article(n), f"https://x.example/{n}") for n in range(k, k + 60)] for k in (0, 60)]
    with PagePool(2) as pool:
        queued = [pool.submit(b, [False] * len(b)) for b in batches]
        assert queued[0].futures[0].result(60).page_kind == "article"  # the workers are up
        victim = next(iter(pool._workers.current._processes))  # type: ignore[union-attr]
        os.kill(victim, signal.SIGKILL)
        texts = [pool.collect(q) for q in queued]
    assert any(isinstance(f.exception(), BrokenProcessPool) for f in queued[1].futures)  # it did break
    for batch, got in zip(batches, texts, strict=True):
        assert got == [extract_page(html, url, False) for html, url in batch]
