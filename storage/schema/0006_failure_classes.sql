-- Failure classes: every failure, of a feed poll or of a page fetch, has one class of
-- newsmon.errors.FAILURE_CLASSES (dns, refused, timeout, blocked-address, http-4xx, http-5xx,
-- too-large, not-a-feed, parse, extraction, ...). Stored classes are renamed to these, and
-- each run's failures are kept one row per feed or page.

UPDATE feeds SET last_error_kind = CASE
    WHEN last_error_kind = 'blocked' THEN 'blocked-address'
    WHEN last_error_kind = 'connect' AND last_error ILIKE '%refused%' THEN 'refused'
    WHEN last_error_kind = 'connect' AND last_error ILIKE '%timed out%' THEN 'timeout'
    WHEN last_error_kind = 'connect' AND last_error ILIKE '%TLS%' THEN 'tls'
    ELSE replace(last_error_kind, '_', '-')
END
WHERE last_error_kind IS NOT NULL;

CREATE TABLE fetch_failures (
    run_id     VARCHAR NOT NULL,
    scope      VARCHAR NOT NULL,      -- feed | page
    url        VARCHAR NOT NULL,      -- the feed's or the page's URL
    feed_url   VARCHAR,               -- for a page: the feed whose item linked it
    kind       VARCHAR NOT NULL,      -- the failure class
    status     INTEGER,               -- the HTTP status, if there was one
    message    VARCHAR NOT NULL,
    failed_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, scope, url)
);
