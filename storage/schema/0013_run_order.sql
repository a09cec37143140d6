-- The order runs started in (`runs.seq`: 1, 2, 3, … as they are recorded), and the latest
-- run a review's snapshot held (`topic_reviews.store_run_seq`), so that `newsmon topics score`
-- leaves out the documents stored after the draw by their run's place in that order, not by
-- its clock: a run replaying a past day (`newsmon run --now …`) after the draw starts "before"
-- it on the clock. A run resumed under its id keeps its number. Runs recorded before this
-- migration are numbered by when they started, and a review drawn before it by the latest
-- monitor run that had started by its `store_run_at`.

ALTER TABLE runs ADD COLUMN IF NOT EXISTS seq BIGINT;
UPDATE runs SET seq = o.n
FROM (SELECT id, row_number() OVER (ORDER BY started_at, id) AS n FROM runs) AS o
WHERE runs.id = o.id AND runs.seq IS NULL;

ALTER TABLE topic_reviews ADD COLUMN IF NOT EXISTS store_run_seq BIGINT;
UPDATE topic_reviews SET store_run_seq = (
    SELECT max(r.seq) FROM runs r WHERE r.kind = 'monitor' AND r.started_at <= topic_reviews.store_run_at
)
WHERE store_run_at IS NOT NULL AND store_run_seq IS NULL;
