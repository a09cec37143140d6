-- One row per document, with its story.
CREATE OR REPLACE VIEW v_documents AS
SELECT
    d.id,
    d.title,
    d.source,
    d.url,
    d.author,
    d.origin,
    d.published_at,
    d.first_seen_at,
    m.story_id,
    coalesce(s.canonical_document_id = d.id, false) AS is_canonical,
    m.similarity,
    d.extractor,
    d.extraction,
    d.page_kind,
    d.language,
    d.canonical_url,
    d.source_kind,
    d.body,
    d.run_id
FROM documents d
LEFT JOIN story_members m ON m.document_id = d.id
LEFT JOIN stories s ON s.id = m.story_id;
