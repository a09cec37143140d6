"""One feed fetched now, outside a run: the check behind ``newsmon feeds add`` and ``feeds check``.

A probe GETs the URL once through the project's HTTP client (its address policy, deadline and
body cap), without validators, and parses the body. It tells a feed (title, site link,
language, format, items) from a failure (a class of ``newsmon.errors.FAILURE_CLASSES`` and its
message) and, for an HTML page, lists the feeds the page links (``<link rel="alternate"
type="application/rss+xml|application/atom+xml">``), so the user can add one of them.

A check must never lose items: :func:`record_check` changes a feed's health and makes it due,
but never its validators (ETag, Last-Modified), so the next run's poll is not answered with a
304 for items only the check has seen.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

from newsmon.errors import FetchError, failure_hint
from newsmon.feeds import FEED_ACCEPT, FeedItem, ParsedFeed, parse_feed, record_failure, with_details
from newsmon.http import ALLOW_HINT, FetchRequest, FetchResult, HttpConfig, fetch_all
from newsmon.models import FeedSpec, FeedState
from newsmon.text import detect_charset
from newsmon.urls import safe_http_url

log = logging.getLogger(__name__)

FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})
DISCOVERY_BYTES = 2_000_000  # feed links sit in a page's head: the rest of a large page is not read
MAX_ALTERNATES = 20
UNREACHABLE = frozenset({"dns", "refused", "timeout", "connect", "tls", "http-5xx", "protocol"})  # may pass later
ADD_RUN_ID = "feeds-add"  # the feeds table's run_id of a feed that `newsmon feeds add` recorded
CHECK_RUN_ID = "feeds-check"  # ... and of one that `newsmon feeds check` recorded first


@dataclass(frozen=True, slots=True)
class FeedLink:
    """A feed that a web page links: its absolute http(s) URL, its title and type."""

    url: str
    title: str
    type: str


@dataclass(slots=True)
class FeedProbe:
    """The outcome of fetching one URL as a feed.

    ``kind`` is None for a feed; otherwise a failure class and ``message`` says what happened.
    ``alternates`` are the feeds an HTML page links (``kind`` is then ``not-a-feed``).
    """

    url: str
    kind: str | None = None
    message: str = ""
    status: int | None = None
    final_url: str | None = None
    feed: ParsedFeed | None = None
    etag: str | None = None
    last_modified: str | None = None
    alternates: list[FeedLink] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True if the URL gave a feed."""
        return self.kind is None

    @property
    def items(self) -> list[FeedItem]:
        """The feed's items (none for a failure)."""
        return self.feed.items if self.feed is not None else []

    @property
    def reason(self) -> str:
        """One line: the failure class, what happened and what to do ("" for a feed)."""
        if self.ok:
            return ""
        hint = failure_hint(self.kind)
        message = self.message.replace(ALLOW_HINT, "")
        return f"{self.kind}: {message}" + (f"; {hint}" if hint else "")


def probe_feeds(urls: Sequence[str], http: HttpConfig) -> list[FeedProbe]:
    """Fetch every URL once (concurrently, no validators) and parse it; one probe per URL, in order."""
    results = fetch_all([FetchRequest(url, accept=FEED_ACCEPT) for url in urls], http)
    return [_probe(url, result) for url, result in zip(urls, results, strict=True)]


def probe_feed(url: str, http: HttpConfig) -> FeedProbe:
    """:func:`probe_feeds` of one URL."""
    return probe_feeds([url], http)[0]


def _probe(url: str, result: FetchResult | FetchError) -> FeedProbe:
    if isinstance(result, FetchError):
        return FeedProbe(url, result.kind, result.message, result.status)
    probe = FeedProbe(url, status=result.status, final_url=result.final_url)
    feed = parse_feed(result.body, result.headers)
    if not feed.is_feed:
        probe.kind = "not-a-feed"
        probe.alternates = discover_feeds(result.body, result.final_url, result.headers.get("content-type", ""))
        ctype = result.headers.get("content-type", "?").split(";")[0]
        count = len(probe.alternates)
        what = f"a web page that links {count} feed(s)" if count else "not an RSS or Atom feed"
        probe.message = f"{what} (content-type {ctype})"
        return probe
    if feed.error and not feed.items:
        probe.kind, probe.message = "parse", feed.error
        return probe
    probe.feed, probe.etag, probe.last_modified = feed, result.etag, result.last_modified
    return probe


