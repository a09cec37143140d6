-- What `newsmon feeds add` read from the feed: its details, and its validators unless a run has
-- already read the feed's body (a re-added feed keeps the validators its items were collected
-- under; see newsmon.feeds.plan_poll for why validators from an add never make a 304).
UPDATE feeds SET
    title = coalesce(?, title),
    site_url = coalesce(?, site_url),
    language = coalesce(?, language),
    format = coalesce(?, format),
    etag = CASE WHEN last_body_hash IS NULL THEN ? ELSE etag END,
    last_modified = CASE WHEN last_body_hash IS NULL THEN ? ELSE last_modified END
WHERE url = ?
