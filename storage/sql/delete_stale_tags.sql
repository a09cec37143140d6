-- The staged documents' tags of the staged topic versions that the new tagging no longer holds.
DELETE FROM document_topics
WHERE document_id IN (SELECT id FROM staged_documents)
    AND EXISTS (
        SELECT 1 FROM staged_versions v
        WHERE v.topic = document_topics.topic AND v.version = document_topics.topic_version
    )
    AND NOT EXISTS (
        SELECT 1 FROM staged_tag_keys n
        WHERE n.document_id = document_topics.document_id
            AND n.topic = document_topics.topic
            AND n.topic_version = document_topics.topic_version
    )
