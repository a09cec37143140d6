-- The stories each of the alerts $alert_ids announced: the stories of the tags it marked
-- alerted, those new to the topic first (as the digest lists them), then the most copied.
-- is_new: this alert is the first to announce the story for its topic's version, as the alert
-- stage decided it: no copy's tag of that version was alerted before (in the order runs started,
-- which a replay's clock does not change), nor marked by a backfill; otherwise the alert
-- announced new copies of a story the topic had.
WITH announced AS (
    SELECT DISTINCT t.alert_id, t.topic, t.topic_version, m.story_id
    FROM document_topics t
    JOIN story_members m ON m.document_id = t.document_id
    WHERE t.alert_id IN (SELECT unnest($alert_ids))
),
alert_order AS (
    SELECT a.id, row_number() OVER (ORDER BY r.seq NULLS FIRST, a.created_at, a.id) AS n
    FROM alerts a
    LEFT JOIN runs r ON r.id = a.run_id
),
firsts AS (
    -- the first announcement of each (topic, version, story); a tag marked by a backfill (an
    -- alert id that is no alert) comes before every alert
    SELECT t.topic, t.topic_version, m.story_id, min(coalesce(o.n, 0)) AS first_n
    FROM document_topics t
    JOIN story_members m ON m.document_id = t.document_id
    JOIN (SELECT DISTINCT topic, topic_version, story_id FROM announced) k
        ON k.topic = t.topic AND k.topic_version = t.topic_version AND k.story_id = m.story_id
    LEFT JOIN alert_order o ON o.id = t.alert_id
    WHERE t.alert_id IS NOT NULL
    GROUP BY ALL
)
SELECT
    n.alert_id,
    n.story_id,
    s.canonical_title AS title,
    s.documents,
    bool_or(f.first_n = o.n) AS is_new
FROM announced n
JOIN alert_order o ON o.id = n.alert_id
JOIN firsts f USING (topic, topic_version, story_id)
JOIN v_stories s ON s.story_id = n.story_id
GROUP BY n.alert_id, n.story_id, s.canonical_title, s.documents
ORDER BY n.alert_id, is_new DESC, s.documents DESC, n.story_id
