-- What kind of run a row of `runs` is: `monitor` (newsmon run, serve, a backfill) or `retag`
-- (newsmon topics retag). The views that take "today" or "now" from the latest run read
-- monitor runs only, so a re-tag made at the wall clock while the store replays a past day
-- (newsmon run --now …) does not move their window to the present.

ALTER TABLE runs ADD COLUMN IF NOT EXISTS kind VARCHAR DEFAULT 'monitor';
UPDATE runs SET kind = 'retag' WHERE input LIKE 'topics retag %';
