-- Insert the staged documents; a stored one is rewritten only where a value differs.
INSERT INTO documents BY NAME
SELECT *
FROM staged_documents
ON CONFLICT (id)
DO UPDATE SET
    title = excluded.title,
    body = excluded.body,
    author = excluded.author,
    origin = excluded.origin,
    published_at = excluded.published_at,
    content_hash = excluded.content_hash,
    text_hash = excluded.text_hash,
    extractor = excluded.extractor,
    charset = excluded.charset,
    boilerplate_lines = excluded.boilerplate_lines,
    updated_at = excluded.updated_at,
    extraction = excluded.extraction,
    page_kind = excluded.page_kind,
    language = excluded.language,
    canonical_url = excluded.canonical_url,
    detected_language = excluded.detected_language,
    updated_run_id = excluded.updated_run_id
WHERE documents.content_hash <> excluded.content_hash
  OR documents.text_hash <> excluded.text_hash
  OR documents.title <> excluded.title
  OR documents.extractor <> excluded.extractor
  OR documents.author IS DISTINCT FROM excluded.author
  OR documents.origin IS DISTINCT FROM excluded.origin
  OR documents.published_at IS DISTINCT FROM excluded.published_at
  OR documents.charset IS DISTINCT FROM excluded.charset
  OR documents.boilerplate_lines IS DISTINCT FROM excluded.boilerplate_lines
  OR documents.extraction IS DISTINCT FROM excluded.extraction
  OR documents.page_kind IS DISTINCT FROM excluded.page_kind
  OR documents.language IS DISTINCT FROM excluded.language
  OR documents.canonical_url IS DISTINCT FROM excluded.canonical_url
  OR documents.detected_language IS DISTINCT FROM excluded.detected_language
