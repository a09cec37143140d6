"""Reprint detection on real data: quality per difficulty level against a baseline, and cost at scale.

Evaluation sets, all built from ``../shared/data`` at run time (nothing is copied):

* **syndication**: the May 2023 feed archive (``--feeds summer`` or ``both`` adds the summer
  archive), as feed-summary documents built the way feed polling builds them. Gold: items with
  the same normalized headline (4+ words) from two or more feeds within 72 hours are one story.
  Excluded from scoring as undecidable: headlines a single feed repeats on other days with
  other summaries (recurring columns: "Morning Risk Report", "More »"), headlines under 4
  words shared by several items, and items sharing a non-empty summary under *similar* but
  different headlines (a changed headline or a recurring column). Items sharing a summary
  under dissimilar headlines (newsletter blurbs, photo captions, puzzle hints) are the traps:
  different stories.
* **reprints**: the 181 gold articles (headline from the page's ``og:title``/``<title>``) and
  the 3,097 White House documents of 2023 as originals, each with one variant per level
  (``--variants`` for more), published 10 minutes to 72 hours after it from another site:
  light (boilerplate lines added: share prompts, newsletter and photo credits, footers, the
  headline repeated on top), medium (headline rewritten, 15 % of sentences dropped, 4 % of
  words edited, added commentary in a third), heavy (cut to 30-60 % of its length, at least
  80 words, with 2-5 % OCR-style character noise in headline and text). Negatives are all other
  documents, among them White House documents of the same day and event and templated series
  (disaster declarations, delegation memoranda, national-emergency notices). Originals posted
  within two days with the same normalized body, or sharing 90 % of their word 5-grams both
  ways (one text cross-posted), are one gold story.
* **boilerplate pages**: paywall, cookie-wall and bot-check pages under real headlines (some
  identical, some with an original's headline); any merge counts.

Each set runs through the real store on a fresh DuckDB file, in time order and batches of 500,
with the monitor flow's dedupe task. The baseline (word 5-gram MinHash of headline and text,
128 permutations, datasketch ``MinHashLSH`` at threshold 0.5, candidate pairs joined by
union-find) runs on the same documents. Scores: pairwise precision, recall, F1, and the
adjusted Rand index.

Cost: milliseconds per new document (dedupe lookups and verification, then the batch write)
for batches of real documents, with the index pre-filled to 10k, 100k and 1M stories by
synthetic rows: spread over a year of publication days (a monitor taking 1M documents a year)
and, as the worst case, all inside the join window. Memory: the process's resident memory
before and after the timed batches (each size runs in a fresh process) and DuckDB's own memory.

    python -m benchmarks.dedupe [--variants 1] [--feeds replay] [--sizes 10000,100000,1000000]
                                [--scale-batches 3] [--skip-scale] [--show 0]
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import multiprocessing
import os
import random
import re
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parents[1]
if not __package__ and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
from datasketch import MinHash, MinHashLSH  # noqa: E402

from newsmon import dedupe  # noqa: E402
from newsmon.boilerplate import strip_boilerplate  # noqa: E402
from newsmon.documents import document_id  # noqa: E402
from newsmon.feeds import FeedItem, item_document, plain_paragraphs, plain_text  # noqa: E402
from newsmon.models import Document  # noqa: E402
from newsmon.steps import (  # noqa: E402
    Deduped,
    dedupe_batch,
    store_batch,
)
from newsmon.text import sha256_hex, split_sentences, text_hash, words  # noqa: E402
from newsmon.urls import safe_http_url  # noqa: E402
from storage.store import Store  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
GOLD = DATA / "html" / "article-extraction-benchmark"
WH = DATA / "documents" / "wh-2023.jsonl.gz"
FEEDS = {
    "replay": DATA / "feeds-archive" / "replay-2023-05.jsonl.gz",
    "summer": DATA / "feeds-archive" / "rss-2023-summer.jsonl.gz",
}
NOW = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
BATCH = 500
LEVELS = ("light", "medium", "heavy")
FEED_WINDOW = timedelta(hours=72)
_OG_TITLE = re.compile(r"<meta[^>]+property=[\"']og:title[\"'][^>]+content=(?:\"([^\"]*)\"|'([^']*)')", re.I)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


# -- originals and feed entries ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Original:
    """A real full text: a gold article or a White House document."""

    key: str
    title: str
    body: str
    source: str
    url: str
    at: datetime


def page_title(page: str) -> str:
    """The page's og:title, else its <title>."""
    og = _OG_TITLE.search(page)
    if og and (og.group(1) or og.group(2) or "").strip():
        return html.unescape(og.group(1) or og.group(2)).strip()
    title = _TITLE.search(page)
    return " ".join(html.unescape(title.group(1)).split()) if title else ""


def unwrap_markdown(text: str) -> str:
    """Join hard-wrapped Markdown lines into paragraphs; links become their text."""
    paragraphs = (" ".join(ln.strip() for ln in p.split("\n") if ln.strip()) for p in re.split(r"\n\s*\n", text))
    return "\n".join(_MD_LINK.sub(r"\1", p).replace("*", "") for p in paragraphs if p)


