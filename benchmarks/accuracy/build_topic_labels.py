"""The candidate list of the held-out topic labels, and the loader that joins labels to texts.

The labels in ``topics-labels.jsonl`` were judged by hand; this script does not make them.
It re-creates, deterministically, the list of candidate items they were judged on, and
joins a labels file to the texts in ``../shared/data`` (texts are never stored here).

Windows (neither was used to write the shipped topic rules, which were written on
``labels/topics-dev.jsonl`` and ``feeds-archive/replay-2023-05.jsonl.gz``):

* ``feeds-archive/rss-2023-summer.jsonl.gz``: English feed items, June to August 2023.
  Text = headline + feed summary with HTML stripped.
* ``documents/wh-2023.jsonl.gz``: White House briefing-room documents of 2023. Labelled on
  the title and the first ~1,500 characters; the text scored is the full document.

Excluded: every item whose link (or, for the feed window, whose normalised headline) also
occurs in ``labels/topics-dev.jsonl``; repeats of a headline already taken (syndicated
copies) and White House documents whose text repeats an earlier one (cross-posted).

Sampling, seeded with :data:`SEED`, per topic: a pool of keyword hits (broad on purpose, so
that positives and hard negatives are both plentiful), drawn from a *core* stratum (the
keyword beside a word that makes a positive likely) and from the rest; plus a random sample
of each window for the base rate. See :data:`PLAN` for the sizes. Every candidate is judged
for all three topics.

The fresh set (``topics-labels-fresh.jsonl``, all of it held out) is drawn by
``fresh-candidates`` from the White House window only, minus every document of the first
set: pools of :data:`FRESH_PLAN`, seeded with :data:`FRESH_SEED`. Its items were judged on
the title, the first ~1,500 characters and every later paragraph with a topic keyword
(:func:`reading_text`); the text scored is the full document.

Examples (from the repository root)::

    .venv/bin/python -m benchmarks.accuracy.build_topic_labels candidates --output /tmp/c.jsonl
    .venv/bin/python -m benchmarks.accuracy.build_topic_labels check
    .venv/bin/python -m benchmarks.accuracy.build_topic_labels fresh-candidates --output /tmp/f.jsonl
    .venv/bin/python -m benchmarks.accuracy.build_topic_labels check \
        --labels benchmarks/accuracy/topics-labels-fresh.jsonl
    .venv/bin/python -m benchmarks.accuracy.build_topic_labels stream-candidates --output /tmp/s.jsonl

The stream set (``topics-labels-stream.jsonl``, all of it held out) is drawn by
``stream-candidates`` from the summer feed window minus both earlier sets: every item that
release :data:`STREAM_RELEASE` tags, then keyword pools of :data:`STREAM_PLAN` (strata and
their sizes in :data:`STREAM_STRATA`). Its audit (``topics-labels-stream-audit.jsonl``) holds
the tags a later commit made outside it, judged the same way among decoys.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if not __package__ and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from newsmon.errors import InputError  # noqa: E402
from newsmon.feeds import plain_text  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
FEEDS = "feeds-archive/rss-2023-summer.jsonl.gz"
WH = "documents/wh-2023.jsonl.gz"
DEV_LABELS = "labels/topics-dev.jsonl"
LABELS = Path(__file__).resolve().parent / "topics-labels.jsonl"
FRESH = Path(__file__).resolve().parent / "topics-labels-fresh.jsonl"
TOPICS = ("central-asia-diplomacy", "russia-sanctions", "covid-origins")
SEED = 20230601
LABEL_CHARS = 1500  # a White House document is judged on its title and this many characters

_CA = (
    r"\b(kazakh\w*|kyrgyz\w*|tajik\w*|turkmen\w*|uzbek\w*|astana|almaty|bishkek|dushanbe|ashgabat|"
    r"tashkent|samarkand|tokayev|nazarbayev|mirziyoyev|japarov|rahmon|berdimuhamedov|central asia\w*|"
    r"c5\+1|shanghai cooperation|sco summit|csto)"
)
_SANCTIONS = r"(sanction\w*|export control\w*|export ban\w*|price cap\w*)"
_COVID = r"\b(covid\w*|coronavirus\w*|sars-cov-2|wuhan|lab[- ]leak\w*|pandemic origin\w*)"
KEYWORDS: dict[str, re.Pattern[str]] = {
    "central-asia-diplomacy": re.compile(_CA, re.IGNORECASE),
    "russia-sanctions": re.compile(_SANCTIONS, re.IGNORECASE),
    "covid-origins": re.compile(_COVID, re.IGNORECASE),
}
# A keyword hit that also has one of these is in the topic's core stratum.
CORE: dict[str, re.Pattern[str]] = {
    "central-asia-diplomacy": re.compile(r".", re.DOTALL),
    "russia-sanctions": re.compile(r"(russia\w*|moscow|kremlin|putin|rouble|ruble|oligarch)", re.IGNORECASE),
    "covid-origins": re.compile(
        r"(wuhan|lab[- ]leak|origin|gain[- ]of[- ]function|ecohealth|fauci|intelligence)", re.IGNORECASE
    ),
}

# The fresh set (``fresh-candidates``): White House documents only, none of the first set.
FRESH_SEED = 20231231
FRESH_LABELLED_ON = "title + first 1,500 characters + every paragraph with a topic keyword"
FRESH_SCORED_TEXT = "title + full document text"
_RUSSIA_WORD = re.compile(r"\b(russia\w*|moscow|kremlin|putin\w*)", re.IGNORECASE)
_SANCTIONS_WORD = re.compile(r"(sanction\w*|export[- ]control\w*|price[- ]cap\w*|assets? freez\w*)", re.IGNORECASE)
_SANCTION_ONLY = re.compile(r"sanction\w*", re.IGNORECASE)
_CA_WORD = re.compile(_CA + r"|\bsco\b", re.IGNORECASE)
_COVID_WORD = re.compile(r"\b(covid\w*|coronavirus\w*|sars-cov-2)", re.IGNORECASE)
_ORIGIN_WORD = re.compile(r"(wuhan|lab[- ]leak\w*|\borigins?\b|gain[- ]of[- ]function|intelligence)", re.IGNORECASE)
# A paragraph with one of these is read to judge a fresh item, wherever it sits in the text;
# so is one with a Russia word beside a word of trade measures (:data:`READ_TRADE`).
READ_KEYWORDS = re.compile(
    _CA + r"|\bsco\b|sanction\w*|export[- ](control|ban)\w*|price[- ]cap\w*|assets? freez\w*|frozen assets?"
    r"|block(ing|ed) property|embargo\w*"
    r"|\b(covid\w*|coronavirus\w*|sars-cov-2|wuhan|lab[- ]leak\w*|pandemic origin\w*)",
    re.IGNORECASE,
)
READ_TRADE = re.compile(r"\b(tariff|import|export|ban|restrict|freez|frozen|duty|duties|oil\b|asset)\w*", re.IGNORECASE)
# (pool, how many; None = every remaining document), drawn in this order, each from the
# documents no earlier pool took.
FRESH_PLAN: tuple[tuple[str, int | None], ...] = (
    ("russia-sanctions", 110),
    ("sanctions-not-russia", 30),
    ("russia-not-sanctions", 30),
    ("central-asia-diplomacy", None),
    ("covid-origins", None),
    ("covid-other", 15),
    ("random", 30),
)
# The stream set (``stream-candidates``): the summer feed window minus both sets above. Its
# first pool is every item the tagger of :data:`STREAM_RELEASE` tags (so that every tag that
# release makes on the unlabelled stream is judged); the others are keyword pools, drawn in
# this order, each from the items no earlier pool took. Labellers were not told the pools.
STREAM = Path(__file__).resolve().parent / "topics-labels-stream.jsonl"
# Tags a later commit made on the stream outside the stream set, judged the same way (mixed with
# as many unlabelled decoys of the keyword pools, so that readers could not tell them apart).
STREAM_AUDIT = Path(__file__).resolve().parent / "topics-labels-stream-audit.jsonl"
STREAM_AUDIT_LABELLED_ON = "headline + summary, tagged items mixed with decoys"
STREAM_SEED = 20230831
STREAM_RELEASE = "2f765b9"
STREAM_LABELLED_ON = "headline + summary, pools not shown"
# Matched on lower-cased text (twice as fast as IGNORECASE over 160,000 items).
_STREAM_RUSSIA = re.compile(r"\b(russia\w*|moscow|kremlin|putin\w*|rouble\w*|ruble\w*|oligarch\w*)")
_STREAM_SANCTIONS = re.compile(_SANCTIONS)
_STREAM_COVID = re.compile(_COVID)
_STREAM_TRADE = re.compile(
    r"\b(embargo\w*|blacklist\w*|frozen|freez\w*|seiz\w*|ban|bans|banned|tariff\w*|import\w*|export\w*"
    r"|wagner|prigozhin|diamond\w*|shadow fleet|swift|assets?)\b"
)
_STREAM_CA = re.compile(_CA + r"|\b(sco|caspian|eurasian economic union|eaeu|baikonur|fergana|aral sea)\b")
# The strata of the eligible stream (162,694 items): each item is in the first pool of
# :data:`STREAM_PLAN` whose rule it meets ("rest": none), and these are the strata's sizes.
# With them, the set's figures can be weighted back to the whole stream (:func:`stream_stratum`).
STREAM_STRATA = {
    "tagged": 40,
    "central-asia-words": 7,
    "sanctions-not-russia": 295,
    "russia-trade": 1554,
    "russia-other": 4683,
    "covid-other": 1644,
    "rest": 154471,
}
STREAM_PLAN: tuple[tuple[str, int | None], ...] = (
    ("tagged", None),
    ("central-asia-words", None),
    ("sanctions-not-russia", 70),
    ("russia-trade", 80),
    ("russia-other", 30),
    ("covid-other", 60),
    ("random", 40),
)
# (pool, source, stratum) -> how many to draw; None = all of them.
PLAN: dict[tuple[str, str, str], int | None] = {
    ("central-asia-diplomacy", FEEDS, "core"): None,
    ("central-asia-diplomacy", WH, "core"): None,
    ("central-asia-diplomacy", WH, "rest"): None,
    ("russia-sanctions", FEEDS, "core"): None,
    ("russia-sanctions", FEEDS, "rest"): 40,
    ("russia-sanctions", WH, "core"): 12,
    ("russia-sanctions", WH, "rest"): 8,
    ("covid-origins", FEEDS, "core"): None,
    ("covid-origins", FEEDS, "rest"): 45,
    ("covid-origins", WH, "core"): 8,
    ("covid-origins", WH, "rest"): 8,
    ("random", FEEDS, "all"): 80,
    ("random", WH, "all"): 15,
}


def shared_dir(shared: Path = SHARED) -> Path:
    """The shared data folder, or an :class:`InputError` saying it is needed."""
    if not (shared / FEEDS).is_file() or not (shared / WH).is_file():
        raise InputError(
            f"no shared data at {shared}: the topic labels need ../shared/data ({FEEDS}, {WH}) beside the checkout"
        )
    return shared


def sha1(text: str) -> str:
    """The id of an item: the sha1 of its link (feed) or source URL (White House)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _norm_title(title: str) -> str:
    return " ".join(re.sub(r"[^\w ]+", " ", title.lower()).split())