class _FeedLinkParser(HTMLParser):
    """Collects ``<base href>`` and the feed ``<link rel="alternate">`` elements of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.links: list[tuple[str, str, str]] = []  # (href, title, type)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): (value or "") for name, value in attrs}
        if tag == "base" and self.base is None and values.get("href"):
            self.base = values["href"].strip()
        elif tag == "link" and "alternate" in values.get("rel", "").lower().split():
            kind = values.get("type", "").split(";")[0].strip().lower()
            if kind in FEED_TYPES and values.get("href", "").strip():
                self.links.append((values["href"].strip(), " ".join(values.get("title", "").split()), kind))


def discover_feeds(body: bytes, page_url: str, content_type: str = "") -> list[FeedLink]:
    """The feeds an HTML page links (``<link rel="alternate" type="application/rss+xml"|
    "application/atom+xml" href>``), resolved against the page's URL (or its ``<base href>``),
    only absolute http(s) URLs, each once, in page order."""
    parser = _FeedLinkParser()
    try:
        parser.feed(_page_text(body[:DISCOVERY_BYTES], content_type))
        parser.close()
    except (AssertionError, ValueError) as err:  # a page too broken for the tolerant parser
        log.debug("feed discovery on %s stopped: %s", page_url, err)
    base = safe_http_url(urljoin(page_url, parser.base)) if parser.base else None
    found: list[FeedLink] = []
    for href, title, kind in parser.links:
        url = safe_http_url(urljoin(base or page_url, href))
        if url and url not in {f.url for f in found}:
            found.append(FeedLink(url, title[:200], kind))
    return found[:MAX_ALTERNATES]


def _page_text(body: bytes, content_type: str) -> str:
    declared = content_type.lower().partition("charset=")[2].strip(" \"'") or None
    for charset in (declared, "utf-8"):
        if charset:
            try:
                return body.decode(charset)
            except (LookupError, UnicodeDecodeError):
                continue
    return body.decode(detect_charset(body) or "latin-1", errors="replace")


def added_state(spec: FeedSpec, probe: FeedProbe) -> FeedState:
    """What adding the feed records of it: its details and validators (see
    :func:`newsmon.feeds.plan_poll` for why those validators never cause a 304)."""
    state = FeedState(url=spec.url, name=spec.name, interval_s=spec.interval_s)
    if probe.feed is None:
        return state
    return replace(with_details(state, probe.feed), etag=probe.etag, last_modified=probe.last_modified)


def record_check(state: FeedState, probe: FeedProbe, now: datetime, jitter: float | None = None) -> FeedState:
    """A feed's state after a check: its health and details; its validators untouched.

    A feed that answered is due at ``now`` (the next run collects its items) and its back-off
    is cleared; a failure is recorded as one more consecutive failure, and the next poll stays
    when it was.
    """
    if probe.ok and probe.feed is not None:
        checked = replace(
            state,
            last_polled_at=now,
            last_success_at=now,
            last_status=probe.status,
            consecutive_failures=0,
            next_poll_at=now,
        )
        return with_details(checked, probe.feed)
    failed = record_failure(
        state, now, probe.kind or "protocol", probe.message, random.random() if jitter is None else jitter, probe.status
    )
    return replace(failed, next_poll_at=state.next_poll_at or now)


def new_items(probe: FeedProbe, seen: set[str]) -> int:
    """How many of the probe's items are not among the item keys already stored (``seen``)."""
    return sum(1 for item in probe.items if item.key not in seen)


@dataclass(slots=True)
class FeedCheck:
    """One feed's line of ``newsmon feeds check``: what the probe found and what it means for runs."""

    spec: FeedSpec
    probe: FeedProbe
    new_items: int  # items not stored yet (all of them when there is no database)
    next_poll_at: datetime | None  # None: at the next run (no database yet)


def record_checks(feeds: Any, specs: Sequence[FeedSpec], probes: Sequence[FeedProbe], now: datetime) -> list[FeedCheck]:
    """Record checked feeds' health in the store's feed repository ``feeds`` (the feeds are added
    to it first if they are new to it) and return what to report; ``feeds`` None: no database
    yet, nothing recorded, every item new."""
    if feeds is None:
        return [FeedCheck(s, p, len(p.items), None) for s, p in zip(specs, probes, strict=True)]
    feeds.add(specs, now, CHECK_RUN_ID)
    states = feeds.states_of([s.url for s in specs])
    seen = feeds.seen_items([(s.url, item.key) for s, p in zip(specs, probes, strict=True) for item in p.items])
    checked = [record_check(states[s.url], p, now) for s, p in zip(specs, probes, strict=True)]
    feeds.save_checks(checked)
    return [
        FeedCheck(s, p, new_items(p, {key for url, key in seen if url == s.url}), c.next_poll_at)
        for s, p, c in zip(specs, probes, checked, strict=True)
    ]
