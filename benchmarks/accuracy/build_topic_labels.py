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

Examples (from the repository root)::

    .venv/bin/python -m benchmarks.accuracy.build_topic_labels candidates --output /tmp/c.jsonl
    .venv/bin/python -m benchmarks.accuracy.build_topic_labels check
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import sys
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
                if record["id"] not in chosen:
                    chosen[record["id"]] = {
                        "id": record["id"],
                        "source": source,
                        "link": record["link"],
                        "date_published": record["date_published"],
                        "pool": pool,
                    }
    order = sorted(chosen)
    random.Random(SEED).shuffle(order)
    return [chosen[i] for i in order]


def load_items(path: Path = LABELS, shared: Path = SHARED) -> list[dict[str, Any]]:
    """The labelled items of ``path`` joined to their texts in ``shared``.

    Each item is its labels record plus ``title``, ``text`` (the text to score: a feed
    item's summary, a White House document's full text) and ``label_text`` (what was read
    to judge it). Raises :class:`InputError` when the
    shared data is absent or an item's text cannot be found there.
    """
    shared = shared_dir(shared)
    with path.open(encoding="utf-8") as lines:
        items = [json.loads(line) for line in lines if line.strip()]
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
    return [{**item, **{key: texts[item["id"]][key] for key in ("title", "text", "label_text")}} for item in items]


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


def main(argv: Sequence[str] | None = None) -> int:
    """``candidates``: write the candidate list; ``check``: the labels file against it, and its counts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("candidates", help="write the candidate list (JSON Lines)")
    make.add_argument("--output", type=Path, required=True)
    check = commands.add_parser("check", help="check the labels file and print its counts and test hash")
    check.add_argument("--labels", type=Path, default=LABELS)
    args = parser.parse_args(argv)
    try:
        found = candidates()
    except InputError as err:
        print(f"build_topic_labels: {err}", file=sys.stderr)
        return 2
    if args.command == "candidates":
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
