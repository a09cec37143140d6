"""RSS/Atom feeds: parsing of fetched feed bodies, polling state, and items as documents.

The user's feed list (``feeds.toml``, OPML) is :mod:`newsmon.feedlist`; checking one feed
before it is added is :mod:`newsmon.probe`.

Feed text is untrusted data: feedparser is only ever handed bytes (``io.BytesIO``; given a
path or URL it would read local files), titles and summaries are reduced to plain text, and
only ``http``/``https`` links are kept. Bodies in a wrong or missing charset are re-decoded
before parsing, so Latin-1 or windows-1251 feeds without a declaration read correctly.

An item's date is its publication time only when that is plausible: not before 1991 (an epoch
zero, a Unix time read as a year) nor more than a day after the poll. Importing this module
teaches feedparser (process-wide, through its date-handler hook) the zone names in
:data:`ZONE_HOURS`, which it would otherwise read as UTC.
"""

from __future__ import annotations

import calendar
import email.utils
import html
import io
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urljoin

import feedparser

from newsmon.boilerplate import strip_boilerplate
from newsmon.documents import document_id
from newsmon.extract import EXTRACTOR, PageText
from newsmon.feedlist import (
    MIN_INTERVAL_S,
    append_feeds,
    format_duration,
    load_feeds,
    new_feed,
    parse_duration,
    parse_opml,
    read_opml,
    remove_feed,
    render_feed_entry,
    render_opml,
)
from newsmon.models import Document, FeedSpec, FeedState
from newsmon.text import decode_mostly_utf8, detect_charset, drop_controls, sha256_hex, text_hash
from newsmon.urls import canonicalize_url, identity_url, safe_http_url
from newsmon.workers import WorkerPool

log = logging.getLogger(__name__)

