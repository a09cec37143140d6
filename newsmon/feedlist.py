"""The user's feed list: the ``feeds.toml`` file (read, append, remove) and OPML import and export.

``feeds.toml`` holds one ``[[feeds]]`` table per feed: ``name``, ``url``, ``interval`` (a
duration such as ``"30m"``) and ``tags``. Feeds are appended as rendered tables and removed
table by table, so the rest of the file (comments, the user's own layout) is kept as written.

OPML folders become tags on import; on export a feed goes into the folder of its first tag,
and all its tags are written in the outline's ``category`` attribute, so an export imports back
with the same tags.
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from newsmon.errors import ConfigError
from newsmon.models import DEFAULT_INTERVAL_S, FeedSpec
from newsmon.text import read_settings_text
from newsmon.urls import feed_url_key, safe_http_url

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 60.0
FEEDS_FILE_HEADER = "# newsmon feeds: one [[feeds]] table per feed.\n"
_DURATION = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*[smhd]?\s*|(?:\d+(?:\.\d+)?\s*[smhd]\s*)+)$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_TABLE_HEADER = re.compile(r"^\s*\[")
_FEEDS_HEADER = re.compile(r"^\s*\[\[\s*feeds\s*\]\]\s*(#.*)?$")
_FILE_KEYS = frozenset({"feeds"})


# -- durations --------------------------------------------------------------------------


def parse_duration(value: str | float | int, where: str) -> float:
    """Seconds from ``900``, ``"90s"``, ``"30m"``, ``"2h"``, ``"1d"`` or a sum such as ``"1h30m"``
    (as :func:`format_duration` writes them); at least one minute."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        if not _DURATION.match(str(value)):
            raise ConfigError(f"{where}: interval {value!r} is not a duration: use e.g. 900, '30m', '2h', '1h30m'")
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(str(value)))
    if seconds < MIN_INTERVAL_S:
        raise ConfigError(f"{where}: interval {value!r} is below one minute: poll less often")
    return seconds


def format_duration(seconds: float) -> str:
    """A duration as people write it: ``30m``, ``2h``, ``1h30m``, ``1d``, ``90s`` → ``1m30s``."""
    left = round(seconds)
    if left <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


# -- feeds.toml -------------------------------------------------------------------------


def load_feeds(path: Path) -> list[FeedSpec]:
    """Read a ``feeds.toml`` file: ``[[feeds]]`` tables with name, url, interval, tags."""
    try:
        text = read_settings_text(path, "feeds file")
    except FileNotFoundError as err:
        raise ConfigError(f"feeds file {path} does not exist: create it with `newsmon feeds add URL`") from err
    return parse_feeds_text(text, str(path))


