"""Text utilities shared by the stages: decoding bytes, normalizing, sentences, hashes."""

from __future__ import annotations

import codecs
import functools
import hashlib
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from charset_normalizer import from_bytes

from newsmon.errors import ConfigError

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_WORD = re.compile(r"\w+", re.UNICODE)
# A sentence ends at . ! ? … followed by a space (or the end), or at a CJK full stop, which
# needs no space after it (Chinese and Japanese text has none).
# Ends of sentences: Chinese and Japanese marks (and Burmese ။) end one with or without a space
# after them; the others before a space: Latin, Devanagari danda (।), Urdu (۔), Arabic (؟),
# Armenian (։) and Ethiopic (።) full stops.
_SENTENCE = re.compile(r"\S.*?(?:[。！？။]+[”’」』）)\]]*|[.!?…।॥۔؟։።]+[\"”’»)\]]*(?=\s|$)|$)")
_ABBREVIATION_END = re.compile(
    r"(?:^|[\s(\"'])(?:[A-Z]|[A-Z]\.[A-Z]|[A-Z]\.[A-Z]\.[A-Z]|Mr|Mrs|Ms|Dr|Prof|Sen|Rep|Gen|Gov|Lt|Col"
    r"|Sgt|St|Jr|Sr|Inc|Ltd|Co|Corp|vs|etc|No|Nos|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov"
    r"|Dec|e\.g|i\.e|approx)\.$"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TYPOGRAPHIC: tuple[tuple[str, str], ...] = (
    ("“", '"'), ("”", '"'), ("„", '"'), ("‘", "'"), ("’", "'"), ("‚", "'"), ("–", "-"), ("—", "-"), ("\u00a0", " "),
    ("\u2010", "-"), ("\u2012", "-"), ("\u2212", "-"),  # hyphen (NFKC: the no-break one too), figure dash, minus
)  # fmt: skip


class UndecodableError(ValueError):
    """The bytes look binary or no text encoding fits them."""


def read_settings_text(path: Path, what: str) -> str:
    """The text of a settings file users edit (topics, config, feeds, notify): UTF-8, with or
    without the byte-order mark Notepad writes. Another encoding is a one-line
    :class:`ConfigError` naming ``what`` (e.g. "topics file"); errors of the file itself
    (missing, a folder) are the caller's to word."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{what} {path} is not UTF-8 ({err.reason} at byte {err.start}): save it as UTF-8") from err


# A well-formed UTF-8 sequence of two to four bytes (no overlong forms, no surrogates).
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_NOT_ASCII_RUN = re.compile(rb"[\x80-\xff]+")


def _stray_as_cp1252(err: UnicodeError) -> tuple[str, int]:
    """A decoding error handler: bytes that are not UTF-8 read as windows-1252 (the usual
    source of a fragment pasted into UTF-8 text: ``–``, ``’``, ``é``), else ``\ufffd``."""
    if not isinstance(err, UnicodeDecodeError):
        raise err
    return err.object[err.start : err.end].decode("cp1252", errors="replace"), err.end


codecs.register_error("newsmon-stray-cp1252", _stray_as_cp1252)


def decode_mostly_utf8(data: bytes) -> str | None:
    """``data`` read as UTF-8, its few stray bytes as windows-1252, when it is UTF-8 with a few
    bytes that are not (a cp1252 dash or accented letter pasted into a UTF-8 page), else None.

    It is, when its pieces of bytes that are not UTF-8 number at most a tenth of its well-formed
    multi-byte characters (one stray piece is always allowed). A legacy code page's text gives
    the opposite: each accented letter, or each stretch of a Cyrillic or CJK text between two
    chance UTF-8 sequences, is such a piece. Left to charset detection, UTF-8 with stray bytes
    would be read as a code page throughout (``CafÃ©``)."""
    valid = len(_UTF8_MULTIBYTE.findall(data))
    if not valid:
        return None
    stray = sum(1 for run in _NOT_ASCII_RUN.findall(data) for piece in _UTF8_MULTIBYTE.split(run) if piece)
    return data.decode("utf-8", errors="newsmon-stray-cp1252") if stray <= max(1, valid // 10) else None


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode ``data`` to text and return ``(text, encoding)``.

    A byte-order mark wins, then strict UTF-8, then UTF-8 with a few stray bytes
    (:func:`decode_mostly_utf8`), then charset detection (charset-normalizer).
    Raises :class:`UndecodableError` for binary data (NUL bytes outside UTF-16/32, or
    mostly control characters).
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding), encoding.replace("-sig", "")
    utf16 = decode_utf16_without_bom(data)
    if utf16 is not None:
        text, encoding = utf16
    else:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            mostly = decode_mostly_utf8(data)
            text, encoding = (mostly, "utf-8") if mostly is not None else _detect(data)
    if "\x00" in text or _control_ratio(text) > 0.05:
        raise UndecodableError("binary content (control bytes)")
    return text, encoding


def decode_utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """``(text, encoding)`` of UTF-16 without a BOM, else None. Its high bytes give it away:
    mostly-ASCII text leaves every other byte NUL, and a text in one alphabet (Cyrillic, Greek,
    Arabic...) has its letters' block there and NUL for its spaces and punctuation."""
    sample = data[:4096]
    if len(sample) < 4 or len(sample) % 2 or b"\x00" not in sample:
        return None
    even, odd = sample[0::2], sample[1::2]
    for encoding, highs in (("utf-16-le", odd), ("utf-16-be", even)):
        if highs.count(0) > 0.9 * len(highs):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError:
                return None
        if _one_alphabet(highs):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                continue
            if _mostly_words(text[:2048]):
                return text, encoding
    return None


def _one_alphabet(highs: bytes) -> bool:
    """Whether these high bytes of UTF-16 code units are those of text in one alphabet: NUL
    (spaces, digits, punctuation) and one other value for nearly all."""
    common = Counter(highs).most_common(2)
    return len(common) == 2 and 0 in dict(common) and sum(n for _b, n in common) >= 0.95 * len(highs)


def _mostly_words(text: str) -> bool:
    """Whether a decoded sample reads as text: letters and spaces, no control characters."""
    if not text or _control_ratio(text) > 0:
        return False
    return sum(1 for c in text if c.isalpha() or c.isspace()) >= 0.7 * len(text)


def _detect(data: bytes) -> tuple[str, str]:
    encoding = detect_charset(data)
    if encoding is None:
        raise UndecodableError("no text encoding fits the bytes")
    return data.decode(encoding), encoding


# Legacy Western encodings: when detection cannot tell them from Baltic or Central European
# code pages (equally "clean" decodes), windows-1252 is by far the likelier on the web.
_PREFERRED_ON_TIE = ("cp1252", "windows-1252", "latin_1", "iso8859_15")
# Typographic punctuation and symbols of Western prose in windows-1252 (NBSP, soft hyphen
# included). Left out: what other code pages' bytes read as there, and prose never has
# (¦ ¨ ¬ ¯ ¸ ¤ ª ¹ ³ …: a Big5, GB or EUC "’" reads "¡¦", "¡¯").
_WESTERN_MARKS = frozenset("€‚„…†‡‰‹‘’“”•–—˜™›\u00a0\u00ad¢£¥§©«®°±²´µ¶·º»¼½¾×÷¡¿")
# Spanish opening marks: at the start of a word, closed later in the paragraph (a Big5 "—"
# reads "¡X", with no "!" to close it)
_OPENING_MARKS = {"¡": "!", "¿": "?"}
# Western text in windows-1252 with at most this share of its letters outside ASCII (English
# with names and typographic quotes) is read as windows-1252 without detection: detection
# is unreliable on a few high bytes among many ASCII ones (DOS and Mac pages win its ties).
WESTERN_MAX_ACCENTED_SHARE = 0.01
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_ASCII_LETTERS = re.compile(r"[A-Za-z]+")


def detect_charset(data: bytes) -> str | None:
    """Guess the charset of non-UTF-8 bytes, or None if nothing fits.

    Mostly-ASCII Western text whose few other bytes read in windows-1252 as typographic
    punctuation or as letters that fit their words (:func:`is_plain_western`) is windows-1252.
    Otherwise charset-normalizer decides; among its candidates that decode with the least
    "chaos", windows-1252 is preferred, also where it names another code page giving the same
    text: a Latin-1 news text decodes cleanly as Baltic or Central European too, with wrong
    letters.
    """
    try:
        if is_plain_western(data.decode("cp1252")):
            return "cp1252"
    except UnicodeDecodeError:  # bytes windows-1252 leaves undefined
        pass
    matches = [m for m in from_bytes(data) if m.encoding]
    if not matches:
        return None
    least = min(m.chaos for m in matches)
    tied = [m for m in matches if m.chaos <= least + 0.005]
    for preferred in _PREFERRED_ON_TIE:
        for m in tied:
            if preferred in m.could_be_from_charset:
                return preferred
    return matches[0].encoding


def is_plain_western(text: str) -> bool:
    """Whether ``text`` (bytes read as windows-1252) is plausible Western prose with few
    accented letters: every character outside ASCII is typographic punctuation or a common
    symbol (``’ “ ” – — … € £ ©``), or a letter that fits its word (not an upper-case letter
    after a lower-case one, as in ``ToyotaÕs``, a Mac "’"), and at most
    :data:`WESTERN_MAX_ACCENTED_SHARE` of the letters are outside ASCII (a Central European
    or Cyrillic text has many more)."""
    accented = 0
    most = WESTERN_MAX_ACCENTED_SHARE * len(text)  # letters never outnumber characters
    for found in _NON_ASCII.finditer(text):
        char, i = found.group(), found.start()
        previous = text[i - 1] if i else " "
        if char.isalpha():
            if char.isupper() and previous.islower():
                return False
            accented += 1
            if accented > most:  # too many for any count of letters: no need to read on
                return False
        elif char not in _WESTERN_MARKS or (char in _OPENING_MARKS and not _opens(text, i, previous)):
            return False
    if not accented:
        return True
    letters = accented + sum(len(run) for run in _ASCII_LETTERS.findall(text))
    return accented <= WESTERN_MAX_ACCENTED_SHARE * letters


def _opens(text: str, i: int, previous: str) -> bool:
    """Whether the Spanish mark at ``text[i]`` (``¡`` or ``¿``) opens a word and is closed
    (``!``, ``?``) later in its paragraph."""
    end = text.find("\n", i)
    closed = text.find(_OPENING_MARKS[text[i]], i, end if end >= 0 else len(text)) >= 0
    return closed and not previous.isalnum() and text[i + 1 : i + 2].isalpha()


def _control_ratio(text: str) -> float:
    sample = text[:20000]
    if not sample:
        return 0.0
    return len(_CONTROL.findall(sample)) / len(sample)


def clean_text(text: str) -> str:
    """NFC-normalize, drop control characters and unify line endings (display text)."""
    return drop_controls(unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")))


def drop_controls(text: str) -> str:
    """``text`` without control characters (tabs and line breaks stay)."""
    return _CONTROL.sub("", text)


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: object) -> str:
    """``text`` (a file name, say) for a one-line message: control characters, line breaks
    included, written as escapes (``\\n``, ``\\x1b``), so a name can neither break the line nor
    drive the terminal."""
    return _UNPRINTABLE.sub(lambda found: repr(found.group())[1:-1], str(text))


def normalize_for_match(text: str) -> str:
    """Lower-case, NFKC, straight quotes and dashes, single spaces: the form rules match on."""
    text = replace_chars(unicodedata.normalize("NFKC", text), TYPOGRAPHIC_FOLD)
    return " ".join(text.casefold().split())


# A host starts after a space or punctuation (not inside a run of letters, dots and hyphens)
# and has at most 9 labels of at most 63 characters, so that the work at each start is
# bounded: with unbounded labels a run like "a-a-a-…" took time growing with its square
# (40,000 characters: 53 s), and a host too long to be one is left whole, not cut.
_URL = re.compile(
    r"(?:\b(?:https?|ftp)://|\bwww\.)\S+|(?<![\w.-])[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){0,8}\.[a-z]{2,6}/\S*"
)
_APOSTROPHES = ("ʻ", "ʼ", "`", "´", "′")  # Uzbek Latin oʻ/gʻ and look-alikes of the apostrophe
APOSTROPHE_FOLD = dict.fromkeys(map(ord, _APOSTROPHES), "'")
# marks inside a word that never break it: soft hyphen (German headlines: "Sank&shy;tio&shy;nen"),
# word joiner, zero-width no-break space (a zero-width space is left: in Thai it is the break)
INVISIBLE_FOLD: dict[int, str | None] = dict.fromkeys(map(ord, ("\u00ad", "\u2060", "\ufeff")))
# one character for another, lengths kept: quotes and dashes as normalize_for_match reads them
TYPOGRAPHIC_FOLD = {ord(typographic): plain for typographic, plain in _TYPOGRAPHIC}


def replace_chars(text: str, table: Mapping[int, str | None]) -> str:
    """``text.translate(table)`` for a small table whose replacements are not themselves in it:
    one ``str.replace`` for each character present. On a long non-ASCII text ``translate`` looks
    every character up (0.7 ms for 12,000 characters); this scans for the few in the table."""
    for code, replacement in table.items():
        char = chr(code)
        if char in text:
            text = text.replace(char, replacement or "")
    return text


# Russian prints ё mostly as е ("Мирзиёев" is "Мирзиеев"): read alike by topics and dedupe
YO_FOLD = {ord("ё"): "е", ord("Ё"): "Е"}
# Letters written two ways in one language, read as one (search engines fold them alike):
# Russian ё and е, Greek accents, which capitals drop ("ΣΥΝΟΔΟΣ" is "σύνοδος"); in Arabic script the Arabic and
# Persian yeh and kaf, the forms of alef, the tatweel that stretches a word and the vowel marks.
_GREEK_ACCENTED = "άέήίόύώϊϋΐΰ"
_GREEK_PLAIN = "αεηιουωιυιυ"
_SCRIPT_FOLD = {
    **{ord(a): b for a, b in zip(_GREEK_ACCENTED, _GREEK_PLAIN, strict=True)},
    ord("ي"): "ی", ord("ى"): "ی", ord("ك"): "ک", ord("أ"): "ا", ord("إ"): "ا", ord("آ"): "ا", ord("ٱ"): "ا",
    ord("\u0640"): None, **{cp: None for cp in range(0x064B, 0x0660)}, 0x0670: None,
    **YO_FOLD,
}  # fmt: skip
_FOLDABLE = re.compile("[" + re.escape("".join(chr(c) for c in _SCRIPT_FOLD)) + "]")
# Chinese characters: Taiwan and Hong Kong write traditional forms (俄羅斯, 中亞) where the
# mainland writes simplified ones (俄罗斯, 中亚); both are read as simplified, one character
# for one, by OpenCC's table (its phrase rules are left out: a term must fold as its text does).
_HAN_RANGES = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00), (0x20000, 0x2A6E0))
_HAN = re.compile("[" + "".join(f"{chr(first)}-{chr(end - 1)}" for first, end in _HAN_RANGES) + "]")


