-- Stories about to be indexed again whose one stored index row and signature would come out the same.
SELECT i.story_id
FROM staged_index i
JOIN story_index k ON k.story_id = i.story_id
    AND k.story_key = i.story_key
    AND k.day = i.day
    AND k.kind = i.kind
    AND k.exact_key = i.exact_key
    AND k.headline_key IS NOT DISTINCT FROM i.headline_key
LEFT JOIN document_signatures g ON g.document_id = i.story_id AND g.scheme = ?
LEFT JOIN staged_signatures s ON s.document_id = i.story_id
WHERE s.minhash IS NOT DISTINCT FROM g.minhash
    AND (k.kind = 'full') = (s.minhash IS NOT NULL)
    AND (SELECT count(*) FROM story_index o WHERE o.story_id = i.story_id) = 1