def load_originals() -> list[Original]:
    """The 181 gold articles (dated 20 Nov 2019, a minute apart) and the White House documents."""
    out = []
    truth = json.loads((GOLD / "ground-truth.json").read_text(encoding="utf-8"))
    start = datetime(2019, 11, 20, 8, 0, tzinfo=UTC)
    for i, (key, item) in enumerate(sorted(truth.items())):
        with gzip.open(GOLD / "html" / f"{key}.html.gz", "rt", encoding="utf-8", errors="replace") as f:
            page = f.read()
        host = urlsplit(item["url"]).hostname or "unknown"
        out.append(
            Original(
                f"g{key[:12]}", page_title(page), item["articleBody"], host, item["url"], start + timedelta(minutes=i)
            )
        )
    with gzip.open(WH, "rt", encoding="utf-8") as lines:
        for i, line in enumerate(lines):
            rec = json.loads(line)
            at = datetime.fromisoformat(rec["date"]).replace(hour=12, tzinfo=UTC) + timedelta(seconds=i)
            out.append(
                Original(
                    f"w{i:04d}", rec["title"], unwrap_markdown(rec["text"]), "whitehouse.gov", rec["source_url"], at
                )
            )
    return out


def load_feed_entries(which: str) -> list[dict]:
    """Feed archive entries (May replay, summer archive or both), with parsed times."""
    names = ["replay", "summer"] if which == "both" else [which]
    entries = []
    for name in names:
        with gzip.open(FEEDS[name], "rt", encoding="utf-8") as lines:
            for line in lines:
                entry = json.loads(line)
                entry["at"] = datetime.fromisoformat(entry["date_published"].replace(" ", "T")).astimezone(UTC)
                entries.append(entry)
    return entries


# -- documents as ingestion builds them -------------------------------------------------------


def file_document(key: str, title: str, raw_body: str, source: str, url: str, at: datetime) -> Document:
    """A document the way folder ingestion builds one: boilerplate lines stripped, origin kept."""
    cleaned = strip_boilerplate(raw_body)
    return Document(
        id=document_id(url),
        url=url,
        source=source,
        source_kind="file",
        title=title,
        body=cleaned.body,
        author=cleaned.author,
        origin=cleaned.origin,
        published_at=at,
        first_seen_at=NOW,
        content_hash=sha256_hex(f"{key}\n{title}\n{raw_body}"),
        text_hash=text_hash(f"{title}\n{cleaned.body}"),
        extractor="benchmark",
        charset="utf-8",
        boilerplate_lines=cleaned.removed_lines,
        extraction="article",
    )


def feed_document(entry: Mapping) -> Document:
    """A feed entry the way feed polling stores it when the page is not fetched (its summary)."""
    title, summary = plain_text(entry.get("title")), plain_paragraphs(entry.get("description"))
    link = safe_http_url(entry.get("link"))
    item = FeedItem(
        key=link or sha256_hex(title + summary),
        title=title,
        link=link,
        summary=summary,
        author=None,
        published_at=entry["at"],
        content_hash=sha256_hex(f"{title}\n{summary}"),
    )
    return item_document(entry["source"], entry["source"], item, None, NOW)


# -- variants -------------------------------------------------------------------------------

KNOWN_TOP = ["Share this:", "Facebook", "Twitter", "Spread the love", "Advertisement", "Share this article"]
KNOWN_BOTTOM = [
    "Source link", "Related Posts", "Leave a Reply", "Read more at Example Wire", "Follow us on Twitter",
    "Your email address will not be published. Required fields are marked *", "You may also like",
    "© 2023 Example Media. All rights reserved.",
]  # fmt: skip
UNKNOWN_CHROME = [
    "Sign up for our morning newsletter and get the day's top stories in your inbox.", "Photo: Getty Images",
    "We may earn a commission from links on this page.", "Comments are closed.",
    "Got a news tip? Email us at tips@example.com.", "This story has been shared 1,024 times.",
    "Listen to this article (4 min)", "Updated 3 hours ago",
]  # fmt: skip
FILLERS = ["also", "reportedly", "now", "still", "really", "just", "officially"]
SYNONYMS = {
    "said": "stated", "says": "states", "told": "informed", "government": "administration", "announced": "unveiled",
    "new": "fresh", "people": "individuals", "officials": "authorities", "help": "assist", "big": "large",
    "show": "reveal", "about": "around", "because": "since", "many": "numerous", "began": "started", "buy": "purchase",
    "make": "create", "important": "key", "major": "significant", "however": "but", "use": "employ", "need": "require",
    "called": "named", "start": "begin", "end": "finish", "get": "obtain", "also": "additionally", "after": "following",
}  # fmt: skip
OCR_CONFUSIONS = {
    "l": "1", "I": "l", "O": "0", "o": "0", "e": "c", "c": "e", "a": "o", "m": "rn", "h": "b", "n": "u", "u": "n",
    "S": "5", "i": "l", "t": "f", "f": "t", "d": "cl", "g": "q", "B": "8",
}  # fmt: skip