@functools.cache
def han_fold() -> dict[int, str]:
    """The table that reads traditional Chinese characters as simplified ones (built once per
    process from OpenCC's ``t2s`` conversion of every character, one per line, in one call:
    about 4,500 characters change, in 0.03 s)."""
    from opencc import OpenCC

    convert = OpenCC("t2s").convert
    chars = [chr(code) for first, end in _HAN_RANGES for code in range(first, end)]
    converted = convert("\n".join(chars)).split("\n")  # one line a character (strict zip below)
    return {ord(c): s for c, s in zip(chars, converted, strict=True) if len(s) == 1 and s != c}


def normalize_for_query(text: str) -> str:
    """The form topic queries match on: :func:`normalize_for_match` without the invisible marks
    that never break a word (a soft hyphen); Turkish ``İ`` as ``i``, Russian ``ё`` as ``е``,
    traditional Chinese as simplified (:func:`han_fold`), Greek without accents,
    Arabic-script letter forms folded (:data:`_SCRIPT_FOLD`); every apostrophe-like mark made
    ``'`` (Uzbek ``Oʻzbekiston`` = ``O'zbekiston``); links (``https://…``, ``www.…``,
    ``host.tld/path``) blanked out, so that no term ever matches inside a URL."""
    text = normalize_for_match(replace_chars(text, INVISIBLE_FOLD))
    if not text.isascii():
        if "i\u0307" in text:  # Turkish İ casefolds to i and a dot above: "İstanbul" is "istanbul"
            text = text.replace("i\u0307", "i")
        if _FOLDABLE.search(text):
            text = text.translate(_SCRIPT_FOLD)
        if _HAN.search(text):
            text = text.translate(han_fold())
    text = replace_chars(text, APOSTROPHE_FOLD)
    if "/" in text or "www." in text:
        text = _URL.sub(" ", text)
    return text


