-- Story membership of the staged documents (run id and time bound); rewritten only where it differs.
INSERT INTO story_members (document_id, story_id, similarity, method, run_id, assigned_at, containment, coverage, differences)
SELECT document_id, story_id, similarity, method, ?, ?, containment, coverage, differences
FROM staged_members
ON CONFLICT (document_id)
DO UPDATE SET
    story_id = excluded.story_id,
    similarity = excluded.similarity,
    method = excluded.method,
    run_id = excluded.run_id,
    assigned_at = excluded.assigned_at,
    containment = excluded.containment,
    coverage = excluded.coverage,
    differences = excluded.differences
WHERE story_members.story_id <> excluded.story_id
  OR story_members.method <> excluded.method
  OR story_members.similarity IS DISTINCT FROM excluded.similarity
  OR story_members.containment IS DISTINCT FROM excluded.containment
  OR story_members.coverage IS DISTINCT FROM excluded.coverage
  OR story_members.differences IS DISTINCT FROM excluded.differences
