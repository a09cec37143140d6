-- One row per run, with its counts per stage. kind: `monitor` (run, serve, backfill) or `retag`.
-- documents_backfilled: stored documents a backfill (`newsmon run --since`) re-processed;
-- documents_backfill_changed: those whose text, story or tags changed. tags_new: tags of the
-- run's new documents; tags_retagged: tags a changed topic made on stored documents.
CREATE OR REPLACE VIEW v_runs AS
SELECT
    r.id AS run_id,
    r.started_at,
    r.finished_at,
    r.status,
    r.input,
    r.kind,
    coalesce(sum(s.items_in) FILTER (WHERE s.stage = 'ingest'), 0)::BIGINT AS files_seen,
    coalesce(sum(s.skipped) FILTER (WHERE s.stage = 'ingest'), 0)::BIGINT AS files_skipped,
    coalesce(sum(s.items_in) FILTER (WHERE s.stage = 'feeds'), 0)::BIGINT AS feeds_polled,
    coalesce(sum(s.skipped) FILTER (WHERE s.stage = 'feeds'), 0)::BIGINT AS feeds_failed,
    coalesce(sum(s.items_out) FILTER (WHERE s.stage = 'feeds'), 0)::BIGINT AS feed_items_new,
    coalesce(sum(s.items_out) FILTER (WHERE s.stage = 'store'), 0)::BIGINT AS documents_new,
    coalesce(sum(s.items_out) FILTER (WHERE s.stage = 'dedupe'), 0)::BIGINT AS stories_new,
    coalesce(sum(s.items_out) FILTER (WHERE s.stage = 'tag'), 0)::BIGINT AS tags_new,
    coalesce(sum(s.items_out) FILTER (WHERE s.stage = 'retag'), 0)::BIGINT AS tags_retagged,
    coalesce(sum(s.items_out) FILTER (WHERE s.stage = 'alert'), 0)::BIGINT AS alerts,
    coalesce(sum(s.items_in) FILTER (WHERE s.stage = 'backfill'), 0)::BIGINT AS documents_backfilled,
    coalesce(sum(s.items_out) FILTER (WHERE s.stage = 'backfill'), 0)::BIGINT AS documents_backfill_changed,
    round(epoch(r.finished_at - r.started_at), 3) AS seconds,
    r.error
FROM runs r
LEFT JOIN run_stages s ON s.run_id = r.id
GROUP BY ALL;