def words(text: str) -> list[str]:
    """The normalized word tokens of ``text`` (what shingles and hashes are built from)."""
    return _WORD.findall(normalize_for_match(text))


def text_hash(text: str) -> str:
    """Hash of the normalized words: equal for copies differing only in case, spacing, quotes."""
    return hashlib.sha256(" ".join(words(text)).encode("utf-8")).hexdigest()


def shorten(text: str, limit: int) -> str:
    """``text`` on one line (white space as single spaces), at most ``limit`` characters: a
    longer one is cut at the last space that keeps at least half of it (else inside the word)
    and ends in "…", without the punctuation or space before the cut."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    head = flat[: limit - 1]
    space = flat.rfind(" ", 0, limit)
    cut = head[:space] if space >= limit // 2 else head
    return cut.rstrip(" ,;:") + "…"


def sha256_hex(data: bytes | str) -> str:
    """SHA-256 of bytes or UTF-8 text, as hex."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def split_sentences(text: str) -> list[str]:
    """Split into sentences: paragraphs first, then at sentence-ending punctuation."""
    out: list[str] = []
    for paragraph in text.split("\n"):
        pieces = [p.strip() for p in _SENTENCE.findall(paragraph) if p.strip()]
        merged: list[list[str]] = []  # a piece after an abbreviation joins the sentence before it
        for piece in pieces:  # (checked on the last piece alone: a sentence of many stays linear)
            if merged and _ABBREVIATION_END.search(merged[-1][-1]):
                merged[-1].append(piece)
            else:
                merged.append([piece])
        out.extend(" ".join(parts) for parts in merged)
    return out


