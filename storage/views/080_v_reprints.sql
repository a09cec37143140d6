-- Lineage of each story: one row per copy, how close it is to the canonical and how late it came.
-- Its canonical is a row too (is_canonical); lag: how long after the canonical it appeared
-- (publication, else first sighting; negative when a copy carries an earlier date).
-- similarity: mean of containment (share of this copy found in the canonical) and coverage
-- (share of the canonical found in this copy); 1 for exact copies; NULL (not compared) for a
-- copy joined by its headline when one of the two has no text (a headline-only feed item).
-- differences: headline, truncated, added_text, edited, noisy. method: exact, near (verified
-- reprint), headline (a feed item with the same headline from another source), new (the
-- canonical), minhash (older).
CREATE OR REPLACE VIEW v_reprints AS
SELECT
    m.story_id,
    m.document_id,
    s.canonical_document_id,
    m.document_id = s.canonical_document_id AS is_canonical,
    m.similarity,
    m.containment,
    m.coverage,
    coalesce(m.differences, CAST([] AS VARCHAR[])) AS differences,
    coalesce(d.published_at, d.first_seen_at) - coalesce(c.published_at, c.first_seen_at) AS lag,
    m.method,
    d.source,
    d.url,
    d.title,
    d.origin,
    d.published_at,
    d.first_seen_at
FROM story_members m
JOIN stories s ON s.id = m.story_id
JOIN documents d ON d.id = m.document_id
JOIN documents c ON c.id = s.canonical_document_id;
