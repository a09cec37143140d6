-- Exactly the staged topic versions become current (a run).
UPDATE topic_versions
SET is_current = ((topic, version) IN (SELECT (topic, version) FROM staged_topics))
WHERE is_current <> ((topic, version) IN (SELECT (topic, version) FROM staged_topics))