# A hard-wrapped line: long enough to have been wrapped at a width, not ending a sentence.
WRAP_MIN_CHARS, WRAP_MAX_CHARS = 40, 100
WRAPPED_LINES = 6  # at least this many lines end mid-sentence...
WRAPPED_SHORT_LINES = 3  # ...or, in a shorter text under a headline of its own, every one (at least this many)
WRAPPED_SHARE = 0.5  # ...and this share of the lines followed by another line
FILLED_SHARE, FILLED_LINES = 0.75, 0.7  # and this share of those fill the width to this share
_LINE_END = re.compile(r"(?:[.!?…:;。！？]|[.!?…][\"”’»)\]]+)\s*$")
# a line that starts a paragraph of its own in wrapped text: a list item, a heading, a table row
_BLOCK_START = re.compile(r"^\s*(?:[-*•+]\s|\d{1,3}[.)]\s|\([ivxlc\d]{1,5}\)\s|[A-Z]\.\s|#{1,6}\s|\|)")


def is_hard_wrapped(text: str) -> bool:
    """Whether a plain text is wrapped at a fixed width (e-mail, wire copy, Markdown exports):
    most lines followed by another line are 40 to 100 characters, end mid-sentence and nearly
    fill the widest of them. A text with one paragraph per line (what page extraction gives)
    or a list of short items is not."""
    lines = text.split("\n")
    inner = [line.rstrip() for line, after in itertools.pairwise(lines) if line.strip() and after.strip()]
    wrapped = [
        n for line in inner if WRAP_MIN_CHARS <= (n := len(line)) <= WRAP_MAX_CHARS and not _LINE_END.search(line)
    ]
    if len(inner) < WRAPPED_LINES:  # a short statement: every line wrapped, its headline apart (no byline run in)
        first = next((line.rstrip() for line in lines if line.strip()), "")
        if len(wrapped) < max(WRAPPED_SHORT_LINES, len(inner)) or inner[:1] == [first]:
            return False
    elif len(wrapped) < WRAPPED_LINES or len(wrapped) < WRAPPED_SHARE * len(inner):
        return False
    width = sorted(wrapped)[int(0.9 * (len(wrapped) - 1))]  # wrapped lines fill the width: a list's do not
    return sum(1 for n in wrapped if n >= FILLED_SHARE * width) >= FILLED_LINES * len(wrapped)


