"""URLs of feeds and articles: which are fetched, how they are written, and which is an article's identity.

Tracking parameters are recognised by courlan's list (the URL library trafilatura uses and keeps
up to date: ``utm_*``, ``fbclid``, ``gclid``, ``mc_*``, ``ref``, ...) plus a few that news sites
add and it does not know (``ocid``, ``cmpid``, ``smid``, ``ns_*``, ...). The rest of the URL is
kept as the site wrote it: its path (with any ``;params``), and its query byte for byte, less the
tracking parameters (``?/archives/1.html``, ``?12345`` and ``?q=Stra%DFe`` are not re-encoded);
courlan's own ``normalize_url`` re-sorts the query and re-encodes the path, which can change the
page a server returns, so it is not used to write URLs.

A document's identity is its canonical item link; where the page declares a canonical URL on the
same site (the ``amp.`` or ``m.`` copy of an article, a link with session or campaign junk), that
URL is the identity instead, so one article reached by several links is one document. A canonical
URL on another site (a syndicated copy naming its original) is kept as ``canonical_url`` but is
not the copy's identity: the copy is its own document, which dedupe puts in the original's story.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import SplitResult, unquote_plus, urljoin, urlsplit, urlunsplit

import courlan
from courlan.clean import TRACKERS_RE

NEWS_TRACKERS = re.compile(
    r"^(_hsenc|_hsmi|ocid|cmpid|cmp|ito|ns_\w+|sr_share|smid|smtyp|src|rss|feed|__twitter_impression)$",
    re.IGNORECASE,
)
MAX_URL_CHARS = 4096
_QUERY_SEPARATOR = re.compile(r"([&;])")


def safe_http_url(value: Any) -> str | None:
    """``value`` if it is an absolute http(s) URL with a host (whitespace trimmed), else None."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if len(url) > MAX_URL_CHARS or any(c in url for c in "\x00\r\n\t "):
        return None
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port
    except ValueError:  # e.g. an unbalanced "[" in the host
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def is_tracking_param(name: str) -> bool:
    """True if a query parameter only tracks the click (campaign, referrer, click id)."""
    return bool(TRACKERS_RE.search(name.lower()) or NEWS_TRACKERS.match(name))


def canonicalize_url(url: str) -> str:
    """Lower-case scheme and host, drop the fragment, default ports and tracking parameters.

    The rest of the query is kept as the site wrote it (see :func:`without_trackers`). ``url``
    must have passed :func:`safe_http_url`.
    """
    parts = urlsplit(url)
    query = without_trackers(parts.query)
    return urlunsplit((parts.scheme.lower(), _host_port(parts), parts.path or "/", query, ""))


def without_trackers(query: str) -> str:
    """A raw query string without its tracking parameters and empty pieces: split at ``&`` and
    ``;``, each piece judged by its decoded name, the rest kept byte for byte with the separator
    before it (``?/archives/1.html``, ``?12345``, ``?q=Stra%DFe`` stay as written)."""
    pieces = _QUERY_SEPARATOR.split(query)  # piece, separator, piece, ...
    kept: list[str] = []
    for at in range(0, len(pieces), 2):
        piece = pieces[at]
        if piece and not is_tracking_param(unquote_plus(piece.partition("=")[0])):
            kept += [pieces[at - 1], piece] if kept else [piece]
    return "".join(kept)


def feed_url_key(url: str) -> str:
    """What two spellings of one feed's URL have in common: the scheme and host in lower case,
    no default port, no fragment, no dot segments (``/./``, ``/a/../``), an empty path as ``/``.

    Unlike :func:`canonicalize_url`, the query is kept as written (a feed's query often picks
    the feed: ``?feed=rss2``, ``?format=rss``) and so is any user name. ``url`` must have passed
    :func:`safe_http_url`; the URL itself is stored as written, this only compares.
    """
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    netloc = f"{user}@{_host_port(parts)}" if user else _host_port(parts)
    path = _without_dot_segments(parts.path) or "/"
    return urlunsplit((parts.scheme.lower(), netloc, path, parts.query, ""))


def _host_port(parts: SplitResult) -> str:
    """The host in lower case (an IPv6 address in brackets), with its port unless the scheme's default."""
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or (parts.scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        netloc = f"[{host}]" + netloc[len(host) :]
    return netloc


def _without_dot_segments(path: str) -> str:
    """A URL path with its ``.`` and ``..`` segments resolved (RFC 3986, 5.2.4): ``/a/./b/../c`` → ``/a/c``."""
    segments = path.split("/")
    out: list[str] = []
    for i, segment in enumerate(segments):
        if segment in (".", ".."):
            if segment == ".." and len(out) > 1:
                out.pop()
            if i == len(segments) - 1:
                out.append("")  # "/a/." is the folder "/a/"
        else:
            out.append(segment)
    return "/".join(out)


def same_site(a: str, b: str) -> bool:
    """True if two URLs are on one site: the same registered domain (``amp.bbc.co.uk`` and
    ``www.bbc.co.uk``), or for addresses and single-label hosts the same host and port."""
    domain_a, domain_b = courlan.extract_domain(a), courlan.extract_domain(b)
    if domain_a and domain_b:
        return bool(domain_a == domain_b)
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.hostname, pa.port) == (pb.hostname, pb.port) and pa.hostname is not None


def identity_url(link: str, declared: str | None) -> str:
    """The URL that identifies an article reached by ``link`` (canonical) whose page declares
    ``declared`` as its canonical URL (relative to ``link`` if it is relative): the declared one
    when it is a safe http(s) URL on the same site, else the link (see the module's docstring)."""
    safe = safe_http_url(urljoin(link, declared.strip())) if declared else None
    if safe is None:
        return link
    canonical = canonicalize_url(safe)
    return canonical if same_site(canonical, link) else link
