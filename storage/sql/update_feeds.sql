-- Write polled feeds' states back from staged_states (items_total is counted with the items).
UPDATE feeds SET
    etag = s.etag,
    last_modified = s.last_modified,
    validators_trusted = s.validators_trusted,
    validator_churn = s.validator_churn,
    polls_since_full_get = s.polls_since_full_get,
    last_body_hash = s.last_body_hash,
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
FROM staged_states s
WHERE feeds.url = s.url
