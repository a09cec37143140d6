"""What the feed columns of ``v_documents`` (tags and language of the delivering feeds) cost.

``python -m benchmarks.views [--docs 200000] [--repeat 5]`` fills a fresh database with
synthetic documents delivered by 200 feeds (one feed item each, a fifth of them by a second
feed), three topic tags per document, and times queries over ``v_documents`` and
``v_topic_daily`` (which reads it) against the same queries over a copy of the view without
the feed join. Prints the median of ``--repeat`` runs per query.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from storage.database import execute, render_view, view_parameters
from storage.store import Store

PLAIN_VIEW = """
CREATE OR REPLACE VIEW v_documents_plain AS
SELECT d.id, d.title, d.source, d.url, d.author, d.origin, d.published_at, d.first_seen_at, m.story_id,
       coalesce(s.canonical_document_id = d.id, false) AS is_canonical, m.similarity, d.extractor, d.extraction,
       d.page_kind, d.language, d.canonical_url, d.source_kind, d.body, d.run_id
FROM documents d
LEFT JOIN story_members m ON m.document_id = d.id
LEFT JOIN stories s ON s.id = m.story_id
"""  # v_documents as it was before the feed columns
QUERIES = {
    "count v_documents": "SELECT count(*) FROM {docs}",
    "language, tags of 1,000 documents": "SELECT language, {tags} FROM {docs} ORDER BY id LIMIT 1000",
    "documents by language": "SELECT language, count(*) FROM {docs} GROUP BY ALL",
    "v_topic_daily (reads v_documents)": "SELECT count(*), sum(stories) FROM {daily}",
}


def fill(store: Store, docs: int) -> None:
    """Synthetic feeds, documents, stories, feed items and tags (all with SQL, no Python loops)."""
    con = store.con
    execute(
        con,
        "INSERT INTO feeds (url, name, interval_s, tags, active, validators_trusted, validator_churn,"
        " polls_since_full_get, consecutive_failures, next_poll_at, items_total, created_at, run_id, language)"
        " SELECT 'https://f' || i || '.example/', 'f' || i, 1800, ['t' || (i % 7), 'all'], true, true, 0, 0, 0,"
        " now(), 0, now(), 'r', CASE WHEN i % 3 = 0 THEN 'de-DE' ELSE 'en-GB' END FROM range(200) t(i)",
    )
    execute(
        con,
        "INSERT INTO documents (id, url, source, source_kind, title, body, published_at, first_seen_at, updated_at,"
        " content_hash, text_hash, extractor, run_id, updated_run_id, extraction, page_kind, language)"
        " SELECT 'd' || i, 'https://n.example/' || i, 'f' || (i % 200), 'feed', 'title ' || i, 'body ' || i,"
        " now() - to_minutes(i), now() - to_minutes(i), now(), 'c' || i, 't' || i, 'x', 'r', 'r', 'feed-summary',"
        " 'unavailable', CASE WHEN i % 2 = 0 THEN 'en' END FROM range(?) t(i)",
        [docs],
    )
    execute(con, "INSERT INTO stories SELECT 's' || i, 'd' || i, now(), 'r', 'full' FROM range(?) t(i)", [docs])
    execute(
        con,
        "INSERT INTO story_members"
        " SELECT 'd' || i, 's' || i, 1.0, 'new', 'r', now(), NULL, NULL, NULL FROM range(?) t(i)",
        [docs],
    )
    execute(
        con,
        "INSERT INTO feed_items SELECT 'https://f' || (i % 200) || '.example/', 'k' || i, 'd' || i, 'c', now(), 'r'"
        " FROM range(?) t(i)",
        [docs],
    )
    execute(
        con,
        "INSERT INTO feed_items SELECT 'https://f' || ((i + 1) % 200) || '.example/', 'k' || i, 'd' || i, 'c', now(),"
        " 'r' FROM range(0, ?, 5) t(i)",
        [docs],
    )
    execute(
        con,
        "INSERT INTO document_topics (document_id, topic, topic_version, score, evidence, clause, run_id, tagged_at)"
        " SELECT 'd' || i, 'topic' || j, 'v1', 0.5, 'e', 'c', 'r', now() FROM range(?) t(i), range(3) u(j)",
        [docs],
    )
    execute(  # the tags' version in force: without it v_document_topics, and so v_topic_daily, is empty
        con,
        "INSERT INTO topic_versions (topic, version, name, description, definition, is_current, first_seen_at, run_id)"
        " SELECT 'topic' || j, 'v1', 'Topic ' || j, '', '{}', true, now(), 'r' FROM range(3) u(j)",
    )
    execute(con, PLAIN_VIEW)
    daily = render_view(load_view("040_v_topic_daily"), view_parameters())
    execute(con, daily.replace("v_documents", "v_documents_plain").replace("v_topic_daily", "v_topic_daily_plain"))
    execute(con, "CHECKPOINT")


def load_view(name: str) -> str:
    """The SQL of one of ``storage/views``."""
    return (Path(__file__).resolve().parents[1] / "storage" / "views" / f"{name}.sql").read_text(encoding="utf-8")


def timed(store: Store, sql: str, repeat: int) -> float:
    """Median seconds of ``repeat`` runs of a query."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        store.con.execute(sql).fetchall()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    """Build the database, time each query with and without the feed join, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open_writer(Path(folder) / "views.duckdb")
        try:
            t0 = time.perf_counter()
            fill(store, args.docs)
            print(f"{args.docs:,} documents, {args.docs * 6 // 5:,} feed items from 200 feeds,"
                  f" {args.docs * 3:,} tags: filled in {time.perf_counter() - t0:.1f} s")  # fmt: skip
            print(f"{'query':<38} {'with feed join':>15} {'without':>10}")
            for name, sql in QUERIES.items():
                joined = sql.format(docs="v_documents", tags="tags", daily="v_topic_daily")
                with_join = timed(store, joined, args.repeat)
                plain = sql.format(docs="v_documents_plain", tags="NULL AS tags", daily="v_topic_daily_plain")
                without = timed(store, plain, args.repeat)
                print(f"{name:<38} {with_join * 1000:>12.1f} ms {without * 1000:>7.1f} ms")
        finally:
            store.close(snapshot=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
