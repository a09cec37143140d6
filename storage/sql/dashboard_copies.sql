-- A story's lineage: its canonical first, then each copy in the order it appeared, with how close
-- it is to the canonical, what differs, its lag behind the canonical, and its text.
SELECT
    r.document_id,
    r.is_canonical,
    r.title,
    r.source,
    r.url,
    r.origin,
    r.published_at,
    r.first_seen_at,
    r.lag,
    r.method,
    r.similarity,
    r.containment,
    r.coverage,
    r.differences,
    d.extraction,
    d.page_kind,
    d.body
FROM v_reprints r
JOIN v_documents d ON d.id = r.document_id
WHERE r.story_id = $story_id
ORDER BY r.is_canonical DESC, coalesce(r.published_at, r.first_seen_at), r.first_seen_at, r.document_id
