-- One row per document, with its story. tags: the tags of the feeds that delivered it (empty
-- for files); language: the one declared (the page's <html lang>, else the language of the feed
-- that delivered it, as a primary code: en, de, pt), else the one detected from the text;
-- detected_language: read from the text by newsmon.language (py3langid), whatever is declared.
CREATE OR REPLACE VIEW v_documents AS
WITH feed_details AS (  -- per feed, once: its tags sorted, its language's primary code
    SELECT url, list_sort(list_distinct(tags)) AS tags, lower(split_part(language, '-', 1)) AS language FROM feeds
),
delivered AS (
    SELECT
        i.document_id,
        CASE WHEN count(*) = 1 THEN any_value(f.tags) ELSE list_sort(list_distinct(flatten(list(f.tags)))) END AS tags,
        min(f.language) AS feed_language
    FROM feed_items i
    JOIN feed_details f ON f.url = i.feed_url
    GROUP BY i.document_id
)
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
    coalesce(d.language, f.feed_language, d.detected_language) AS language,
    d.detected_language,
    d.canonical_url,
    d.source_kind,
    d.body,
    d.run_id,
    coalesce(f.tags, CAST([] AS VARCHAR[])) AS tags
FROM documents d
LEFT JOIN story_members m ON m.document_id = d.id
LEFT JOIN stories s ON s.id = m.story_id
LEFT JOIN delivered f ON f.document_id = d.id;