def _paragraphs(body: str) -> list[str]:
    return [p for p in body.split("\n") if p.strip()]


def with_boilerplate(title: str, paragraphs: list[str], rng: random.Random) -> str:
    """Known share prompts and footers, unknown site chrome, and half the time the headline on top."""
    top = rng.sample(KNOWN_TOP, rng.randint(1, 3))
    if rng.random() < 0.5:
        top = [title, *top]
    body = list(paragraphs)
    for line in rng.sample(UNKNOWN_CHROME, rng.randint(1, 2)):
        body.insert(rng.choice([0, len(body)]), line)
    return "\n".join(top + body + rng.sample(KNOWN_BOTTOM, rng.randint(2, 4)))


def rewrite_headline(title: str, paragraphs: list[str], rng: random.Random) -> str:
    """Another outlet's headline: from the first sentence, or the old one cut down with a label."""
    if rng.random() < 0.5 and paragraphs:
        sentences = split_sentences(paragraphs[0]) or [paragraphs[0]]
        return " ".join(sentences[0].split()[: rng.randint(7, 12)]).rstrip(",;:")
    kept = [w for w in title.split() if rng.random() > 0.35] or title.split()[:3]
    return rng.choice(["Report: ", "Watch: ", "Opinion: ", "", "Breaking: "]) + " ".join(kept)


def drop_sentences(paragraphs: list[str], rate: float, rng: random.Random) -> list[str]:
    """Drop sentences at random (never the first)."""
    out = []
    for i, paragraph in enumerate(paragraphs):
        kept = [s for j, s in enumerate(split_sentences(paragraph)) if (i == 0 and j == 0) or rng.random() >= rate]
        if kept:
            out.append(" ".join(kept))
    return out


def edit_words(text: str, rate: float, rng: random.Random) -> str:
    """Copy-editing: delete words, swap common words for synonyms, insert fillers."""
    out = []
    for word in text.split(" "):
        if rng.random() >= rate:
            out.append(word)
            continue
        op, core = rng.random(), word.strip(".,;:\"'")
        if op < 0.4:
            continue
        if op < 0.7:
            out.append(word.replace(core, SYNONYMS[core]) if core in SYNONYMS else word)
        else:
            out.extend([rng.choice(FILLERS), word])
    return " ".join(out)


def ocr_noise(text: str, rate: float, rng: random.Random) -> str:
    """OCR-style damage: confusable characters, dropped and inserted letters, split and joined words."""
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isalnum() and rng.random() < rate:
            op = rng.random()
            if op < 0.5:
                if text[i : i + 2] == "rn":
                    out.append("m")
                    i += 2
                    continue
                out.append(OCR_CONFUSIONS.get(ch, ch))
            elif op < 0.65:
                pass
            elif op < 0.75:
                out.append(ch + rng.choice("aeiourtns"))
            elif op < 0.9:
                out.append(ch + " ")
            else:
                out.append(ch)
                if i + 1 < n and text[i + 1] == " ":
                    i += 1
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def truncate(paragraphs: list[str], share: float, min_words: int) -> list[str]:
    """The first paragraphs, up to ``share`` of the words (at least ``min_words``)."""
    goal = max(min_words, int(sum(len(p.split()) for p in paragraphs) * share))
    out, count = [], 0
    for paragraph in paragraphs:
        if count >= goal:
            break
        out.append(paragraph)
        count += len(paragraph.split())
    return out


def make_variant(original: Original, level: str, rng: random.Random, commentary: Sequence[str]) -> tuple[str, str]:
    """A reprint's headline and raw body at one difficulty level."""
    paragraphs = _paragraphs(original.body)
    if level == "light":
        return original.title, with_boilerplate(original.title, paragraphs, rng)
    if level == "medium":
        title = rewrite_headline(original.title, paragraphs, rng)
        paragraphs = [edit_words(p, 0.04, rng) for p in drop_sentences(paragraphs, 0.15, rng)]
        if rng.random() < 1 / 3:
            paragraphs.insert(rng.choice([0, len(paragraphs)]), rng.choice(commentary))
        return title, with_boilerplate(title, paragraphs, rng)
    rate = rng.uniform(0.02, 0.05)
    title = ocr_noise(original.title, rate, rng)
    paragraphs = [ocr_noise(p, rate, rng) for p in truncate(paragraphs, rng.uniform(0.3, 0.6), 80)]
    return title, with_boilerplate(title, paragraphs, rng)


WALLS = {
    "paywall": "Subscribe to continue reading.\nThis article is for subscribers only.\nAlready a subscriber? Sign in"
    " to read the full story.\nStart your subscription today for $1 a week.",
    "cookie-wall": "We use cookies to improve your experience on our site.\nBy clicking Accept all cookies, you agree"
    " to the storing of cookies on your device.\nManage consent\nCookie settings\nYour privacy choices",
    "bot-check": "Checking your browser before accessing the site.\nPlease enable JavaScript and cookies to"
    " continue.\nAre you a robot? Verify you are human by completing the action below.\nRequest blocked.",
}


