-- One row per review of a topic's tags, with how much of it is judged so far. The labels'
-- figures, weighted back to the store, are printed by `newsmon topics score`.
CREATE OR REPLACE VIEW v_topic_reviews AS
SELECT
    r.id AS review_id,
    r.topic,
    r.topic_version,
    r.drawn_at,
    count(i.document_id) AS drawn,
    count(i.label) AS judged,
    count(*) FILTER (WHERE i.label = 'yes') AS yes,
    count(*) FILTER (WHERE i.label = 'no') AS no,
    count(*) FILTER (WHERE i.label = 'unsure') AS unsure,
    count(*) FILTER (WHERE i.stratum = 'tagged' AND i.label = 'yes') AS tagged_yes,
    count(*) FILTER (WHERE i.stratum = 'tagged' AND i.label = 'no') AS tagged_no,
    max(i.judged_at) AS last_judged_at
FROM topic_reviews r
LEFT JOIN review_items i ON i.review_id = r.id
GROUP BY ALL;