def parse_feeds_text(text: str, where: str) -> list[FeedSpec]:
    """The feeds of a ``feeds.toml`` text (``where`` names it in errors)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"feeds file {where} is not valid TOML ({err}): fix it") from err
    unknown = set(raw) - _FILE_KEYS
    if unknown:  # a typo such as [[feed]] would otherwise leave an empty feed list
        raise ConfigError(f"feeds file {where}: unknown top-level key(s) {sorted(unknown)}: use [[feeds]] tables")
    entries = raw.get("feeds", [])
    if not isinstance(entries, list):
        raise ConfigError(f"feeds file {where}: 'feeds' must be an array of [[feeds]] tables")
    specs: list[FeedSpec] = []
    seen: dict[str, int] = {}
    names: dict[str, int] = {}
    for i, entry in enumerate(entries, 1):
        spec = _feed_entry(entry, f"{where}: feed {i}")
        key = _url_key(spec.url)
        if key in seen:  # as written, or written another way (letter case, a fragment, a default port)
            log.warning(
                "%s: feed %d: %s is feed %d's URL, listed twice; polling it once", where, i, spec.url, seen[key]
            )
            continue
        seen[key] = i
        if _name_key(spec.name) in names:
            log.warning(
                "%s: feed %d: name %r is feed %d's too (names are compared ignoring case): rename one, so that"
                " `newsmon feeds remove NAME` can tell them apart", where, i, spec.name, names[_name_key(spec.name)],
            )  # fmt: skip
        names.setdefault(_name_key(spec.name), i)
        specs.append(spec)
    return specs


def _feed_entry(entry: object, where: str) -> FeedSpec:
    if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
        raise ConfigError(f'{where}: needs a url = "https://..."')
    url = entry["url"].strip()
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ConfigError(f"{where}: url {url!r} is not http(s): only web feeds are polled")
    unknown = set(entry) - {"name", "url", "interval", "tags"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}: use name, url, interval, tags")
    tags = entry.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ConfigError(f"{where}: tags must be a list of strings")
    return FeedSpec(
        name=str(entry.get("name") or urlsplit(url).hostname or url),
        url=url,
        interval_s=parse_duration(entry.get("interval", DEFAULT_INTERVAL_S), where),
        tags=tuple(tags),
    )


def new_feed(
    url: str, name: str | None = None, interval: str | None = None, tags: Sequence[str] = (), where: str = "--interval"
) -> FeedSpec:
    """A feed the user adds: an http(s) URL (else a :class:`ConfigError`), a name (default: the
    host), a poll interval such as ``15m`` (default 30 minutes; ``where`` names it in errors)
    and tags."""
    clean = safe_http_url(url)
    if clean is None:
        raise ConfigError(f"{url!r} is not an http(s) URL: give the feed's web address")
    seconds = parse_duration(interval, where) if interval else DEFAULT_INTERVAL_S
    return FeedSpec(name or urlsplit(clean).hostname or clean, clean, seconds, tuple(tags))


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def render_feed_entry(spec: FeedSpec) -> str:
    """A ``[[feeds]]`` TOML table for one feed (the interval as a duration such as ``"15m"``)."""
    lines = ["[[feeds]]", f"name = {_toml_string(spec.name)}", f"url = {_toml_string(spec.url)}"]
    if spec.interval_s != DEFAULT_INTERVAL_S:
        lines.append(f"interval = {_toml_string(format_duration(spec.interval_s))}")
    if spec.tags:
        lines.append("tags = [" + ", ".join(_toml_string(t) for t in spec.tags) + "]")
    return "\n".join(lines) + "\n"


def append_feeds(path: Path, specs: Sequence[FeedSpec]) -> list[FeedSpec]:
    """Append feeds to a feeds file (created if absent) and return them as appended.

    A feed whose URL is listed already, however written (see :func:`listed_feed`), is skipped;
    a feed whose name another feed has is appended as ``Name 2`` (see :func:`unique_name`), so
    that every feed can be named in ``feeds remove``, ``check`` and ``reset``.
    """
    text = read_settings_text(path, "feeds file") if path.exists() else None
    listed = parse_feeds_text(text, str(path)) if text is not None else []
    keys = {_url_key(s.url) for s in listed}
    names = [s.name for s in listed]
    added: list[FeedSpec] = []
    for spec in specs:
        key = _url_key(spec.url)
        if key not in keys:
            keys.add(key)
            spec = replace(spec, name=unique_name(spec.name, names))
            names.append(spec.name)
            added.append(spec)
    if added:
        text = (text if text is not None else FEEDS_FILE_HEADER).rstrip("\n") + "\n\n"
        path.write_text(text + "\n".join(render_feed_entry(s) for s in added), encoding="utf-8")
    return added


def listed_feed(specs: Sequence[FeedSpec], url: str) -> FeedSpec | None:
    """The feed of ``specs`` whose URL is ``url``, as written or written another way: scheme and
    host case, a default port, a fragment, dot segments (see :func:`newsmon.urls.feed_url_key`)."""
    key = _url_key(url)
    return next((s for s in specs if _url_key(s.url) == key), None)


def _url_key(url: str) -> str:
    """:func:`feed_url_key` of an http(s) URL; any other (a malformed port) compares as written."""
    return feed_url_key(url) if safe_http_url(url) else url


def _name_key(name: str) -> str:
    """A feed name as names are compared: surrounding spaces and letter case left out."""
    return name.strip().casefold()


def named_feed(specs: Sequence[FeedSpec], name: str) -> FeedSpec | None:
    """The feed of ``specs`` named ``name``, ignoring case (as ``feeds remove NAME`` finds it), or None."""
    return next((s for s in specs if _name_key(s.name) == _name_key(name)), None)


def unique_name(name: str, taken: Iterable[str]) -> str:
    """``name`` if no name of ``taken`` is the same ignoring case, else the first free one of
    ``name 2``, ``name 3``, ..."""
    used = {_name_key(t) for t in taken}
    candidate, number = name, 1
    while _name_key(candidate) in used:
        number += 1
        candidate = f"{name} {number}"
    return candidate


def find_feeds(specs: Sequence[FeedSpec], keys: Sequence[str], where: str) -> list[FeedSpec]:
    """The feeds that ``keys`` name, in the order given: each key is a feed's URL or its name
    (exact, else ignoring case). Raises :class:`ConfigError` for a key that names no feed or
    several (``where`` is the feeds file, for the message)."""
    found: list[FeedSpec] = []
    for key in keys:
        spec = _find_feed(specs, key.strip(), where)
        if spec not in found:
            found.append(spec)
    return found


def _find_feed(specs: Sequence[FeedSpec], key: str, where: str) -> FeedSpec:
    """The feed ``key`` names: its URL, however written (see :func:`listed_feed`), else its name
    (exactly, else ignoring case, when only one feed has it)."""
    by_url = listed_feed(specs, key) if "://" in key else None
    if by_url is not None:
        return by_url
    for matches in ([s for s in specs if s.name == key], [s for s in specs if s.name.casefold() == key.casefold()]):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ConfigError(f"{len(matches)} feeds in {where} are named {key!r}: give the feed's URL instead")
    raise ConfigError(f"no feed named {key!r} in {where}: see `newsmon feeds list` for names and URLs")


def remove_feed(path: Path, key: str) -> FeedSpec:
    """Remove the feed that ``key`` (its URL or name) names from a feeds file and return it.

    Only that feed's ``[[feeds]]`` table is cut out; the rest of the file stays as written. The
    result is read back before it is saved: if it does not list exactly the other feeds (a
    layout this cannot cut safely), the file is left alone and a :class:`ConfigError` says so.
    """
    text = read_settings_text(path, "feeds file") if path.exists() else ""
    specs = parse_feeds_text(text, str(path))
    target = _find_feed(specs, key.strip(), str(path))
    blocks = _split_tables(text)
    kept = [block for block in blocks if not _is_table_of(block, target.url)]
    new_text = "".join(kept).rstrip() + "\n"
    expected = [s for s in specs if s.url != target.url]
    try:
        left = parse_feeds_text(new_text, str(path))
    except ConfigError:
        left = None
    if left != expected:
        raise ConfigError(f"cannot remove {target.url} from {path} safely: delete its [[feeds]] table by hand")
    path.write_text(new_text, encoding="utf-8")
    return target


def _split_tables(text: str) -> list[str]:
    """The text cut before every table header line and the comment lines right above it (the
    first piece: what precedes them)."""
    blocks: list[list[str]] = [[]]
    for line in text.splitlines(keepends=True):
        if _TABLE_HEADER.match(line):
            comments: list[str] = []  # comment lines right above a header belong to its table
            while blocks[-1] and blocks[-1][-1].lstrip().startswith("#"):
                comments.insert(0, blocks[-1].pop())
            blocks.append(comments)
        blocks[-1].append(line)
    return ["".join(b) for b in blocks if b]


def _is_table_of(block: str, url: str) -> bool:
    header = next((line for line in block.splitlines() if not line.lstrip().startswith("#")), "")
    if not _FEEDS_HEADER.match(header):
        return False
    try:
        entries = tomllib.loads(block).get("feeds", [])
    except tomllib.TOMLDecodeError:
        return False
    return any(isinstance(e, dict) and str(e.get("url", "")).strip() == url for e in entries)


# -- OPML -------------------------------------------------------------------------------


@dataclass(slots=True)
class OpmlFeeds:
    """The feeds of an OPML file, and the outlines refused (their URL is not http(s))."""

    feeds: list[FeedSpec] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def read_opml(data: bytes, where: str = "OPML file") -> OpmlFeeds:
    """The feeds of an OPML file (``outline`` elements with an ``xmlUrl``): folders and the
    ``category`` attribute become tags; outlines whose URL is not http(s) (``javascript:``,
    ``file:``, ``data:``, ...) are refused and listed. XML whose root is not ``<opml>`` (a feed,
    say) is a :class:`ConfigError` (``where`` names the file in errors)."""
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise ConfigError(f"{where} declares a DOCTYPE or entities: refused (export it again without them)")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        raise ConfigError(f"{where} is not valid XML ({err}): export it again from your reader") from err
    tag = root.tag.rpartition("}")[2]  # without a namespace: {http://www.w3.org/2005/Atom}feed is <feed>
    if tag.lower() != "opml":
        raise ConfigError(
            f"{where} is not OPML (its root element is <{tag[:40]}>, not <opml>): import a feed reader's"
            " OPML export, or add a single feed with `newsmon feeds add URL`"
        )
    out = OpmlFeeds()

    def walk(node: ET.Element, folders: tuple[str, ...]) -> None:
        for child in node:
            if child.tag.lower() != "outline":
                walk(child, folders)
                continue
            raw = (child.get("xmlUrl") or child.get("xmlurl") or "").strip()
            label = (child.get("title") or child.get("text") or "").strip()
            url = safe_http_url(raw)
            if url:
                tags = tuple(dict.fromkeys((*folders, *_categories(child.get("category")))))
                out.feeds.append(FeedSpec(name=label or urlsplit(url).hostname or url, url=url, tags=tags))
            elif raw:
                log.warning("OPML: refused %r (not an http(s) URL)", raw[:200])
                out.refused.append(raw)
            walk(child, (*folders, label) if not raw and label else folders)

    walk(root, ())
    return out


def parse_opml(data: bytes) -> list[FeedSpec]:
    """The http(s) feeds of an OPML file, with folder tags (see :func:`read_opml`)."""
    return read_opml(data).feeds


def _categories(value: str | None) -> list[str]:
    """Tags of an OPML ``category`` attribute: comma-separated, a leading ``/`` dropped."""
    return [c.strip().strip("/") for c in (value or "").split(",") if c.strip().strip("/")]


def render_opml(specs: Sequence[FeedSpec], title: str, site_urls: Mapping[str, str] | None = None) -> str:
    """An OPML 2.0 document of the feeds: each in the folder of its first tag (untagged feeds at
    the top), every tag in ``category``, the site's address as ``htmlUrl`` when known."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    folders: dict[str, ET.Element] = {}
    for spec in specs:
        parent = body
        if spec.tags:
            if spec.tags[0] not in folders:
                folders[spec.tags[0]] = ET.SubElement(body, "outline", text=spec.tags[0], title=spec.tags[0])
            parent = folders[spec.tags[0]]
        outline = ET.SubElement(parent, "outline", type="rss", text=spec.name, title=spec.name, xmlUrl=spec.url)
        site = (site_urls or {}).get(spec.url)
        if site:
            outline.set("htmlUrl", site)
        if spec.tags:
            outline.set("category", ",".join(spec.tags))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