def wall_pages(originals: Sequence[Original], rng: random.Random, count: int = 90) -> list[Document]:
    """Boilerplate-only pages: a third under an original's headline (shortly after it), the others
    under repeated headlines, all with one of three wall texts."""
    out = []
    picks = rng.sample(list(originals), count)
    for i, original in enumerate(picks):
        kind = list(WALLS)[i % 3]
        body = WALLS[kind] + ("" if i % 2 else "\nexample-news.com")
        title = original.title if i % 3 == 0 else f"Breaking news update {i % 5}"
        url = f"https://wall-{i % 7}.example.com/{kind}/{i}"
        doc = file_document(f"wall{i}", title, body, f"wall-{i % 7}.example.com", url, original.at + timedelta(hours=1))
        out.append(replace(doc, page_kind=kind))
    return out


@dataclass(slots=True)
class ReprintSet:
    """Originals, their variants per level, and wall pages, with gold story labels."""

    documents: list[Document]
    gold: dict[str, str]
    level: dict[str, str]  # document id -> original | light | medium | heavy | wall


def build_reprint_set(originals: Sequence[Original], variants: int, seed: int, commentary: Sequence[str]) -> ReprintSet:
    """Originals (gold: cross-posted texts unioned), ``variants`` per level each, and wall pages."""
    rng = random.Random(seed)
    gold_of = original_gold(originals)
    docs, gold, level = [], {}, {}
    for o in originals:
        doc = file_document(o.key, o.title, o.body, o.source, o.url, o.at)
        docs.append(doc)
        gold[doc.id], level[doc.id] = gold_of[o.key], "original"
    for lv in LEVELS:
        for o in originals:
            for v in range(variants):
                title, body = make_variant(o, lv, rng, commentary)
                site = f"reprints-{rng.randint(1, 40)}.example.com"
                url = f"https://{site}/{lv}/{v}/{o.key}"
                lag = timedelta(minutes=rng.uniform(10, 72 * 60))
                doc = file_document(f"{o.key}-{lv}-{v}", title, body, site, url, o.at + lag)
                docs.append(doc)
                gold[doc.id], level[doc.id] = gold_of[o.key], lv
    for doc in wall_pages(originals, rng):
        docs.append(doc)
        gold[doc.id], level[doc.id] = f"wall:{doc.id}", "wall"
    return ReprintSet(docs, gold, level)


# -- gold labels ------------------------------------------------------------------------------


