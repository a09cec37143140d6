-- Feeds: the polled feeds with their conditional-GET validators and health, the items seen
-- in each, and how each document's text was obtained.

ALTER TABLE documents ADD COLUMN extraction VARCHAR DEFAULT 'file';   -- file | article | feed-summary
ALTER TABLE documents ADD COLUMN page_kind VARCHAR DEFAULT 'article'; -- article | paywall | cookie-wall | bot-check | not-article | unavailable | no-link
ALTER TABLE documents ADD COLUMN language VARCHAR;
ALTER TABLE documents ADD COLUMN canonical_url VARCHAR;               -- the page's own canonical link

CREATE TABLE feeds (
    url                  VARCHAR PRIMARY KEY,
    name                 VARCHAR NOT NULL,
    interval_s           DOUBLE NOT NULL,
    tags                 VARCHAR[] NOT NULL,
    active               BOOLEAN NOT NULL,      -- listed in the feeds file of the latest run
    etag                 VARCHAR,
    last_modified        VARCHAR,
    validators_trusted   BOOLEAN NOT NULL,      -- false: the server's ETag/Last-Modified lie; always full GET
    validator_churn      INTEGER NOT NULL,      -- consecutive 200s with new validators but the same body
    polls_since_full_get INTEGER NOT NULL,
    last_body_hash       VARCHAR,
    last_polled_at       TIMESTAMPTZ,
    last_success_at      TIMESTAMPTZ,
    last_status          INTEGER,
    last_error           VARCHAR,
    last_error_kind      VARCHAR,               -- timeout | dns | connect | blocked | http_4xx | http_5xx | not_a_feed | parse | ...
    last_error_at        TIMESTAMPTZ,
    consecutive_failures INTEGER NOT NULL,
    next_poll_at         TIMESTAMPTZ NOT NULL,
    items_total          BIGINT NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL,
    run_id               VARCHAR NOT NULL
);

CREATE TABLE feed_items (
    feed_url      VARCHAR NOT NULL,
    item_key      VARCHAR NOT NULL,             -- guid, else canonical link, else content hash
    document_id   VARCHAR NOT NULL,
    content_hash  VARCHAR NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL,
    run_id        VARCHAR NOT NULL,
    PRIMARY KEY (feed_url, item_key)
);