def reading_text(text: str, chars: int = LABEL_CHARS) -> str:
    """What a fresh item is judged on besides its title.

    The first ``chars`` characters, carried on to the end of the paragraph they stop in, then
    every later paragraph (paragraphs are separated by blank lines) with a
    :data:`READ_KEYWORDS` hit or a Russia word beside a :data:`READ_TRADE` word, in order,
    separated by blank lines.
    """
    parts: list[str] = []
    head_end = 0
    start = 0
    for paragraph in re.split(r"\n\s*\n", text):
        begin = text.find(paragraph, start)
        start = begin + len(paragraph)
        if begin < chars:
            head_end = start
        elif READ_KEYWORDS.search(paragraph) or (_RUSSIA_WORD.search(paragraph) and READ_TRADE.search(paragraph)):
            parts.append(paragraph)
    head_end = max(head_end, min(chars, len(text)))  # a cut inside a paragraph break keeps its blanks
    return "\n\n".join([text[:head_end], *parts])


def read_records(shared: Path, source: str, ids: set[str] | None = None) -> Iterator[dict[str, Any]]:
    """The records of one window as ``{id, source, link, date_published, title, text, label_text}``.

    ``text`` is what is scored (feed: summary; White House: the full document) and
    ``label_text`` what was read to judge it (feed: the same; White House: the first
    :data:`LABEL_CHARS` characters). With ``ids``, only those records are made.
    """
    with gzip.open(shared / source, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if source == FEEDS:
                link = record.get("link") or ""
                if ids is not None and sha1(link) not in ids:
                    continue
                text = plain_text(record.get("description"))
                yield {
                    "id": sha1(link),
                    "source": source,
                    "link": link,
                    "date_published": record.get("date_published"),
                    "title": plain_text(record.get("title")),
                    "text": text,
                    "label_text": text,
                }
            else:
                if ids is not None and sha1(record["source_url"]) not in ids:
                    continue
                text = record.get("text") or ""
                yield {
                    "id": sha1(record["source_url"]),
                    "source": source,
                    "link": record["source_url"],
                    "date_published": record.get("date"),
                    "title": record.get("title") or "",
                    "text": text,
                    "label_text": text[:LABEL_CHARS],
                }


def _dev_keys(shared: Path) -> tuple[set[str], set[str]]:
    links, titles = set(), set()
    with (shared / DEV_LABELS).open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            links.add(record["link"])
            titles.add(_norm_title(plain_text(record.get("title"))))
    return links, titles


def _eligible(shared: Path, source: str, dev_links: set[str], dev_titles: set[str]) -> list[dict[str, Any]]:
    """The window's records minus dev items and repeats, in file order."""
    seen: set[str] = set()
    out = []
    for record in read_records(shared, source):
        if record["link"] in dev_links:
            continue
        key = _norm_title(record["title"]) if source == FEEDS else hashlib.sha256(record["text"].encode()).hexdigest()
        if source == FEEDS and (not key or key in dev_titles):
            continue
        if key in seen:
            continue
        seen.add(key)
        out.append(record)
    return out


def _hits(record: dict[str, Any], topic: str) -> str | None:
    """The stratum of a record in a topic's keyword pool, or None when it is not in it.

    The feed window is matched on headline + summary; a White House document on its title
    and whole text (its core stratum needs the hit in what is read to judge it).
    """
    head = f"{record['title']} {record['label_text']}"
    full = f"{record['title']} {record['text']}"
    pattern = KEYWORDS[topic]
    if not pattern.search(full):
        return None
    if not pattern.search(head):
        return "rest"
    return "core" if CORE[topic].search(head) else "rest"


def candidates(shared: Path = SHARED) -> list[dict[str, Any]]:
    """The candidate items, each ``{id, source, link, date_published, pool}``, in a seeded order.

    An item drawn by several pools keeps the first pool in the order of :data:`PLAN`.
    """
    shared = shared_dir(shared)
    dev_links, dev_titles = _dev_keys(shared)
    chosen: dict[str, dict[str, Any]] = {}
    for source in (FEEDS, WH):
        records = _eligible(shared, source, dev_links, dev_titles)
        for (pool, plan_source, stratum), size in PLAN.items():
            if plan_source != source:
                continue
            group = records if pool == "random" else [r for r in records if _hits(r, pool) == stratum]
            rng = random.Random(f"{SEED}:{pool}:{source}:{stratum}")
            picked = group if size is None or size >= len(group) else rng.sample(group, size)
            for record in picked:
                chosen.setdefault(record["id"], _candidate(record, source, pool))
    return _shuffled(chosen, SEED)


def _candidate(record: dict[str, Any], source: str, pool: str) -> dict[str, Any]:
    """A candidate row: ``{id, source, link, date_published, pool}``."""
    return {
        "id": record["id"],
        "source": source,
        "link": record["link"],
        "date_published": record["date_published"],
        "pool": pool,
    }


def _shuffled(chosen: dict[str, dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """The candidates in a seeded order (sorted by id, then shuffled)."""
    order = sorted(chosen)
    random.Random(seed).shuffle(order)
    return [chosen[i] for i in order]


def _fresh_pool(record: dict[str, Any], pool: str) -> bool:
    """Whether a White House document belongs to a pool of :data:`FRESH_PLAN` (title + full text)."""
    full = f"{record['title']}\n{record['text']}"
    russia = bool(_RUSSIA_WORD.search(full))
    if pool == "russia-sanctions":
        return russia and bool(_SANCTIONS_WORD.search(full))
    if pool == "sanctions-not-russia":
        return not russia and bool(_SANCTION_ONLY.search(full))
    if pool == "russia-not-sanctions":
        return russia and not _SANCTIONS_WORD.search(full)
    if pool == "central-asia-diplomacy":
        return bool(_CA_WORD.search(full))
    if pool == "covid-origins":
        return bool(_COVID_WORD.search(full)) and bool(_ORIGIN_WORD.search(full))
    if pool == "covid-other":
        return bool(_COVID_WORD.search(full))
    return pool == "random"


def fresh_candidates(shared: Path = SHARED, first: Path = LABELS) -> list[dict[str, Any]]:
    """The candidates of the fresh set, each ``{id, source, link, date_published, pool}``, seeded.

    White House documents of 2023 minus ``topics-dev`` links, minus every document of the
    first set (``first``, by id) or whose text repeats one of them, minus repeated texts;
    then the pools of :data:`FRESH_PLAN` in order, each drawn at random (seeded with
    :data:`FRESH_SEED`) from the documents no earlier pool took.
    """
    shared = shared_dir(shared)
    dev_links, _ = _dev_keys(shared)
    first_ids = {r["id"] for r in read_labels(first)}
    records = list(read_records(shared, WH))
    first_texts = {hashlib.sha256(r["text"].encode()).hexdigest() for r in records if r["id"] in first_ids}
    seen: set[str] = set()
    eligible = []
    for record in records:
        digest = hashlib.sha256(record["text"].encode()).hexdigest()
        if record["id"] in first_ids or record["link"] in dev_links or digest in first_texts or digest in seen:
            continue
        seen.add(digest)
        eligible.append(record)
    chosen: dict[str, dict[str, Any]] = {}
    for pool, size in FRESH_PLAN:
        group = [r for r in eligible if r["id"] not in chosen and _fresh_pool(r, pool)]
        rng = random.Random(f"{FRESH_SEED}:{pool}")
        picked = group if size is None or size >= len(group) else rng.sample(group, size)
        for record in picked:
            chosen[record["id"]] = _candidate(record, WH, pool)
    return _shuffled(chosen, FRESH_SEED)


def _stream_pools(record: dict[str, Any]) -> tuple[str, ...]:
    """The keyword pools of :data:`STREAM_PLAN` a feed item meets (headline + summary), in order,
    then ``random`` (which takes any item)."""
    text = f"{record['title']} {record['text']}".lower()
    russia = bool(_STREAM_RUSSIA.search(text))
    sanctions = bool(_STREAM_SANCTIONS.search(text))
    met = {
        "central-asia-words": bool(_STREAM_CA.search(text)),
        "sanctions-not-russia": sanctions and not russia,
        "russia-trade": russia and not sanctions and bool(_STREAM_TRADE.search(text)),
        "russia-other": russia and not sanctions,
        "covid-other": bool(_STREAM_COVID.search(text)),
    }
    return (*(pool for pool, _size in STREAM_PLAN if met.get(pool)), "random")


def stream_stratum(record: dict[str, Any], tagged: set[str]) -> str:
    """The stratum of :data:`STREAM_STRATA` a feed item (``id``, ``title``, ``text``) belongs to."""
    if record["id"] in tagged:
        return "tagged"
    first = _stream_pools(record)[0]
    return "rest" if first == "random" else first


def stream_eligible(shared: Path = SHARED, labelled: Sequence[Path] = (LABELS, FRESH)) -> list[dict[str, Any]]:
    """The summer feed items no labels file holds (minus dev items and repeated headlines)."""
    shared = shared_dir(shared)
    dev_links, dev_titles = _dev_keys(shared)
    taken = {r["id"] for path in labelled for r in read_labels(path)}
    return [r for r in _eligible(shared, FEEDS, dev_links, dev_titles) if r["id"] not in taken]


def release_tags(records: Sequence[dict[str, Any]], commit: str = STREAM_RELEASE) -> set[str]:
    """The ids of the feed items that the default topics of ``commit`` tag with any topic."""
    # Imported here: benchmarks.accuracy.topics imports this module.
    from benchmarks.accuracy.topics import tags_by, unlabelled

    return {document_id for document_id, _topic in tags_by(commit, unlabelled(records))}


def stream_candidates(
    shared: Path = SHARED, tagged: set[str] | None = None, records: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The candidates of the stream set, each ``{id, source, link, date_published, pool}``, seeded.

    The summer feed items that neither earlier set holds; first every item that the release
    :data:`STREAM_RELEASE` tags (``tagged``: those ids, when already known; else that release
    is checked out and run, about a minute), then the keyword pools of :data:`STREAM_PLAN` in
    order, each drawn at random (seeded with :data:`STREAM_SEED`) from the items no earlier
    pool took. ``records``: the :func:`stream_eligible` items, when already read.
    """
    records = stream_eligible(shared) if records is None else records
    if tagged is None:
        tagged = release_tags(records)
    pools = {r["id"]: _stream_pools(r) for r in records}
    chosen: dict[str, dict[str, Any]] = {}
    for pool, size in STREAM_PLAN:
        if pool == "tagged":
            group = [r for r in records if r["id"] in tagged]
        else:
            group = [r for r in records if r["id"] not in chosen and pool in pools[r["id"]]]
        rng = random.Random(f"{STREAM_SEED}:{pool}")
        picked = group if size is None or size >= len(group) else rng.sample(group, size)
        for record in picked:
            chosen[record["id"]] = _candidate(record, FEEDS, pool)
    return _shuffled(chosen, STREAM_SEED)


def load_items(path: Path = LABELS, shared: Path = SHARED) -> list[dict[str, Any]]:
    """The labelled items of ``path`` joined to their texts in ``shared``.

    Each item is its labels record plus ``title``, ``text`` (the text to score: a feed
    item's summary, a White House document's full text) and ``label_text`` (what was read
    to judge it: for an item of the fresh set, whose ``labelled_on`` is
    :data:`FRESH_LABELLED_ON`, the :func:`reading_text` of the document). Raises :class:`InputError` when the
    shared data is absent or an item's text cannot be found there.
    """
    shared = shared_dir(shared)
    items = read_labels(path)
    wanted: dict[str, set[str]] = {}
    for item in items:
        wanted.setdefault(item["source"], set()).add(item["id"])
    texts: dict[str, dict[str, Any]] = {}
    for source, ids in wanted.items():
        if source not in (FEEDS, WH):
            raise InputError(f"{path}: unknown source {source!r}")
        for record in read_records(shared, source, ids):
            if record["id"] not in texts:
                texts[record["id"]] = record
    missing = [item["id"] for item in items if item["id"] not in texts]
    if missing:
        raise InputError(
            f"{path}: {len(missing)} items not found in {shared} (first: {missing[0]}): is it another data version?"
        )
    joined = []
    for item in items:
        record = texts[item["id"]]
        label_text = record["label_text"]
        if item.get("labelled_on") == FRESH_LABELLED_ON:
            label_text = reading_text(record["text"])
        joined.append({**item, "title": record["title"], "text": record["text"], "label_text": label_text})
    return joined


def keyword_hit(item: dict[str, Any], topic: str) -> bool:
    """Whether what was read to judge the item (title + ``label_text``) has a keyword of the topic."""
    return bool(KEYWORDS[topic].search(f"{item['title']} {item['label_text']}"))


def kind_of(item: dict[str, Any]) -> str:
    """``positive`` (labelled for a topic), ``hard_negative`` (no label, but a keyword hit for a
    topic in what was read) or ``random`` (neither)."""
    if item["labels"]:
        return "positive"
    if any(keyword_hit(item, topic) for topic in TOPICS):
        return "hard_negative"
    return "random"


def assign_splits(items: Sequence[dict[str, Any]], dev_share: int = 3) -> dict[str, str]:
    """A seeded split stratified by labels, kind and ambiguity: ``{id: "dev" | "test"}``.

    Within each stratum, items are ordered by ``sha256(SEED:id)`` and every ``dev_share``-th
    one, starting with the first, goes to dev (about a third). It was run once, on the first
    labelling pass; the split of an item never changes afterwards, even when a later pass
    changes its labels (so a stratum can drift a little from a third).
    """
    strata: dict[tuple[tuple[str, ...], str, bool], list[str]] = {}
    for item in items:
        key = (tuple(sorted(item["labels"])), item["kind"], bool(item["ambiguous"]))
        strata.setdefault(key, []).append(item["id"])
    split = {}
    for ids in strata.values():
        ordered = sorted(ids, key=lambda i: hashlib.sha256(f"{SEED}:{i}".encode()).hexdigest())
        for rank, item_id in enumerate(ordered):
            split[item_id] = "dev" if rank % dev_share == 0 else "test"
    return split


def test_split_sha256(items: Sequence[dict[str, Any]]) -> str:
    """SHA-256 of the test split: one line ``id<TAB>labels<TAB>ambiguous`` per test item, sorted by id.

    ``labels`` is the sorted labels joined by commas, ``ambiguous`` is ``0`` or ``1``; lines
    end with a newline.
    """
    lines = sorted(
        f"{item['id']}\t{','.join(sorted(item['labels']))}\t{int(bool(item['ambiguous']))}\n"
        for item in items
        if item["split"] == "test"
    )
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def read_labels(path: Path) -> list[dict[str, Any]]:
    """The records of a labels file (JSON Lines), without their texts."""
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _labelled_on(path: Path) -> str | None:
    """How a labels file's items were read (its first record's ``labelled_on``), or None if empty."""
    with path.open(encoding="utf-8") as lines:
        return next((json.loads(line).get("labelled_on") for line in lines if line.strip()), None)


def audit_candidates(path: Path = STREAM_AUDIT) -> list[dict[str, Any]]:
    """The stream audit's items as candidates, once checked: each is an eligible item of the summer
    stream, none is in the stream set, none repeats (its items were drawn from a commit's tags,
    so the file itself is their list). Raises :class:`InputError` otherwise."""
    records = read_labels(path)
    in_set = {r["id"] for r in read_labels(STREAM)}
    eligible = {r["id"] for r in stream_eligible()}
    counts = Counter(r["id"] for r in records)
    wrong = [i for i, n in counts.items() if n > 1 or i not in eligible or i in in_set]
    if wrong:
        raise InputError(f"{path}: {len(wrong)} items are not new eligible stream items (first: {wrong[0]})")
    return [{k: r[k] for k in ("id", "source", "link", "date_published", "pool")} for r in records]


def _candidates_for(command: str, labels: Path | None) -> list[dict[str, Any]]:
    """The candidate list a sub-command writes, or that ``check`` checks ``labels`` against."""
    kind = _labelled_on(labels) if command == "check" and labels is not None else None
    if kind == STREAM_AUDIT_LABELLED_ON and labels is not None:
        return audit_candidates(labels)
    if command == "stream-candidates" or kind == STREAM_LABELLED_ON:
        return stream_candidates()
    if command == "fresh-candidates" or kind == FRESH_LABELLED_ON:
        return fresh_candidates()
    return candidates()


def main(argv: Sequence[str] | None = None) -> int:
    """``candidates`` / ``fresh-candidates`` / ``stream-candidates``: write a candidate list;
    ``check``: a labels file against its candidate list (the audit's: its own, once checked), and
    its counts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("candidates", help="write the candidate list (JSON Lines)")
    make.add_argument("--output", type=Path, required=True)
    check = commands.add_parser("check", help="check the labels file and print its counts and test hash")
    check.add_argument("--labels", type=Path, default=LABELS)
    fresh = commands.add_parser("fresh-candidates", help="write the candidate list of the fresh set (JSON Lines)")
    fresh.add_argument("--output", type=Path, required=True)
    stream = commands.add_parser(
        "stream-candidates", help=f"write the candidate list of the stream set (runs release {STREAM_RELEASE}'s tagger)"
    )
    stream.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        found = _candidates_for(args.command, getattr(args, "labels", None))
    except InputError as err:
        print(f"build_topic_labels: {err}", file=sys.stderr)
        return 2
    if args.command in ("candidates", "fresh-candidates", "stream-candidates"):
        with args.output.open("w", encoding="utf-8") as out:
            for candidate in found:
                out.write(json.dumps(candidate, ensure_ascii=False) + "\n")
        print(f"{len(found)} candidates -> {args.output}")
        return 0
    by_id = {c["id"]: c for c in found}
    items = load_items(args.labels)
    strays = [i["id"] for i in items if i["id"] not in by_id]
    if strays:
        print(f"{len(strays)} labelled items are not candidates (first {strays[0]})", file=sys.stderr)
        return 1
    for split in ("dev", "test", "all"):
        for topic in TOPICS:
            scored = [
                i
                for i in items
                if (split == "all" or i["split"] == split) and topic in i["judged"] and not i["ambiguous"]
            ]
            ambiguous = sum(
                1 for i in items if (split == "all" or i["split"] == split) and topic in i["judged"] and i["ambiguous"]
            )
            positives = sum(1 for i in scored if topic in i["labels"])
            hard = sum(1 for i in scored if topic not in i["labels"] and keyword_hit(i, topic))
            print(
                f"{split:4} {topic:24} judged {len(scored) + ambiguous:4}  scored {len(scored):4}  "
                f"positives {positives:4}  hard negatives {hard:4}  ambiguous {ambiguous:3}"
            )
    print(f"labelled {len(items)} of {len(found)} candidates; test split sha256 {test_split_sha256(items)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
