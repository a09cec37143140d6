"""Ingestion of documents from a folder of text, Markdown and HTML files.

Each readable file becomes one :class:`~newsmon.models.Document`: its title from the first
line (text, Markdown), a Markdown file's front matter or the page (HTML, via trafilatura), its
body (Markdown as a reader sees it: no inline HTML, entities decoded) with reprint boilerplate
removed and its attribution lifted into fields. Files that cannot be used (empty, binary,
too large, unreadable) are skipped with a one-line warning and counted; they never stop a run.
"""

from __future__ import annotations

import html
import logging
import os
import re
import stat
from collections.abc import Collection, Iterator
from datetime import datetime
from pathlib import Path

from newsmon.boilerplate import strip_boilerplate
from newsmon.errors import InputError
from newsmon.extract import EXTRACTOR as HTML_EXTRACTOR
from newsmon.extract import extract_html, parse_date
from newsmon.models import Document, IngestResult, Skip
from newsmon.text import (
    UndecodableError,
    clean_text,
    decode_bytes,
    drop_controls,
    printable,
    sha256_hex,
    split_sentences,
    text_hash,
    unwrap_lines,
)

log = logging.getLogger(__name__)

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
TEXT_SUFFIXES = frozenset({".txt", ".text"}) | MARKDOWN_SUFFIXES
HTML_SUFFIXES = frozenset({".html", ".htm"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES
MAX_FILE_BYTES = 20 * 1024 * 1024
TEXT_EXTRACTOR = "newsmon-text/1"
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*|\s+#+\s*$")  # "## Title ##"
# YAML front matter: a block between "---" lines at the very top (Jekyll, Hugo, Pandoc), read as
# simple "key: value" lines (nested and multi-line values are left out)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_MATTER_FIELD = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*?)[ \t]*$", re.MULTILINE)
_FRONT_MATTER_DATES = ("date", "published", "publishdate")
_MD_CODE_SPAN = re.compile(r"(`[^`\n]*`)")  # left as written: `List<int>` is no tag
# struck-out text (<s>, <del>, <strike>, ~~…~~) is not what the text says: dropped
_MD_STRUCK = re.compile(r"[ \t]*(?:<(s|del|strike)\b[^>\n]*>.*?</\1\s*>|~~(?=\S).*?(?<=\S)~~)", re.IGNORECASE)
_HTML_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>", re.DOTALL)
_MD_EMPHASIS = re.compile(r"(?<![\\\w])(\*{1,3}|_{1,3})(?=\S)(.+?)(?<=[^\s\\])\1(?!\w)")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~&])")
_MD_RULE = re.compile(r"^\s{0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")  # a thematic break: ---, ***, ___
_MD_SETEXT = re.compile(r"^\s{0,3}(?:=+|-+)[ \t]*$")  # the line under a "Title\n=====" heading
MAX_TITLE_CHARS = 160  # a longer first line is a paragraph, not a headline
MAX_TITLE_WORDS = 28
RUN_ON_CHARS = 90  # a first line this long with two sentences is a headline run into the text
DERIVED_TITLE_CHARS = 100  # the title made from the text when its first line is not one


class SkipFile(Exception):
    """Internal: this file is skipped, for the reason given."""


def iter_folder_files(folder: Path, exclude: Collection[Path] = ()) -> Iterator[Path]:
    """Yield every file below ``folder`` that is not hidden, in a stable order, never following
    dir links (hidden files and folders are ignored, so are the files and folders in
    ``exclude``: newsmon's own, such as its database and alerts folder)."""
    if not folder.exists():
        raise InputError(f"input folder {folder} does not exist: create it or pass --seeds DIR")
    if not folder.is_dir():
        raise InputError(f"input path {folder} is not a folder: pass a folder to --seeds")
    left_out = {p.resolve() for p in exclude}
    for root, dirs, files in os.walk(folder, followlinks=False):
        here = Path(root)
        real = here.resolve() if left_out else here
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and real / d not in left_out)
        for name in sorted(files):
            if not name.startswith(".") and real / name not in left_out:
                yield here / name


def is_supported(path: Path) -> bool:
    """Whether newsmon reads files of this type (by suffix: see ``SUPPORTED_SUFFIXES``)."""
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def iter_document_files(folder: Path) -> Iterator[Path]:
    """Yield supported files below ``folder`` in a stable order, never following dir links.

    Hidden files and folders are ignored, so are files of other types.
    """
    return (path for path in iter_folder_files(folder) if is_supported(path))


