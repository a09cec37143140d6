-- The staged topics' current versions become the staged ones (re-tagging some topics).
UPDATE topic_versions
SET is_current = ((topic, version) IN (SELECT (topic, version) FROM staged_topics))
WHERE is_current <> ((topic, version) IN (SELECT (topic, version) FROM staged_topics))
    AND topic IN (SELECT topic FROM staged_topics)
