-- The stories each of the alerts $alert_ids announced: the stories of the tags it marked
-- alerted, the most copied first.
SELECT DISTINCT
    t.alert_id,
    m.story_id,
    s.canonical_title AS title,
    s.documents
FROM document_topics t
JOIN story_members m ON m.document_id = t.document_id
JOIN v_stories s ON s.story_id = m.story_id
WHERE t.alert_id IN (SELECT unnest($alert_ids))
ORDER BY t.alert_id, s.documents DESC, m.story_id