FEED_EXTRACTOR = "feed-summary/1"
FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
# A tag is "<" then a letter, "/", "!" or "?" ("3 < 5" is text); group 1 holds the name of an
# element that starts or ends a block of text (a paragraph, list item, heading, table row, ...).
_TAG = re.compile(
    r"<(?:(/?(?:p|br|hr|li|dt|dd|h[1-6]|div|tr|ul|ol|dl|table|blockquote|pre|figure|figcaption"
    r"|section|article|header|footer|aside)\b)|[A-Za-z/!?])[^>]*>",
    re.IGNORECASE | re.ASCII,  # ASCII letters only: "<ſcript>" starts no tag
)
_BREAK = "\x00"  # a block's edge while markup is removed (none is left in the input: controls go first)
_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?(</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
_SCRIPT_OPEN = re.compile(r"<(script|style)\b[^>]*>", re.IGNORECASE)  # where _SCRIPT can start
_XML_DECL = re.compile(rb"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2", re.IGNORECASE)
_XML_DECL_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")
EARLIEST_PUBLISHED = datetime(1991, 1, 1, tzinfo=UTC)  # before the web: a zero or garbled date, not a news item's
FUTURE_SLACK = timedelta(days=1)  # a feed's clock or zone may be hours off; a date days ahead is not a publication
# Zone names in news feeds that feedparser does not know (it reads them as UTC) and that name one
# offset only (not IST or BST), in hours east of UTC.
ZONE_HOURS = {
    "WET": 0, "WEST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3, "MSK": 3, "SGT": 8, "HKT": 8,
    "JST": 9, "KST": 9, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One entry of a parsed feed, reduced to safe plain data."""

    key: str  # guid, else canonical link, else a hash of the content (see distinct_keys)
    title: str
    link: str | None  # canonical http(s) link, or None
    summary: str
    author: str | None
    published_at: datetime | None
    content_hash: str


@dataclass(slots=True)
class ParsedFeed:
    """The outcome of parsing one feed body."""

    is_feed: bool
    title: str | None = None
    items: list[FeedItem] = field(default_factory=list)
    error: str | None = None  # a parse problem (the feed may still have yielded items)
    encoding: str | None = None
    site_url: str | None = None  # the feed's own link: the site it belongs to (http(s) only)
    language: str | None = None  # <language>, dc:language or xml:lang, as a tag such as en-GB
    format: str | None = None  # feedparser's version: rss20, rss10, atom10, ...


# -- parsing ----------------------------------------------------------------------------


def plain_text(value: Any) -> str:
    """Feed HTML reduced to one line of plain text (a title, an author): :func:`plain_paragraphs`
    on one line."""
    return plain_paragraphs(value).replace("\n", " ")


def plain_paragraphs(value: Any) -> str:
    """Feed HTML reduced to plain text with one line per block (a paragraph, list item, heading,
    table row, or the lines a ``<br>`` ends), so that a summary keeps its sentence breaks.

    Scripts and styles are dropped, tags removed, entities decoded — twice, so double-escaped
    markup (``&amp;lt;b&amp;gt;``) cannot come back as a tag — and control characters dropped
    (``&#27;`` in the feed's XML). Spaces and line breaks within a block are one space; no line
    is blank.
    """
    if not isinstance(value, str):
        return ""
    text = _drop_scripts(drop_controls(value))
    for _ in range(2):
        text = html.unescape(_strip_tags(_drop_scripts(text)))
    lines = (" ".join(drop_controls(block).split()) for block in _strip_tags(text).split(_BREAK))
    return "\n".join(line for line in lines if line)


# A tag ends at a ">", so none starts after the last one: the patterns are only tried before
# it. Tried everywhere, each "<" of a run without a ">" after it was scanned to the end of the
# text, in time growing with the run's square (100,000 "<" in a title: 22 s).


def _strip_tags(text: str) -> str:
    """Every tag (``<`` then a letter, ``/``, ``!`` or ``?``, up to the next ``>``) made a space,
    or :data:`_BREAK` where a block starts or ends, in time linear in the text; a ``<`` that
    starts no tag (``S&P < 4000``) is text."""
    end = text.rfind(">") + 1
    return _TAG.sub(_tag_gap, text[:end]) + text[end:]


def _tag_gap(tag: re.Match[str]) -> str:
    return _BREAK if tag.group(1) else " "


def _drop_scripts(text: str) -> str:
    """Every script and style element made a space, up to its end tag or, without one, the end
    of the text; in time linear in the text."""
    end, at, parts = text.rfind(">") + 1, 0, []
    while (found := _SCRIPT_OPEN.search(text, at, end)) is not None:
        element = _SCRIPT.match(text, found.start())  # it matches wherever its opening tag does
        assert element is not None
        parts += [text[at : found.start()], " "]
        at = element.end()
    return "".join(parts) + text[at:] if parts else text


def _declared_encoding(data: bytes, headers: Mapping[str, str]) -> str | None:
    m = _XML_DECL_ENCODING.match(data[:512])
    if m:
        return m.group(1).decode("ascii", "replace")
    content_type = headers.get("content-type", "")
    charset = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    return charset.group(1) if charset else None


def to_utf8(data: bytes, headers: Mapping[str, str]) -> tuple[bytes, str | None]:
    """Re-encode a feed body as UTF-8 with a matching XML declaration; return it and the source charset.

    Valid UTF-8 wins over a wrong declaration; otherwise the declared charset is used when
    the bytes decode with it (unless it is UTF-8), then UTF-8 with a few stray bytes
    (:func:`newsmon.text.decode_mostly_utf8`), else the charset is detected. Bodies with a BOM
    (UTF-16/32) are left to feedparser.
    """
    if data.startswith(_BOMS) or b"\x00" in data[:64]:
        return data, None  # UTF-16/32 (with or without BOM): feedparser detects these itself
    try:
        text, source = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        declared = _declared_encoding(data, headers)
        text, source = "", None
        if declared:
            try:
                text, source = data.decode(declared), declared.lower()
            except (LookupError, UnicodeDecodeError):
                text = ""
        mostly = None if source else decode_mostly_utf8(data)
        if mostly is not None:
            text, source = mostly, "utf-8"
        if not source:
            source = detect_charset(data)
            if source is None:
                return data, None
            text = data.decode(source)
    out = text.encode("utf-8")
    out = _XML_DECL.sub(rb"\1\2utf-8\2", out, count=1)
    return out, source


POOL_PARSE_BYTES = 2_000_000  # below this much feed XML, a process pool costs more than it saves


def parse_feeds(bodies: Sequence[tuple[bytes, Mapping[str, str]]], workers: int | WorkerPool) -> list[ParsedFeed]:
    """:func:`parse_feed` on every (body, headers), in worker processes when there is enough to
    parse (feedparser is pure Python: one core parses about 1,600 items a second). ``workers``
    is the run's pool, or a number of processes for a pool of its own."""
    count = workers.workers if isinstance(workers, WorkerPool) else workers
    if count <= 1 or len(bodies) < 2 or sum(len(b) for b, _ in bodies) < POOL_PARSE_BYTES:
        return [parse_feed(body, headers) for body, headers in bodies]
    chunksize = max(1, len(bodies) // (8 * count))
    if isinstance(workers, WorkerPool):
        return workers.map(_parse_one, bodies, chunksize)
    with WorkerPool(min(count, len(bodies))) as pool:
        return pool.map(_parse_one, bodies, chunksize)


def _parse_one(job: tuple[bytes, Mapping[str, str]]) -> ParsedFeed:
    return parse_feed(*job)


def parse_feed(data: bytes, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse a fetched feed body into items; never raises for bad input."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    body, source_encoding = to_utf8(data, headers)
    ctype = headers.get("content-type", "application/xml").split(";")[0] or "application/xml"
    charset = "; charset=utf-8" if source_encoding else ""
    # feedparser's HTML sanitizer and URI resolver cost a third of its time; plain_text drops
    # all markup (scripts and styles first) anyway, and links are checked by safe_http_url.
    result = feedparser.parse(
        io.BytesIO(body),
        response_headers={"content-type": ctype + charset},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    error = str(result.get("bozo_exception")) if result.get("bozo") else None
    version = result.get("version") or ""
    entries = result.get("entries") or []
    if not version and not entries:
        return ParsedFeed(is_feed=False, error=error or "not a feed", encoding=source_encoding)
    items = distinct_keys([item for entry in entries if (item := _item(entry)) is not None])
    meta = result.get("feed", {})
    title = plain_text(meta.get("title"))[:300] or None
    return ParsedFeed(
        True,
        title,
        items,
        error,
        source_encoding or result.get("encoding"),
        site_url=safe_http_url(meta.get("link")),
        language=language_tag(meta.get("language")),
        format=version or None,
    )


def language_tag(value: Any) -> str | None:
    """A feed's declared language as a tag in the usual case (``en-us`` → ``en-US``,
    ``pt_br`` → ``pt-BR``); None when it is missing or not shaped like a language tag."""
    if not isinstance(value, str) or not _LANGUAGE.match(value.strip()) or len(value.strip()) > 35:
        return None
    primary, *rest = value.strip().replace("_", "-").split("-")
    subtags = [p.upper() if len(p) == 2 else p.title() if len(p) == 4 else p.lower() for p in rest]
    return "-".join([primary.lower(), *subtags])


def _item(entry: Mapping[str, Any]) -> FeedItem | None:
    title = plain_text(entry.get("title"))[:1000]
    link = safe_http_url(entry.get("link"))
    canonical = canonicalize_url(link) if link else None
    summary_html = entry.get("summary") or ""
    content = entry.get("content") or []
    if content and isinstance(content, list) and isinstance(content[0], Mapping):
        summary_html = content[0].get("value") or summary_html
    summary = plain_paragraphs(summary_html)[:20000]
    if not (title or summary or canonical):
        return None
    author = plain_text(entry.get("author"))[:200] or None
    published = _entry_time(entry)
    one_line = summary.replace("\n", " ")  # as summaries were stored before they kept their paragraphs,
    content_hash = sha256_hex(f"{title}\x00{one_line}\x00{canonical or ''}")  # so stored items are not "changed"
    guid = entry.get("id") if isinstance(entry.get("id"), str) else None
    key = (guid or "").strip()[:2000] or canonical or content_hash
    return FeedItem(key, title, canonical, summary, author, published, content_hash)


def distinct_keys(items: Sequence[FeedItem]) -> list[FeedItem]:
    """The items, with keys that tell apart different items sharing a key in one feed.

    Some feeds give several items one GUID (the site's home page, a constant). Keyed by it
    alone, all but one would be lost. Where a key is shared by items with different content,
    each of those items is keyed by the key plus its link, or plus its content hash when it
    has no link or shares its link with another of them. The suffix comes from the item
    itself, not from its position, so a poll that lists the same items in another order keys
    them the same, and an item keyed by its link keeps its key when its text changes.
    Items repeated verbatim keep the plain key (they are one item).
    """
    contents: dict[str, set[str]] = {}
    for item in items:
        contents.setdefault(item.key, set()).add(item.content_hash)
    shared = {key for key, hashes in contents.items() if len(hashes) > 1}
    if not shared:
        return list(items)
    link_contents: dict[tuple[str, str], set[str]] = {}
    for item in items:
        if item.key in shared and item.link:
            link_contents.setdefault((item.key, item.link), set()).add(item.content_hash)
    out: list[FeedItem] = []
    for item in items:
        if item.key not in shared:
            out.append(item)
            continue
        own_link = item.link is not None and len(link_contents[(item.key, item.link)]) == 1
        suffix = item.link if own_link else item.content_hash
        out.append(replace(item, key=f"{item.key}#{suffix}"))
    log.debug("feed repeats %d key(s) for different items; keys disambiguated", len(shared))
    return out


def _entry_time(entry: Mapping[str, Any]) -> datetime | None:
    """The first of the entry's publication, update and creation times that is not before 1991."""
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(name)
        if value:
            try:
                at = datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, TypeError):
                continue
            if plausible_published(at) is not None:
                return at
    return None


def plausible_published(at: datetime | None, now: datetime | None = None) -> datetime | None:
    """``at`` if it can be when a news item was published: not before 1991 and, when ``now``
    (the poll's time) is given, not more than a day after it; else None (no date)."""
    if at is None or at < EARLIEST_PUBLISHED or (now is not None and at > now + FUTURE_SLACK):
        return None
    return at


def with_plausible_date(item: FeedItem, now: datetime) -> FeedItem:
    """The item without its publication time when that is more than a day after ``now``, the
    poll's time (it is then dated by its page, else by when it was first seen)."""
    published = plausible_published(item.published_at, now)
    return item if published == item.published_at else replace(item, published_at=published)


def _zone_name_date(value: str) -> time.struct_time | None:
    """An RFC 822 date whose zone is a name of :data:`ZONE_HOURS` (``Mon, 01 Jan 2024 10:00:00
    CEST``), in UTC; None for any other, which feedparser's own handlers then read."""
    head, _, zone = value.strip().rpartition(" ")
    hours = ZONE_HOURS.get(zone.upper())
    if hours is None or not head:
        return None
    parsed = email.utils.parsedate_tz(f"{head} {hours:+03d}00")
    if parsed is None or parsed[9] is None:
        return None
    year, month, day, hour, minute, second = parsed[:6]
    try:  # refused as feedparser refuses it: 31 Feb, 25:00
        local = datetime(year, month, day, hour, minute, second, tzinfo=timezone(timedelta(seconds=parsed[9])))
        return local.utctimetuple()
    except (OverflowError, ValueError):
        return None


feedparser.registerDateHandler(_zone_name_date)


# -- polling: conditional GET, lying validators, back-off --------------------------------

VERIFY_EVERY_POLLS = 12  # a full GET now and then checks that 304s are honest
CHURN_LIMIT = 3  # 200s with new validators but an unchanged body before we stop trusting them
BACKOFF_BASE_S = 300.0
BACKOFF_CAP_S = 86400.0


@dataclass(frozen=True, slots=True)
class PollPlan:
    """How to request a feed this time."""

    url: str
    etag: str | None
    last_modified: str | None

    @property
    def conditional(self) -> bool:
        """True if the request carries validators."""
        return bool(self.etag or self.last_modified)


def plan_poll(state: FeedState, verify_every: int = VERIFY_EVERY_POLLS) -> PollPlan:
    """Conditional GET when the feed's validators are trusted, except for a periodic full GET.

    Validators count only once a run has read the feed's body (``last_body_hash``): those
    recorded when the feed was added came with items no run has collected, and a conditional
    GET with them would get a 304 and skip those items.
    """
    full = (
        not state.validators_trusted or state.last_body_hash is None or state.polls_since_full_get + 1 >= verify_every
    )
    if full:
        return PollPlan(state.url, None, None)
    return PollPlan(state.url, state.etag, state.last_modified)


def backoff_s(failures: int, interval_s: float, jitter: float, retry_after_s: float | None = None) -> float:
    """Delay before the next poll after ``failures`` consecutive failures (exponential, capped).

    ``jitter`` in [0, 1) spreads retries (±20 %); a server's Retry-After is a lower bound.
    """
    delay = min(BACKOFF_CAP_S, max(interval_s, BACKOFF_BASE_S) * 2 ** max(0, failures - 1))
    delay *= 0.8 + 0.4 * jitter
    return max(delay, retry_after_s or 0.0)


def record_success(
    state: FeedState,
    plan: PollPlan,
    now: datetime,
    status: int,
    etag: str | None,
    last_modified: str | None,
    body_hash: str | None,
    new_items: int,
) -> FeedState:
    """The feed's state after a successful poll (200 with a feed, or 304).

    Detects lying validators: a full GET that finds a changed body under the *same*
    validators means a conditional GET would have got a false 304; validators that change
    on every poll while the body does not are useless. Either way the feed falls back to
    full GETs from now on.
    """
    trusted, churn = state.validators_trusted, state.validator_churn
    if status == 304:
        since_full = state.polls_since_full_get + 1
        body_hash = state.last_body_hash
        etag, last_modified = state.etag, state.last_modified
    else:
        since_full = 0 if not plan.conditional else state.polls_since_full_get + 1
        same_validators = (etag or last_modified) and (etag, last_modified) == (state.etag, state.last_modified)
        body_changed = state.last_body_hash is not None and body_hash != state.last_body_hash
        if not plan.conditional and same_validators and body_changed and state.polls_since_full_get > 0:
            log.warning("feed %s: validators unchanged while the content changed; using full GETs", state.url)
            trusted = False
        new_validators = (etag, last_modified) != (state.etag, state.last_modified)
        churn = churn + 1 if (new_validators and not body_changed and state.last_body_hash) else 0
        if churn >= CHURN_LIMIT and trusted:
            log.warning("feed %s: validators change on every poll; using full GETs", state.url)
            trusted = False
    return _replace(
        state,
        etag=etag,
        last_modified=last_modified,
        validators_trusted=trusted,
        validator_churn=churn,
        polls_since_full_get=since_full,
        last_body_hash=body_hash,
        last_polled_at=now,
        last_success_at=now,
        last_status=status,
        consecutive_failures=0,
        next_poll_at=_after(now, state.interval_s),
        items_total=state.items_total + new_items,
    )


def record_failure(
    state: FeedState,
    now: datetime,
    kind: str,
    message: str,
    jitter: float,
    status: int | None = None,
    retry_after_s: float | None = None,
) -> FeedState:
    """The feed's state after a failed poll: the error kept, the next poll backed off."""
    failures = state.consecutive_failures + 1
    delay = backoff_s(failures, state.interval_s, jitter, retry_after_s)
    return _replace(
        state,
        last_polled_at=now,
        last_status=status,
        last_error=message[:1000],
        last_error_kind=kind,
        last_error_at=now,
        consecutive_failures=failures,
        next_poll_at=_after(now, delay),
    )


def with_details(state: FeedState, feed: ParsedFeed) -> FeedState:
    """The state with the feed's title, site link, language and format as this parse read them
    (a detail the feed no longer gives keeps its earlier value)."""
    return _replace(
        state,
        title=feed.title or state.title,
        site_url=feed.site_url or state.site_url,
        language=feed.language or state.language,
        format=feed.format or state.format,
    )


def _after(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)


def _replace(state: FeedState, **changes: Any) -> FeedState:
    return replace(state, **changes)


# -- from feed item to document ------------------------------------------------------------


def item_document_id(feed_url: str, item: FeedItem) -> str:
    """The document id of a feed item before its page is read: from its link, else from its feed
    and key (the page's canonical URL may give it another, see :func:`item_document`)."""
    return document_id(item.link) if item.link else document_id(f"{feed_url}#item={item.key}")


def item_document(feed_url: str, feed_name: str, item: FeedItem, page: PageText | None, now: datetime) -> Document:
    """Build the document for a feed item from its extracted page, else from the feed's summary.

    The page is used only if it is an article; otherwise the item keeps the feed's own
    summary (``extraction = 'feed-summary'``) and ``page_kind`` says why. The document's URL, its
    identity, is the page's declared canonical URL when that is on the item's site (see
    :func:`newsmon.urls.identity_url`), else the item's link.
    """
    extracted = page.extracted if page is not None and page.page_kind == "article" else None
    if extracted is not None:
        cleaned = strip_boilerplate(extracted.text)
        body, extraction, extractor = cleaned.body, "article", EXTRACTOR
        title = item.title or plain_text(extracted.title) or cleaned.body[:120]
        author = item.author or extracted.author or cleaned.author
        origin = cleaned.origin
        published = item.published_at or extracted.published_at
        language = extracted.language
        removed = cleaned.removed_lines
    else:
        body, extraction, extractor = item.summary, "feed-summary", FEED_EXTRACTOR
        title = item.title or item.summary[:120].replace("\n", " ") or (item.link or "")
        author, origin, published, language, removed = item.author, None, item.published_at, None, 0
    published = plausible_published(published, now)  # a page's date too: not before 1991 nor days ahead
    kind = page.page_kind if page is not None else ("not-fetched" if item.link else "no-link")  # fetch_pages off
    declared = None  # the page's canonical URL, absolute, without tracking parameters
    if item.link and page is not None and page.canonical_url:
        safe = safe_http_url(urljoin(item.link, page.canonical_url))
        declared = canonicalize_url(safe) if safe is not None else None
    url = identity_url(item.link, declared) if item.link else f"{feed_url}#item={item.key}"
    return Document(
        id=document_id(url),
        url=url,
        source=feed_name,
        source_kind="feed",
        title=title,
        body=body,
        author=author,
        origin=origin,
        published_at=published,
        first_seen_at=now,
        content_hash=item.content_hash,
        text_hash=text_hash(f"{title}\n{body}"),
        extractor=extractor,
        charset=None,
        boilerplate_lines=removed,
        extraction=extraction,
        page_kind=kind,
        language=language,
        canonical_url=declared,
    )


__all__ = [  # the feed list (newsmon.feedlist) and URL helpers (newsmon.urls) stay importable from here
    "BACKOFF_BASE_S",
    "BACKOFF_CAP_S",
    "CHURN_LIMIT",
    "EARLIEST_PUBLISHED",
    "FEED_ACCEPT",
    "FEED_EXTRACTOR",
    "FUTURE_SLACK",
    "MIN_INTERVAL_S",
    "POOL_PARSE_BYTES",
    "VERIFY_EVERY_POLLS",
    "ZONE_HOURS",
    "FeedItem",
    "FeedSpec",
    "FeedState",
    "ParsedFeed",
    "PollPlan",
    "append_feeds",
    "backoff_s",
    "canonicalize_url",
    "distinct_keys",
    "format_duration",
    "item_document",
    "item_document_id",
    "language_tag",
    "load_feeds",
    "new_feed",
    "parse_duration",
    "parse_feed",
    "parse_feeds",
    "parse_opml",
    "plain_paragraphs",
    "plain_text",
    "plan_poll",
    "plausible_published",
    "read_opml",
    "record_failure",
    "record_success",
    "remove_feed",
    "render_feed_entry",
    "render_opml",
    "safe_http_url",
    "to_utf8",
    "with_details",
    "with_plausible_date",
]
