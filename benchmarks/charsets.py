"""Charset detection of undeclared legacy text files: exact round trips per code page.

Evaluation set, built at run time from ``../shared/data`` (nothing is copied): the gold article
texts of the extraction benchmark that have a character outside ASCII (an ASCII text is read as
UTF-8 whatever it was saved in), in every language there (the page's ``<html lang>``, else the
language read from the text). Each text is encoded in every legacy code page of
:data:`ENCODINGS` that can encode it, and the bytes are read back with
:func:`newsmon.text.decode_bytes`, as a text file without a byte-order mark is. A round trip is
exact when the text read is the text written: anything else makes the same article, saved
as UTF-8 and in a code page, two different stories.

Prints, per code page, the texts that fit it and the exact round trips (with the languages of
the failures and what they were read as), then per language, and the time per decode.

    python -m benchmarks.charsets [--show 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.language import GOLD, gold_articles  # noqa: E402
from newsmon.language import detect_language  # noqa: E402
from newsmon.text import UndecodableError, decode_bytes  # noqa: E402

# Legacy code pages a text file may come in, Western first: Windows, ISO 8859, KOI8, Mac, CJK.
ENCODINGS: tuple[str, ...] = (
    "cp1252", "latin-1", "iso-8859-15", "cp1250", "iso-8859-2", "cp1251", "koi8-r", "koi8-u",
    "iso-8859-5", "cp1253", "cp1254", "cp1256", "cp1257", "mac-roman",
    "shift_jis", "euc-jp", "gb18030", "big5", "euc-kr",
)  # fmt: skip


def gold_texts() -> list[tuple[str, str, str]]:
    """``(id, language, text)`` of every gold article with a character outside ASCII (the
    language its page declares, else the one read from the text)."""
    return [
        (key, lang or detect_language(text) or "?", text) for key, lang, text in gold_articles() if not text.isascii()
    ]


def read_back(data: bytes) -> tuple[str | None, str]:
    """The text and charset :func:`decode_bytes` reads, or ``(None, "undecodable")``."""
    try:
        return decode_bytes(data)
    except UndecodableError:
        return None, "undecodable"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the exact round trips per code page and per language."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show", type=int, default=0, help="print this many failed texts per code page")
    args = parser.parse_args(argv)
    if not GOLD.is_dir():
        print(f"charsets: skipped: {GOLD} is absent")
        return 0
    texts = gold_texts()
    print(f"{len(texts)} gold texts with non-ASCII characters: " + ", ".join(
        f"{k} {v}" for k, v in Counter(lang for _, lang, _ in texts).most_common()
    ))  # fmt: skip
    print(f"{'encoding':<12} {'fit':>4} {'exact':>5} {'share':>6}  failures by language; read as")
    per_lang: dict[str, list[bool]] = defaultdict(list)
    totals = [0, 0]
    decodes, seconds = 0, 0.0
    for encoding in ENCODINGS:
        fit = exact = 0
        failed_lang: Counter[str] = Counter()
        read_as: Counter[str] = Counter()
        shown = 0
        for key, lang, text in texts:
            try:
                data = text.encode(encoding)
            except UnicodeEncodeError:
                continue
            fit += 1
            t0 = time.perf_counter()
            got, charset = read_back(data)
            seconds += time.perf_counter() - t0
            decodes += 1
            ok = got == text
            exact += ok
            per_lang[lang].append(ok)
            if not ok:
                failed_lang[lang] += 1
                read_as[charset] += 1
                if shown < args.show:
                    shown += 1
                    print(f"    {key[:12]} {lang} read as {charset}: {(got or '')[:70]!r}")
        totals[0], totals[1] = totals[0] + fit, totals[1] + exact
        share = f"{exact / fit:.3f}" if fit else "-"
        langs = " ".join(f"{k} {v}" for k, v in failed_lang.most_common())
        charsets = " ".join(f"{k} {v}" for k, v in read_as.most_common(4))
        print(f"{encoding:<12} {fit:>4} {exact:>5} {share:>6}  {langs}{'; ' if langs else ''}{charsets}")
    print(f"{'all':<12} {totals[0]:>4} {totals[1]:>5} {totals[1] / max(totals[0], 1):>6.3f}")
    print("per language: " + ", ".join(
        f"{k} {sum(v)}/{len(v)}" for k, v in sorted(per_lang.items(), key=lambda kv: -len(kv[1]))
    ))  # fmt: skip
    print(f"{1000 * seconds / max(decodes, 1):.1f} ms per decode ({decodes} decodes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