CONTINUED_MIN_CHARS = 20  # a shorter line is a label or a heading, even without a full stop


def join_continuations(text: str) -> str:
    """A text that is not wrapped at a width may still break a sentence over two lines (a
    short note typed with returns): a line that ends mid-sentence, followed at once by one
    that starts in lower case, goes on in it, and the two are joined. The first line (the
    headline, whatever follows it), short lines, list items and table rows are left as they
    are, and so are the lines of a fenced code block and label lines ("photo: reuters")."""
    lines = text.split("\n")
    out: list[str] = []
    seen = 0  # lines with text so far
    previous = ""  # the line before, as written (not as joined)
    code = False  # inside a fenced code block (Markdown)
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            code = not code
        elif stripped and seen > 1 and not code and _continues(previous, stripped):
            out[-1] = f"{out[-1].rstrip()} {stripped}"
            previous = line
            continue
        out.append(line)
        previous = line
        seen += 1 if stripped else 0
    return "\n".join(out)


def _continues(line: str, after: str) -> bool:
    """Whether ``after`` goes on with the sentence ``line`` left open."""
    body = line.strip()
    return (
        len(body) >= CONTINUED_MIN_CHARS
        and after[0].islower()
        and not _LINE_END.search(body)
        and not body.startswith("|")
        and not _BLOCK_START.match(after)
        and not _LABEL.match(after)
    )


_LABEL = re.compile(r"^\w[\w ]{0,20}:\s")  # "photo: reuters", "source: ...": a label, not a sentence


def unwrap_lines(text: str) -> str:
    """One paragraph per line, as extracted pages have them: the lines of a hard-wrapped text
    (:func:`is_hard_wrapped`) are joined within each paragraph (lines up to a blank line, a list
    item or a heading; a table row stays a line of its own); blank lines stay. In any other
    text only a sentence broken over two lines is joined (:func:`join_continuations`), so that
    the sentences and the boilerplate lines of a file are found as in any other."""
    if not is_hard_wrapped(text):
        return join_continuations(text)
    out: list[str] = []
    paragraph: list[str] = []
    for line in text.split("\n"):
        # a blank line or a block's start ends a paragraph, and a table row ends where it starts
        if paragraph and (not line.strip() or _BLOCK_START.match(line) or paragraph[-1].startswith("|")):
            out.append(" ".join(paragraph))
            paragraph = []
        if line.strip():
            paragraph.append(line.strip())
        else:
            out.append("")
    if paragraph:
        out.append(" ".join(paragraph))
    return "\n".join(out)