def read_documents(
    folder: Path, now: datetime, exclude: Collection[Path] = (), source: str | None = None
) -> IngestResult:
    """Read every supported file below ``folder`` into documents first seen at ``now``.

    ``exclude``: files and folders never read (newsmon's own: its database, snapshot, lock and
    alerts folder, when they lie in the folder read). ``source`` names the channel in the
    stored rows (default: the folder's name). Files of other types are not read; they are
    counted by suffix and named in one log line.
    """
    result = IngestResult()
    channel = source or folder.resolve().name or "files"
    for path in iter_folder_files(folder, exclude):
        if not is_supported(path):
            suffix = path.suffix.lower() or "(no suffix)"
            result.other_types[suffix] = result.other_types.get(suffix, 0) + 1
            continue
        result.files_seen += 1
        try:
            result.documents.append(read_document(path, now, channel))
        except SkipFile as skip:
            log.warning("skipped %s: %s", printable(path), skip)
            result.skipped.append(Skip(str(path), str(skip)))
    if result.other_types:
        log.info(
            "not read in %s: %s; newsmon reads %s files", printable(folder), describe_other_types(result.other_types),
            " ".join(sorted(SUPPORTED_SUFFIXES)),
        )  # fmt: skip
    return result


def describe_other_types(counts: dict[str, int]) -> str:
    """``3 files of other types (.docx, .pdf ×2)``: files that were not read, by suffix."""
    total = sum(counts.values())
    kinds = ", ".join(f"{suffix} ×{n}" if n > 1 else suffix for suffix, n in sorted(counts.items()))
    return f"{total} files of other types ({kinds})" if total != 1 else f"1 file of another type ({kinds})"


def read_document(path: Path, now: datetime, source: str) -> Document:
    """Read one file into a document; raises :class:`SkipFile` when it cannot be used."""
    data = _read_bytes(path)
    if not data.strip():
        raise SkipFile("empty file")
    try:
        text, charset = decode_bytes(data)
    except UndecodableError as err:
        raise SkipFile(f"not text ({err}): save it as plain text (.txt) to have it read") from err
    text = clean_text(text)
    if not text.strip():
        raise SkipFile("empty file (whitespace only)")
    url = file_url(path)
    if path.suffix.lower() in HTML_SUFFIXES:
        title, raw_body, author, published, extractor = _parse_html(text, url)
    elif path.suffix.lower() in MARKDOWN_SUFFIXES:  # its front matter first, then as a text
        fields, text = read_front_matter(text)
        title, raw_body = _split_markdown_title(unwrap_lines(text), fields.get("title"))
        published = next((t for key in _FRONT_MATTER_DATES if (t := parse_date(fields.get(key)))), None)
        author, extractor = None, TEXT_EXTRACTOR
    else:  # a hard-wrapped text becomes one paragraph per line first, as extracted pages are
        title, raw_body = _split_title(unwrap_lines(text))
        author, published, extractor = None, None, TEXT_EXTRACTOR
    cleaned = strip_boilerplate(raw_body)
    return Document(
        id=document_id(url),
        url=url,
        source=source,
        source_kind="file",
        title=title,
        body=cleaned.body,
        author=cleaned.author or author,
        origin=cleaned.origin,
        published_at=published,
        first_seen_at=now,
        content_hash=sha256_hex(data),
        text_hash=text_hash(f"{title}\n{cleaned.body}"),
        extractor=extractor,
        charset=charset,
        boilerplate_lines=cleaned.removed_lines,
    )


def file_url(path: Path) -> str:
    """A file's ``file:`` URL, its natural key: its absolute path in the folder it was found in
    (a link is a file of that folder, not the file it points to, which may lie elsewhere or be
    read as well under its own name)."""
    return (path.parent.resolve() / path.name).as_uri()


def _too_large(size: int) -> str:
    """Why a file over :data:`MAX_FILE_BYTES` is skipped, and what to do."""
    return (
        f"too large ({_size(size)}; newsmon reads files of up to {_size(MAX_FILE_BYTES)}): split it into smaller files"
    )


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 1024:.1f} KiB"


def document_id(url: str) -> str:
    """The natural key of a document: a stable hash of its URL."""
    return sha256_hex(url)[:20]


def _read_bytes(path: Path) -> bytes:
    """A regular file's bytes. Opened without blocking and checked on the open file, so that a
    named pipe, socket or device among the documents is skipped, never waited on."""
    try:
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise SkipFile("not a regular file (a named pipe, socket or device)")
            if info.st_size > MAX_FILE_BYTES:
                raise SkipFile(_too_large(info.st_size))
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise SkipFile(f"unreadable ({err.strerror or err})") from err
    if len(data) > MAX_FILE_BYTES:  # it grew since
        raise SkipFile(_too_large(len(data)))
    return data


def looks_like_title(line: str) -> bool:
    """Whether a first line can be a headline: short, and not two sentences run together (a
    headline typed into the first paragraph, or a text with no headline at all)."""
    line = " ".join(line.split())
    if not line or len(line) > MAX_TITLE_CHARS or len(line.split()) > MAX_TITLE_WORDS:
        return False
    return not (len(line) > RUN_ON_CHARS and len(split_sentences(line)) > 1)


