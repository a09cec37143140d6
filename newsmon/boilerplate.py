"""Reprint boilerplate: the maintained list of line patterns removed from bodies, and the
attribution lines (origin, author) kept as fields.

Aggregators and CMS themes wrap reprinted articles in share prompts, comment forms, "Source
link" footers and newsletter prompts. They carry no content, and they make reprints of the
same article look different (and different articles look alike), so they are removed before
fingerprinting and tagging. Add a pattern here when a new template shows up; each pattern
matches a *whole line* (after trimming), case-insensitively, so body sentences that merely
mention "source" or "reply" are never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Whole-line patterns. Keep them grouped and commented; tests cover each group. Free text after
# a prompt ("Read more at ...", "Subscribe to ...") is limited to a few words, so that a body
# sentence which happens to start with the same words is kept.
BOILERPLATE_LINE_PATTERNS: tuple[str, ...] = (
    # share prompts (WordPress plugins, AddToAny, Jetpack)
    r"spread the love",
    r"share( this( article| story| post)?)?( on \w+)?:?",
    r"(click to )?(share|tweet|pin|email|print)( (this|it))?( on \w+( \w+)?)?( \(opens in new window\))?",
    r"(facebook|twitter|x|linkedin|whatsapp|telegram|reddit|pinterest|email|print)",
    r"like this:?",
    r"loading\.*",
    # footers of aggregators
    r"source link",
    r"(read|continue reading)( more| the full (article|story))?( here| (at|on) [^\s,;]+( [^\s,;]+){0,3})?\.{0,3}",
    r"(related( posts| articles| stories)?|you may also like|more from( [\w.]+){1,4}):?",
    r"advertisement|sponsored( content)?",
    r"(follow us|subscribe|sign up)( (on|to|for)( [^\s.;!?]+){1,5})?[.!]?",
    r"©.{0,100}|copyright ?(©|\(c\)|\d{4}).{0,100}|all rights reserved\.?",
    # comment forms
    r"leave a (reply|comment)( cancel reply)?",
    r"cancel reply",
    r"your email address will not be published\.?( required fields are marked \*)?",
    r"required fields are marked \*",
    r"(comment|name|email|website)( \*)?:?",
    r"save my name, email, and website in this browser for the next time i comment\.?",
    r"post comment|submit comment|δ",
)

_BOILERPLATE = re.compile("|".join(f"(?:{p})" for p in BOILERPLATE_LINE_PATTERNS), re.IGNORECASE | re.UNICODE)

# Attribution lines: only near the top or bottom of a document, and only short lines. "Source"
# and "Via" need a separator after them ("Source: X", "Source - X", "Via: X"), or, for "Via X",
# a name after it (see _match_origin): a sentence starting "Sources said…", "Via the…" or
# "Viable…" is body text.
_ORIGIN = re.compile(
    r"^(?:(?:source|via)\s*[:：]|source\s+[-–—]\s|(?P<via>via)\s+(?=\S)|originally published (?:by|in|on|at)\b"
    r"|this article (?:was )?(?:originally|first) (?:published|appeared) (?:by|in|on|at)\b|reprinted from\b)"
    r"\s*(?P<value>.+)$",
    re.IGNORECASE,
)
# "Via X" names an outlet, not a way of taking part ("Via Teleconference" heads a transcript)
_VIA_MEANS = frozenset({
    "teleconference", "telephone", "phone", "video", "videoconference", "video-conference", "videolink",
    "conference", "satellite", "email", "e-mail", "zoom", "webex", "skype", "teams", "livestream", "webcast",
    "mail", "post", "fax", "text", "radio", "television",
})  # fmt: skip
# an outlet's name: words with a capital (or a digit, "@", a script without case) or a web
# address ("reuters.com"), and the short words that join them ("Council on Foreign Relations")
_WEB_ADDRESS = re.compile(r"\S+\.[a-z]{2,}(?:/\S*)?")
_NAME_JOINERS = frozenset({"the", "of", "for", "and", "&", "on", "in", "at", "de", "du", "des", "la", "le", "el"})
_SENTENCE_INSIDE = re.compile(r"[a-z]{2}[.!?]\s+\S")  # "…Prosperity. They discussed"
_MAX_ORIGIN_WORDS = 8
_MAX_SENTENCE_LIKE_WORDS = 3  # more words and a final period (or a reporting verb), and not a name: a sentence
_REPORTING = re.compile(
    r"\b(?:said|says|say|told|tells|reported|according|confirmed|announced|claimed|warned|added)\b", re.IGNORECASE
)
_ORIGIN_SUFFIX = re.compile(
    r"[\s,;(]*(?:(?:has|have) been )?(?:authori[sz]ed to reprint|reprinted with permission"
    r"|with permission)[\s.)]*$",
    re.IGNORECASE,
)
_AUTHOR = re.compile(
    r"^(?:writing|written by|text|words|author|by|editor|reporter)\s*[/:：|]\s*(.+)$"
    r"|^by\s+(?-i:([A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,4}))$",
    re.IGNORECASE,
)
_EDGE_LINES = 8
_MAX_ATTRIBUTION_CHARS = 160


@dataclass(frozen=True, slots=True)
class CleanedText:
    """A body with boilerplate removed and the attribution it carried."""

    body: str
    author: str | None
    origin: str | None
    removed_lines: int


def is_boilerplate_line(line: str) -> bool:
    """True if the whole (trimmed) line is a known boilerplate line."""
    stripped = line.strip().strip("|•·-–— ")
    return bool(stripped) and _BOILERPLATE.fullmatch(stripped) is not None


def strip_boilerplate(text: str) -> CleanedText:
    """Remove boilerplate lines and lift attribution lines out of ``text``.

    Paragraphs are re-joined with one blank line between them.
    """
    lines = [ln.strip() for ln in text.split("\n")]
    content_idx = [i for i, ln in enumerate(lines) if ln]
    edge = set(content_idx[:_EDGE_LINES]) | set(content_idx[-_EDGE_LINES:])
    author: str | None = None
    origin: str | None = None
    kept: list[str] = []
    removed = 0
    for i, line in enumerate(lines):
        if not line:
            continue
        if is_boilerplate_line(line):
            removed += 1
            continue
        if i in edge and len(line) <= _MAX_ATTRIBUTION_CHARS:
            found_origin = origin is None and _match_origin(line)
            if found_origin:
                origin, removed = found_origin, removed + 1
                continue
            found_author = author is None and _match_author(line)
            if found_author:
                author, removed = found_author, removed + 1
                continue
        kept.append(line)
    return CleanedText("\n\n".join(kept), author, origin, removed)


def _match_origin(line: str) -> str | None:
    """The publisher an attribution line names ("Source: X", "Via X"…), or None."""
    m = _ORIGIN.match(line)
    if not m:
        return None
    raw = _ORIGIN_SUFFIX.sub("", m.group("value")).strip()
    value = raw.strip(" .;:")
    words = value.split()
    if not words or len(words) > _MAX_ORIGIN_WORDS or _SENTENCE_INSIDE.search(raw):
        return None
    sentence_like = raw.endswith(".") or _REPORTING.search(value)
    if sentence_like and len(words) > _MAX_SENTENCE_LIKE_WORDS and not _looks_like_name(value):
        return None  # "Source: officials said the talks had failed(.)"
    if m.group("via") and ("," in value or words[0].casefold() in _VIA_MEANS or not _looks_like_name(value)):
        return None  # "Via Teleconference", "via the new rules, …"
    return value


def _looks_like_name(value: str) -> bool:
    """Whether every word of ``value`` can belong to a publisher's name: it starts with a
    capital (or a digit, "@", a letter of a script without case), is a web address, or is one of
    the short words that join a name's words."""
    return all(
        not word[0].islower() or word.casefold() in _NAME_JOINERS or _WEB_ADDRESS.fullmatch(word)
        for word in value.split()
    )


def _match_author(line: str) -> str | None:
    m = _AUTHOR.match(line)
    if not m:
        return None
    value = (m.group(1) or m.group(2) or "").strip(" .;:")
    return value if value and len(value.split()) <= 8 else None
