-- Tagged documents (current topic versions) with their story and the day they were first seen.
-- The day (UTC) is that of first sighting, the day newsmon learned of the document: trends and
-- digests count what arrived that day, so items published earlier (a feed's backlog, a late
-- reprint) count on the day they arrived, never on a past day the digest of that day missed.
-- published_at keeps the publication time. is_backlog: published more than {{spike_backlog_days}} days
-- before it was first seen (a new feed's archive, an old page found late): listed, but not counted
-- by the trend, so a backlog arriving in one run is not a surge of news.
CREATE OR REPLACE VIEW v_topic_documents AS
SELECT
    t.topic,
    CAST(timezone('UTC', d.first_seen_at) AS DATE) AS day,
    d.id AS document_id,
    d.story_id,
    d.is_canonical,
    d.source,
    d.title,
    d.url,
    d.published_at,
    d.first_seen_at,
    t.score,
    t.evidence,
    coalesce(d.published_at < d.first_seen_at - to_seconds({{spike_backlog_seconds}}), false) AS is_backlog
FROM v_document_topics t
JOIN v_documents d ON d.id = t.document_id;

-- Per day and topic: documents, unique stories, reprints and distinct sources, backlog left out.
-- reprints: documents beyond one per story that day. The day is the day of first sighting (see
-- v_topic_documents). backlog_stories: stories whose copies first seen that day are all backlog
-- (not counted in stories); backlog_documents: those days' backlog documents. Days without
-- tagged documents have no row (see v_topic_trend).
CREATE OR REPLACE VIEW v_topic_daily AS
WITH per_story AS (  -- per day, topic and story: is every copy first seen that day backlog?
    SELECT
        day,
        topic,
        story_id,
        bool_and(is_backlog) AS backlog,
        count(*) FILTER (WHERE NOT is_backlog) AS documents,
        count(*) FILTER (WHERE is_backlog) AS backlog_documents
    FROM v_topic_documents
    GROUP BY ALL
),
by_story AS (
    SELECT
        day,
        topic,
        sum(documents)::BIGINT AS documents,
        count(story_id) FILTER (WHERE NOT backlog) AS stories,
        count(story_id) FILTER (WHERE backlog) AS backlog_stories,
        sum(backlog_documents)::BIGINT AS backlog_documents
    FROM per_story
    GROUP BY ALL
),
by_source AS (
    SELECT day, topic, count(*) FILTER (WHERE NOT backlog) AS sources
    FROM (SELECT day, topic, source, bool_and(is_backlog) AS backlog FROM v_topic_documents GROUP BY ALL)
    GROUP BY ALL
)
SELECT
    day,
    topic,
    documents,
    stories,
    documents - stories AS reprints,
    sources,
    backlog_stories,
    backlog_documents
FROM by_story
JOIN by_source USING (day, topic);
