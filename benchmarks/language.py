"""Language detectors on short texts (headline and summary): accuracy and milliseconds per text.

Evaluation set, built at run time from ``../shared/data`` (nothing is copied):

* feed items (title + summary, cut to 300 characters) of feeds whose language is known:
  miniflux's Golem (de), heise RDF (de), iBash (ru), Le Cercle Psy (fr), BBC Urdu (ur) and
  its Korean encoding case (ko); rss-parser's UOL Notícias and Jornal de Notícias (pt),
  heise developer (de) and the Guardian (en);
* the gold article texts of the extraction benchmark (first 300 characters) whose page
  declares a language (``<html lang>``: en, pt, ru, it, ko, ja, de, id);
* 600 items of the English summer feed archive (seeded sample).

Detectors, each if installed: py3langid (newsmon's), lingua (lingua-language-detector),
langdetect (seeded), pycld2. Prints accuracy overall and per language, ms per text, and the
model's load time. Install the others to compare, e.g. into a side folder:
``pip install --target /tmp/langbench lingua-language-detector langdetect pycld2`` and
``PYTHONPATH=/tmp/langbench:. python -m benchmarks.language``.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402

from newsmon.feeds import plain_text  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
GOLD = DATA / "html" / "article-extraction-benchmark"
FEEDS = {
    "feeds/miniflux/encoding_ISO-8859-1.xml": "de",
    "feeds/miniflux/rdf_UTF8.xml": "de",
    "feeds/miniflux/encoding_WINDOWS-1251.xml": "ru",
    "feeds/miniflux/no_encoding_ISO-8859-1.xml": "fr",
    "feeds/miniflux/urdu_UTF8.xml": "ur",
    "feeds/miniflux/encoding/utf8.xml": "ko",
    "feeds/rss-parser/uolNoticias.rss": "pt",
    "feeds/rss-parser/encoding.rss": "pt",
    "feeds/rss-parser/heise.atom": "de",
    "feeds/rss-parser/guardian.rss": "en",
}
SAMPLE_CHARS = 300
_LANG = re.compile(r"<html[^>]*\blang=[\"']([A-Za-z]{2})", re.I)

Case = tuple[str, str]  # (expected language, text)


def feed_cases() -> list[Case]:
    """Title and summary of each item of the feeds of known language."""
    out = []
    for name, lang in FEEDS.items():
        path = DATA / name
        if not path.exists():
            continue
        parsed = feedparser.parse(io.BytesIO(path.read_bytes()))
        for entry in parsed.entries:
            text = f"{plain_text(entry.get('title'))}. {plain_text(entry.get('summary'))}".strip(". ")
            if len(text) >= 20:
                out.append((lang, text[:SAMPLE_CHARS]))
    return out


def gold_articles() -> list[tuple[str, str | None, str]]:
    """``(id, language, text)`` of every gold article, by id; the language is the one its
    page declares (``<html lang>``), None when it declares none."""
    truth = json.loads((GOLD / "ground-truth.json").read_text(encoding="utf-8"))
    out = []
    for key, item in sorted(truth.items()):
        with gzip.open(GOLD / "html" / f"{key}.html.gz", "rt", encoding="utf-8", errors="replace") as f:
            declared = _LANG.search(f.read(20_000))
        out.append((key, declared.group(1).lower() if declared else None, item["articleBody"]))
    return out


def gold_cases() -> list[Case]:
    """The start of each gold article whose page declares its language."""
    return [(lang, " ".join(text.split())[:SAMPLE_CHARS]) for _, lang, text in gold_articles() if lang]


def archive_cases(n: int = 600) -> list[Case]:
    """A seeded sample of the English summer archive (title + description)."""
    with gzip.open(DATA / "feeds-archive" / "rss-2023-summer.jsonl.gz", "rt", encoding="utf-8") as lines:
        entries = [json.loads(line) for _, line in zip(range(40_000), lines, strict=False)]
    rng = random.Random(7)
    out = []
    for e in rng.sample(entries, n * 2):
        text = f"{plain_text(e.get('title'))}. {plain_text(e.get('description'))}".strip(". ")
        if len(text) >= 20:
            out.append(("en", text[:SAMPLE_CHARS]))
    return out[:n]


def _py3langid() -> Callable[[str], str | None]:
    from newsmon.language import detect_language

    return detect_language


def _lingua() -> Callable[[str], str | None]:
    from lingua import LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_all_languages().build()

    def detect(text: str) -> str | None:
        lang = detector.detect_language_of(text)
        return lang.iso_code_639_1.name.lower() if lang is not None else None

    return detect


def _langdetect() -> Callable[[str], str | None]:
    from langdetect import DetectorFactory, detect

    DetectorFactory.seed = 0

    def run(text: str) -> str | None:
        try:
            return str(detect(text)).split("-")[0]
        except Exception:  # langdetect raises on texts without features
            return None

    return run


def _pycld2() -> Callable[[str], str | None]:
    import pycld2

    def detect(text: str) -> str | None:
        try:
            _reliable, _, details = pycld2.detect(text)
        except pycld2.error:
            return None
        code = details[0][1]
        return None if code == "un" else code.split("-")[0]

    return detect


DETECTORS: dict[str, Callable[[], Callable[[str], str | None]]] = {
    "py3langid": _py3langid,
    "lingua": _lingua,
    "langdetect": _langdetect,
    "pycld2": _pycld2,
}


def main() -> int:
    """Print the detectors' accuracy and speed on the short texts."""
    if not DATA.is_dir():
        print(f"language: skipped: {DATA} is absent")
        return 0
    cases = feed_cases() + gold_cases() + archive_cases()
    per_lang = Counter(lang for lang, _ in cases)
    print(f"{len(cases)} short texts: " + ", ".join(f"{k} {v}" for k, v in per_lang.most_common()))
    print(f"{'detector':<11} {'accuracy':>8} {'non-en':>7} {'ms/text':>8} {'load s':>7}  worst languages")
    for name, factory in DETECTORS.items():
        t0 = time.perf_counter()
        try:
            detect = factory()
            detect("warm up the model with a first sentence")
        except ImportError:
            print(f"{name:<11} not installed")
            continue
        load = time.perf_counter() - t0
        t1 = time.perf_counter()
        answers = [detect(text) for _, text in cases]
        ms = 1000 * (time.perf_counter() - t1) / len(cases)
        right: dict[str, list[bool]] = defaultdict(list)
        for (lang, _), got in zip(cases, answers, strict=True):
            right[lang].append(got == lang)
        overall = sum(sum(v) for v in right.values()) / len(cases)
        non_en = [x for k, v in right.items() if k != "en" for x in v]
        worst = sorted(right.items(), key=lambda kv: sum(kv[1]) / len(kv[1]))[:3]
        worst_text = ", ".join(f"{k} {sum(v) / len(v):.2f}" for k, v in worst)
        print(f"{name:<11} {overall:>8.3f} {sum(non_en) / len(non_en):>7.3f} {ms:>8.3f} {load:>7.2f}  {worst_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
