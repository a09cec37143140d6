-- The stories each of the alerts $alert_ids announced: the stories of the tags it marked
-- alerted, those new to the topic first (as the digest lists them), then the most copied.
-- is_new: this alert is the first to announce the story for its topic's version (the digest's
-- "new to this topic"); otherwise the alert announced new copies of a story the topic had.
WITH announced AS (
    SELECT DISTINCT t.alert_id, t.topic, t.topic_version, m.story_id
    FROM document_topics t
    JOIN story_members m ON m.document_id = t.document_id
    WHERE t.alert_id IN (SELECT unnest($alert_ids))
),
firsts AS (
    SELECT t.topic, t.topic_version, m.story_id, arg_min(a.id, (a.created_at, a.id)) AS first_alert_id
    FROM document_topics t
    JOIN story_members m ON m.document_id = t.document_id
    JOIN alerts a ON a.id = t.alert_id
    JOIN (SELECT DISTINCT topic, topic_version, story_id FROM announced) k
        ON k.topic = t.topic AND k.topic_version = t.topic_version AND k.story_id = m.story_id
    GROUP BY ALL
)
SELECT
    n.alert_id,
    n.story_id,
    s.canonical_title AS title,
    s.documents,
    bool_or(f.first_alert_id = n.alert_id) AS is_new
FROM announced n
JOIN firsts f USING (topic, topic_version, story_id)
JOIN v_stories s ON s.story_id = n.story_id
GROUP BY n.alert_id, n.story_id, s.canonical_title, s.documents
ORDER BY n.alert_id, is_new DESC, s.documents DESC, n.story_id