class UnionFind:
    """Disjoint sets over hashable keys."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        """The representative of ``x``'s set."""
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        """Merge the sets of ``a`` and ``b`` (the smaller key wins, for stable labels)."""
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _word_grams(text: str, n: int = 5) -> set[str]:
    toks = words(text)
    return {" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1)} or {" ".join(toks)}


def original_gold(originals: Sequence[Original]) -> dict[str, str]:
    """Gold story of each original: one text posted twice within two days (the same normalized
    body, or 90 % of word 5-grams shared both ways) is one story; all others are distinct (the
    same template text weeks apart is another statement, memorandum or declaration)."""
    uf = UnionFind()
    grams = {o.key: _word_grams(o.body) for o in originals}
    postings: dict[str, list[str]] = defaultdict(list)
    for o in originals:
        for g in grams[o.key]:
            postings[g].append(o.key)
    shared: dict[tuple[str, str], int] = defaultdict(int)
    for keys in postings.values():
        if 1 < len(keys) <= 60:
            for i, a in enumerate(keys):
                for b in keys[i + 1 :]:
                    shared[(a, b)] += 1
    at = {o.key: o.at for o in originals}
    body = {o.key: " ".join(words(o.body)) for o in originals}
    for (a, b), n in shared.items():
        if abs(at[a] - at[b]) > timedelta(days=2):
            continue
        if body[a] == body[b] or (n >= 0.9 * len(grams[a]) and n >= 0.9 * len(grams[b])):
            uf.union(a, b)
    return {o.key: uf.find(o.key) for o in originals}


@dataclass(slots=True)
class FeedSet:
    """Feed-summary documents with gold labels; ``scored`` leaves out the undecidable items."""

    documents: list[Document]
    gold: dict[str, str]
    scored: set[str]
    traps: list[tuple[str, str]]
    stats: dict[str, int]


def _jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / max(1, len(sa | sb))


def build_feed_set(entries: Sequence[Mapping]) -> FeedSet:
    """Documents and gold stories of feed entries (see the module docstring)."""
    docs, seen = [], set()
    for entry in sorted(entries, key=lambda e: (e["at"], e.get("link") or "")):
        doc = feed_document(entry)
        if doc.id not in seen:
            seen.add(doc.id)
            docs.append(doc)
    headline = {d.id: " ".join(words(d.title)) for d in docs}
    summary = {d.id: " ".join(words(d.body)) for d in docs}
    at = {d.id: d.published_at or d.first_seen_at for d in docs}
    by_headline: dict[str, list[Document]] = defaultdict(list)
    for d in docs:
        by_headline[headline[d.id]].append(d)
    gold = {d.id: d.id for d in docs}
    ambiguous: set[str] = set()
    stats = defaultdict(int)
    for head, group in by_headline.items():
        if len(group) < 2:
            continue
        days_by_feed: dict[str, set] = defaultdict(set)
        for d in group:
            days_by_feed[d.source].add((at[d.id].date(), summary[d.id]))
        series = any(len({s for _, s in v}) > 1 and len({day for day, _ in v}) > 1 for v in days_by_feed.values())
        if series or len(head.split()) < dedupe.MIN_HEADLINE_WORDS:
            ambiguous.update(d.id for d in group)
            stats["ambiguous recurring or short headlines"] += len(group)
            continue
        start = None
        for d in group:  # time order: a story is the copies within 72 h of its first
            if start is None or at[d.id] - at[start] > FEED_WINDOW:
                start = d.id
            gold[d.id] = start
    by_summary: dict[str, list[Document]] = defaultdict(list)
    for d in docs:
        if len(summary[d.id].split()) >= 5:
            by_summary[summary[d.id]].append(d)
    traps = []
    for group in by_summary.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if gold[a.id] == gold[b.id]:
                    continue
                if _jaccard(headline[a.id].split(), headline[b.id].split()) >= 0.5:
                    ambiguous.update((a.id, b.id))  # a changed headline, or a column: undecidable
                else:
                    traps.append((a.id, b.id))
    stats["ambiguous similar headlines, same summary"] = (
        len({x for g in by_summary.values() for x in (d.id for d in g)} & ambiguous)
        - stats["ambiguous recurring or short headlines"]
    )
    scored = {d.id for d in docs} - ambiguous
    traps = [(a, b) for a, b in traps if a in scored and b in scored]
    return FeedSet(docs, gold, scored, traps, dict(stats))


# -- systems ----------------------------------------------------------------------------------


def run_newsmon(documents: Sequence[Document], db: Path, threshold: float = dedupe.DEFAULT_THRESHOLD) -> dict[str, str]:
    """Story of each document: the monitor's dedupe task and batch write, in time order, batches of 500."""
    todo = sorted(documents, key=lambda d: (d.published_at or d.first_seen_at, d.url))
    store = Store.open_writer(db)
    try:
        out = {}
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            deduped = dedupe_batch(store, batch, threshold)
            fps, assignments = deduped.fingerprints, deduped.assignments
            store_batch(store, "benchmark", NOW, batch, Deduped.of(fps, assignments), [])
            out.update({a.document_id: a.story_id for a in assignments})
        return out
    finally:
        store.close(snapshot=False)


def run_baseline(documents: Sequence[Document]) -> dict[str, str]:
    """Word 5-gram MinHash (128 permutations) of headline and text, MinHashLSH at 0.5, union-find."""
    todo = sorted(documents, key=lambda d: (d.published_at or d.first_seen_at, d.url))
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    uf = UnionFind()
    sets = [[g.encode("utf-8") for g in _word_grams(f"{d.title}\n{d.body}")] for d in todo]
    for doc, minhash in zip(todo, MinHash.bulk(sets, num_perm=128), strict=True):
        for other in lsh.query(minhash):
            uf.union(doc.id, other)
        lsh.insert(doc.id, minhash)
    return {d.id: uf.find(d.id) for d in todo}


# -- metrics ----------------------------------------------------------------------------------


def _pairs(counts: Iterable[int]) -> int:
    return sum(c * (c - 1) // 2 for c in counts)


def pair_scores(gold: Mapping[str, str], pred: Mapping[str, str], items: Iterable[str]) -> dict[str, float]:
    """Pairwise precision, recall and F1, and the adjusted Rand index, over ``items``."""
    ids = list(items)
    g = np.unique([gold[i] for i in ids], return_inverse=True)[1]
    p = np.unique([pred[i] for i in ids], return_inverse=True)[1]
    cells = np.unique(g.astype(np.int64) * (p.max() + 1) + p, return_counts=True)[1]
    tp = _pairs(cells.tolist())
    gold_pairs = _pairs(np.bincount(g).tolist())
    pred_pairs = _pairs(np.bincount(p).tolist())
    total = len(ids) * (len(ids) - 1) // 2
    precision = tp / pred_pairs if pred_pairs else 1.0
    recall = tp / gold_pairs if gold_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    expected = gold_pairs * pred_pairs / total if total else 0.0
    top = (gold_pairs + pred_pairs) / 2 - expected
    ari = (tp - expected) / top if top else 1.0
    return {
        "precision": precision, "recall": recall, "f1": f1, "ari": ari,
        "tp": tp, "gold_pairs": gold_pairs, "pred_pairs": pred_pairs, "items": len(ids),
    }  # fmt: skip


def _row(name: str, system: str, s: Mapping[str, float]) -> str:
    return (
        f"  {name:<22} {system:<9} {s['precision']:>9.4f} {s['recall']:>7.4f} {s['f1']:>7.4f} {s['ari']:>7.4f}"
        f" {int(s['items']):>7} {int(s['gold_pairs']):>8} {int(s['pred_pairs']):>8}"
    )


def _merged_pairs(pred: Mapping[str, str], pairs: Iterable[tuple[str, str]]) -> int:
    return sum(1 for a, b in pairs if pred[a] == pred[b])


def show_errors(
    title: str,
    gold: Mapping[str, str],
    pred: Mapping[str, str],
    items: Sequence[str],
    docs: Mapping[str, Document],
    n: int,
) -> None:
    """Print up to ``n`` wrongly merged and ``n`` missed pairs (for tuning)."""
    by_pred: dict[str, list[str]] = defaultdict(list)
    by_gold: dict[str, list[str]] = defaultdict(list)
    for i in items:
        by_pred[pred[i]].append(i)
        by_gold[gold[i]].append(i)
    wrong = [(a, b) for m in by_pred.values() for a in m for b in m if a < b and gold[a] != gold[b]]
    missed = [(a, b) for m in by_gold.values() for a in m for b in m if a < b and pred[a] != pred[b]]
    for label, pairs in (("merged, different stories", wrong), ("missed, same story", missed)):
        print(f"    {title}: {label}: {len(pairs)}")
        for a, b in pairs[:n]:
            for d in (docs[a], docs[b]):
                print(f"      {d.source[:30]} | {d.published_at:%Y-%m-%d %H:%M} | {d.title[:70]}")
            print()


# -- cost at scale ----------------------------------------------------------------------------


def _synthetic_fill(store: Store, size: int, last_day: int, spread_days: int, seed: int) -> None:
    """Add ``size`` synthetic indexed stories (document, story, member, index and band rows), their
    days spread evenly over the ``spread_days`` before ``last_day``."""
    rng = np.random.default_rng(seed)
    chunk = 100_000
    ts = pa.timestamp("us", tz="UTC")
    for start in range(0, size, chunk):
        n = min(chunk, size - start)
        ids = [f"syn{start + i:012d}" for i in range(n)]
        days = (last_day - (np.arange(start, start + n) * spread_days // max(1, size))).astype(np.int32)
        at = pa.array((days.astype(np.int64) * 86400 * 1_000_000), pa.int64()).cast(ts)
        docs = pa.table(
            {
                "id": ids, "url": [f"https://synthetic.example/{i}" for i in ids], "source": ["synthetic"] * n,
                "source_kind": ["file"] * n, "title": [f"Synthetic story {i}" for i in ids],
                "body": ["synthetic body text of a stored story"] * n, "published_at": at, "first_seen_at": at,
                "updated_at": at, "content_hash": ids, "text_hash": ids, "extractor": ["synthetic"] * n,
                "run_id": ["fill"] * n, "updated_run_id": ["fill"] * n,
            }
        )  # fmt: skip
        keys = pa.array([dedupe.key64(i) for i in ids], pa.int64())
        index = pa.table(
            {
                "story_id": ids, "story_key": keys, "day": days, "kind": ["full"] * n,
                "exact_key": rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64),
                "headline_key": rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64), "run_id": ["fill"] * n,
            }
        )  # fmt: skip
        bands = pa.table(
            {
                "band_key": rng.integers(-(2**63), 2**63 - 1, n * dedupe.BANDS, dtype=np.int64),
                "day": np.repeat(days, dedupe.BANDS),
                "story_key": np.repeat(np.asarray(keys), dedupe.BANDS),
            }
        )
        for name, table in (("fill_docs", docs), ("fill_index", index), ("fill_bands", bands)):
            store.con.register(name, table)
        with store.transaction() as con:
            con.execute("INSERT INTO documents BY NAME SELECT * FROM fill_docs").fetchall()
            con.execute(
                "INSERT INTO stories (id, canonical_document_id, first_seen_at, run_id)"
                " SELECT id, id, first_seen_at, 'fill' FROM fill_docs"
            ).fetchall()
            con.execute(
                "INSERT INTO story_members (document_id, story_id, similarity, method, run_id, assigned_at)"
                " SELECT id, id, 1.0, 'new', 'fill', first_seen_at FROM fill_docs"
            ).fetchall()
            con.execute("INSERT INTO story_index BY NAME SELECT * FROM fill_index").fetchall()
            con.execute("INSERT INTO lsh_bands SELECT band_key, day, story_key FROM fill_bands").fetchall()
        for name in ("fill_docs", "fill_index", "fill_bands"):
            store.con.unregister(name)


def current_rss() -> int:
    """The process's resident memory now, in bytes (Linux), else its peak so far."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def scale_point(size: int, spread_days: int, batches: int, seed: int, result: Any) -> None:
    """In a fresh process: store real originals, fill to ``size`` stories, then time batches of
    real new documents (half reprints of the stored originals, half new texts)."""
    originals = load_originals()
    rng = random.Random(seed)
    rng.shuffle(originals)
    stored = originals[:BATCH]
    fresh = originals[BATCH : BATCH + batches * BATCH]
    base_day = dedupe.day_number(NOW)
    shift = lambda o, i: replace(o, at=NOW - timedelta(days=1) + timedelta(seconds=i))  # noqa: E731
    stored = [shift(o, i) for i, o in enumerate(stored)]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "scale.duckdb"
        store = Store.open_writer(db)
        try:
            docs = [file_document(o.key, o.title, o.body, o.source, o.url, o.at) for o in stored]
            deduped = dedupe_batch(store, docs, dedupe.DEFAULT_THRESHOLD)
            fps, assignments = deduped.fingerprints, deduped.assignments
            store_batch(store, "seed", NOW, docs, Deduped.of(fps, assignments), [])
            t0 = time.perf_counter()
            _synthetic_fill(store, size - len(stored), base_day, spread_days, seed)
            fill_s = time.perf_counter() - t0
            store.con.execute("CHECKPOINT").fetchall()
            timed = []
            for b in range(batches):
                batch = []
                for i in range(BATCH):
                    if i % 2:
                        o = stored[(b * BATCH + i) % len(stored)]
                        title, body = make_variant(o, LEVELS[i % 3], rng, ["An added note on the story."])
                        url = f"https://scale-{b}.example.com/{i}/{o.key}"
                        batch.append(file_document(f"{o.key}-s{b}-{i}", title, body, "scale", url, NOW))
                    else:
                        o = fresh[(b * BATCH + i) % len(fresh)]
                        batch.append(file_document(o.key, o.title, o.body, o.source, f"{o.url}#s{b}", NOW))
                timed.append(batch)
            rss_before = current_rss()
            lookup = write = 0.0
            joined = 0
            for batch in timed:
                t0 = time.perf_counter()
                deduped = dedupe_batch(store, batch, dedupe.DEFAULT_THRESHOLD)
                fps, assignments = deduped.fingerprints, deduped.assignments
                t1 = time.perf_counter()
                store_batch(store, "timed", NOW, batch, Deduped.of(fps, assignments), [])
                t2 = time.perf_counter()
                lookup += t1 - t0
                write += t2 - t1
                joined += sum(a.method != "new" for a in assignments)
            duck = store.con.execute("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()").fetchone()
            rows = store.con.execute("SELECT count(*) FROM lsh_bands").fetchone()
            n = batches * BATCH
            result.update(
                size=size, spread=spread_days, dedupe_ms=1000 * lookup / n, write_ms=1000 * write / n, joined=joined,
                docs=n, rss_before=rss_before, rss=current_rss(),
                duck=int(duck[0]) if duck else 0, band_rows=int(rows[0]) if rows else 0, fill_s=fill_s,
            )  # fmt: skip
        finally:
            store.close(snapshot=False)


def run_scale(sizes: Sequence[int], batches: int, seed: int) -> None:
    """Per size, realistic (a year of days) and worst case (all inside the window), each in a fresh process."""
    print("\nCost per new document (dedupe: lookups + verification; write: the batch transaction)")
    print(f"  {'stories':>9} {'days':>5} {'band rows':>11} {'dedupe ms':>10} {'write ms':>9} {'total ms':>9}"
          f" {'joined':>7} {'RSS before MB':>13} {'RSS after MB':>12} {'duckdb MB':>10} {'fill s':>7}")  # fmt: skip
    ctx = multiprocessing.get_context("spawn")
    for size in sizes:
        for spread in (365, 1):
            with ctx.Manager() as manager:
                result = manager.dict()
                proc = ctx.Process(target=scale_point, args=(size, spread, batches, seed, result))
                proc.start()
                proc.join()
                r = dict(result)
            if not r:
                print(f"  {size:>9} {spread:>5}  failed (exit code {proc.exitcode})")
                continue
            print(
                f"  {r['size']:>9} {r['spread']:>5} {r['band_rows']:>11} {r['dedupe_ms']:>10.2f} {r['write_ms']:>9.2f}"
                f" {r['dedupe_ms'] + r['write_ms']:>9.2f} {r['joined']:>4}/{r['docs']:<4}"
                f" {r['rss_before'] / 2**20:>13.0f} {r['rss'] / 2**20:>12.0f} {r['duck'] / 2**20:>10.0f}"
                f" {r['fill_s']:>7.1f}"
            )


# -- main -------------------------------------------------------------------------------------


def evaluate_feeds(which: str, show: int) -> tuple[dict, dict]:
    """Syndication set: newsmon and baseline scores, and the traps merged."""
    t0 = time.perf_counter()
    feed_set = build_feed_set(load_feed_entries(which))
    with tempfile.TemporaryDirectory() as tmp:
        ours = run_newsmon(feed_set.documents, Path(tmp) / "feeds.duckdb")
    t1 = time.perf_counter()
    base = run_baseline(feed_set.documents)
    t2 = time.perf_counter()
    scored = sorted(feed_set.scored)
    multi = defaultdict(int)
    for i in scored:
        multi[feed_set.gold[i]] += 1
    print(
        f"\nSyndication ({which} feed archive): {len(feed_set.documents)} items, {len(scored)} scored,"
        f" {sum(1 for c in multi.values() if c > 1)} gold stories with 2+ items, {len(feed_set.traps)} trap pairs"
        f" (same summary, dissimilar headlines); excluded: {feed_set.stats}; newsmon {t1 - t0:.0f} s,"
        f" baseline {t2 - t1:.0f} s"
    )
    result = {name: pair_scores(feed_set.gold, pred, scored) for name, pred in (("newsmon", ours), ("baseline", base))}
    traps = {name: _merged_pairs(pred, feed_set.traps) for name, pred in (("newsmon", ours), ("baseline", base))}
    if show:
        docs = {d.id: d for d in feed_set.documents}
        show_errors("syndication", feed_set.gold, ours, scored, docs, show)
    return result, traps


def evaluate_reprints(variants: int, seed: int, show: int, commentary: Sequence[str]) -> tuple[dict, dict]:
    """Reprint set: newsmon and baseline scores per level and overall, and wall pages merged."""
    t0 = time.perf_counter()
    originals = load_originals()
    data = build_reprint_set(originals, variants, seed, commentary)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        ours = run_newsmon(data.documents, Path(tmp) / "reprints.duckdb")
    t2 = time.perf_counter()
    base = run_baseline(data.documents)
    t3 = time.perf_counter()
    n_gold = len({data.gold[d.id] for d in data.documents if data.level[d.id] == "original"})
    print(
        f"\nReprints: {len(originals)} originals in {n_gold} gold stories, {variants} variant(s) per level,"
        f" {sum(1 for v in data.level.values() if v == 'wall')} wall pages; built in {t1 - t0:.0f} s,"
        f" newsmon {t2 - t1:.0f} s, baseline {t3 - t2:.0f} s"
    )
    results: dict[str, dict] = {}
    docs = {d.id: d for d in data.documents}
    for lv in LEVELS:
        items = [d.id for d in data.documents if data.level[d.id] in ("original", lv)]
        results[lv] = {
            name: pair_scores(data.gold, pred, items) for name, pred in (("newsmon", ours), ("baseline", base))
        }
        if show:
            show_errors(lv, data.gold, ours, items, docs, show)
    items = [d.id for d in data.documents if data.level[d.id] != "wall"]
    results["all levels"] = {
        name: pair_scores(data.gold, pred, items) for name, pred in (("newsmon", ours), ("baseline", base))
    }
    walls = [d.id for d in data.documents if data.level[d.id] == "wall"]
    merged = {}
    for name, pred in (("newsmon", ours), ("baseline", base)):
        size = defaultdict(int)
        for label in pred.values():
            size[label] += 1
        merged[name] = sum(1 for w in walls if size[pred[w]] > 1)
    return results, merged


def main(argv: Sequence[str] | None = None) -> None:
    """Print the quality table (newsmon and baseline), then the cost at scale."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", type=int, default=1, help="variants per original and level (default 1)")
    parser.add_argument("--feeds", choices=("replay", "summer", "both"), default="replay")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="index sizes for the cost sweep")
    parser.add_argument("--scale-batches", type=int, default=3, help="timed batches of 500 per size")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--show", type=int, default=0, help="print this many error pairs per set")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        sys.exit(f"benchmarks.dedupe: {DATA} is absent: the real data must sit in ../shared/data")
    t_start = time.perf_counter()
    if not args.skip_quality:
        feed_scores, traps = evaluate_feeds(args.feeds, args.show)
        entries = load_feed_entries("replay")
        blurbs = (plain_text(e.get("description")) for e in entries)
        commentary = [b for b in blurbs if 25 <= len(b.split()) <= 80]  # one paragraph of added text
        level_scores, walls = evaluate_reprints(args.variants, args.seed, args.show, commentary[:5000])
        print(
            f"\n  {'set':<22} {'system':<9} {'precision':>9} {'recall':>7} {'F1':>7} {'ARI':>7} {'items':>7}"
            f" {'gold prs':>8} {'pred prs':>8}"
        )
        rows = [("syndication", feed_scores)] + [(lv, level_scores[lv]) for lv in (*LEVELS, "all levels")]
        for name, scores in rows:
            for system in ("newsmon", "baseline"):
                print(_row(name, system, scores[system]))
        for system in ("newsmon", "baseline"):
            tp = feed_scores[system]["tp"] + level_scores["all levels"][system]["tp"]
            pred = feed_scores[system]["pred_pairs"] + level_scores["all levels"][system]["pred_pairs"]
            share = tp / pred if pred else 1.0
            print(f"  overall precision {system:<9} {share:.4f} ({tp} of {pred} merged pairs)")
        print(f"  trap pairs merged (same summary, other headline): {traps['newsmon']}, baseline {traps['baseline']}")
        print(f"  boilerplate pages merged with anything: newsmon {walls['newsmon']}, baseline {walls['baseline']}")
    if not args.skip_scale:
        run_scale([int(s) for s in args.sizes.split(",") if s], args.scale_batches, args.seed)
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
