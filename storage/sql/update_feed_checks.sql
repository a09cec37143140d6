-- Write the outcome of `newsmon feeds check` from staged_checks: health and details only.
-- The validators (etag, last_modified, last_body_hash and the counters that judge them) are
-- left alone: a check does not collect the items, and the next run's conditional GET must not
-- get a 304 for a body only the check has seen.
UPDATE feeds SET
    last_polled_at = s.last_polled_at,
    last_success_at = s.last_success_at,
    last_status = s.last_status,
    last_error = s.last_error,
    last_error_kind = s.last_error_kind,
    last_error_at = s.last_error_at,
    consecutive_failures = s.consecutive_failures,
    next_poll_at = s.next_poll_at,
    title = s.title,
    site_url = s.site_url,
    language = s.language,
    format = s.format
FROM staged_checks s
WHERE feeds.url = s.url