def derived_title(text: str) -> str:
    """A title made from the start of a text: its first sentence, cut at a word to at most
    :data:`DERIVED_TITLE_CHARS` characters (with an ellipsis when cut)."""
    first = " ".join((split_sentences(text.strip()) or [text.strip()])[0].split())
    if len(first) <= DERIVED_TITLE_CHARS:
        return first
    return first[:DERIVED_TITLE_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _split_title(text: str) -> tuple[str, str]:
    """The title and the body of a text file: the first line is the title when it looks like
    one (:func:`looks_like_title`); otherwise the title is made from the text and the body is
    the whole text, so that dedupe compares all of it."""
    lines = text.strip().split("\n")
    return _title_and_body(lines[0].strip(), lines[1:])


def _split_markdown_title(text: str, given_title: str | None) -> tuple[str, str]:
    """:func:`_split_title` of a Markdown text, read as its reader sees it
    (:func:`markdown_inline`, :func:`markdown_title`): rules and blank lines above the headline
    are skipped, and a setext heading's underline is no part of the body. ``given_title`` (its
    front matter's) is the title, and the whole text the body (less a first line repeating it)."""
    lines = markdown_inline(text).strip().split("\n")
    while len(lines) > 1 and (_MD_RULE.match(lines[0]) or not lines[0].strip()):  # a rule above the headline
        lines = lines[1:]
    if given_title and given_title.strip():
        title = markdown_title(markdown_inline(given_title))
        if markdown_title(lines[0]) == title:
            lines = lines[1:]
        return title, "\n".join(lines).strip() or title
    body_lines = lines[1:]
    if body_lines and _MD_SETEXT.match(body_lines[0]):
        body_lines = body_lines[1:]
    return _title_and_body(markdown_title(lines[0]), body_lines)


def _title_and_body(title: str, body_lines: list[str]) -> tuple[str, str]:
    """The title and the body, from a first line and the lines after it (see :func:`_split_title`)."""
    body = "\n".join(body_lines)
    if not body.strip():
        return (title if looks_like_title(title) else derived_title(title)), title
    if not looks_like_title(title):
        whole = f"{title}\n{body}"
        return derived_title(whole), whole
    return title, body


def read_front_matter(text: str) -> tuple[dict[str, str], str]:
    """The fields of a Markdown text's YAML front matter (a block between ``---`` lines at the
    top), keys lower-cased and quotes removed, and the text after it; ``({}, text)`` when it
    has none. Only simple ``key: value`` lines are read."""
    found = _FRONT_MATTER.match(text)
    if not found:
        return {}, text
    fields: dict[str, str] = {}
    for key, value in _FRONT_MATTER_FIELD.findall(found.group(1)):
        fields.setdefault(key.casefold(), _yaml_scalar(value))
    return fields, text[found.end() :]


_YAML_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)")
_YAML_ESCAPES = {
    "0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r",
    "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029",
}  # fmt: skip


def _yaml_escape(found: re.Match[str]) -> str:
    """One escape of a double-quoted YAML string as the character it stands for (an unknown
    one as written)."""
    code = found.group(1)
    if len(code) > 1:
        try:
            return chr(int(code[1:], 16))
        except ValueError:  # beyond the last code point
            return found.group()
    return _YAML_ESCAPES.get(code, found.group())


def _yaml_scalar(value: str) -> str:
    """A one-line YAML value as text: quotes removed (in double quotes, escapes such as ``\\"``,
    ``\\u201C`` read as their characters; in single quotes, ``''`` as ``'``), a comment after a plain
    value dropped; a block (``|``, ``>``) or a list reads as empty."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        text = _YAML_ESCAPE.sub(_yaml_escape, value[1:-1])  # a pair of \\u surrogates is one character:
        return drop_controls(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"))
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if value[:1] in {"|", ">", "[", "{"}:
        return ""
    return value.split(" #", 1)[0].strip()


def markdown_inline(text: str) -> str:
    """Markdown text as a reader sees it: links and images as their text, struck-out text
    (``<s>``, ``<del>``, ``~~…~~``) dropped, other inline HTML tags and comments removed, HTML
    entities (``&amp;``) decoded. Code spans are left as written."""
    parts = _MD_CODE_SPAN.split(text)
    for i in range(0, len(parts), 2):  # the odd ones are code spans
        part = _MD_LINK.sub(r"\1", parts[i])
        parts[i] = html.unescape(_HTML_TAG.sub("", _MD_STRUCK.sub("", part)))
    return "".join(parts)


def markdown_title(line: str) -> str:
    """A Markdown headline as text: no heading marks (``#``), emphasis markers (``**``, ``_``)
    or backslash escapes, on one line."""
    title = _MD_HEADING.sub("", line.strip())
    title = _MD_EMPHASIS.sub(r"\2", _MD_EMPHASIS.sub(r"\2", title))  # nested: ***a** b*
    return " ".join(_MD_ESCAPE.sub(r"\1", title).split())


def _parse_html(html: str, url: str) -> tuple[str, str, str | None, datetime | None, str]:
    extracted = extract_html(html, url)
    if extracted is None:
        raise SkipFile("no main text found in the HTML page")
    title = extracted.title or extracted.text.strip().split("\n")[0][:200]
    return title, extracted.text, extracted.author, extracted.published_at, HTML_EXTRACTOR
